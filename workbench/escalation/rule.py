"""The escalation report: is fine-tuning warranted, or is there something cheaper to try?

It reads a suite's stored history — every prompt version × model the suite ever ran — and
applies one rule (README.md, "Escalation"). Fine-tuning is recommended only when all of these
hold for the best version (highest pass^k, then pass rate, then consistency):

1. **below target**: its consistency (mean modal share or TARa@N) or its pass^k is below the
   target *and the 95% interval excludes the target*;
2. **not serving**: the shortfall is not serving nondeterminism (at temperature 0 every
   rerun should give the same text; TARr < 1 there is the serving stack, which neither a
   prompt nor fine-tuning fixes);
3. **plateau**: none of the last few versions brought a detectable improvement over the best
   version before it (paired comparison on shared cases, :func:`workbench.analysis.stats.compare`);
4. **cheap levers tried**: temperature 0, few-shot examples and an output-format constraint
   were each tried by some version, and majority voting over the reruns would not close the
   gap;
5. **enough examples**: at least 10 usable training examples (clear gains usually from
   50–100).

The first check that fails names the verdict; every check is still evaluated and reported,
so the report always shows the numbers behind it.

This module is pure (a :class:`History` in, an :class:`EscalationReport` out) apart from
:func:`load_history`, which reads the store, and :class:`LitellmPrices`, which reads the cost
map bundled with litellm (without importing litellm), only for models that are not local.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from workbench.analysis.stats import (
    VERDICT_BETTER,
    VERDICT_WORSE,
    Comparison,
    GroupStats,
    Rerun,
    clustered_mean_ci,
    compare,
    group_stats,
    modal_share_ci,
    pass_hat_k,
    wilson_interval,
)
from workbench.errors import InputError
from workbench.escalation.history import History, HistoryPoint
from workbench.escalation.prices import LitellmPrices, Price, PriceBook
from workbench.escalation.report import (
    LEVER_FEW_SHOT,
    LEVER_FORMAT,
    LEVER_TEMPERATURE,
    LEVER_VOTING,
    VERDICT_COLLECT,
    VERDICT_FINE_TUNE,
    VERDICT_INCONCLUSIVE,
    VERDICT_KEEP_ITERATING,
    VERDICT_MEETS_TARGET,
    VERDICT_SERVING,
    VERDICT_TRY_LEVERS,
    Assessment,
    Check,
    CostComparison,
    EscalationReport,
    Improvement,
    Interval,
    Lever,
    TrainingExamples,
    TrendPoint,
)
from workbench.escalation.settings import EscalationSettings

MIN_EXAMPLES = 10  # below this, tuners refuse or overfit (OpenAI's minimum is 10)
GOOD_EXAMPLES = 50  # clear gains are usually reported from 50–100 examples
VOTE_GAIN = 0.10  # majority voting "closes the gap" with this pass-rate gain and no target


# --------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------


def vote_passes(reruns: Sequence[Rerun]) -> bool:
    """Would a majority vote over these reruns pass? The answer given most often wins (a tie
    at the top, or no parsed answer, is no decision: a failure); it passes when most of the
    reruns that gave it passed."""
    counts = Counter(r.answer for r in reruns if r.answer is not None and not r.error)
    if not counts:
        return False
    top = counts.most_common(2)
    if len(top) > 1 and top[0][1] == top[1][1]:
        return False
    winner = top[0][0]
    backing = [r for r in reruns if r.answer == winner and not r.error]
    return sum(r.passed for r in backing) * 2 > len(backing)


def _k_for(settings: EscalationSettings, stats: GroupStats) -> int:
    return max(1, min(settings.k or stats.reruns, stats.reruns))


def _trend_point(p: HistoryPoint, settings: EscalationSettings) -> tuple[TrendPoint, GroupStats]:
    st = group_stats(p.reruns)
    k = _k_for(settings, st)
    cases = list(st.cases.values())
    n = len(cases)
    modal = modal_share_ci(cases)
    tar_a = sum(c.tar_answer for c in cases)
    hat = [pass_hat_k(c.n, c.passes, k) for c in cases]
    hat_mean, hat_se, hat_ci = clustered_mean_ci(hat)
    if hat_se == 0 and hat_mean in (0.0, 1.0):
        hat_ci = wilson_interval(round(hat_mean * n), n)
    consistency = (Interval(modal[0], modal[2]) if settings.metric == "modal_share"
                   else Interval(tar_a / n, wilson_interval(tar_a, n)))
    point = TrendPoint(
        ref=p.ref, prompt=p.prompt, version=p.version, model=p.model, run_id=p.run_id,
        kind=p.kind, temperature=p.temperature, n_cases=n, reruns=st.reruns, k=k,
        pass_rate=Interval(st.mean_pass_rate, st.ci),
        consistency=consistency,
        modal_share=st.mean_modal_share,
        tar_answer=st.tar_answer_at_n,
        tar_raw=st.tar_raw_at_n,
        pass_hat_k=Interval(hat_mean, hat_ci),
        vote_pass_rate=sum(vote_passes(r) for r in p.reruns.values()) / n,
        tokens_per_call=p.prompt_tokens + p.completion_tokens,
    )
    return point, st


def _rank(t: TrendPoint) -> tuple[float, float, float]:
    """Best version first: highest pass^k (right *and* repeatable), then pass rate, then
    consistency."""
    return (t.pass_hat_k.value, t.pass_rate.value, t.consistency.value)


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def _ci(ci: tuple[float, float] | None) -> str:
    return "–" if ci is None else f"{ci[0]:.2f}–{ci[1]:.2f}"


def _target_check(best: TrendPoint, settings: EscalationSettings) -> tuple[Check, bool]:
    """Below target with the interval excluding it? Returns the check and whether the best
    version meets every target outright (vs merely not shown to be below)."""
    gates = [(settings.metric_label, best.consistency, settings.target)]
    if settings.pass_hat_k is not None:
        gates.append((f"pass^{best.k}", best.pass_hat_k, settings.pass_hat_k))
    below = [(name, iv, t) for name, iv, t in gates if iv.ci[1] < t]
    short = [(name, iv, t) for name, iv, t in gates if iv.value < t]
    parts = [f"{name} {_fmt(iv.value)} (95% CI {_ci(iv.ci)}) vs target {t:g}"
             for name, iv, t in gates]
    if below:
        name, iv, t = below[0]
        return Check("below target", True,
                     f"{best.ref}: " + "; ".join(parts)
                     + f" — {name} is below the target and its interval excludes it"), False
    if short:
        return Check("below target", False,
                     f"{best.ref}: " + "; ".join(parts)
                     + " — below the target, but the interval includes it"), False
    return Check("below target", False, f"{best.ref}: " + "; ".join(parts)
                 + " — meets the target"), True


def _improvements(points: Sequence[tuple[HistoryPoint, TrendPoint]], window: int
                  ) -> list[Improvement]:
    """Each of the last ``window - 1`` versions against the best version before it."""
    from workbench.analysis.results import BOOTSTRAP_RESAMPLES

    out: list[Improvement] = []
    start = max(1, len(points) - window + 1)
    for i in range(start, len(points)):
        base_p, base_t = max(points[:i], key=lambda pt: _rank(pt[1]))
        p, t = points[i]
        cmp: Comparison = compare(base_p.reruns, p.reruns, resamples=BOOTSTRAP_RESAMPLES)
        pr, cs = cmp.pass_rate, cmp.consistency
        improved = pr.verdict == VERDICT_BETTER or (
            cs.verdict == VERDICT_BETTER and pr.verdict != VERDICT_WORSE)
        out.append(Improvement(
            ref=t.ref, baseline=base_t.ref, n_shared=cmp.n_shared,
            pass_rate_diff=pr.mean_diff, pass_rate_ci=pr.t_ci, pass_rate_verdict=pr.verdict,
            consistency_diff=cs.mean_diff, consistency_ci=cs.t_ci,
            consistency_verdict=cs.verdict, improved=improved,
        ))
    return out


def _plateau_check(n_points: int, improvements: Sequence[Improvement], window: int) -> Check:
    # Lazily: _common imports workbench.results (and pydantic with it).
    from workbench.reports.format import interval, signed

    if n_points < window:
        return Check("plateau", False,
                     f"only {n_points} version(s) measured; the rule needs the last {window} "
                     "to show no improvement before calling it a plateau")
    better = [i for i in improvements if i.improved]
    if better:
        i = better[-1]
        return Check("plateau", False,
                     f"still improving: {i.ref} vs {i.baseline}: Δ pass rate "
                     f"{signed(i.pass_rate_diff)} {interval(i.pass_rate_ci)} "
                     f"({i.pass_rate_verdict}), Δ modal share {signed(i.consistency_diff)} "
                     f"{interval(i.consistency_ci)} ({i.consistency_verdict})")
    shown = "; ".join(f"{i.ref} vs {i.baseline}: Δ pass rate {signed(i.pass_rate_diff)} "
                      f"{interval(i.pass_rate_ci)}" for i in improvements)
    return Check("plateau", True,
                 f"none of the last {len(improvements)} versions improved on the best version "
                 f"before it ({shown})")


def _levers(points: Sequence[tuple[HistoryPoint, TrendPoint]], best: TrendPoint,
            settings: EscalationSettings) -> list[Lever]:
    hist = [p for p, _ in points]
    cold = [p.ref for p in hist if p.temperature == 0]
    few = [p.ref for p in hist if p.kind == "few-shot"]
    fmt = [p.ref for p in hist if p.format_constrained]
    levers = [
        Lever(LEVER_TEMPERATURE, bool(cold), not cold,
              f"tried by {', '.join(cold)}" if cold else
              "every version ran at temperature > 0 (or the provider default): "
              "set temperature 0 in a new version"),
        Lever(LEVER_FEW_SHOT, bool(few), not few,
              f"tried by {', '.join(few)}" if few else
              "no version had few-shot examples: add a few worked examples"),
        Lever(LEVER_FORMAT, bool(fmt), not fmt,
              f"tried by {', '.join(fmt)}" if fmt else
              "no version constrained the output: add a parse spec (label, json, …) or a "
              "response_format so answers are compared, not wording"),
    ]
    gain = best.vote_pass_rate - best.pass_rate.value
    goal = settings.pass_rate
    closes = (best.vote_pass_rate >= goal > best.pass_rate.value) if goal is not None \
        else gain >= VOTE_GAIN
    detail = (f"a majority vote over the {best.reruns} reruns of {best.ref} would pass "
              f"{best.vote_pass_rate:.0%} of cases vs {best.pass_rate.value:.0%} per single "
              f"call ({gain:+.0%}), at {best.reruns}× the calls")
    if closes:
        detail += (f"; that reaches the pass-rate target {goal:g}" if goal is not None
                   else f"; a gain of at least {VOTE_GAIN:.0%}")
        detail += ": consider voting before fine-tuning"
    else:
        detail += "; not enough to close the gap"
    levers.append(Lever(LEVER_VOTING, False, closes, detail))
    return levers


def _serving(points: Sequence[tuple[HistoryPoint, TrendPoint]], best: TrendPoint
             ) -> tuple[str, bool]:
    """A note on serving nondeterminism, and whether it explains the best version's shortfall
    (it ran at temperature 0 and its raw outputs still differ between reruns)."""
    cold = [t for p, t in points if p.temperature == 0]
    if not cold:
        return ("no version ran at temperature 0, so serving nondeterminism cannot be told "
                "apart from sampling; all rerun variance so far may be sampling"), False
    noisy = [t for t in cold if t.tar_raw < 1.0]
    if not noisy:
        shown = ", ".join(f"{t.ref} TARr@{t.reruns} {t.tar_raw:.0%}" for t in cold)
        return (f"serving is deterministic: at temperature 0 every case gave identical raw "
                f"outputs on every rerun ({shown}); remaining inconsistency comes from "
                "sampling and from the prompt"), False
    shown = ", ".join(f"{t.ref} TARr@{t.reruns} {t.tar_raw:.0%}" for t in noisy)
    explains = best.temperature == 0 and best.tar_raw < 1.0
    return (f"serving nondeterminism: at temperature 0 raw outputs still differ between reruns "
            f"({shown}); neither prompting nor fine-tuning fixes that — pin the serving stack "
            "(batch-invariant kernels, one replica, fixed seeds) first"), explains


def _sensitivity(points: Sequence[tuple[HistoryPoint, TrendPoint]]) -> tuple[float | None, str]:
    """How often the answer depends on the wording: the share of shared cases whose modal
    answer differs between at least two versions."""
    if len(points) < 2:
        return None, "one version only: prompt sensitivity needs at least two"
    shared = set.intersection(*(set(p.reruns) for p, _ in points))
    if not shared:
        return None, "the versions share no cases"
    changed = 0
    for cid in shared:
        modes = set()
        for p, _ in points:
            counts = Counter(r.answer for r in p.reruns[cid] if r.answer is not None)
            modes.add(counts.most_common(1)[0][0] if counts else None)
        changed += len(modes) > 1
    share = changed / len(shared)
    rates = [t.pass_rate.value for _, t in points]
    return share, (f"{changed} of {len(shared)} shared cases changed their most common answer "
                   f"between the {len(points)} versions; pass rate ranged "
                   f"{min(rates):.0%}–{max(rates):.0%}")


def _examples(best: HistoryPoint) -> TrainingExamples:
    with_expected = sum(1 for cid in best.reruns if best.expected.get(cid) is not None)
    from_passing = sum(1 for cid, rr in best.reruns.items()
                       if best.expected.get(cid) is None and any(r.passed for r in rr))
    passing = sum(len({r.raw for r in rr if r.passed}) for rr in best.reruns.values())
    usable = with_expected + from_passing
    if usable < MIN_EXAMPLES:
        level, guidance = "too few", (
            f"{usable} usable example(s): below the minimum of {MIN_EXAMPLES}; add cases with "
            "expected answers")
    elif usable < GOOD_EXAMPLES:
        level, guidance = "enough to start", (
            f"{usable} usable examples: enough to start (minimum {MIN_EXAMPLES}); clear gains "
            f"usually come from {GOOD_EXAMPLES}–100")
    else:
        level, guidance = "good", (
            f"{usable} usable examples: in the {GOOD_EXAMPLES}–100+ range where clear gains "
            "are usual")
    return TrainingExamples(with_expected, from_passing, passing, usable, level, guidance)


def _cost(best: HistoryPoint, examples: TrainingExamples, settings: EscalationSettings,
          prices: PriceBook) -> CostComparison:
    notes: list[str] = []
    price, source = settings.prices.get(best.model), "suite escalation.prices"
    if price is None:
        price, source = prices.price(best.model), "litellm cost map"
    if price is None:
        source = "unknown"
        notes.append(f"no price for {best.model}"
                     + (" (a local model: it costs compute, not tokens)"
                        if best.model.startswith("local/") else "")
                     + f"; set escalation.prices.{best.model} in the suite")
    short = (best.prompt_tokens * best.short_prompt_ratio
             if best.short_prompt_ratio is not None else None)
    short_completion = best.final_completion_tokens or best.completion_tokens
    if short is None:
        notes.append("the short prompt's size is unknown (the prompt text is not stored)")
    ft = settings.finetune
    ft_model = ft.model or prices.finetuned_model(best.model)
    if ft.input_per_1k is not None and ft.output_per_1k is not None:
        ft_price, ft_source = Price(ft.input_per_1k, ft.output_per_1k), "suite escalation.finetune"
    elif ft_model is not None and (looked_up := prices.price(ft_model)) is not None:
        ft_price, ft_source = looked_up, "litellm cost map"
    else:
        ft_price, ft_source = None, "unknown"
        notes.append("no fine-tuned price: set escalation.finetune.input_per_1k and "
                     "output_per_1k (or finetune.model, a name in litellm's cost map)")
    training_tokens = (examples.with_expected * (short + short_completion) * ft.epochs
                       if short is not None else None)
    training_cost = (training_tokens * ft.training_per_1k / 1000
                     if training_tokens is not None and ft.training_per_1k is not None else None)
    if ft.training_per_1k is None:
        notes.append("training price unknown: litellm's cost map has none; set "
                     "escalation.finetune.training_per_1k")
    return CostComparison(
        model=best.model,
        prompt_tokens=best.prompt_tokens,
        completion_tokens=best.completion_tokens,
        short_prompt_tokens=short,
        short_completion_tokens=short_completion,
        price=price,
        price_source=source,
        per_1k_calls_now=(price.per_call(best.prompt_tokens, best.completion_tokens) * 1000
                          if price else None),
        observed_per_1k_calls=best.cost_per_call * 1000,
        finetuned_model=ft_model,
        finetuned_price=ft_price,
        finetuned_price_source=ft_source,
        per_1k_calls_finetuned=(ft_price.per_call(short, short_completion) * 1000
                                if ft_price and short is not None else None),
        training_tokens=training_tokens,
        training_cost=training_cost,
        epochs=ft.epochs,
        notes=tuple(notes),
    )


_HEADLINES: dict[str, str] = {
    VERDICT_FINE_TUNE: "Recommend fine-tuning: {best} stays below the target after honest "
                       "prompt iteration, the cheap levers are tried, and there are enough "
                       "examples.",
    VERDICT_MEETS_TARGET: "No fine-tuning needed: {best} meets the target.",
    VERDICT_INCONCLUSIVE: "Inconclusive: {best} is below the target, but not by more than the "
                          "uncertainty; measure more before deciding.",
    VERDICT_SERVING: "Fix serving first: {best} varies at temperature 0, which neither a "
                     "prompt nor fine-tuning fixes.",
    VERDICT_KEEP_ITERATING: "Keep iterating on the prompt: {best} is below the target, but "
                            "prompt versions are still improving (or too few were tried).",
    VERDICT_TRY_LEVERS: "Not yet: {best} is below the target, but cheap levers are untried: "
                        "{levers}.",
    VERDICT_COLLECT: "Fine-tuning is indicated, but there are too few training examples: "
                     "collect labelled cases first.",
}


def _assess(model: str, points: list[HistoryPoint], settings: EscalationSettings,
            prices: PriceBook) -> Assessment:
    measured = [(p, *_trend_point(p, settings)) for p in points]
    pairs = [(p, t) for p, t, _ in measured]
    best_p, best_t, best_st = max(measured, key=lambda m: _rank(m[1]))
    target, meets = _target_check(best_t, settings)
    serving_note, serving_explains = _serving(pairs, best_t)
    serving = Check("not serving", not serving_explains,
                    serving_note if serving_explains else
                    f"{best_t.ref} ran at temperature "
                    + ("provider default" if best_t.temperature is None
                       else f"{best_t.temperature:g}")
                    + f" (TARr@{best_t.reruns} {best_t.tar_raw:.0%}): its variance is not "
                    "serving nondeterminism")
    improvements = _improvements(pairs, settings.plateau)
    plateau = _plateau_check(len(pairs), improvements, settings.plateau)
    levers = _levers(pairs, best_t, settings)
    blocking = [lv for lv in levers if lv.blocks]
    lever_check = Check("cheap levers tried", not blocking,
                        "untried: " + "; ".join(f"{lv.name} ({lv.detail})" for lv in blocking)
                        if blocking else "temperature 0, few-shot examples and an output "
                        "format were all tried, and majority voting would not close the gap")
    examples = _examples(best_p)
    example_check = Check("enough examples", examples.usable >= MIN_EXAMPLES, examples.guidance)
    checks = (target, serving, plateau, lever_check, example_check)

    if not target.ok:
        verdict = VERDICT_MEETS_TARGET if meets else VERDICT_INCONCLUSIVE
    elif not serving.ok:
        verdict = VERDICT_SERVING
    elif not plateau.ok:
        verdict = VERDICT_KEEP_ITERATING
    elif not lever_check.ok:
        verdict = VERDICT_TRY_LEVERS
    elif not example_check.ok:
        verdict = VERDICT_COLLECT
    else:
        verdict = VERDICT_FINE_TUNE
    headline = _HEADLINES[verdict].format(
        best=best_t.ref, levers=", ".join(lv.name for lv in blocking))
    deciding = {VERDICT_MEETS_TARGET: [target], VERDICT_INCONCLUSIVE: [target],
                VERDICT_SERVING: [target, serving], VERDICT_KEEP_ITERATING: [target, plateau],
                VERDICT_TRY_LEVERS: [target, lever_check],
                VERDICT_COLLECT: [target, example_check]}.get(verdict, list(checks))
    reasons = [c.detail for c in deciding]
    if verdict == VERDICT_INCONCLUSIVE:
        reasons.append(best_st.precision_advice)
    sensitivity, sensitivity_detail = _sensitivity(pairs)
    return Assessment(
        model=model, verdict=verdict, headline=headline, reasons=tuple(reasons),
        best=best_t.ref, checks=checks, levers=tuple(levers), improvements=tuple(improvements),
        trend=tuple(pairs_t for _, pairs_t in pairs), serving=serving_note,
        sensitivity=sensitivity, sensitivity_detail=sensitivity_detail,
        cost=_cost(best_p, examples, settings, prices), examples=examples,
        precision_advice=best_st.precision_advice,
    )


def escalate(history: History, settings: EscalationSettings | None = None,
             prices: PriceBook | None = None) -> EscalationReport:
    """Apply the rule to each model's history of prompt versions."""
    settings = settings or EscalationSettings()
    prices = prices or LitellmPrices()
    assessments = tuple(
        _assess(model, [p for p in history.points if p.model == model], settings, prices)
        for model in history.models()
    )
    return EscalationReport(history.suite, tuple(history.runs), settings, assessments)


def best_point(history: History, settings: EscalationSettings | None = None,
               model: str | None = None) -> HistoryPoint:
    """The best version (highest pass^k, then pass rate, then consistency), optionally on one
    model: the prompt a fine-tuning file is built from."""
    settings = settings or EscalationSettings()
    points = [p for p in history.points if model is None or p.model == model]
    if not points:
        raise InputError(f"no stored results for model '{model}' in suite '{history.suite}'"
                         + (f" (models: {', '.join(history.models())})" if history.points
                            else ""))
    return max(points, key=lambda p: _rank(_trend_point(p, settings)[0]))


