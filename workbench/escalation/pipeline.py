"""From a suite, as the user names it, to its escalation report: the one pipeline the CLI
(``workbench escalate``) and the TUI (its Escalation section) share.

A suite is named by its file (whose ``escalation`` section supplies the settings) or, once
the file is gone, by the name its stored runs carry (the latest run's thresholds supply
them). The history is read from the store — which is opened only if it exists: reading never
creates one — and the rule applied to it.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.errors import InputError, Problem
from workbench.escalation.history import load_history, no_runs
from workbench.escalation.prices import PriceBook
from workbench.escalation.report import EscalationReport
from workbench.escalation.rule import escalate
from workbench.escalation.settings import EscalationSettings, settings_from_suite
from workbench.models.adapters import latest_for_suite
from workbench.store.database import Store, existing_store
from workbench.suites.loader import Suite, load_suite

# What assess_suite keeps per suite argument: what the report was built from, and the report.
ReportCache = MutableMapping[Any, tuple[tuple[Any, ...], EscalationReport]]


@dataclass(frozen=True)
class SuiteRef:
    """What a suite argument names: a suite file, or a suite name with stored runs."""

    name: str
    suite: Suite | None  # None when only the name is known (the file is gone)
    settings: EscalationSettings


def resolve_suite(arg: str | os.PathLike[str], store: Store | None) -> SuiteRef:
    """A suite file path, or the name of a suite with stored runs (its file, if still there,
    supplies the settings; otherwise the latest run's thresholds do)."""
    path = Path(arg)
    if path.is_file():
        suite = load_suite(path)
        return SuiteRef(suite.name, suite, settings_from_suite(suite.spec))
    name = str(arg)
    runs = store.runs(name) if store else []
    if not runs:
        known = sorted({r.suite for r in store.runs()}) if store else []
        raise InputError(Problem(
            f"no suite file '{name}' and no stored runs of a suite named '{name}'",
            hint=("suites with runs: " + ", ".join(known)) if known
            else "run the suite first: workbench run suites/<file>.yaml"))
    latest = runs[-1]
    candidate = Path(latest.plan.get("base_dir", ".")) / Path(latest.suite_path).name
    if candidate.is_file():
        suite = load_suite(candidate)
        if suite.name == name:
            return SuiteRef(name, suite, settings_from_suite(suite.spec))
    return SuiteRef(name, None, settings_from_suite(latest.plan.get("thresholds", {})))


def assess_suite(db: str | os.PathLike[str], suite: str | os.PathLike[str], *,
                 prices: PriceBook | None = None, cache: ReportCache | None = None
                 ) -> EscalationReport:
    """The escalation report of ``suite`` (a file or a stored suite name) from the store at
    ``db``. Raises ``InputError`` for a bad suite, ``NoHistoryError`` when it has nothing
    stored yet.

    ``cache``, a dict the caller keeps, makes a repeated call cheap: its report for the same
    ``suite`` is reused while the settings and the suite's runs (ids, statuses, cell counts,
    the version a playground run was attached to) are unchanged — what a report is built
    from, since stored cells and prompt texts never change.
    """
    with existing_store(db) as store:
        ref = resolve_suite(suite, store)
        runs = store.runs(ref.name) if store is not None else []
        if store is None or not runs:
            raise no_runs(ref.name, db)
        measured = latest_for_suite(ref.name)
        after = measured.comparison if measured is not None else None
        key: tuple[Any, ...] = ()
        if cache is not None:
            key = (ref.name, ref.settings, after,
                   tuple((r.id, r.status, store.count_cells(r.id), r.attached_version)
                         for r in runs))
            cached = cache.get(suite)
            if cached is not None and cached[0] == key:
                return cached[1]
        history = load_history(store, ref.name, runs)
    report = escalate(history, ref.settings, prices)
    if after is not None:
        report = replace(report, after_finetune=after)
    if cache is not None:
        cache[suite] = (key, report)
    return report
