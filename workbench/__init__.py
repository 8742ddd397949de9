"""Prompt Workbench: version prompts, run suites, measure how much the output varies.

The public API is what the command line and the terminal UI themselves use::

    import workbench

    suite = workbench.load_suite("suites/ticket-classifier.yaml")      # validated, or InputError
    with workbench.Store(".workbench/workbench.db") as store:
        run_id = workbench.run_suite(store, suite.path)               # every cell stored
        results = workbench.load_results(store, run_id)
        print(results.groups[0].stats.mean_pass_rate)
    workbench.write_html(results, "report.html")
    report = workbench.assess_suite(".workbench/workbench.db", suite.path)  # fine-tune or not
    tuned = workbench.finetune_suite(".workbench/workbench.db", suite.path)  # and check it
    with workbench.Store(".workbench/workbench.db") as store:                # prompt search
        state = workbench.run_search(workbench.SearchSettings(suite.path, budget=600), store)

Names are imported on first use, so ``import workbench`` stays cheap for the CLI's
``--help`` and the TUI's first paint. Everything else is internal and may change.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name → module that defines it
_EXPORTS: dict[str, str] = {
    # errors every entry point may raise
    "InputError": "workbench.errors",
    "Problem": "workbench.errors",
    # files → validated objects
    "PromptLibrary": "workbench.prompts",
    "PromptVersion": "workbench.prompts",
    "Suite": "workbench.suites",
    "load_suite": "workbench.suites",
    # runs and the store
    "Store": "workbench.store",
    "default_db_path": "workbench.store",
    "PreparedRun": "workbench.engine",
    "start_run": "workbench.engine",
    "resume_run": "workbench.engine",
    "execute": "workbench.engine",
    "close_run": "workbench.engine",
    "run_suite": "workbench.engine",
    # results and comparisons
    "RunResults": "workbench.analysis",
    "load_results": "workbench.analysis",
    "compare_runs": "workbench.analysis",
    # escalation
    "EscalationReport": "workbench.escalation",
    "assess_suite": "workbench.escalation",
    # fine-tuning: the advice checked (training needs the `finetune` extra)
    "finetune_suite": "workbench.finetune.loop",
    "TrainConfig": "workbench.finetune.train",
    # automated prompt search
    "SearchSettings": "workbench.optimize",
    "run_search": "workbench.optimize",
    # reports
    "write_html": "workbench.reports",
    "write_json": "workbench.reports",
    "write_junit": "workbench.reports",
    "write_markdown": "workbench.reports",
}

__all__ = [
    "__version__",
    "InputError",
    "Problem",
    "PromptLibrary",
    "PromptVersion",
    "Suite",
    "load_suite",
    "Store",
    "default_db_path",
    "PreparedRun",
    "start_run",
    "resume_run",
    "execute",
    "close_run",
    "run_suite",
    "RunResults",
    "load_results",
    "compare_runs",
    "EscalationReport",
    "assess_suite",
    "finetune_suite",
    "TrainConfig",
    "SearchSettings",
    "run_search",
    "write_html",
    "write_json",
    "write_junit",
    "write_markdown",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors only
    from workbench.analysis import RunResults, compare_runs, load_results
    from workbench.engine import (
        PreparedRun,
        close_run,
        execute,
        resume_run,
        run_suite,
        start_run,
    )
    from workbench.errors import InputError, Problem
    from workbench.escalation import EscalationReport, assess_suite
    from workbench.finetune.loop import finetune_suite
    from workbench.finetune.train import TrainConfig
    from workbench.optimize import SearchSettings, run_search
    from workbench.prompts import PromptLibrary, PromptVersion
    from workbench.reports import write_html, write_json, write_junit, write_markdown
    from workbench.store import Store, default_db_path
    from workbench.suites import Suite, load_suite


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
