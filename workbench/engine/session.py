"""Starting, resuming and closing a run: the steps ``workbench run`` and the TUI share.

Both front ends go through the same checks in the same order — validate the suite (or the
stored plan), refuse an unset API key or a missing embedded model before any cell runs,
record the run — and mark it finished or interrupted the same way, so a run started in one
can be resumed from the other.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.config.paths import find_project_root
from workbench.engine.masking import restore_secrets, stored_plan
from workbench.engine.plan import Plan, load_plan_variants, make_plan
from workbench.engine.progress import Progress
from workbench.engine.runner import Runner
from workbench.errors import InputError, Problem, display_path
from workbench.prompts.library import PromptLibrary
from workbench.prompts.version import PromptVersion
from workbench.store.database import Store
from workbench.store.records import CellRecord, new_run_id
from workbench.suites.loader import Suite, load_suite
from workbench.suites.spec import MAX_CONCURRENCY, ModelSpec


@dataclass
class PreparedRun:
    """A recorded run, checked and ready to execute its missing cells."""

    run_id: str
    plan: Plan
    variants: dict[str, PromptVersion]
    already: int  # cells stored before this session (resume)

    @property
    def remaining(self) -> int:
        return self.plan.total_cells - self.already

    def progress(self) -> Progress:
        return Progress(total=self.plan.total_cells, done=self.already)


@dataclass
class PlannedRun:
    """A suite validated into a plan, with models and keys checked: nothing recorded yet."""

    suite: Suite
    plan: Plan
    variants: dict[str, PromptVersion]


def plan_run(suite_path: Path, *, prompts: list[str] | None = None,
             models: list[str | ModelSpec] | None = None, reruns: int | None = None,
             concurrency: int | None = None) -> PlannedRun:
    """Validate the suite (with overrides), check models and keys; touch no store.

    A refused suite must leave no trace: the CLI plans before it opens (and so creates) the
    store.
    """
    suite = load_suite(Path(suite_path), prompts=prompts, models=models)
    plan = make_plan(suite, reruns=reruns, concurrency=concurrency)
    variants = {v.ref: v for v in suite.variants}
    check_local_models(plan, variants)
    check_api_keys(plan)
    return PlannedRun(suite, plan, variants)


def begin_run(store: Store, planned: PlannedRun) -> PreparedRun:
    """Record a planned run in the store, ready to execute."""
    run_id = record_run(planned.suite, store, planned.plan)
    return PreparedRun(run_id, planned.plan, planned.variants, 0)


def start_run(store: Store, suite_path: Path, *, prompts: list[str] | None = None,
              models: list[str | ModelSpec] | None = None, reruns: int | None = None,
              concurrency: int | None = None) -> PreparedRun:
    """Validate the suite (with overrides), check models and keys, record a new run."""
    return begin_run(store, plan_run(suite_path, prompts=prompts, models=models,
                                     reruns=reruns, concurrency=concurrency))


def resume_run(store: Store, run_id: str, *, library: PromptLibrary | None = None,
               concurrency: int | None = None, suite_path: Path | None = None) -> PreparedRun:
    """Reload a stored run's plan exactly; refuse if a variant's file changed since.

    ``library`` defaults to the prompts folder of the project the suite lived in;
    ``suite_path`` (the suite a user named) must be the suite the run was started from.
    """
    info = store.run(run_id)
    if info.is_draft:
        raise InputError(Problem(
            f"run {info.id} is a playground run of a draft of {info.draft_parent}, which has "
            "no version to load", hint="open the Playground in `workbench tui` and run the "
            "draft again: its finished cells are reused"))
    plan = Plan.from_dict(info.plan)
    stored_suite = Path(plan.base_dir) / Path(plan.suite_path).name
    if suite_path is not None and stored_suite.resolve() != Path(suite_path).resolve():
        raise InputError(Problem(
            f"run {info.id} is a run of suite '{plan.suite}' ({display_path(stored_suite)}), "
            f"not of {display_path(suite_path)}",
            hint=f"resume it with: workbench run {display_path(stored_suite)} --resume {info.id}"))
    if concurrency is not None and not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InputError(f"--concurrency must be from 1 to {MAX_CONCURRENCY:,} "
                         f"(got {concurrency:,})")
    if concurrency:
        plan.concurrency = concurrency
    restore_secrets(plan, stored_suite)
    if library is None:
        library = PromptLibrary(find_project_root(Path(plan.base_dir)) / "prompts")
    variants = load_plan_variants(plan, library, store)
    check_local_models(plan, variants)
    check_api_keys(plan)
    store.set_status(info.id, "running")
    return PreparedRun(info.id, plan, variants, store.count_cells(info.id))


def check_api_keys(plan: Plan) -> None:
    """Refuse before any cell runs if a model's ``api_key_env`` is unset (exit 2).

    Otherwise every cell of that model would be stored as an error, and ``--resume`` would
    not rerun them once the variable is set: they are stored, not missing.
    """
    problems = [
        Problem(f"model {m['name']}: environment variable {m['api_key_env']} is not set",
                plan.suite_path, hint=f"export {m['api_key_env']}=... and run again")
        for m in plan.models if m.get("api_key_env") and not os.environ.get(m["api_key_env"])
    ]
    if problems:
        raise InputError(problems)


def check_local_models(plan: Plan, variants: dict[str, PromptVersion]) -> None:
    """Refuse before any cell runs if the embedded model cannot load, or a ``threads``
    setting for it (``$WORKBENCH_LOCAL_THREADS`` too) is not ``auto`` or a count (exit 2,
    with the fix)."""
    names = {m["name"] for m in plan.models}
    names |= {s.model for v in variants.values() for s in v.spec.steps or [] if s.model}
    if not any(n.startswith("local/") for n in names):
        return
    from workbench.models.adapters import resolve_adapter
    from workbench.models.local import (
        ENV_THREADS,
        ModelUnavailable,
        check_local_model_available,
        parse_threads,
    )

    problems = []
    try:
        parse_threads(os.environ.get(ENV_THREADS), source=f"${ENV_THREADS}")
    except ValueError as exc:
        problems.append(Problem(str(exc), hint="set it to 'auto' or a number of threads, "
                                "or unset it"))
    settings = [("params", plan.params)]
    settings += [(f"models ({m['name']}) params", m.get("params") or {}) for m in plan.models
                 if m["name"].startswith("local/")]
    settings += [(f"{v.ref} params", v.spec.params) for v in variants.values()]
    for where, params in settings:
        try:
            parse_threads(params.get("threads"), source=f"{where}: threads")
        except ValueError as exc:
            problems.append(Problem(str(exc), plan.suite_path,
                                    hint="threads is 'auto' or a number of threads"))
    if problems:
        raise InputError(problems)
    try:
        check_local_model_available()
        for name in sorted(n for n in names if n.startswith("local/")):
            resolve_adapter(name)  # a fine-tuned model's adapter must exist
    except ModelUnavailable as exc:
        raise InputError(str(exc)) from None


async def execute(store: Store, prepared: PreparedRun,
                  on_cell: Callable[[CellRecord], None] | None = None,
                  stop: asyncio.Event | None = None) -> int:
    """Run the missing cells (each committed as it finishes); returns how many ran.

    Setting ``stop`` lets the cells in flight finish and starts no more; cancelling the
    awaiting task stops at once. Either way every finished cell is kept; call
    :func:`close_run` afterwards.
    """
    runner = Runner(prepared.plan, prepared.variants, store, prepared.run_id)
    return await runner.run(on_cell=on_cell, stop=stop)


def close_run(store: Store, prepared: PreparedRun) -> str:
    """Mark the run finished if every cell is stored, else interrupted; returns the status."""
    complete = store.count_cells(prepared.run_id) >= prepared.plan.total_cells
    status = "finished" if complete else "interrupted"
    store.set_status(prepared.run_id, status)
    return status


def run_suite(store: Store, suite_path: Path, *, prompts: list[str] | None = None,
              models: list[str | ModelSpec] | None = None, reruns: int | None = None,
              concurrency: int | None = None) -> str:
    """Start, execute and close a run in one blocking call; returns its run id.

    For scripts and notebooks: ``workbench.load_results(store, run_id)`` then reads it. The
    front ends use the steps separately to show progress and to stop cleanly.
    """
    prepared = start_run(store, suite_path, prompts=prompts, models=models, reruns=reruns,
                         concurrency=concurrency)
    asyncio.run(execute(store, prepared))
    close_run(store, prepared)
    return prepared.run_id


def record_run(suite: Suite, store: Store, plan: Plan) -> str:
    """Record a new run and the prompt versions it uses; returns the run id."""
    for variant in suite.variants:
        store.check_prompt_version(variant.name, variant.version, variant.hash,
                                   display_path(variant.path))
    run_id = new_run_id()
    store.create_run(run_id, plan.suite, plan.suite_path, stored_plan(plan), plan.total_cells)
    for variant in suite.variants:
        store.record_prompt_version(variant.name, variant.version, variant.hash, variant.text,
                                    run_id)
    return run_id
