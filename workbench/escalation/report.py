"""The escalation report as data: the verdict per model, every check, lever and cost figure.

Reports (terminal, Markdown, HTML, JSON) and the TUI format these records; nothing here
decides anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.escalation.prices import Price
from workbench.escalation.settings import EscalationSettings
from workbench.jsonable import jsonable

VERDICT_FINE_TUNE = "fine-tune"


VERDICT_MEETS_TARGET = "meets target"


VERDICT_INCONCLUSIVE = "inconclusive"


VERDICT_SERVING = "fix serving first"


VERDICT_KEEP_ITERATING = "keep iterating"


VERDICT_TRY_LEVERS = "try cheap levers first"


VERDICT_COLLECT = "collect examples first"


LEVER_TEMPERATURE = "temperature 0"


LEVER_FEW_SHOT = "few-shot examples"


LEVER_FORMAT = "output-format constraint"


LEVER_VOTING = "majority vote over reruns"


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
    modal_share: float
    tar_answer: float
    tar_raw: float
    pass_hat_k: Interval
    vote_pass_rate: float  # majority vote over the reruns of each case
    tokens_per_call: float


@dataclass(frozen=True)
class Check:
    """One condition of the rule; ``ok`` True supports fine-tuning."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Lever:
    name: str
    tried: bool
    blocks: bool  # untried (or, for voting, would close the gap): try it before fine-tuning
    detail: str


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
class CostComparison:
    """Per 1,000 calls: the best prompt now vs a fine-tuned model with a short prompt."""

    model: str
    prompt_tokens: float  # per call of the best prompt as run (all steps of a chain)
    completion_tokens: float
    short_prompt_tokens: float | None  # estimate: without few-shot examples (chain: last step)
    short_completion_tokens: float
    price: Price | None
    price_source: str
    per_1k_calls_now: float | None
    observed_per_1k_calls: float  # from the stored cells' costs
    finetuned_model: str | None
    finetuned_price: Price | None
    finetuned_price_source: str
    per_1k_calls_finetuned: float | None
    training_tokens: float | None  # examples × tokens per example × epochs
    training_cost: float | None
    epochs: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class TrainingExamples:
    with_expected: int  # cases with an expected answer (what export-finetune writes)
    from_passing_reruns: int  # cases without one whose best-version reruns passed
    passing_reruns: int  # passing reruns of the best version (distinct outputs)
    usable: int
    level: str  # "too few" | "enough to start" | "good"
    guidance: str


@dataclass(frozen=True)
class Assessment:
    """The rule applied to one model's history."""

    model: str
    verdict: str
    headline: str
    reasons: tuple[str, ...]
    best: str
    checks: tuple[Check, ...]
    levers: tuple[Lever, ...]
    improvements: tuple[Improvement, ...]
    trend: tuple[TrendPoint, ...]
    serving: str
    sensitivity: float | None  # share of shared cases whose modal answer changed across versions
    sensitivity_detail: str
    cost: CostComparison
    examples: TrainingExamples
    precision_advice: str

    @property
    def fine_tune(self) -> bool:
        return self.verdict == VERDICT_FINE_TUNE


@dataclass(frozen=True)
class EscalationReport:
    suite: str
    runs: tuple[str, ...]
    settings: EscalationSettings
    assessments: tuple[Assessment, ...]  # one per model

    @property
    def verdict(self) -> str:
        """The single model's verdict; with several models, each has its own."""
        verdicts = {a.verdict for a in self.assessments}
        return verdicts.pop() if len(verdicts) == 1 else "per model"

    def to_dict(self) -> dict[str, Any]:
        d = jsonable(self)
        d["schema"] = "workbench.escalation/1"
        d["verdict"] = self.verdict
        return d
