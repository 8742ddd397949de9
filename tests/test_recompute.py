"""Every figure of a JSON report, recomputed independently from the reruns in the same file.

A real run (the CLI, the runner, SQLite) against the fake server's simulated model: two
single-step label prompts, a three-step chain (raw text, a step with its own parse spec, the
final step read by the prompt's), and a number prompt; parse failures and errored reruns
included. The report is then read back and each number — per case, per group, per chain step,
the thresholds and the paired comparisons — is recomputed here from ``reruns[]`` using only
the definitions in README.md ("What the numbers mean"), with scipy, statsmodels and the
``krippendorff`` package for the textbook formulas. Nothing here imports
``workbench.analysis``: a shared bug cannot cancel out.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import krippendorff
import numpy as np
import pytest
import scipy.stats
import yaml
from statsmodels.stats.proportion import proportion_confint

from workbench.cli.main import main
from workbench.engine.plan import cell_seed
from workbench.testing.fakeserver import FakeServer
from workbench.testing.simulated import SimRequest, SimulatedModel

LABELS = ["billing", "shipping", "technical", "account"]
TOL = 1e-9


# ------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------


def _truth(case: str) -> str:
    return LABELS[int(case[1:]) % 4]


def policy(r: SimRequest) -> dict[str, float] | None:
    i = int(r.case[1:])
    if r.case == "c03" and r.seed == cell_seed(0, "c03", 2):  # rerun 2 (the suite's seed: 0)
        raise RuntimeError("simulated outage")  # a 500: with max_attempts 1, a stored error
    truth, other = _truth(r.case), LABELS[(i + 1) % 4]
    right = 0.3 + 0.06 * i
    if r.user.startswith("How many"):
        return {"8": 0.5, "There are 8 items.": 0.2, "7": 0.2, "eight": 0.1}
    if r.user.startswith("Summarise"):
        return {f"summary of case {r.case}: money.": 0.6, f"about case {r.case}": 0.4}
    if r.user.startswith("Category for"):
        return {truth: right, other: 1 - right}
    unreadable = 0.0 if r.few_shot else 0.15
    return {truth: right * (1 - unreadable), other: (1 - right) * (1 - unreadable),
            "I cannot tell.": unreadable}


def _label_prompt(few_shot: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": "few-shot" if few_shot else "zero-shot",
        "params": {"temperature": 0.7},
        "messages": [{"role": "system", "content": "Route the ticket."},
                     {"role": "user", "content": "Ticket: {{ ticket }}"}],
        "parse": {"type": "label", "choices": LABELS},
    }
    if few_shot:
        spec["examples"] = [{"input": "Charged twice.", "output": "billing"}]
    return spec


CHAIN = {
    "kind": "chain",
    "steps": [
        {"output": "facts", "messages": [{"role": "user", "content": "Summarise: {{ ticket }}"}]},
        {"output": "category",
         "messages": [{"role": "user", "content": "Category for: {{ facts }}"}],
         "parse": {"type": "label", "choices": LABELS}},
        {"output": "answer", "messages": [{"role": "user",
                                           "content": "Route {{ facts }} ({{ category }})"}]},
    ],
    "parse": {"type": "label", "choices": LABELS},
}
COUNT = {"kind": "zero-shot",
         "messages": [{"role": "user", "content": "How many items? {{ ticket }}"}],
         "parse": {"type": "number"}}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("recompute")
    for name, spec in {"route": _label_prompt(False), "fewshot": _label_prompt(True),
                       "chain": CHAIN, "count": COUNT}.items():
        (root / "prompts" / name).mkdir(parents=True)
        (root / "prompts" / name / "v1.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    with FakeServer(simulator=SimulatedModel(policy, seed=5)) as server:
        suite = {
            "name": "recompute", "prompts": ["route", "fewshot", "chain", "count"],
            "models": [{"name": "openai/fake", "api_base": server.base_url,
                        "api_key_env": "FAKE_KEY", "transport": "direct"}],
            "reruns": 5, "concurrency": 4, "max_attempts": 1, "seed": 0,
            "cases": [{"id": f"c{i:02d}", "vars": {"ticket": f"case c{i:02d}: see note"},
                       "expected": _truth(f"c{i:02d}")} for i in range(12)],
            "thresholds": {"pass_rate": 0.5, "consistency": 0.7, "tar_answer": 0.3,
                           "pass_hat_k": 0.2, "k": 3, "max_error_rate": 0.05},
        }
        (root / "suites").mkdir()
        (root / "suites" / "r.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
        mp = pytest.MonkeyPatch()
        mp.setenv("FAKE_KEY", "test-key")
        mp.chdir(root)
        try:
            code = main(["run", "suites/r.yaml", "--json", "r.json", "--quiet"])
        finally:
            mp.undo()
    assert code in (0, 1)
    return json.loads((root / "r.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------
# The definitions (README.md, "What the numbers mean"), written out independently
# ------------------------------------------------------------------------------------------

NO_ANSWER = ("no answer",)


@dataclass
class R:
    """One rerun as the definitions see it."""

    passed: bool
    error: bool
    raw: str | None
    parsed: bool
    answer: Any

    def outcome(self) -> Hashable:
        """An answer; the one outcome "no answer"; or, for an error, an outcome of its own."""
        if self.error:
            return object()
        return ("answer", json.dumps(self.answer, sort_keys=True)) if self.parsed \
            else NO_ANSWER

    def alpha_value(self) -> Hashable | None:
        return None if self.error else self.outcome()


def cell_reruns(reruns: Sequence[dict[str, Any]]) -> list[R]:
    return [R(r["passed"] and r["status"] == "ok", r["status"] == "error", r["output"],
              r["status"] == "ok" and r["parse_ok"], r["answer"]) for r in reruns]


def step_reruns(reruns: Sequence[dict[str, Any]], index: int, last: bool) -> list[R]:
    """Each rerun's answer at one chain step: the one that step is scored on."""
    out = []
    for r in reruns:
        steps = r["steps"]
        if index >= len(steps) or steps[index].get("raw") is None:
            out.append(R(False, True, None, False, None))
            continue
        raw = steps[index]["raw"].strip()
        if last and r["status"] == "ok":
            out.append(R(r["passed"], False, raw, r["parse_ok"], r["answer"]))
        elif "parse_ok" in steps[index]:
            out.append(R(r["passed"], False, raw, steps[index]["parse_ok"],
                         steps[index]["answer"]))
        else:
            out.append(R(r["passed"], False, raw, bool(raw), raw))
    return out


