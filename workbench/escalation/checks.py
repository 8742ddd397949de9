"""The checks of the escalation rule as data: each says whether it holds and the numbers why.

One record type per check, holding what the rule compared (values, intervals, targets,
thresholds) and an enumerated outcome, never a sentence: the reports phrase them
(:mod:`workbench.reports.escalation_text`). Adding a check means a record here, its place in
the rule's order (:mod:`workbench.escalation.rule`) and its sentence in the reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

CHECK_FORMAT = "answers readable"
CHECK_TARGET = "below target"
CHECK_SERVING = "not serving"
CHECK_PLATEAU = "plateau"
CHECK_LEVERS = "cheap levers tried"
CHECK_EXAMPLES = "enough examples"

# --------------------------------------------------------------------------------------------
# Answers readable (the output format)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormatCheck:
    """Can the best version's answers be read? Below the parse-rate target its consistency
    and pass rates measure the output format more than its answers, so the format comes
    first. Errors (no reply at all) are not a format problem and are left out."""

    ok: bool
    ref: str  # the best version
    parse_rate: float  # replies with a readable answer / replies
    target: float
    replies: int  # reruns that got a reply
    unreadable: int  # replies without a readable answer
    constrained: bool  # the best version's requests held the model to the format
    constrained_by: tuple[str, ...]  # every version whose requests did

    name: ClassVar[str] = CHECK_FORMAT


# --------------------------------------------------------------------------------------------
# Below target
# --------------------------------------------------------------------------------------------

METRIC_MODAL_SHARE = "modal_share"
METRIC_TAR_ANSWER = "tar_answer"
METRIC_PASS_HAT_K = "pass_hat_k"

TARGET_BELOW = "below"  # some gate's interval excludes its target: a real shortfall
TARGET_UNCERTAIN = "within uncertainty"  # below a target, but the interval includes it
TARGET_MET = "met"  # every gate at or above its target


@dataclass(frozen=True)
class Gate:
    """One target the best version is held to: a measure, its 95% interval and the target."""

    metric: str  # METRIC_*
    value: float
    ci: tuple[float, float]
    target: float
    k: int | None = None  # pass^k's k

    @property
    def short(self) -> bool:
        """Below the target (perhaps only by chance)."""
        return self.value < self.target

    @property
    def excluded(self) -> bool:
        """Below the target with the whole interval: not chance."""
        return self.ci[1] < self.target


@dataclass(frozen=True)
class TargetCheck:
    """Is the best version below a target, with its interval excluding the target?"""

    ok: bool
    outcome: str  # TARGET_*
    ref: str  # the best version
    gates: tuple[Gate, ...]  # consistency first, then pass^k when the suite sets a target

    name: ClassVar[str] = CHECK_TARGET


# --------------------------------------------------------------------------------------------
# Not serving
# --------------------------------------------------------------------------------------------

SERVING_UNTESTED = "untested"  # no version ran at temperature 0
SERVING_DETERMINISTIC = "deterministic"  # at temperature 0 every rerun gave the same text
SERVING_NONDETERMINISTIC = "nondeterministic"  # ... and some did not


@dataclass(frozen=True)
class ColdRun:
    """A version run at temperature 0, and how often its reruns gave identical raw text."""

    ref: str
    reruns: int
    tar_raw: float


@dataclass(frozen=True)
class Serving:
    """What the versions run at temperature 0 say about the serving stack."""

    state: str  # SERVING_*
    evidence: tuple[ColdRun, ...]  # nondeterministic: the versions whose raw outputs differed
    explains: bool  # the best version is among them: its shortfall is the serving stack's


@dataclass(frozen=True)
class ServingCheck:
    """Is the best version's shortfall something other than serving nondeterminism?"""

    ok: bool
    ref: str
    temperature: float | None  # None: the provider's default
    reruns: int
    tar_raw: float
    serving: Serving

    name: ClassVar[str] = CHECK_SERVING


# --------------------------------------------------------------------------------------------
# Plateau
# --------------------------------------------------------------------------------------------

PLATEAU_TOO_FEW = "too few versions"
PLATEAU_IMPROVING = "improving"
PLATEAU_REACHED = "reached"


@dataclass(frozen=True)
class Improvement:
    """A version against the best version before it, paired over shared cases."""

    ref: str
    baseline: str
    n_shared: int
    pass_rate_diff: float | None
    pass_rate_ci: tuple[float, float] | None
    pass_rate_verdict: str
    consistency_diff: float | None
    consistency_ci: tuple[float, float] | None
    consistency_verdict: str
    improved: bool


@dataclass(frozen=True)
class PlateauCheck:
    """Did the last versions stop improving on the best version before each?"""

    ok: bool
    state: str  # PLATEAU_*
    versions: int  # versions measured
    window: int  # the last ``window`` versions must show no improvement
    improvements: tuple[Improvement, ...]  # each of the last ``window - 1`` versions

    name: ClassVar[str] = CHECK_PLATEAU


# --------------------------------------------------------------------------------------------
# Cheap levers
# --------------------------------------------------------------------------------------------

LEVER_TEMPERATURE = "temperature 0"
LEVER_FEW_SHOT = "few-shot examples"
LEVER_FORMAT = "output-format constraint"
LEVER_VOTING = "majority vote over reruns"


@dataclass(frozen=True)
class Lever:
    """A cheap lever some prompt version can pull (temperature, few-shot, output format)."""

    name: str  # LEVER_TEMPERATURE | LEVER_FEW_SHOT | LEVER_FORMAT
    tried: bool
    blocks: bool  # untried: try it before fine-tuning
    tried_by: tuple[str, ...]  # the versions that pulled it


@dataclass(frozen=True)
class VoteLever:
    """Majority voting over the best version's reruns: estimated from them, never "tried";
    it blocks fine-tuning when it would close the gap."""

    blocks: bool
    ref: str
    reruns: int  # votes per case, and the cost factor
    vote_pass_rate: float
    pass_rate: float  # per single call
    goal: float | None  # the suite's pass-rate threshold voting must reach
    min_gain: float  # without a goal: the gain that counts as closing the gap

    name: ClassVar[str] = LEVER_VOTING
    tried: ClassVar[bool] = False

    @property
    def gain(self) -> float:
        return self.vote_pass_rate - self.pass_rate


@dataclass(frozen=True)
class LeversCheck:
    """Were the cheap levers tried, and would voting not close the gap?"""

    ok: bool
    blocking: tuple[Lever | VoteLever, ...]

    name: ClassVar[str] = CHECK_LEVERS


# --------------------------------------------------------------------------------------------
# Enough examples
# --------------------------------------------------------------------------------------------

LEVEL_TOO_FEW = "too few"
LEVEL_START = "enough to start"
LEVEL_GOOD = "good"


@dataclass(frozen=True)
class TrainingExamples:
    with_expected: int  # cases with an expected answer (what export-finetune writes)
    from_passing_reruns: int  # cases without one whose best-version reruns passed
    passing_reruns: int  # passing reruns of the best version (distinct outputs)
    usable: int
    level: str  # LEVEL_*
    minimum: int  # below this, tuners refuse or overfit
    good: int  # clear gains are usually reported from here


@dataclass(frozen=True)
class ExamplesCheck:
    """Are there enough training examples to fine-tune on?"""

    ok: bool
    examples: TrainingExamples

    name: ClassVar[str] = CHECK_EXAMPLES


Check = FormatCheck | TargetCheck | ServingCheck | PlateauCheck | LeversCheck | ExamplesCheck
