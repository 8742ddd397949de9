"""The escalation rule: is fine-tuning warranted, or is there something cheaper to try?

It works on a suite's stored history — every prompt version × model the suite ever ran — and
applies one rule, the one README.md's "Escalation" section describes. First the **format
check**: when the best version's answers cannot be read often enough (its parse rate is below
the target, 0.95 by default), the verdict is to fix the output format first, because its
consistency and pass rates then measure the format. Fine-tuning is recommended only when
that holds and all of these hold for the best version (highest pass^k, then pass rate, then
consistency):

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
so the report always shows the numbers behind it. Each check is a record of
:mod:`workbench.escalation.checks` (numbers and an enumerated outcome, no prose). A new check
is a new record, a function here that measures it, its place in :func:`_assess`'s order with
the verdict it names when it fails (``_FAILED``), and its sentence in
:mod:`workbench.reports.escalation_text`.

This module is pure: a :class:`History` (:func:`workbench.escalation.history.load_history`
reads it from the store) in, an :class:`EscalationReport` out. Prices come from a
:class:`PriceBook`; the default, :class:`LitellmPrices`, reads the cost map bundled with
litellm (without importing litellm), only for models that are not local.
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
    compare,
    group_stats,
    modal_share_ci,
    pass_hat_k_ci,
    wilson_interval,
)
from workbench.errors import InputError
from workbench.escalation.checks import (
    LEVEL_GOOD,
    LEVEL_START,
    LEVEL_TOO_FEW,
    LEVER_FEW_SHOT,
    LEVER_FORMAT,
    LEVER_TEMPERATURE,
    METRIC_MODAL_SHARE,
    METRIC_PASS_HAT_K,
    PLATEAU_IMPROVING,
    PLATEAU_REACHED,
    PLATEAU_TOO_FEW,
    SERVING_DETERMINISTIC,
    SERVING_NONDETERMINISTIC,
    SERVING_UNTESTED,
    TARGET_BELOW,
    TARGET_MET,
    TARGET_UNCERTAIN,
    Check,
    ColdRun,
    ExamplesCheck,
    FormatCheck,
    Gate,
    Improvement,
    Lever,
    LeversCheck,
    PlateauCheck,
    Serving,
    ServingCheck,
    TargetCheck,
    TrainingExamples,
    VoteLever,
)
from workbench.escalation.history import History, HistoryPoint
from workbench.escalation.prices import LitellmPrices, Price, PriceBook
from workbench.escalation.report import (
    COST_NO_FINETUNED_PRICE,
    COST_NO_PRICE,
    COST_NO_PRICE_LOCAL,
    COST_NO_TRAINING_PRICE,
    COST_SHORT_PROMPT_UNKNOWN,
    PRICES_FROM_FINETUNE,
    PRICES_FROM_LITELLM,
    PRICES_FROM_SUITE,
    PRICES_UNKNOWN,
    VERDICT_COLLECT,
    VERDICT_FINE_TUNE,
    VERDICT_FIX_FORMAT,
    VERDICT_INCONCLUSIVE,
    VERDICT_KEEP_ITERATING,
    VERDICT_MEETS_TARGET,
    VERDICT_SERVING,
    VERDICT_TRY_LEVERS,
    Assessment,
    CostComparison,
    EscalationReport,
    Interval,
    Sensitivity,
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
    hat_mean, hat_ci = pass_hat_k_ci(cases, k)
    consistency = (Interval(modal[0], modal[2]) if settings.metric == METRIC_MODAL_SHARE
                   else Interval(tar_a / n, wilson_interval(tar_a, n)))
    point = TrendPoint(
        ref=p.ref, prompt=p.prompt, version=p.version, model=p.model, run_id=p.run_id,
        kind=p.kind, temperature=p.temperature, n_cases=n, reruns=st.reruns, k=k,
        pass_rate=Interval(st.mean_pass_rate, st.ci),
        consistency=consistency,
        parse_rate=st.mean_parse_rate,
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


def _format_check(points: Sequence[HistoryPoint], best: HistoryPoint,
                  settings: EscalationSettings) -> FormatCheck:
    """Is the best version's answer readable often enough to judge anything else? Counted
    over its replies (an error is no reply, not a format problem), with the versions whose
    requests held the model to the format (the lever that fixes it)."""
    replies = [r for rr in best.reruns.values() for r in rr if not r.error]
    unreadable = sum(1 for r in replies if r.answer is None)
    rate = 1.0 - unreadable / len(replies) if replies else 1.0
    return FormatCheck(
        ok=rate >= settings.parse_rate_target, ref=best.ref, parse_rate=rate,
        target=settings.parse_rate_target, replies=len(replies), unreadable=unreadable,
        constrained=best.format_constrained,
        constrained_by=tuple(p.ref for p in points if p.format_constrained))


def _target_check(best: TrendPoint, settings: EscalationSettings) -> TargetCheck:
    """Below target with the interval excluding it? The outcome also tells a shortfall within
    the uncertainty (inconclusive) from meeting every target."""
    gates = [Gate(settings.metric, best.consistency.value, best.consistency.ci, settings.target)]
    if settings.pass_hat_k is not None:
        gates.append(Gate(METRIC_PASS_HAT_K, best.pass_hat_k.value, best.pass_hat_k.ci,
                          settings.pass_hat_k, k=best.k))
    if any(g.excluded for g in gates):
        outcome = TARGET_BELOW
    elif any(g.short for g in gates):
        outcome = TARGET_UNCERTAIN
    else:
        outcome = TARGET_MET
    return TargetCheck(outcome == TARGET_BELOW, outcome, best.ref, tuple(gates))


def is_improvement(cmp: Comparison) -> bool:
    """Did b improve on a: pass rate better, or modal share better without pass rate worse?"""
    pr, cs = cmp.pass_rate, cmp.consistency
    return pr.verdict == VERDICT_BETTER or (
        cs.verdict == VERDICT_BETTER and pr.verdict != VERDICT_WORSE)


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
        out.append(Improvement(
            ref=t.ref, baseline=base_t.ref, n_shared=cmp.n_shared,
            pass_rate_diff=pr.mean_diff, pass_rate_ci=pr.t_ci, pass_rate_verdict=pr.verdict,
            consistency_diff=cs.mean_diff, consistency_ci=cs.t_ci,
            consistency_verdict=cs.verdict, improved=is_improvement(cmp),
        ))
    return out


def _plateau_check(n_points: int, improvements: Sequence[Improvement], window: int
                   ) -> PlateauCheck:
    if n_points < window:
        state = PLATEAU_TOO_FEW
    elif any(i.improved for i in improvements):
        state = PLATEAU_IMPROVING
    else:
        state = PLATEAU_REACHED
    return PlateauCheck(state == PLATEAU_REACHED, state, n_points, window, tuple(improvements))


def _levers(points: Sequence[tuple[HistoryPoint, TrendPoint]], best: TrendPoint,
            settings: EscalationSettings) -> list[Lever | VoteLever]:
    hist = [p for p, _ in points]
    cold = tuple(p.ref for p in hist if p.temperature == 0)
    few = tuple(p.ref for p in hist if p.kind == "few-shot")
    fmt = tuple(p.ref for p in hist if p.format_constrained)
    goal = settings.pass_rate
    closes = (best.vote_pass_rate >= goal > best.pass_rate.value) if goal is not None \
        else best.vote_pass_rate - best.pass_rate.value >= VOTE_GAIN
    return [
        Lever(LEVER_TEMPERATURE, bool(cold), not cold, cold),
        Lever(LEVER_FEW_SHOT, bool(few), not few, few),
        Lever(LEVER_FORMAT, bool(fmt), not fmt, fmt),
        VoteLever(closes, best.ref, best.reruns, best.vote_pass_rate, best.pass_rate.value,
                  goal, VOTE_GAIN),
    ]


def _serving(points: Sequence[tuple[HistoryPoint, TrendPoint]], best: TrendPoint) -> Serving:
    """What the versions at temperature 0 say about serving nondeterminism, and whether it
    explains the best version's shortfall (it ran at temperature 0 and its raw outputs still
    differ between reruns)."""
    cold = [ColdRun(t.ref, t.reruns, t.tar_raw) for p, t in points if p.temperature == 0]
    if not cold:
        return Serving(SERVING_UNTESTED, (), False)
    noisy = tuple(c for c in cold if c.tar_raw < 1.0)
    if not noisy:
        return Serving(SERVING_DETERMINISTIC, tuple(cold), False)
    explains = best.temperature == 0 and best.tar_raw < 1.0
    return Serving(SERVING_NONDETERMINISTIC, noisy, explains)


def _sensitivity(points: Sequence[tuple[HistoryPoint, TrendPoint]]) -> Sensitivity:
    """How often the answer depends on the wording: the share of shared cases whose modal
    answer differs between at least two versions."""
    rates = [t.pass_rate.value for _, t in points]
    span = (min(rates), max(rates))
    if len(points) < 2:
        return Sensitivity(len(points), 0, 0, None, span)
    shared = set.intersection(*(set(p.reruns) for p, _ in points))
    changed = 0
    for cid in shared:
        modes = set()
        for p, _ in points:
            counts = Counter(r.answer for r in p.reruns[cid] if r.answer is not None)
            modes.add(counts.most_common(1)[0][0] if counts else None)
        changed += len(modes) > 1
    share = changed / len(shared) if shared else None
    return Sensitivity(len(points), len(shared), changed, share, span)


def _examples(best: HistoryPoint) -> TrainingExamples:
    with_expected = sum(1 for cid in best.reruns if best.expected.get(cid) is not None)
    from_passing = sum(1 for cid, rr in best.reruns.items()
                       if best.expected.get(cid) is None and any(r.passed for r in rr))
    passing = sum(len({r.raw for r in rr if r.passed}) for rr in best.reruns.values())
    usable = with_expected + from_passing
    level = (LEVEL_TOO_FEW if usable < MIN_EXAMPLES else
             LEVEL_START if usable < GOOD_EXAMPLES else LEVEL_GOOD)
    return TrainingExamples(with_expected, from_passing, passing, usable, level,
                            MIN_EXAMPLES, GOOD_EXAMPLES)


def _cost(best: HistoryPoint, examples: TrainingExamples, settings: EscalationSettings,
          prices: PriceBook) -> CostComparison:
    gaps: list[str] = []
    price, source = settings.prices.get(best.model), PRICES_FROM_SUITE
    if price is None:
        price, source = prices.price(best.model), PRICES_FROM_LITELLM
    if price is None:
        source = PRICES_UNKNOWN
        gaps.append(COST_NO_PRICE_LOCAL if best.model.startswith("local/") else COST_NO_PRICE)
    short = (best.prompt_tokens * best.short_prompt_ratio
             if best.short_prompt_ratio is not None else None)
    short_completion = best.final_completion_tokens or best.completion_tokens
    if short is None:
        gaps.append(COST_SHORT_PROMPT_UNKNOWN)
    ft = settings.finetune
    ft_model = ft.model or prices.finetuned_model(best.model)
    if ft.input_per_1k is not None and ft.output_per_1k is not None:
        ft_price, ft_source = Price(ft.input_per_1k, ft.output_per_1k), PRICES_FROM_FINETUNE
    elif ft_model is not None and (looked_up := prices.price(ft_model)) is not None:
        ft_price, ft_source = looked_up, PRICES_FROM_LITELLM
    else:
        ft_price, ft_source = None, PRICES_UNKNOWN
        gaps.append(COST_NO_FINETUNED_PRICE)
    training_tokens = (examples.with_expected * (short + short_completion) * ft.epochs
                       if short is not None else None)
    training_cost = (training_tokens * ft.training_per_1k / 1000
                     if training_tokens is not None and ft.training_per_1k is not None else None)
    if ft.training_per_1k is None:
        gaps.append(COST_NO_TRAINING_PRICE)
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
        gaps=tuple(gaps),
    )


# The verdict each check names when it is the first to fail (the target check names one of
# two, see _verdict).
_FAILED: dict[type, str] = {
    FormatCheck: VERDICT_FIX_FORMAT,
    ServingCheck: VERDICT_SERVING,
    PlateauCheck: VERDICT_KEEP_ITERATING,
    LeversCheck: VERDICT_TRY_LEVERS,
    ExamplesCheck: VERDICT_COLLECT,
}


def _verdict(checks: Sequence[Check]) -> tuple[str, tuple[Check, ...]]:
    """The verdict and the checks it rests on: the first failing check names it. The format
    check and the target check rest on themselves; a later one on the target check (is there
    a shortfall at all?) and itself. When none fails, on all."""
    failed = next((c for c in checks if not c.ok), None)
    if failed is None:
        return VERDICT_FINE_TUNE, tuple(checks)
    if isinstance(failed, TargetCheck):
        met = failed.outcome == TARGET_MET
        return (VERDICT_MEETS_TARGET if met else VERDICT_INCONCLUSIVE), (failed,)
    if isinstance(failed, FormatCheck):
        return _FAILED[FormatCheck], (failed,)
    target = next(c for c in checks if isinstance(c, TargetCheck))
    return _FAILED[type(failed)], (target, failed)


def _assess(model: str, points: list[HistoryPoint], settings: EscalationSettings,
            prices: PriceBook) -> Assessment:
    measured = [(p, *_trend_point(p, settings)) for p in points]
    pairs = [(p, t) for p, t, _ in measured]
    best_p, best_t, best_st = max(measured, key=lambda m: _rank(m[1]))
    serving = _serving(pairs, best_t)
    improvements = _improvements(pairs, settings.plateau)
    levers = _levers(pairs, best_t, settings)
    blocking = tuple(lv for lv in levers if lv.blocks)
    examples = _examples(best_p)
    checks: tuple[Check, ...] = (  # the rule's order
        _format_check(points, best_p, settings),
        _target_check(best_t, settings),
        ServingCheck(not serving.explains, best_t.ref, best_t.temperature, best_t.reruns,
                     best_t.tar_raw, serving),
        _plateau_check(len(pairs), improvements, settings.plateau),
        LeversCheck(not blocking, blocking),
        ExamplesCheck(examples.usable >= MIN_EXAMPLES, examples),
    )
    verdict, deciding = _verdict(checks)
    return Assessment(
        model=model, verdict=verdict, best=best_t.ref, checks=checks, deciding=deciding,
        levers=tuple(levers), improvements=tuple(improvements),
        trend=tuple(t for _, t in pairs), serving=serving, sensitivity=_sensitivity(pairs),
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