def wilson(c: int, n: int) -> tuple[float, float]:
    lo, hi = proportion_confint(c, n, alpha=0.05, method="wilson")
    return (0.0 if c == 0 else lo, 1.0 if c == n else hi)


def rouge_l(a: str, b: str) -> float:
    """2·LCS/(|a| + |b|) over lowercased word and punctuation tokens (ROUGE-L F1)."""
    x, y = (re.findall(r"\w+|[^\w\s]", t.lower()) for t in (a, b))
    if a == b or not x and not y:
        return 1.0
    table = [[0] * (len(y) + 1) for _ in range(len(x) + 1)]
    for i, u in enumerate(x):
        for j, v in enumerate(y):
            table[i + 1][j + 1] = table[i][j] + 1 if u == v else max(table[i][j + 1],
                                                                    table[i + 1][j])
    return 2 * table[-1][-1] / (len(x) + len(y))


def case_figures(rr: list[R]) -> dict[str, Any]:
    n = len(rr)
    c = sum(r.passed for r in rr)
    outcomes = [r.outcome() for r in rr]
    counts = Counter(outcomes)
    parsed = [r for r in rr if not r.error and r.parsed]
    keys = [json.dumps(r.answer, sort_keys=True) for r in parsed]
    order = {k: i for i, k in reversed(list(enumerate(keys)))}
    answers = sorted(Counter(keys).items(), key=lambda kv: (-kv[1], order[kv[0]]))
    texts = [r.raw for r in rr if not r.error and r.raw is not None]
    pairs = [(texts[i], texts[j]) for i in range(len(texts)) for j in range(i + 1, len(texts))]
    return {
        "n": n, "passes": c, "pass_rate": c / n, "wilson": wilson(c, n),
        "answers": [{"answer": json.loads(k), "count": v} for k, v in answers],
        "modal_share": max(counts.values()) / n,
        "tar_raw": not any(r.error for r in rr) and len({r.raw for r in rr}) == 1,
        "tar_answer": not any(r.error for r in rr) and len(set(outcomes)) == 1,
        "entropy": (scipy.stats.entropy(list(counts.values())) / math.log(n)) if n > 1 else 0.0,
        "pass_at_k": [1 - math.comb(n - c, k) / math.comb(n, k) for k in range(1, n + 1)],
        "pass_hat_k": [math.comb(c, k) / math.comb(n, k) for k in range(1, n + 1)],
        "parse_rate": len(parsed) / n,
        "similarity": float(np.mean([rouge_l(a, b) for a, b in pairs])) if pairs else 1.0,
        "unstable": 0 < c < n,
        "errors": sum(r.error for r in rr),
    }


