"""The escalation report in words: one function per record, shared by every format.

:mod:`workbench.escalation` holds numbers and enumerated outcomes; these functions phrase
them, so the terminal, Markdown, HTML and JSON reports and the TUI all say the same thing.
A new check needs a ``@check_detail.register`` function here.
"""

from __future__ import annotations

from functools import singledispatch

from workbench.escalation.checks import (
    LEVEL_START,
    LEVEL_TOO_FEW,
    LEVER_FEW_SHOT,
    LEVER_TEMPERATURE,
    METRIC_MODAL_SHARE,
    METRIC_PASS_HAT_K,
    PLATEAU_IMPROVING,
    PLATEAU_TOO_FEW,
    SERVING_DETERMINISTIC,
    SERVING_UNTESTED,
    TARGET_BELOW,
    TARGET_UNCERTAIN,
    ColdRun,
    ExamplesCheck,
    FormatCheck,
    Gate,
    Lever,
    LeversCheck,
    PlateauCheck,
    Serving,
    ServingCheck,
    TargetCheck,
    TrainingExamples,
    VoteLever,
)
from workbench.escalation.report import (
    COST_NO_FINETUNED_PRICE,
    COST_NO_PRICE,
    COST_NO_PRICE_LOCAL,
    COST_NO_TRAINING_PRICE,
    COST_SHORT_PROMPT_UNKNOWN,
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
    Sensitivity,
)
from workbench.models.adapters import (
    VERDICT_HELPED,
    VERDICT_NO_GAIN,
    VERDICT_WORSE,
    AdapterComparison,
    MetricChange,
)
from workbench.reports.format import interval, signed


def metric_label(metric: str, k: int | None = None) -> str:
    """A measure as the reports name it: ``modal share``, ``TARa@N``, ``pass^5``."""
    if metric == METRIC_PASS_HAT_K:
        return f"pass^{k}"
    return "modal share" if metric == METRIC_MODAL_SHARE else "TARa@N"


def _ci(ci: tuple[float, float]) -> str:
    return f"{ci[0]:.2f}–{ci[1]:.2f}"


def _gate(g: Gate) -> str:
    return (f"{metric_label(g.metric, g.k)} {g.value:.2f} (95% CI {_ci(g.ci)}) "
            f"vs target {g.target:g}")


def _temperature(t: float | None) -> str:
    return "provider default" if t is None else f"{t:g}"


def _tar_raw(runs: tuple[ColdRun, ...]) -> str:
    return ", ".join(f"{c.ref} TARr@{c.reruns} {c.tar_raw:.0%}" for c in runs)


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


@singledispatch
def check_detail(check: object) -> str:
    """The numbers behind one check of the rule, as a sentence."""
    raise TypeError(f"no sentence for {type(check).__name__}")


@check_detail.register
def _(check: FormatCheck) -> str:
    text = (f"{check.ref}: parse rate {check.parse_rate:.2f} vs target {check.target:g} "
            f"({check.unreadable} of {check.replies} replies had no readable answer)")
    if check.ok:
        return text + " — its answers can be read"
    return text + " — fix the output format first: " + format_levers(check)


def format_levers(check: FormatCheck) -> str:
    """What holds the model to the answer's shape, and whether a version already tried it."""
    constrain = ("set 'constrain: true' on the parse spec (a grammar for the embedded model, a "
                 "JSON schema through response_format for hosted ones)")
    if check.constrained:
        lever = ("its requests already held the model to a format, yet replies did not parse: "
                 "make the parse spec read what the constraint produces")
    elif check.constrained_by:
        lever = (f"{', '.join(check.constrained_by)} held the model to the format, "
                 f"{check.ref} did not: {constrain}")
    else:
        lever = f"no version held the model to the format: {constrain}"
    return lever + "; and state the format in the prompt, or show it in few-shot examples"


@check_detail.register
def _(check: TargetCheck) -> str:
    text = f"{check.ref}: " + "; ".join(_gate(g) for g in check.gates)
    if check.outcome == TARGET_BELOW:
        first = next(g for g in check.gates if g.excluded)
        return (text + f" — {metric_label(first.metric, first.k)} is below the target and its "
                "interval excludes it")
    if check.outcome == TARGET_UNCERTAIN:
        return text + " — below the target, but the interval includes it"
    return text + " — meets the target"


@check_detail.register
def _(check: ServingCheck) -> str:
    if not check.ok:
        return serving_text(check.serving)
    return (f"{check.ref} ran at temperature {_temperature(check.temperature)} "
            f"(TARr@{check.reruns} {check.tar_raw:.0%}): its variance is not serving "
            "nondeterminism")


