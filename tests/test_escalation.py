"""The escalation rule on histories built in a real SQLite store.

Every scenario is a run history a user could have produced: versions of one prompt, each
with per-case answers over 5 reruns. Tests assert the verdict and the numbers its reasons
state, not only that some text came out.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.histories import Case, Version, add_run, few_shot, merge, pattern, zero_shot
from workbench.analysis.stats import Rerun, wilson_interval
from workbench.cli.main import main
from workbench.errors import InputError
from workbench.escalation import (
    LEVER_FEW_SHOT,
    LEVER_FORMAT,
    LEVER_TEMPERATURE,
    LEVER_VOTING,
    VERDICT_COLLECT,
    VERDICT_FINE_TUNE,
    VERDICT_FIX_FORMAT,
    VERDICT_INCONCLUSIVE,
    VERDICT_KEEP_ITERATING,
    VERDICT_MEETS_TARGET,
    VERDICT_SERVING,
    VERDICT_TRY_LEVERS,
    EscalationSettings,
    FinetuneSettings,
    LitellmPrices,
    Price,
    escalate,
    load_history,
    settings_from_suite,
    vote_passes,
)
from workbench.finetune.export import check_example
from workbench.models import prices as model_prices
from workbench.reports.escalation_text import (
    check_detail,
    cost_notes,
    headline,
    lever_detail,
    reasons,
    serving_text,
)
from workbench.store.database import Store

SUITE = "tickets"
LABELS = ["billing", "shipping", "technical"]


def _cases(n: int = 20) -> list[Case]:
    return [Case(f"c{i:02d}", LABELS[i % 3]) for i in range(n)]


def _cold(cases: list[Case], right: int) -> dict[str, list[str | None]]:
    """Temperature 0: each case gives one answer every time; the first ``right`` are right."""
    return {c.id: [c.expected if i < right else "account"] * 5 for i, c in enumerate(cases)}


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "wb.db") as s:
        yield s


def _plateau(store: Store, cases: list[Case]) -> None:
    """Five versions: two sampled (3/5 or 2/5 right), then three at temperature 0, with the
    output constrained to the labels, that get the same half of the cases right every time
    and add nothing over each other."""
    half = len(cases) // 2
    sampled = merge(pattern(cases[:half], 3), pattern(cases[half:], 2))
    add_run(store, SUITE, cases, [
        Version("p", v, text, answers) for v, (text, answers) in enumerate(zip(
            _plateau_texts(), [sampled, sampled] + [_cold(cases, half)] * 3,
            strict=True), start=1)])


def _plateau_texts() -> list[str]:
    return [zero_shot(0.7), few_shot(0.7), few_shot(0, constrain=True),
            few_shot(0, note="reworded", constrain=True),
            few_shot(0, note="reworded again", constrain=True)]


PLATEAU = EscalationSettings(target=0.9, pass_hat_k=0.8)


def test_plateau_recommends_fine_tuning(store: Store) -> None:
    _plateau(store, _cases())
    history = load_history(store, SUITE)
    assert [p.ref for p in history.points] == ["p@1", "p@2", "p@3", "p@4", "p@5"]
    report = escalate(history, PLATEAU)
    (a,) = report.assessments
    assert a.verdict == VERDICT_FINE_TUNE and a.fine_tune and report.verdict == VERDICT_FINE_TUNE
    assert a.best == "p@3"  # ties at the top go to the earliest version
    assert [(c.name, c.ok) for c in a.checks] == [
        ("answers readable", True), ("below target", True), ("not serving", True),
        ("plateau", True), ("cheap levers tried", True), ("enough examples", True)]
    # pass^5 at temperature 0: 10 of 20 cases always pass, 10 never. Each case's pass^5 is
    # 0 or 1, so pass^5 is a binomial share of cases: Wilson over 10 of 20 cases,
    # centre (10 + z²/2)/(20 + z²) = 0.5, half z/(20 + z²)·√(10·10/20 + z²/4) = 0.2007020.
    # (It was the clustered Wald interval 0.5 ± 1.96·√(20·0.25/19)/√20 = (0.27517, 0.72483).)
    z = 1.959964
    half = z / (20 + z * z) * math.sqrt(10 * 10 / 20 + z * z / 4)
    lo, hi = 0.5 - half, 0.5 + half
    best = next(t for t in a.trend if t.ref == "p@3")
    assert best.pass_hat_k.value == pytest.approx(0.5)
    assert best.pass_hat_k.ci == pytest.approx((0.29930, 0.70070), abs=1e-5)
    assert best.pass_hat_k.ci == pytest.approx((lo, hi))
    assert best.consistency.value == 1.0 and best.tar_raw == 1.0
    assert f"pass^5 0.50 (95% CI {lo:.2f}–{hi:.2f}) vs target 0.8" in check_detail(a.checks[1])
    assert "pass^5 is below the target and its interval excludes it" in check_detail(a.checks[1])
    # The last 3 versions: p@4 and p@5 each against the best before them (p@3).
    assert [(i.ref, i.baseline, i.improved) for i in a.improvements] == [
        ("p@4", "p@3", False), ("p@5", "p@3", False)]
    assert a.improvements[0].pass_rate_diff == 0.0
    assert ("none of the last 2 versions improved on the best version before it"
            in check_detail(a.checks[3]))
    assert "serving is deterministic" in serving_text(a.serving)
    assert a.examples.with_expected == 20 and a.examples.level == "enough to start"
    assert reasons(a) == tuple(check_detail(c) for c in a.checks)
    # The sampled versions: per case pass rate 0.6 / 0.4, modal share 0.6 everywhere.
    first = a.trend[0]
    assert first.pass_rate.value == pytest.approx(0.5)
    assert first.modal_share == pytest.approx(0.6) and first.tar_answer == 0.0
    assert first.pass_hat_k.value == 0.0
    assert first.vote_pass_rate == pytest.approx(0.5)  # 3/5 right → vote right; 2/5 → wrong


def test_still_improving_keeps_iterating(store: Store) -> None:
    cases = _cases()
    add_run(store, SUITE, cases, [
        Version("p", 1, zero_shot(0.7), pattern(cases, 1)),
        Version("p", 2, few_shot(0.7), pattern(cases, 2)),
        Version("p", 3, few_shot(0), _cold(cases, 15)),  # 75% vs 40%: a real gain
    ])
    a = escalate(load_history(store, SUITE),
                 EscalationSettings(target=0.9, pass_hat_k=0.95)).assessments[0]
    assert a.verdict == VERDICT_KEEP_ITERATING
    improvement = a.improvements[-1]
    assert (improvement.ref, improvement.baseline) == ("p@3", "p@2")
    assert improvement.pass_rate_diff == pytest.approx(0.35)
    assert improvement.pass_rate_verdict == "better" and improvement.improved
    assert improvement.pass_rate_ci[0] > 0
    assert reasons(a)[1].startswith("still improving: p@3 vs p@2: Δ pass rate +0.35 [")
    assert a.checks[1].ok  # below target on pass^5 (0.75, CI excludes 0.95)


def test_too_few_versions_is_not_a_plateau(store: Store) -> None:
    cases = _cases()
    add_run(store, SUITE, cases, [Version("p", 1, few_shot(0), _cold(cases, 10))])
    a = escalate(load_history(store, SUITE), PLATEAU).assessments[0]
    assert a.verdict == VERDICT_KEEP_ITERATING
    assert check_detail(a.checks[3]).startswith(
        "only 1 version(s) measured; the rule needs the last 3")
    assert a.sensitivity.share is None


def test_serving_nondeterminism_is_not_escalated(store: Store) -> None:
    """At temperature 0 the raw text still changes between reruns: the serving stack."""
    cases = _cases()
    noisy = pattern(cases, 4)
    raws = {c.id: [f"{a} (take {i})" for i, a in enumerate(noisy[c.id])] for c in cases}
    add_run(store, SUITE, cases, [
        Version("p", 1, zero_shot(0.7), pattern(cases, 3)),
        Version("p", 2, few_shot(0.7), pattern(cases, 3)),
        Version("p", 3, few_shot(0, constrain=True), noisy, raws),
        Version("p", 4, few_shot(0, note="b", constrain=True), noisy, raws),
        Version("p", 5, few_shot(0, note="c", constrain=True), noisy, raws),
    ])
    a = escalate(load_history(store, SUITE), EscalationSettings(target=0.9)).assessments[0]
    assert a.verdict == VERDICT_SERVING and not a.fine_tune
    assert a.best == "p@3"
    best = next(t for t in a.trend if t.ref == "p@3")
    assert best.temperature == 0 and best.tar_raw == 0.0
    assert best.consistency.ci == pytest.approx(wilson_interval(80, 100))  # all cases 4/5
    assert a.checks[1].ok and not a.checks[2].ok
    assert reasons(a)[1].startswith("serving nondeterminism: at temperature 0 raw outputs "
                                   "still differ between reruns (p@3 TARr@5 0%")
    assert "neither prompting nor fine-tuning fixes that" in reasons(a)[1]
    assert a.checks[3].ok  # a plateau, and the levers other than voting were tried
    assert [lv.tried for lv in a.levers] == [True, True, True, False]


def test_too_few_examples_means_collect_first(store: Store) -> None:
    cases = [Case(f"c{i}", LABELS[i % 3] if i < 6 else None) for i in range(8)]
    sampled = pattern(cases, 2)
    add_run(store, SUITE, cases, [
        Version("p", 1, zero_shot(0.7), sampled),
        Version("p", 2, few_shot(0.7), sampled),
        Version("p", 3, few_shot(0, constrain=True), _cold(cases, 4)),
        Version("p", 4, few_shot(0, note="b", constrain=True), _cold(cases, 4)),
        Version("p", 5, few_shot(0, note="c", constrain=True), _cold(cases, 4)),
    ])
    settings = EscalationSettings(target=0.9, pass_hat_k=0.95)
    a = escalate(load_history(store, SUITE), settings).assessments[0]
    assert a.verdict == VERDICT_COLLECT
    assert [c.ok for c in a.checks] == [True, True, True, True, True, False]
    assert a.examples.with_expected == 6 and a.examples.from_passing_reruns == 0
    assert a.examples.usable == 6 and a.examples.level == "too few"
    assert reasons(a)[-1] == ("6 usable example(s): below the minimum of 10; add cases with "
                             "expected answers")


def test_untried_levers_come_first(store: Store) -> None:
    cases = _cases()
    versions = [Version("p", v, zero_shot(0.7, parse="raw", note=str(v)), pattern(cases, 3))
                for v in (1, 2, 3)]
    add_run(store, SUITE, cases, versions)
    a = escalate(load_history(store, SUITE), EscalationSettings(target=0.9)).assessments[0]
    assert a.verdict == VERDICT_TRY_LEVERS
    blocking = [lv.name for lv in a.levers if lv.blocks]
    # 3 of 5 right in every case: a majority vote would pass all of them (+40%).
    assert blocking == [LEVER_TEMPERATURE, LEVER_FEW_SHOT, LEVER_FORMAT, LEVER_VOTING]
    assert headline(a).endswith("cheap levers are untried: temperature 0, few-shot examples, "
                               "output-format constraint, majority vote over reruns.")
    assert "+40%), at 5× the calls; a gain of at least 10%" in lever_detail(a.levers[3])
    assert a.checks[1].ok and a.checks[3].ok  # below target and a plateau: levers decide
    assert "every version ran at temperature > 0" in reasons(a)[1]


def test_majority_vote_that_reaches_the_pass_rate_target_is_a_lever(store: Store) -> None:
    cases = _cases()
    add_run(store, SUITE, cases, [
        Version("p", 1, zero_shot(0, constrain=True), _cold(cases, 0)),
        Version("p", 2, few_shot(0.7), pattern(cases, 3)),
        Version("p", 3, few_shot(0.7, note="b"), pattern(cases, 3)),
        Version("p", 4, few_shot(0.7, note="c"), pattern(cases, 3)),
    ])
    settings = EscalationSettings(target=0.9, pass_rate=0.8)
    a = escalate(load_history(store, SUITE), settings).assessments[0]
    assert a.verdict == VERDICT_TRY_LEVERS and a.best == "p@2"
    vote = next(lv for lv in a.levers if lv.name == LEVER_VOTING)
    assert vote.blocks and not vote.tried
    assert lever_detail(vote).startswith(
        "a majority vote over the 5 reruns of p@2 would pass 100% of cases vs 60% per single "
        "call (+40%), at 5× the calls; that reaches the pass-rate target 0.8")
    assert [lv.blocks for lv in a.levers] == [False, False, False, True]


def test_meets_target_and_inconclusive(store: Store, tmp_path: Path) -> None:
    cases = _cases()
    add_run(store, SUITE, cases, [Version("p", 1, few_shot(0), _cold(cases, 20))])
    a = escalate(load_history(store, SUITE), PLATEAU).assessments[0]
    assert a.verdict == VERDICT_MEETS_TARGET
    assert check_detail(a.checks[1]).endswith("— meets the target")
    with Store(tmp_path / "other.db") as other:
        # 17 of 20 cases always right: pass^5 0.85 < 0.9, but the interval reaches 0.9.
        add_run(other, SUITE, cases, [Version("p", 1, few_shot(0), _cold(cases, 17))])
        a = escalate(load_history(other, SUITE),
                     EscalationSettings(target=0.9, pass_hat_k=0.9)).assessments[0]
    assert a.verdict == VERDICT_INCONCLUSIVE
    assert "below the target, but the interval includes it" in reasons(a)[0]
    assert reasons(a)[-1] == a.precision_advice


def test_unreadable_answers_mean_fix_the_format_first(store: Store) -> None:
    """Identical, unparseable replies at temperature 0: consistent, but not readable. The
    verdict names the format, not inconsistency, and the lever that fixes it."""
    cases = _cases()
    unreadable = {c.id: [None] * 5 for c in cases[:12]}  # 12 of 20 cases: no label found
    readable = {c.id: [c.expected] * 5 for c in cases[12:]}
    raws = {c.id: ["Ticket: routed to the team"] * 5 for c in cases[:12]}
    add_run(store, SUITE, cases, [
        Version("p", 1, zero_shot(0.7), pattern(cases, 2)),
        Version("p", 2, few_shot(0), merge(unreadable, readable), raws),
    ])
    a = escalate(load_history(store, SUITE), EscalationSettings(target=0.9)).assessments[0]
    assert a.verdict == VERDICT_FIX_FORMAT and a.best == "p@2"
    fmt = a.checks[0]
    assert (fmt.name, fmt.ok, fmt.parse_rate, fmt.replies, fmt.unreadable) == (
        "answers readable", False, pytest.approx(0.4), 100, 60)
    best = next(t for t in a.trend if t.ref == "p@2")
    # "No answer" is one outcome: every case agrees with itself, so consistency is 1.0 and
    # the parse rate beside it says what is wrong.
    assert best.modal_share == 1.0 and best.tar_answer == 1.0 and best.parse_rate == 0.4
    assert reasons(a) == (check_detail(fmt),)
    assert check_detail(fmt).startswith(
        "p@2: parse rate 0.40 vs target 0.95 (60 of 100 replies had no readable answer) — fix "
        "the output format first: no version held the model to the format: set 'constrain: "
        "true' on the parse spec")
    assert headline(a).startswith("Fix the output format first: p@2 gives no readable answer "
                                  "in 60% of its replies")
    # A lower target (escalation.parse_rate) lets the rule go on to the other checks.
    a = escalate(load_history(store, SUITE),
                 EscalationSettings(target=0.9, parse_rate_target=0.4)).assessments[0]
    assert a.checks[0].ok and a.verdict != VERDICT_FIX_FORMAT


def test_a_constrained_version_is_named_as_the_format_lever(store: Store) -> None:
    cases = _cases()
    add_run(store, SUITE, cases, [
        Version("p", 1, zero_shot(0.7, constrain=True), pattern(cases, 1)),
        Version("p", 2, few_shot(0), {c.id: [c.expected] * 3 + [None] * 2 for c in cases}),
    ])
    a = escalate(load_history(store, SUITE), EscalationSettings()).assessments[0]
    assert a.verdict == VERDICT_FIX_FORMAT
    assert a.checks[0].constrained_by == ("p@1",) and not a.checks[0].constrained
    assert "p@1 held the model to the format, p@2 did not: set 'constrain: true'" in (
        check_detail(a.checks[0]))
    # A label parse spec reads the answer; it is not a constraint on the model.
    assert [lv.tried_by for lv in a.levers if lv.name == LEVER_FORMAT] == [("p@1",)]


def test_history_keeps_the_latest_run_of_each_version_in_first_seen_order(store: Store) -> None:
    cases = _cases(6)
    first = add_run(store, SUITE, cases, [Version("p", 1, zero_shot(0.7), pattern(cases, 1)),
                                          Version("p", 2, few_shot(0.7), pattern(cases, 2))])
    second = add_run(store, SUITE, cases, [Version("p", 2, few_shot(0.7), pattern(cases, 4)),
                                           Version("p", 3, few_shot(0), _cold(cases, 3))])
    add_run(store, "another-suite", cases, [Version("q", 1, zero_shot(), pattern(cases, 5))])
    history = load_history(store, SUITE)
    assert history.runs == [first, second]
    assert [(p.ref, p.run_id) for p in history.points] == [
        ("p@1", first), ("p@2", second), ("p@3", second)]
    p2 = history.points[1]
    assert [r.passed for r in p2.reruns["c00"]] == [True] * 4 + [False]
    assert p2.kind == "few-shot" and p2.temperature == 0.7 and p2.parse_type == "label"
    assert history.points[2].temperature == 0
    # Few-shot examples are two user/assistant pairs the fine-tuned prompt leaves out.
    assert 0 < p2.short_prompt_ratio < 0.5
    assert history.points[0].short_prompt_ratio == pytest.approx(1.0)


def test_no_runs_is_bad_input(store: Store) -> None:
    with pytest.raises(InputError) as info:
        load_history(store, "nothing-here")
    assert "no stored runs of suite 'nothing-here'" in str(info.value)


def test_escalation_api_imports_without_litellm() -> None:
    """The TUI imports these while it paints its first screen: litellm must stay unloaded."""
    import subprocess
    import sys

    code = ("import sys, workbench.escalation.rule, workbench.reports.escalation, "
            "workbench.reports.html, workbench.finetune.export; print('litellm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "False"


def test_vote_passes() -> None:
    def r(answer: str | None, passed: bool) -> Rerun:
        return Rerun(passed=passed, raw=answer, answer=answer)

    assert vote_passes([r("a", True), r("a", True), r("b", False)])
    assert not vote_passes([r("a", True), r("b", False), r("b", False)])
    assert not vote_passes([r("a", True), r("b", False)])  # a tie decides nothing
    assert vote_passes([r(None, False), r(None, False), r("a", True)])  # failures never win
    assert not vote_passes([r(None, False)] * 3)


def test_cost_from_litellm_cost_map_and_suite_training_price(store: Store) -> None:
    """openai/gpt-4o-mini is priced from litellm's bundled map, its fine-tuned snapshot too;
    training is priced from the suite (the map has no training prices)."""
    cases = _cases(12)
    add_run(store, SUITE, cases, [Version("p", 1, few_shot(0.7), pattern(cases, 3))],
            model="openai/gpt-4o-mini")
    settings = EscalationSettings(finetune=FinetuneSettings(training_per_1k=0.003, epochs=2))
    a = escalate(load_history(store, SUITE), settings).assessments[0]
    c = a.cost
    assert c.price == Price(pytest.approx(0.00015), pytest.approx(0.0006))
    assert c.price_source == "litellm cost map"
    assert c.finetuned_model == "ft:gpt-4o-mini-2024-07-18"
    assert c.finetuned_price == Price(pytest.approx(0.0003), pytest.approx(0.0012))
    point = load_history(store, SUITE).points[0]
    assert c.prompt_tokens == pytest.approx(point.prompt_tokens)
    assert c.per_1k_calls_now == pytest.approx(
        point.prompt_tokens * 0.00015 + 2 * 0.0006)
    short = point.prompt_tokens * point.short_prompt_ratio
    assert c.short_prompt_tokens == pytest.approx(short)
    assert c.per_1k_calls_finetuned == pytest.approx(short * 0.0003 + 2 * 0.0012)
    assert c.training_tokens == pytest.approx(12 * (short + 2) * 2)
    assert c.training_cost == pytest.approx(c.training_tokens * 0.003 / 1000)
    assert cost_notes(c) == ()


def test_local_model_price_is_unknown_without_importing_litellm(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = _cases(12)
    add_run(store, SUITE, cases, [Version("p", 1, few_shot(0.7), pattern(cases, 3))])
    prices = LitellmPrices()
    monkeypatch.setattr(model_prices, "_cost_map",
                        lambda: pytest.fail("litellm's cost map read for a local model"))
    c = escalate(load_history(store, SUITE), EscalationSettings(), prices).assessments[0].cost
    assert c.price is None and c.per_1k_calls_now is None and c.price_source == "unknown"
    assert any("local model" in n for n in cost_notes(c))
    user_set = EscalationSettings(prices={"local/smollm2": Price(0.0001, 0.0002)},
                                  finetune=FinetuneSettings(input_per_1k=0.0002,
                                                            output_per_1k=0.0004))
    c = escalate(load_history(store, SUITE), user_set, prices).assessments[0].cost
    assert c.price_source == "suite escalation.prices"
    assert c.per_1k_calls_now == pytest.approx(c.prompt_tokens * 0.0001 + 2 * 0.0002)
    assert c.finetuned_price_source == "suite escalation.finetune"


def test_unknown_model_stays_unpriced_after_a_run_in_the_same_process(store: Store) -> None:
    """A run gives models litellm cannot price a placeholder zero price (to save CPU per call);
    the report must still say "unknown", not "$0" (e.g. escalation opened in the TUI after a
    run there)."""
    from workbench.models._litellm import litellm_module, price_unknown_models_at_zero

    model = "openai/self-hosted-escalation-test"
    price_unknown_models_at_zero(litellm_module(), model)
    assert litellm_module().get_model_info(model)["input_cost_per_token"] == 0.0
    assert LitellmPrices().price(model) is None
    cases = _cases(12)
    add_run(store, SUITE, cases, [Version("p", 1, few_shot(0.7), pattern(cases, 3))],
            model=model)
    c = escalate(load_history(store, SUITE), EscalationSettings()).assessments[0].cost
    assert c.price is None and c.per_1k_calls_now is None and c.price_source == "unknown"


def test_settings_from_suite_section(tmp_path: Path) -> None:
    from workbench.suites.loader import load_suite

    (tmp_path / "prompts" / "p").mkdir(parents=True)
    (tmp_path / "prompts" / "p" / "v1.yaml").write_text(zero_shot())
    (tmp_path / "suites").mkdir()
    path = tmp_path / "suites" / "s.yaml"
    path.write_text("name: s\nprompts: [p]\ncases:\n  - {id: a, vars: {ticket: x}}\n"
                    "thresholds: {consistency: 0.85, pass_hat_k: 0.7, pass_rate: 0.6}\n")
    s = settings_from_suite(load_suite(path).spec)
    assert (s.target, s.pass_hat_k, s.pass_rate, s.metric, s.plateau) == (
        0.85, 0.7, 0.6, "modal_share", 3)
    assert s.parse_rate_target == 0.95  # the format check's default
    path.write_text(path.read_text() + "escalation:\n  metric: tar_answer\n  target: 0.75\n"
                    "  plateau: 4\n  prices: {local/smollm2: {input_per_1k: 0, output_per_1k: 0}}\n"
                    "  finetune: {model: ft:x, training_per_1k: 0.008, epochs: 2}\n"
                    "  parse_rate: 0.8\n")
    s = settings_from_suite(load_suite(path).spec)
    assert (s.target, s.metric, s.plateau) == (0.75, "tar_answer", 4)
    assert s.parse_rate_target == 0.8
    assert s.prices == {"local/smollm2": Price(0.0, 0.0)}
    assert s.finetune == FinetuneSettings("ft:x", None, None, 0.008, 2)
    path.write_text(path.read_text().replace("  plateau: 4\n", "  plateau: 1\n  targett: 3\n"))
    with pytest.raises(InputError) as info:
        load_suite(path)
    text = str(info.value)
    assert "s.yaml:9: escalation.plateau" in text and "greater than or equal to 2" in text
    assert "s.yaml:10: escalation: unknown key 'targett'" in text and "did you mean 'target'" \
        in text


# ------------------------------------------------------------------------------------------
# The command
# ------------------------------------------------------------------------------------------


def test_cli_escalate_writes_every_format(store: Store, tmp_path: Path, capsys) -> None:
    _plateau(store, _cases())
    db = str(store.path)
    out = tmp_path / "out"
    code = main(["escalate", SUITE, "--db", db, "--md", str(out / "e.md"),
                 "--html", str(out / "e.html"), "--json", str(out / "e.json")])
    assert code == 0
    text = capsys.readouterr().out
    assert "local/smollm2: MEETS TARGET" in text  # no pass^k target without the suite file
    data = json.loads((out / "e.json").read_text())
    assert data["schema"] == "workbench.escalation/2" and data["verdict"] == "meets target"
    assert [t["ref"] for t in data["assessments"][0]["trend"]] == [f"p@{v}" for v in range(1, 6)]
    md = (out / "e.md").read_text()
    assert md.startswith("# Escalation report: tickets\n")
    assert "<details><summary>Trend over versions (5, oldest first; ★ best)</summary>" in md
    html = (out / "e.html").read_text()
    assert html.startswith("<!doctype html>") and "<script" not in html
    assert "Trend over versions: local/smollm2" in html


def test_cli_escalate_with_the_suite_file_uses_its_section(tmp_path: Path, capsys,
                                                          monkeypatch) -> None:
    (tmp_path / "prompts" / "p").mkdir(parents=True)
    for v, text in enumerate(_plateau_texts(), start=1):
        (tmp_path / "prompts" / "p" / f"v{v}.yaml").write_text(text)
    (tmp_path / "suites").mkdir()
    cases = _cases()
    suite = tmp_path / "suites" / "tickets.yaml"
    suite.write_text("name: tickets\nprompts: [p@1, p@2, p@3, p@4, p@5]\ncases:\n"
                     + "".join(f"  - {{id: {c.id}, vars: {{ticket: t}}, expected: {c.expected}}}\n"
                               for c in cases)
                     + "escalation: {target: 0.9, pass_hat_k: 0.8}\n")
    monkeypatch.chdir(tmp_path)
    with Store(tmp_path / ".workbench" / "workbench.db") as store:
        _plateau(store, cases)
    assert main(["escalate", "suites/tickets.yaml", "--md", "e.md"]) == 0
    out = capsys.readouterr().out
    assert "local/smollm2: FINE-TUNE" in out
    assert "✓ plateau: none of the last 2 versions improved on the best version before it" in out
    assert "Export them: workbench export-finetune suites/tickets.yaml" in out
    trend = [line.split()[:3] for line in out.splitlines() if line.startswith("  p@")]
    assert trend == [["p@1", "zero-shot", "0.7"], ["p@2", "few-shot", "0.7"],
                     ["p@3", "★", "few-shot"], ["p@4", "few-shot", "0"], ["p@5", "few-shot", "0"]]
    md = (tmp_path / "e.md").read_text()
    assert "## local/smollm2: 🟠 **fine-tune**" in md
    assert ("- ✅ **plateau**: none of the last 2 versions improved on the best version "
            "before it") in md
    # Pass rate: clustered on 20 cases with t(.975, 19) = 2.093: 0.5 ± 0.240 (was 28%–72%).
    assert "| p@3 ★ | few-shot | 0 | 50% (26%–74%) | 1.00 (0.96–1.00) | 100% | 100% |" in md


def test_cli_escalate_bad_input_exits_2(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "wb.db")
    assert main(["escalate", "no-such-suite", "--db", db]) == 2
    err = capsys.readouterr().err
    assert "no suite file 'no-such-suite' and no stored runs of a suite named 'no-such-suite'" \
        in err and "workbench run" in err and "Traceback" not in err


@pytest.mark.model
def test_history_on_the_embedded_model_end_to_end(tmp_path: Path) -> None:
    """The demo's path in miniature, through the CLI as a user runs it: a run of two prompt
    versions on local/smollm2 with the HTML report, then escalate and export-finetune."""
    import shutil
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    shutil.copytree(repo / "prompts", tmp_path / "prompts")
    (tmp_path / "suites").mkdir()
    rows = (repo / "suites" / "tickets.csv").read_text().splitlines()
    (tmp_path / "suites" / "tickets.csv").write_text("\n".join(rows[:3]) + "\n")
    (tmp_path / "suites" / "mini.yaml").write_text(
        "name: mini\nprompts: [ticket-classifier@2, ticket-classifier-fewshot@3]\n"
        "reruns: 2\nconcurrency: 2\ncases:\n  - file: tickets.csv\n")

    def workbench(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)

    run = workbench("run", "suites/mini.yaml", "--html", "out/mini.html", "--quiet")
    assert run.returncode in (0, 1), run.stderr
    html = (tmp_path / "out" / "mini.html").read_text()
    assert html.count('<details') == 4 and "<script" not in html  # 2 cases × 2 variants
    esc = workbench("escalate", "suites/mini.yaml", "--json", "out/e.json")
    assert esc.returncode == 0, esc.stderr
    report = json.loads((tmp_path / "out" / "e.json").read_text())
    (a,) = report["assessments"]
    assert [t["ref"] for t in a["trend"]] == ["ticket-classifier@2",
                                              "ticket-classifier-fewshot@3"]
    cold = a["trend"][1]
    assert cold["temperature"] == 0 and cold["kind"] == "few-shot"
    assert cold["tar_raw"] == 1.0  # llama.cpp greedy decoding: the same text every rerun
    assert "serving is deterministic" in a["serving"]
    assert a["verdict"] != VERDICT_SERVING  # greedy decoding is not serving nondeterminism
    assert a["checks"][3]["detail"].startswith("only 2 version(s) measured")  # plateau needs 3
    assert a["cost"]["price"] is None and a["examples"]["with_expected"] == 2
    ft = workbench("export-finetune", "suites/mini.yaml", "-o", "out/ft.jsonl")
    assert ft.returncode == 0, ft.stderr
    lines = (tmp_path / "out" / "ft.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert all(check_example(json.loads(line)) is None for line in lines)
