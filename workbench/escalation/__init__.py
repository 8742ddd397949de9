"""Escalation: does a suite's history of prompt versions warrant fine-tuning?

``history`` reads the store, ``rule`` decides, ``checks`` and ``report`` hold the outcome as
data (numbers and enumerated outcomes, no prose), ``short_prompt`` is what a fine-tuned model
would be sent, and ``pipeline`` runs the steps from a suite argument to a report for the CLI
and the TUI alike. The sentences and the formats live in
:mod:`workbench.reports.escalation_text` and :mod:`workbench.reports.escalation`.
"""

from workbench.escalation.checks import (
    CHECK_EXAMPLES,
    CHECK_FORMAT,
    CHECK_LEVERS,
    CHECK_PLATEAU,
    CHECK_SERVING,
    CHECK_TARGET,
    LEVEL_GOOD,
    LEVEL_START,
    LEVEL_TOO_FEW,
    LEVER_FEW_SHOT,
    LEVER_FORMAT,
    LEVER_TEMPERATURE,
    LEVER_VOTING,
    METRIC_MODAL_SHARE,
    METRIC_PASS_HAT_K,
    METRIC_TAR_ANSWER,
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
from workbench.escalation.history import (
    History,
    HistoryPoint,
    NoHistoryError,
    load_history,
    no_runs,
)
from workbench.escalation.pipeline import ReportCache, SuiteRef, assess_suite, resolve_suite
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
from workbench.escalation.rule import (
    GOOD_EXAMPLES,
    MIN_EXAMPLES,
    VOTE_GAIN,
    best_point,
    escalate,
    is_improvement,
    vote_passes,
)
from workbench.escalation.settings import (
    EscalationSettings,
    FinetuneSettings,
    settings_from_suite,
)
from workbench.escalation.short_prompt import prompt_messages

__all__ = [
    # checks
    "CHECK_EXAMPLES", "CHECK_FORMAT", "CHECK_LEVERS", "CHECK_PLATEAU", "CHECK_SERVING",
    "CHECK_TARGET",
    "LEVEL_GOOD", "LEVEL_START", "LEVEL_TOO_FEW",
    "LEVER_FEW_SHOT", "LEVER_FORMAT", "LEVER_TEMPERATURE", "LEVER_VOTING",
    "METRIC_MODAL_SHARE", "METRIC_PASS_HAT_K", "METRIC_TAR_ANSWER",
    "PLATEAU_IMPROVING", "PLATEAU_REACHED", "PLATEAU_TOO_FEW",
    "SERVING_DETERMINISTIC", "SERVING_NONDETERMINISTIC", "SERVING_UNTESTED",
    "TARGET_BELOW", "TARGET_MET", "TARGET_UNCERTAIN",
    "Check", "ColdRun", "ExamplesCheck", "FormatCheck", "Gate", "Improvement", "Lever",
    "LeversCheck",
    "PlateauCheck", "Serving", "ServingCheck", "TargetCheck", "TrainingExamples", "VoteLever",
    # history
    "History", "HistoryPoint", "NoHistoryError", "load_history", "no_runs",
    # pipeline
    "ReportCache", "SuiteRef", "assess_suite", "resolve_suite",
    # prices
    "LitellmPrices", "Price", "PriceBook",
    # report
    "COST_NO_FINETUNED_PRICE", "COST_NO_PRICE", "COST_NO_PRICE_LOCAL", "COST_NO_TRAINING_PRICE",
    "COST_SHORT_PROMPT_UNKNOWN",
    "PRICES_FROM_FINETUNE", "PRICES_FROM_LITELLM", "PRICES_FROM_SUITE", "PRICES_UNKNOWN",
    "VERDICT_COLLECT", "VERDICT_FINE_TUNE", "VERDICT_FIX_FORMAT", "VERDICT_INCONCLUSIVE",
    "VERDICT_KEEP_ITERATING",
    "VERDICT_MEETS_TARGET", "VERDICT_SERVING", "VERDICT_TRY_LEVERS",
    "Assessment", "CostComparison", "EscalationReport", "Interval", "Sensitivity", "TrendPoint",
    # rule
    "GOOD_EXAMPLES", "MIN_EXAMPLES", "VOTE_GAIN", "best_point", "escalate", "is_improvement",
    "vote_passes",
    # short prompt
    "prompt_messages",
    # settings
    "EscalationSettings", "FinetuneSettings", "settings_from_suite",
]
