"""Measuring a version on a set of cases: a real run in the store, like any other.

A candidate is measured before it is a version (its file is written with the scores it got,
see :mod:`workbench.optimize.provenance`), so its run is recorded as a draft's run — the
kind the playground makes — under its content hash, and attached to the version once that
is saved: from then on reports, comparisons and the escalation history read it as a
measurement of ``name@N``. Being a run of a few cases, it never replaces a full run of the
suite in the history. The held-out confirmation is a run of the suite itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from workbench.analysis.results import load_results, reruns_by_case
from workbench.analysis.stats import Rerun
from workbench.engine.masking import stored_plan
from workbench.engine.plan import Plan, PlanVariant, make_plan
from workbench.engine.session import PreparedRun, check_local_models, close_run, execute
from workbench.errors import display_path
from workbench.prompts.version import PromptVersion
from workbench.store.database import Store
from workbench.store.records import CellRecord, new_run_id
from workbench.suites.cases import Case
from workbench.suites.loader import Suite
from workbench.suites.spec import ModelSpec


@dataclass(frozen=True)
class Member:
    """A variant of a measurement run: the version (or draft) and how the run names it."""

    prompt: PromptVersion
    ref: str  # name@N for a saved version, name@draft:<hash> for a candidate

    @property
    def saved(self) -> bool:
        return self.prompt.version > 0


@dataclass(frozen=True)
class Measured:
    """What one run measured of one variant."""

    run_id: str
    reruns: dict[str, list[Rerun]]  # case id → reruns
    cost_per_call: float  # mean over every stored cell of the variant
    tokens_per_call: float
    tar_raw: float
    parse_rate: float
    outputs: dict[str, str]  # case id → one output that failed (for the proposer)


def build_plan(suite: Suite, members: Sequence[Member], model: ModelSpec,
               cases: Sequence[Case], extra: dict | None = None) -> Plan:
    """The suite's settings on these variants × one model × these cases."""
    sub = Suite(suite.spec, suite.path, [m.prompt for m in members], [model], list(cases))
    plan = make_plan(sub)
    plan.variants = [PlanVariant(m.ref, m.prompt.name, m.prompt.version, m.prompt.hash,
                                 display_path(m.prompt.path)) for m in members]
    plan.groups = [(m.ref, model.name) for m in members]
    plan.extra = dict(extra or {})
    return plan


def planned_calls(plan: Plan, members: Sequence[Member], done: int = 0) -> int:
    """Requests the missing cells will make (one per step of a chain), before retries."""
    steps = max(m.prompt.step_count() for m in members)
    return max(0, plan.total_cells - done) * steps


def record(store: Store, plan: Plan, members: Sequence[Member], *,
           draft: tuple[str, str] | None = None) -> str:
    """Record the run (a draft's run when ``draft`` is (its hash, its parent ref))."""
    check_local_models(plan, {m.ref: m.prompt for m in members})
    for m in members:
        if m.saved:
            store.check_prompt_version(m.prompt.name, m.prompt.version, m.prompt.hash,
                                       display_path(m.prompt.path))
    run_id = new_run_id()
    store.create_run(run_id, plan.suite, plan.suite_path, stored_plan(plan), plan.total_cells,
                     draft_hash=draft[0] if draft else None,
                     draft_parent=draft[1] if draft else None)
    for m in members:
        if m.saved:
            store.record_prompt_version(m.prompt.name, m.prompt.version, m.prompt.hash,
                                        m.prompt.text, run_id)
    return run_id


def copy_cells(store: Store, run_id: str, source_run: str, ref: str,
               case_ids: set[str]) -> int:
    """Copy a variant's finished cells of ``case_ids`` from another run (same text, seeds and
    settings, so the same measurement): a confirmation need not rerun the search split."""
    done = store.done_keys(run_id)
    copies: list[CellRecord] = [
        replace(c, run_id=run_id) for c in store.cells(source_run)
        if c.variant == ref and c.case_id in case_ids and c.status == "ok"
        and c.key not in done]
    store.add_cells(copies)
    return len(copies)


@dataclass
class Tally:
    """Requests and cost of the cells run so far, kept up to date cell by cell so that an
    interrupted measurement still charges what it spent."""

    calls: int = 0
    cost: float = 0.0

    def add(self, cell: CellRecord) -> None:
        self.calls += max(cell.attempts, len(cell.steps))
        self.cost += cell.cost


def execute_run(store: Store, run_id: str, plan: Plan, members: Sequence[Member],
                tally: Tally, on_cell: Callable[[CellRecord], None] | None = None) -> None:
    """Run the missing cells, counting each in ``tally``. Ctrl-C keeps finished cells."""

    def counted(cell: CellRecord) -> None:
        tally.add(cell)
        if on_cell is not None:
            on_cell(cell)

    prepared = PreparedRun(run_id, plan, {m.ref: m.prompt for m in members},
                           store.count_cells(run_id))
    try:
        asyncio.run(execute(store, prepared, on_cell=counted))
    finally:
        close_run(store, prepared)


def read(store: Store, run_id: str, ref: str) -> Measured:
    """The stored measurement of ``ref`` in a run."""
    results = load_results(store, run_id, comparisons=False)
    group = next(g for g in results.groups if g.variant == ref)
    cells = [c for case in group.cases for c in case.cells]
    outputs = {case.case_id: next((c.output or "" for c in case.cells if not c.passed), "")
               for case in group.cases if not all(c.passed for c in case.cells)}
    n = len(cells) or 1
    return Measured(run_id, reruns_by_case(group), group.cost / n,
                    (group.prompt_tokens + group.completion_tokens) / n,
                    group.stats.tar_raw_at_n, group.stats.mean_parse_rate, outputs)


def attach(store: Store, run_id: str, plan: Plan, draft_ref: str, version: PromptVersion
           ) -> None:
    """Make a candidate's run a run of the version it was saved as."""
    store.check_prompt_version(version.name, version.version, version.hash,
                               display_path(version.path))
    store.record_prompt_version(version.name, version.version, version.hash, version.text,
                                run_id)
    saved = PlanVariant(version.ref, version.name, version.version, version.hash,
                        display_path(version.path))
    plan.variants = [saved if v.ref == draft_ref else v for v in plan.variants]
    plan.groups = [(version.ref if ref == draft_ref else ref, model)
                   for ref, model in plan.groups]
    store.attach_run(run_id, stored_plan(plan), draft_ref, version.ref, version.version)


def draft_path(root: Path, search: str, draft_hash: str) -> Path:
    """Where a candidate's text is kept until it is a version (errors point here)."""
    return root / search / f"{draft_hash[:12]}.yaml"
