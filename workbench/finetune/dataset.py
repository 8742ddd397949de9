"""A suite's fine-tuning set: the prompt version to train from, its examples, split and written.

The version is the best one in the suite's stored history (the one the escalation report
names) unless the caller picks one; a chain needs its stored reruns, whose final-step
messages become the inputs. The files are validated after writing: an invalid file is a bug,
never left behind silently.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.config.paths import find_project_root
from workbench.errors import InputError, Problem, display_path
from workbench.escalation.history import load_history, no_runs
from workbench.escalation.pipeline import SuiteRef, resolve_suite
from workbench.escalation.rule import best_point
from workbench.finetune.export import (
    Example,
    build_examples,
    check_example,
    holdout_path,
    split_holdout,
    validate_jsonl,
    write_jsonl,
)
from workbench.prompts.library import PromptLibrary
from workbench.prompts.version import PromptVersion, parse_version_text
from workbench.store.database import Store, existing_store
from workbench.store.records import CellRecord


@dataclass(frozen=True)
class ChosenPrompt:
    """The version examples are built from, and the stored run that measured it (a chain's
    inputs come from its reruns)."""

    prompt: PromptVersion
    best_on: str | None  # the model it is the best version on; None when the caller chose it
    run_id: str | None
    model: str | None


@dataclass(frozen=True)
class FinetuneExport:
    """What :func:`export_suite` wrote, for the caller to report."""

    prompt: PromptVersion
    best_on: str | None  # see ChosenPrompt
    output: Path
    written: int
    holdout_output: Path | None  # None when nothing was held out
    held_out: int
    without_expected: int  # cases left out: no expected answer to train on
    skipped: tuple[str, ...]  # cases no stored rerun took to a chain's final step


def choose_prompt(store: Store | None, ref: SuiteRef, library: PromptLibrary,
                  db: str | os.PathLike[str], prompt_ref: str | None = None,
                  model: str | None = None) -> ChosenPrompt:
    """``prompt_ref`` from the suite's prompt library, or else the best version in the stored
    history (on ``model``, if given) as it was stored when it ran. ``NoHistoryError`` when
    the best version is wanted and the store at ``db`` has no results of the suite."""
    if prompt_ref:
        prompt = library.resolve(prompt_ref)
        if prompt.spec.steps and store is not None:  # a chain needs its stored reruns
            measured = [p for p in load_history(store, ref.name).points
                        if (p.prompt, p.version) == (prompt.name, prompt.version)
                        and (model is None or p.model == model)]
            if measured:
                return ChosenPrompt(prompt, None, measured[-1].run_id, measured[-1].model)
        return ChosenPrompt(prompt, None, None, None)
    if store is None:
        raise no_runs(ref.name, db)
    best = best_point(load_history(store, ref.name), ref.settings, model)
    text = store.stored_prompt_text(best.prompt, best.version)
    path = library.path_of(best.prompt, best.version)
    prompt = (parse_version_text(text, path, best.prompt, best.version)
              if text is not None else library.load(best.prompt, best.version))
    return ChosenPrompt(prompt, best.model, best.run_id, best.model)


def stored_cells(store: Store, run_id: str, model: str | None, name: str, version: int
                 ) -> dict[str, list[CellRecord]]:
    """A run's cells of one prompt version on one model, by case, in rerun order (a chain's
    exported input is its final step as a stored rerun sent it)."""
    from workbench.engine.plan import Plan

    plan = Plan.from_dict(store.run(run_id).plan)
    refs = {v.ref for v in plan.variants if (v.name, v.version) == (name, version)}
    by_case: dict[str, list[CellRecord]] = {}
    for cell in store.cells(run_id):  # ordered by variant, model, case, rerun
        if cell.model == model and cell.variant in refs:
            by_case.setdefault(cell.case_id, []).append(cell)
    return by_case


@dataclass(frozen=True)
class TrainingSet:
    """A suite's examples from its chosen version, split into training and held-out."""

    ref: SuiteRef
    chosen: ChosenPrompt
    train: list[Example]
    held: list[Example]
    without_expected: int
    skipped: tuple[str, ...]


def training_set(db: str | os.PathLike[str], suite: str | os.PathLike[str], *,
                 prompt: str | None = None, model: str | None = None, holdout: float = 0.0,
                 seed: int = 0) -> TrainingSet:
    """The examples :func:`export_suite` writes, split the same way, without writing them."""
    with existing_store(db) as store:
        ref = resolve_suite(suite, store)
        if ref.suite is None:
            raise InputError(Problem(f"the file of suite '{ref.name}' is gone; export needs "
                                     "its cases", hint="pass the suite file's path"))
        library = PromptLibrary(find_project_root(ref.suite.path.resolve().parent) / "prompts")
        chosen = choose_prompt(store, ref, library, db, prompt, model)
        version = chosen.prompt
        cells_by_case = (stored_cells(store, chosen.run_id, chosen.model, version.name,
                                      version.version)
                         if version.spec.steps and store is not None and chosen.run_id
                         else {})
    cases = ref.suite.cases
    examples, skipped = build_examples(version, [(c.id, c.vars, c.expected) for c in cases],
                                       cells_by_case)
    shown = display_path(ref.suite.path)
    if not examples and not skipped:
        raise InputError(Problem("nothing to export: no case has an expected answer", shown,
                                 hint="add 'expected' to the cases: it is the fine-tuning target"))
    if not examples:
        raise InputError(Problem("nothing to export: no stored rerun reached the chain's final "
                                 "step", shown, hint=f"run it first: workbench run {suite}"))
    unusable = [(e.case_id, check_example({"messages": e.messages})) for e in examples]
    if any(why for _, why in unusable):
        raise InputError([Problem(f"case '{cid}' cannot be a training example: {why}", shown,
                                  hint="fix its expected answer or what its prompt renders")
                          for cid, why in unusable if why])
    train, held = split_holdout(examples, holdout, seed)
    return TrainingSet(ref, chosen, train, held, sum(1 for c in cases if c.expected is None),
                       tuple(skipped))


def export_suite(db: str | os.PathLike[str], suite: str | os.PathLike[str],
                 output: str | os.PathLike[str], *, prompt: str | None = None,
                 model: str | None = None, holdout: float = 0.0, seed: int = 0,
                 holdout_output: str | os.PathLike[str] | None = None) -> FinetuneExport:
    """Write ``suite``'s fine-tuning set (chat JSONL) to ``output``, ``holdout`` of it to
    ``holdout_output`` (default: ``<output>.holdout.jsonl``). Raises ``InputError`` when
    there is nothing to export, ``NoHistoryError`` when the best version is wanted but the
    suite has no stored results."""
    made = training_set(db, suite, prompt=prompt, model=model, holdout=holdout, seed=seed)
    out = Path(output)
    held_out = ((Path(holdout_output) if holdout_output else holdout_path(out)) if made.held
                else None)
    _write(out, made.train)
    if held_out is not None:
        _write(held_out, made.held)
    return FinetuneExport(made.chosen.prompt, made.chosen.best_on, out, len(made.train),
                          held_out, len(made.held), made.without_expected, made.skipped)


def _write(path: Path, examples: Sequence[Example]) -> None:
    write_jsonl(path, examples)
    problems = validate_jsonl(path)
    if problems:  # a bug, not bad input: never leave an invalid file behind silently
        raise RuntimeError("exported JSONL failed validation: "
                           + "; ".join(str(p) for p in problems))
