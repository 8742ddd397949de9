"""The escalation report as data: the verdict per model, every check, lever and cost figure.

Numbers and enumerated outcomes only. The reports (terminal, Markdown, HTML, JSON) and the
TUI phrase them with :mod:`workbench.reports.escalation_text`; nothing here decides anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.escalation.checks import (
    Check,
    Improvement,
    Lever,
    Serving,
    TrainingExamples,
    VoteLever,
)
from workbench.escalation.prices import Price
from workbench.escalation.settings import EscalationSettings
from workbench.models.adapters import AdapterComparison

# The verdicts, in the rule's order: the first check that fails names one.
VERDICT_FIX_FORMAT = "fix the output format first"
VERDICT_MEETS_TARGET = "meets target"
VERDICT_INCONCLUSIVE = "inconclusive"
VERDICT_SERVING = "fix serving first"
VERDICT_KEEP_ITERATING = "keep iterating"
VERDICT_TRY_LEVERS = "try cheap levers first"
VERDICT_COLLECT = "collect examples first"
VERDICT_FINE_TUNE = "fine-tune"


@dataclass(frozen=True)
class Interval:
    value: float
    ci: tuple[float, float]


@dataclass(frozen=True)
class TrendPoint:
    """One version's numbers, for the trend table and chart."""

    ref: str
    prompt: str
    version: int
    model: str
    run_id: str
    kind: str
    temperature: float | None
    n_cases: int
    reruns: int
    k: int
    pass_rate: Interval
    consistency: Interval  # the settings' metric
    parse_rate: float  # mean share of reruns with a readable answer, shown beside consistency
    modal_share: float
    tar_answer: float
    tar_raw: float
    pass_hat_k: Interval
    vote_pass_rate: float  # majority vote over the reruns of each case
    tokens_per_call: float


@dataclass(frozen=True)
class Sensitivity:
    """How often the answer depends on the wording: cases whose most common answer differs
    between at least two versions, among the cases every version ran."""

    versions: int
    shared: int  # cases every version ran (0 with one version: nothing to compare)
    changed: int
    share: float | None  # changed / shared; None with one version or no shared case
    pass_rates: tuple[float, float]  # the lowest and highest pass rate over the versions


# Where a price came from (shown beside it).
PRICES_FROM_SUITE = "suite escalation.prices"
PRICES_FROM_FINETUNE = "suite escalation.finetune"
PRICES_FROM_LITELLM = "litellm cost map"
PRICES_UNKNOWN = "unknown"

# Figures the cost comparison could not price, in the order the reports name them.
COST_NO_PRICE = "no price"
COST_NO_PRICE_LOCAL = "no price: local model"  # it costs compute, not tokens
COST_SHORT_PROMPT_UNKNOWN = "short prompt unknown"  # the prompt text is not stored
COST_NO_FINETUNED_PRICE = "no fine-tuned price"
COST_NO_TRAINING_PRICE = "no training price"


@dataclass(frozen=True)
class CostComparison:
    """Per 1,000 calls: the best prompt now vs a fine-tuned model with a short prompt."""

    model: str
    prompt_tokens: float  # per call of the best prompt as run (all steps of a chain)
    completion_tokens: float
    short_prompt_tokens: float | None  # estimate: without few-shot examples (chain: last step)
    short_completion_tokens: float
    price: Price | None
    price_source: str  # PRICES_*
    per_1k_calls_now: float | None
    observed_per_1k_calls: float  # from the stored cells' costs
    finetuned_model: str | None
    finetuned_price: Price | None
    finetuned_price_source: str  # PRICES_*
    per_1k_calls_finetuned: float | None
    training_tokens: float | None  # examples × tokens per example × epochs
    training_cost: float | None
    epochs: int
    gaps: tuple[str, ...]  # COST_*: what is unknown, and so what the user could set


@dataclass(frozen=True)
class Assessment:
    """The rule applied to one model's history."""

    model: str
    verdict: str
    best: str
    checks: tuple[Check, ...]  # in the rule's order
    deciding: tuple[Check, ...]  # the checks the verdict rests on (the reports' reasons)
    levers: tuple[Lever | VoteLever, ...]
    improvements: tuple[Improvement, ...]
    trend: tuple[TrendPoint, ...]
    serving: Serving
    sensitivity: Sensitivity
    cost: CostComparison
    examples: TrainingExamples
    precision_advice: str  # the best version's: would more cases or more reruns narrow it?

    @property
    def fine_tune(self) -> bool:
        return self.verdict == VERDICT_FINE_TUNE


@dataclass(frozen=True)
class EscalationReport:
    suite: str
    runs: tuple[str, ...]
    settings: EscalationSettings
    assessments: tuple[Assessment, ...]  # one per model
    # The advice checked: the newest fine-tuned adapter's measured effect on held-out cases
    # (``workbench finetune``); None when no adapter of the suite was measured.
    after_finetune: AdapterComparison | None = None

    @property
    def verdict(self) -> str:
        """The single model's verdict; with several models, each has its own."""
        verdicts = {a.verdict for a in self.assessments}
        return verdicts.pop() if len(verdicts) == 1 else "per model"