def clustered(values: list[float], pooled: tuple[int, int]) -> tuple[float, float, list[float]]:
    n = len(values)
    mean = float(np.mean(values))
    se = float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    if se == 0:
        return mean, se, list(wilson(*pooled))
    lo, hi = scipy.stats.t.interval(0.95, n - 1, loc=mean, scale=se)
    return mean, se, [max(0.0, lo), min(1.0, hi)]


def alpha(cases: list[list[R]]) -> float | None:
    codes: dict[Hashable, int] = {}
    data = np.full((max(len(rr) for rr in cases), len(cases)), np.nan)
    for j, rr in enumerate(cases):
        for i, r in enumerate(rr):
            value = r.alpha_value()
            if value is not None:
                data[i, j] = codes.setdefault(value, len(codes))
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            value = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    except ValueError:
        return None
    return None if math.isnan(value) else float(value)


def icc1(cases: list[list[R]]) -> tuple[float | None, float | None, float | None]:
    """ICC(1) of pass/fail by one-way ANOVA (Shrout & Fleiss 1979), k0 for unequal sizes."""
    ys = [[float(r.passed) for r in rr] for rr in cases]
    a, sizes = len(ys), [len(y) for y in ys]
    total = sum(sizes)
    grand = sum(map(sum, ys)) / total
    msb = sum(len(y) * (np.mean(y) - grand) ** 2 for y in ys) / (a - 1)
    msw = sum(((np.array(y) - np.mean(y)) ** 2).sum() for y in ys) / (total - a)
    k0 = (total - sum(s * s for s in sizes) / total) / (a - 1)
    denom = msb + (k0 - 1) * msw
    return ((msb - msw) / denom if denom > 0 else None), max(0.0, (msb - msw) / k0), msw


def group_figures(cases: dict[str, list[R]]) -> dict[str, Any]:
    per = {cid: case_figures(rr) for cid, rr in cases.items()}
    stats = list(per.values())
    n_cases = len(stats)
    n_min = min(s["n"] for s in stats)
    mean, se, ci = clustered([s["pass_rate"] for s in stats],
                             (sum(s["passes"] for s in stats), sum(s["n"] for s in stats)))
    flaky = sorted((cid for cid, s in per.items() if s["unstable"]),
                   key=lambda cid: (abs(per[cid]["pass_rate"] - 0.5), cid))
    icc, var_b, var_w = icc1(list(cases.values()))
    return {
        "n_cases": n_cases, "reruns": n_min, "reruns_max": max(s["n"] for s in stats),
        "mean_pass_rate": mean, "se": se, "ci": ci,
        "tar_raw_at_n": np.mean([s["tar_raw"] for s in stats]),
        "tar_answer_at_n": np.mean([s["tar_answer"] for s in stats]),
        "mean_modal_share": np.mean([s["modal_share"] for s in stats]),
        "mean_entropy": np.mean([s["entropy"] for s in stats]),
        "mean_parse_rate": np.mean([s["parse_rate"] for s in stats]),
        "mean_similarity": np.mean([s["similarity"] for s in stats]),
        "unstable_share": len(flaky) / n_cases, "unstable": flaky,
        "pass_at_k": [np.mean([s["pass_at_k"][k] for s in stats]) for k in range(n_min)],
        "pass_hat_k": [np.mean([s["pass_hat_k"][k] for s in stats]) for k in range(n_min)],
        "krippendorff_alpha": alpha(list(cases.values())),
        "icc": icc, "var_between": var_b, "var_within": var_w,
        "advice": ("no variance observed" if var_w == var_b == 0 else
                   "add reruns" if var_w / n_min > var_b else "add cases"),
        "cases": per,
    }


def assert_same(got: Any, want: Any, where: str) -> None:
    if isinstance(want, dict):
        for key, value in want.items():
            assert_same(got[key], value, f"{where}.{key}")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, float | np.floating) and not isinstance(want, bool):
        assert got == pytest.approx(float(want), abs=TOL), where
    else:
        assert got == want, where


def check_summary(summary: dict[str, Any], want: dict[str, Any], where: str) -> None:
    want = dict(want)
    per, advice = want.pop("cases"), want.pop("advice")
    assert_same(summary, want, where)
    assert summary["precision_advice"].startswith(advice), where
    return per


# ------------------------------------------------------------------------------------------
# The checks
# ------------------------------------------------------------------------------------------


def _groups(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["variant"]: g for g in report["groups"]}