@check_detail.register
def _(check: PlateauCheck) -> str:
    if check.state == PLATEAU_TOO_FEW:
        return (f"only {check.versions} version(s) measured; the rule needs the last "
                f"{check.window} to show no improvement before calling it a plateau")
    if check.state == PLATEAU_IMPROVING:
        i = [i for i in check.improvements if i.improved][-1]
        return (f"still improving: {i.ref} vs {i.baseline}: Δ pass rate "
                f"{signed(i.pass_rate_diff)} {interval(i.pass_rate_ci)} "
                f"({i.pass_rate_verdict}), Δ modal share {signed(i.consistency_diff)} "
                f"{interval(i.consistency_ci)} ({i.consistency_verdict})")
    shown = "; ".join(f"{i.ref} vs {i.baseline}: Δ pass rate {signed(i.pass_rate_diff)} "
                      f"{interval(i.pass_rate_ci)}" for i in check.improvements)
    return (f"none of the last {len(check.improvements)} versions improved on the best "
            f"version before it ({shown})")


@check_detail.register
def _(check: LeversCheck) -> str:
    if check.blocking:
        return "untried: " + "; ".join(f"{lv.name} ({lever_detail(lv)})"
                                       for lv in check.blocking)
    return ("temperature 0, few-shot examples and an output format were all tried, and "
            "majority voting would not close the gap")


@check_detail.register
def _(check: ExamplesCheck) -> str:
    return examples_text(check.examples)


# --------------------------------------------------------------------------------------------
# Levers, serving, sensitivity, examples, cost
# --------------------------------------------------------------------------------------------


def lever_detail(lever: Lever | VoteLever) -> str:
    """Who pulled a lever, what to do if nobody did; for voting, what it would gain."""
    if isinstance(lever, VoteLever):
        text = (f"a majority vote over the {lever.reruns} reruns of {lever.ref} would pass "
                f"{lever.vote_pass_rate:.0%} of cases vs {lever.pass_rate:.0%} per single "
                f"call ({lever.gain:+.0%}), at {lever.reruns}× the calls")
        if not lever.blocks:
            return text + "; not enough to close the gap"
        text += (f"; that reaches the pass-rate target {lever.goal:g}" if lever.goal is not None
                 else f"; a gain of at least {lever.min_gain:.0%}")
        return text + ": consider voting before fine-tuning"
    if lever.tried:
        return f"tried by {', '.join(lever.tried_by)}"
    if lever.name == LEVER_TEMPERATURE:
        return ("every version ran at temperature > 0 (or the provider default): set "
                "temperature 0 in a new version")
    if lever.name == LEVER_FEW_SHOT:
        return "no version had few-shot examples: add a few worked examples"
    return ("no version constrained the output (a parse spec only reads it): set "
            "'constrain: true' on the parse spec — a grammar for the embedded model, a JSON "
            "schema through response_format for hosted ones — or a response_format param")


def serving_text(serving: Serving) -> str:
    """The serving note: can serving nondeterminism be told apart, and is there any?"""
    if serving.state == SERVING_UNTESTED:
        return ("no version ran at temperature 0, so serving nondeterminism cannot be told "
                "apart from sampling; all rerun variance so far may be sampling")
    if serving.state == SERVING_DETERMINISTIC:
        return (f"serving is deterministic: at temperature 0 every case gave identical raw "
                f"outputs on every rerun ({_tar_raw(serving.evidence)}); remaining "
                "inconsistency comes from sampling and from the prompt")
    return (f"serving nondeterminism: at temperature 0 raw outputs still differ between reruns "
            f"({_tar_raw(serving.evidence)}); neither prompting nor fine-tuning fixes that — "
            "pin the serving stack (batch-invariant kernels, one replica, fixed seeds) first")


def sensitivity_text(s: Sensitivity) -> str:
    if s.versions < 2:
        return "one version only: prompt sensitivity needs at least two"
    if not s.shared:
        return "the versions share no cases"
    low, high = s.pass_rates
    return (f"{s.changed} of {s.shared} shared cases changed their most common answer "
            f"between the {s.versions} versions; pass rate ranged {low:.0%}–{high:.0%}")


def examples_text(e: TrainingExamples) -> str:
    """How many usable examples, against the minimum and the range where gains are usual."""
    if e.level == LEVEL_TOO_FEW:
        return (f"{e.usable} usable example(s): below the minimum of {e.minimum}; add cases "
                "with expected answers")
    if e.level == LEVEL_START:
        return (f"{e.usable} usable examples: enough to start (minimum {e.minimum}); clear "
                f"gains usually come from {e.good}–100")
    return f"{e.usable} usable examples: in the {e.good}–100+ range where clear gains are usual"


