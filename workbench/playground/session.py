"""Running a draft: a real run in the store, reusing every cell an earlier run finished.

A playground run is recorded like any run (same checks, same runner, one commit per cell),
marked as a draft's run with the draft's hash and parent. Its plan holds the draft and,
unless the text is unchanged, the version it came from — the same cases, models, N and
seeds — so the two can be compared case by case.

Every finished cell is filed under a key of what determines it: the prompt text, the model
and its settings, the case (vars, expected answer, assertions), the suite's parameters and
seed, and the rerun. A new run copies the cells already filed under its keys and runs only
the rest, so rerunning the same draft, cases and seeds costs nothing, a larger N runs only
the new reruns, and the parent's cells carry over from one draft to the next. The same
draft run again on the same picks continues its earlier run rather than recording another.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.engine.plan import Plan, PlanCase, PlanVariant
from workbench.engine.session import (
    PreparedRun,
    check_api_keys,
    check_local_models,
    close_run,
    execute,
)
from workbench.errors import InputError, Problem, display_path
from workbench.playground.draft import Draft, file_text
from workbench.playground.picks import Workload
from workbench.prompts.library import PromptLibrary
from workbench.prompts.version import PromptVersion
from workbench.store.database import Store
from workbench.store.records import CellKey, CellRecord, new_run_id
from workbench.suites.spec import ModelSpec, SuiteSpec


@dataclass
class DraftRun:
    """A recorded playground run, ready to execute its missing cells."""

    prepared: PreparedRun
    draft: Draft
    draft_ref: str
    parent_ref: str | None  # None: the draft is the parent's text, so it runs alone
    keys: dict[CellKey, str]  # every cell of the plan → its reuse key
    reused: int  # cells copied from earlier runs when this one was recorded
    resumed: bool  # an earlier run of the same draft and picks is being continued

    @property
    def run_id(self) -> str:
        return self.prepared.run_id

    @property
    def plan(self) -> Plan:
        return self.prepared.plan


def reuse_key(plan: Plan, variant: PlanVariant, model: dict[str, Any], case: PlanCase,
              rerun: int) -> str:
    """What determines a cell's requests and its verdict, hashed; names are left out, so a
    case or a draft known by another name still finds its cells."""
    payload = {
        "prompt": variant.hash, "model": model, "params": plan.params, "seed": plan.seed,
        "seed_scheme": plan.seed_scheme,
        "rerun": rerun, "judge": plan.judge, "base_dir": plan.base_dir,
        "case": {"vars": case.vars, "expected": case.expected,
                 "assertions": case.assertions, "threshold": case.threshold},
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plan_keys(plan: Plan) -> dict[CellKey, str]:
    variants = {v.ref: v for v in plan.variants}
    models = {m["name"]: m for m in plan.models}
    cases = {c.id: c for c in plan.cases}
    return {key: reuse_key(plan, variants[key[0]], models[key[1]], cases[key[2]], key[3])
            for key in plan.cells()}


def prepare(store: Store, project: Path, draft: Draft, draft_path: Path,
            parent: PromptVersion, workload: Workload) -> DraftRun:
    """Validate the draft on the workload, check models and keys, and record the run (or
    find the earlier one of the same draft and picks); raises ``InputError`` with every
    problem, before anything is recorded."""
    prompt = draft.version(draft_path)
    problems = render_problems(prompt, workload.cases)
    if problems:
        raise InputError(problems)
    draft_variant = PlanVariant(draft.ref, draft.name, 0, draft.hash, display_path(draft_path))
    parent_variant = None
    if parent.hash != draft.hash:
        parent_variant = PlanVariant(parent.ref, parent.name, parent.version, parent.hash,
                                     display_path(parent.path))
    plan = draft_plan(project, workload, draft, draft_variant, parent_variant)
    variants = {draft_variant.ref: prompt}
    if parent_variant is not None:
        variants[parent_variant.ref] = parent
    check_local_models(plan, variants)
    check_api_keys(plan)
    keys = plan_keys(plan)
    parent_ref = parent_variant.ref if parent_variant else None

    same = json.loads(json.dumps(plan.to_dict()))
    for info in reversed(store.draft_runs(draft.hash)):
        if info.attached_version is None and info.plan == same:
            store.set_status(info.id, "running")
            prepared = PreparedRun(info.id, Plan.from_dict(info.plan), variants,
                                   store.count_cells(info.id))
            return DraftRun(prepared, draft, draft.ref, parent_ref, keys, 0, True)

    if parent_variant is not None:
        store.check_prompt_version(parent.name, parent.version, parent.hash,
                                   display_path(parent.path))
    run_id = new_run_id()
    store.create_run(run_id, workload.name, plan.suite_path, plan.to_dict(), plan.total_cells,
                     draft_hash=draft.hash, draft_parent=draft.parent_ref)
    if parent_variant is not None:
        store.record_prompt_version(parent.name, parent.version, parent.hash, parent.text,
                                    run_id)
    found = store.reusable_cells(sorted(set(keys.values())))
    copies = [replace(found[k], run_id=run_id, variant=cell[0], case_id=cell[2])
              for cell, k in keys.items() if k in found]
    store.add_cells(copies)
    prepared = PreparedRun(run_id, plan, variants, len(copies))
    return DraftRun(prepared, draft, draft.ref, parent_ref, keys, len(copies), False)


def draft_plan(project: Path, workload: Workload, draft: Draft, draft_variant: PlanVariant,
               parent_variant: PlanVariant | None) -> Plan:
    """The run matrix: the parent (unless unchanged), then the draft × models × cases × N,
    with the suite's settings (a file's defaults when the cases were all typed). The parent
    comes first as the base every comparison of the run measures the draft against."""
    suite = workload.suite
    spec = suite.spec if suite is not None else None
    default = SuiteSpec.model_fields
    variants = ([parent_variant] if parent_variant else []) + [draft_variant]
    return Plan(
        suite=workload.name,
        suite_path=display_path(suite.path) if suite is not None else draft_variant.path,
        base_dir=str((suite.base_dir if suite is not None else Path(project)).resolve()),
        variants=variants,
        models=[m.model_dump() for m in workload.models],
        groups=[(v.ref, m.name) for v in variants for m in workload.models],
        cases=list(workload.cases),
        reruns=workload.reruns,
        params=dict(spec.params) if spec else {},
        seed=spec.seed if spec else default["seed"].default,
        concurrency=spec.concurrency if spec else default["concurrency"].default,
        timeout=spec.timeout if spec else default["timeout"].default,
        max_attempts=spec.max_attempts if spec else default["max_attempts"].default,
        judge=spec.judge if spec else None,
        thresholds=spec.thresholds.model_dump(exclude_none=True) if spec else {},
        extra={"playground": {"draft": draft.hash, "parent": draft.parent_ref,
                              "text": file_text(draft.text)}},
    )


def render_problems(prompt: PromptVersion, cases: list[PlanCase]) -> list[Problem]:
    """Render the draft for every case now, as a suite's variants are before a run."""
    problems: list[Problem] = []
    needed = prompt.variables()
    for case in cases:
        missing = sorted(needed - set(case.vars))
        if missing:
            problems.extend(Problem(f"case '{case.id}' has no var '{name}', which the draft "
                                    "uses", hint="type the var in the picks (f2), or pick "
                                    "cases that have it") for name in missing)
            continue
        try:
            outputs = {s.output: f"<{s.output}>" for s in prompt.spec.steps or []}
            for index in range(prompt.step_count()):
                prompt.render_step(index, case.vars, outputs)
        except InputError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
    return problems