def test_the_run_covers_every_kind_of_figure(report: dict[str, Any]) -> None:
    assert report["schema"] == "workbench.run/2"
    groups = _groups(report)
    assert list(groups) == ["route@1", "fewshot@1", "chain@1", "count@1"]
    reruns = [r for g in groups.values() for c in g["cases"] for r in c["reruns"]]
    assert sum(r["status"] == "error" for r in reruns) == 4  # c03, rerun 2, each variant
    assert any(r["status"] == "ok" and not r["parse_ok"] for r in reruns)
    assert list(groups["chain@1"]["per_step"]) == ["facts", "category", "answer"]
    assert len(report["comparisons"]) == 3


def test_every_case_figure(report: dict[str, Any]) -> None:
    for variant, group in _groups(report).items():
        for case in group["cases"]:
            want = case_figures(cell_reruns(case["reruns"]))
            assert_same(case["stats"], {"case_id": case["id"], **want}, f"{variant}/{case['id']}")


def test_number_answers_are_values(report: dict[str, Any]) -> None:
    case = _groups(report)["count@1"]["cases"][0]
    assert {type(a["answer"]) for a in case["stats"]["answers"]} == {int}


def test_every_group_figure_and_threshold(report: dict[str, Any]) -> None:
    thresholds = report["run"]["settings"]["thresholds"]
    for variant, group in _groups(report).items():
        cases = {c["id"]: cell_reruns(c["reruns"]) for c in group["cases"]}
        want = group_figures(cases)
        check_summary(group["summary"], want, variant)
        cells = [r for rr in cases.values() for r in rr]
        k = thresholds["k"]
        actual = {"pass_rate": want["mean_pass_rate"], "consistency": want["mean_modal_share"],
                  "tar_answer": want["tar_answer_at_n"],
                  f"pass_hat_k@{k}": want["pass_hat_k"][k - 1],
                  "max_error_rate": sum(r.error for r in cells) / len(cells)}
        for check in group["thresholds"]:
            assert check["actual"] == pytest.approx(actual[check["name"]], abs=TOL), check
            target = check["target"]
            met = (check["actual"] <= target if check["name"] == "max_error_rate"
                   else check["actual"] >= target)
            assert check["passed"] is met
        assert group["errors"] == sum(r.error for r in cells)
        raw = [r for c in group["cases"] for r in c["reruns"]]
        assert group["tokens"]["total"] == sum(r["prompt_tokens"] + r["completion_tokens"]
                                               for r in raw)


def test_every_chain_step_figure(report: dict[str, Any]) -> None:
    group = _groups(report)["chain@1"]
    names = list(group["per_step"])
    for index, name in enumerate(names):
        cases = {c["id"]: step_reruns(c["reruns"], index, index == len(names) - 1)
                 for c in group["cases"]}
        check_summary(group["per_step"][name], group_figures(cases), f"chain@1/{name}")
    # The final step is the cell's answer, so its figures are the group's.
    final, whole = group["per_step"]["answer"], group["summary"]
    for key in ("mean_modal_share", "mean_parse_rate", "tar_answer_at_n", "mean_entropy"):
        assert final[key] == pytest.approx(whole[key], abs=TOL), key


def test_every_comparison(report: dict[str, Any]) -> None:
    groups = {f"{g['variant']} · {g['model']}": g for g in report["groups"]}
    for cmp in report["comparisons"]:
        a = {c["id"]: case_figures(cell_reruns(c["reruns"])) for c in groups[cmp["a"]]["cases"]}
        b = {c["id"]: case_figures(cell_reruns(c["reruns"])) for c in groups[cmp["b"]]["cases"]}
        shared = sorted(set(a) & set(b))
        assert cmp["shared"] == shared and cmp["n_shared"] == len(shared)
        for metric, key in (("pass_rate", "pass_rate"), ("consistency", "modal_share")):
            xa = np.array([a[c][key] for c in shared])
            xb = np.array([b[c][key] for c in shared])
            d = xb - xa
            got = cmp[metric]
            assert got["mean_a"] == pytest.approx(xa.mean(), abs=TOL)
            assert got["mean_b"] == pytest.approx(xb.mean(), abs=TOL)
            assert got["mean_diff"] == pytest.approx(d.mean(), abs=TOL)
            sem = scipy.stats.sem(d)
            lo, hi = ((d.mean(), d.mean()) if sem == 0 else
                      scipy.stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=sem))
            assert got["t_ci"] == pytest.approx([lo, hi], abs=1e-7), (cmp["b"], metric)
            verdict = ("better" if lo > 0 else "worse" if hi < 0
                       else "no detectable difference")
            assert got["verdict"] == verdict
            # The paired bootstrap: around the mean difference, about as wide as t's.
            b_lo, b_hi = got["bootstrap_ci"]
            assert b_lo <= d.mean() <= b_hi
            if hi > lo:
                assert 0.6 < (b_hi - b_lo) / (hi - lo) < 1.2, (cmp["b"], metric)