def cost_notes(cost: CostComparison) -> tuple[str, ...]:
    """What the cost comparison could not price, and what to set so it can."""
    notes = {
        COST_NO_PRICE: f"no price for {cost.model}; set escalation.prices.{cost.model} in the "
                       "suite",
        COST_NO_PRICE_LOCAL: f"no price for {cost.model} (a local model: it costs compute, not "
                             f"tokens); set escalation.prices.{cost.model} in the suite",
        COST_SHORT_PROMPT_UNKNOWN: "the short prompt's size is unknown (the prompt text is not "
                                   "stored)",
        COST_NO_FINETUNED_PRICE: "no fine-tuned price: set escalation.finetune.input_per_1k "
                                 "and output_per_1k (or finetune.model, a name in litellm's "
                                 "cost map)",
        COST_NO_TRAINING_PRICE: "training price unknown: litellm's cost map has none; set "
                                "escalation.finetune.training_per_1k",
    }
    return tuple(notes[gap] for gap in cost.gaps)


# --------------------------------------------------------------------------------------------
# The verdict
# --------------------------------------------------------------------------------------------

_HEADLINES: dict[str, str] = {
    VERDICT_FINE_TUNE: "Recommend fine-tuning: {best} stays below the target after honest "
                       "prompt iteration, the cheap levers are tried, and there are enough "
                       "examples.",
    VERDICT_FIX_FORMAT: "Fix the output format first: {best} gives no readable answer in "
                        "{unreadable:.0%} of its replies, so its consistency and pass rates "
                        "measure the format more than its answers; neither another wording nor "
                        "fine-tuning should be judged on them.",
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


def headline(a: Assessment) -> str:
    """The verdict as one sentence about the best version."""
    fmt = next((c for c in a.checks if isinstance(c, FormatCheck)), None)
    return _HEADLINES[a.verdict].format(
        best=a.best, levers=", ".join(lv.name for lv in a.levers if lv.blocks),
        unreadable=1.0 - fmt.parse_rate if fmt else 0.0)


def reasons(a: Assessment) -> tuple[str, ...]:
    """Why the verdict: the checks it rests on and, when inconclusive, what to measure."""
    out = [check_detail(c) for c in a.deciding]
    if a.verdict == VERDICT_INCONCLUSIVE:
        out.append(a.precision_advice)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# After fine-tuning: the advice checked
# --------------------------------------------------------------------------------------------

FINETUNE_VERDICTS = {
    VERDICT_HELPED: "fine-tuning helped",
    VERDICT_NO_GAIN: "no detectable gain",
    VERDICT_WORSE: "worse",
}


def finetune_verdict(c: AdapterComparison) -> str:
    """``fine-tuning helped`` / ``no detectable gain`` / ``worse``."""
    return FINETUNE_VERDICTS.get(c.verdict, c.verdict)


def finetune_summary(c: AdapterComparison) -> str:
    """One sentence: what was compared, on what, and the verdict's reason."""
    pr = c.pass_rate
    why = ("the pass rate's paired 95% interval is above 0" if c.verdict == VERDICT_HELPED
           else "the pass rate's paired 95% interval is below 0" if c.verdict == VERDICT_WORSE
           else "fewer than 2 held-out cases: no interval" if pr.ci is None
           else "the pass rate's paired 95% interval includes 0")
    return (f"Adapter {c.adapter}: {c.after_model} with the short prompt ({c.after_prompt}) "
            f"against {c.before_prompt} on {c.before_model}, on {len(c.cases)} held-out "
            f"case(s) the adapter never saw, {c.reruns} reruns each: "
            f"{finetune_verdict(c)} ({why}).")


def _num(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def finetune_rows(c: AdapterComparison) -> list[list[str]]:
    """Metric, before, after, change (95% CI) — the before/after table of every format."""
    def metric_row(label: str, m: MetricChange) -> list[str]:
        return [label, _num(m.before, 2), _num(m.after, 2),
                signed(m.delta) + ("" if m.ci is None else " " + interval(m.ci))]

    def plain_row(label: str, pair: tuple[float | None, float | None], digits: int) -> list[str]:
        before, after = pair
        delta = None if before is None or after is None else after - before
        return [label, _num(before, digits), _num(after, digits), signed(delta, digits)]

    return [
        metric_row("pass rate", c.pass_rate),
        metric_row("consistency (modal share)", c.consistency),
        metric_row(f"pass^{c.k}", c.pass_hat_k),
        plain_row("tokens per call", c.tokens_per_call, 1),
        plain_row("seconds per call", c.seconds_per_call, 3),
    ]


FINETUNE_HEADER = ["", "before (best prompt)", "after (fine-tuned)", "Δ (paired 95% CI)"]
