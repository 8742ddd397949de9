"""Suites: which prompt versions run on which models against which cases, and the targets."""

from workbench.suites.cases import Case
from workbench.suites.loader import Suite, load_suite, summary_line
from workbench.suites.spec import (
    DEFAULT_MODEL,
    LOCAL_MODELS,
    EscalationSpec,
    ModelSpec,
    SuiteSpec,
    Thresholds,
)

__all__ = [
    "DEFAULT_MODEL",
    "LOCAL_MODELS",
    "Case",
    "EscalationSpec",
    "ModelSpec",
    "Suite",
    "SuiteSpec",
    "Thresholds",
    "load_suite",
    "summary_line",
]