async def run(store: Store, draft_run: DraftRun,
              on_cell: Callable[[CellRecord], None] | None = None,
              stop: asyncio.Event | None = None) -> int:
    """Run the missing cells, filing each finished one for reuse; returns how many ran.

    ``stop`` and cancellation behave as in :func:`workbench.engine.session.execute`; call
    :func:`close` afterwards.
    """

    def stored(cell: CellRecord) -> None:
        key = draft_run.keys.get(cell.key)
        if key is not None and cell.status == "ok":
            store.add_reuse_key(key, cell)
        if on_cell is not None:
            on_cell(cell)

    return await execute(store, draft_run.prepared, on_cell=stored, stop=stop)


def close(store: Store, draft_run: DraftRun) -> str:
    """Mark the run finished or interrupted, as any run; returns the status."""
    return close_run(store, draft_run.prepared)


# -- saving --------------------------------------------------------------------------


@dataclass
class Saved:
    """A draft saved as the next version, and what happened to its playground runs."""

    version: PromptVersion
    attached: list[str]  # runs made with exactly this text: now runs of the version
    left: int  # runs of other texts of the same draft: they stay draft runs


def save(library: PromptLibrary, store: Store | None, draft: Draft) -> Saved:
    """Save the draft as the next version (validated; raises ``InputError``, nothing
    written) and attach the runs made with the same text to it."""
    version = library.save(draft.name, file_text(draft.text))
    if store is None:
        return Saved(version, [], 0)
    attached = attach(store, version) if version.hash == draft.hash else []
    left = sum(info.is_draft for info in store.draft_runs(parent=draft.parent_ref))
    return Saved(version, attached, left)


def attach(store: Store, version: PromptVersion) -> list[str]:
    """Make every playground run of the draft whose text is ``version``'s a run of that
    version: its plan and cells name ``name@N`` from now on, so reports, comparisons and the
    escalation history read it as a measurement of the version. Returns their ids."""
    runs = [info for info in store.draft_runs(version.hash) if info.attached_version is None]
    if not runs:
        return []
    store.check_prompt_version(version.name, version.version, version.hash,
                               display_path(version.path))
    store.record_prompt_version(version.name, version.version, version.hash, version.text,
                                runs[0].id)
    attached = []
    for info in runs:
        plan = Plan.from_dict(info.plan)
        draft = next((v for v in plan.variants
                      if v.version == 0 and v.hash == version.hash), None)
        if draft is None:
            continue
        saved = PlanVariant(version.ref, version.name, version.version, version.hash,
                            display_path(version.path))
        plan.variants = [saved if v is draft else v for v in plan.variants]
        plan.groups = [(version.ref if ref == draft.ref else ref, model)
                       for ref, model in plan.groups]
        store.attach_run(info.id, plan.to_dict(), draft.ref, version.ref, version.version)
        attached.append(info.id)
    return attached


# -- the embedded model ----------------------------------------------------------------


def warm_up(models: list[ModelSpec]) -> float | None:
    """Load the embedded model now if a pick uses it, so the first output of a run does not
    wait for it; returns the load time (None: nothing loaded). A missing model is left for
    the run to report."""
    if not any(m.name.startswith("local/") for m in models):
        return None
    from workbench.models.local import LocalChatModel, ModelUnavailable

    try:
        return LocalChatModel().load()
    except ModelUnavailable:
        return None
