"""``workbench escalate`` and ``workbench export-finetune``: store history → report / JSONL."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from workbench.cli.run import store_path
from workbench.config.paths import find_project_root
from workbench.errors import InputError, Problem, display_path
from workbench.escalation.history import History, load_history
from workbench.escalation.rule import best_point, escalate
from workbench.escalation.settings import EscalationSettings, settings_from_suite
from workbench.store.database import Store
from workbench.suites.loader import Suite, load_suite


@dataclass
class SuiteRef:
    """What SUITE on the command line names: a suite file, or a suite name with stored runs."""

    name: str
    suite: Suite | None  # None when only the name is known (the file is gone)
    settings: EscalationSettings


@contextmanager
def existing_store(args: argparse.Namespace) -> Iterator[Store | None]:
    """The store, if there is one: these commands only read, so they never create it."""
    path = store_path(args)
    if not path.exists():
        yield None
        return
    with Store(path) as store:
        yield store


def resolve_suite(arg: str, store: Store | None) -> SuiteRef:
    """A suite file path, or the name of a suite with stored runs (its file, if still there,
    supplies the settings; otherwise the latest run's thresholds do)."""
    path = Path(arg)
    if path.is_file():
        suite = load_suite(path)
        return SuiteRef(suite.name, suite, settings_from_suite(suite.spec))
    runs = store.runs(arg) if store else []
    if not runs:
        known = sorted({r.suite for r in store.runs()}) if store else []
        raise InputError(Problem(
            f"no suite file '{arg}' and no stored runs of a suite named '{arg}'",
            hint=("suites with runs: " + ", ".join(known)) if known
            else "run the suite first: workbench run suites/<file>.yaml"))
    latest = runs[-1]
    candidate = Path(latest.plan.get("base_dir", ".")) / Path(latest.suite_path).name
    if candidate.is_file():
        suite = load_suite(candidate)
        if suite.name == arg:
            return SuiteRef(arg, suite, settings_from_suite(suite.spec))
    return SuiteRef(arg, None, settings_from_suite(latest.plan.get("thresholds", {})))


def escalate_from_cli(args: argparse.Namespace) -> int:
    from workbench.reports.escalation import render_escalation_text, write_escalation

    with existing_store(args) as store:
        ref = resolve_suite(args.suite, store)
        history = _history(store, ref, args)
    report = escalate(history, ref.settings)
    written = write_escalation(report, md=args.md, html=args.html, json_path=args.json,
                               suite_arg=args.suite)
    print(render_escalation_text(report, color=sys.stdout.isatty(), suite_arg=args.suite),
          end="", flush=True)
    for path in written:
        print(f"wrote {display_path(path)}", file=sys.stderr)
    return 0


def _history(store: Store | None, ref: SuiteRef, args: argparse.Namespace) -> History:
    hint = f"run it first: workbench run {args.suite}"
    if store is None:
        raise InputError(Problem(f"no stored runs of suite '{ref.name}'",
                                 display_path(store_path(args)), hint=hint))
    try:
        return load_history(store, ref.name)
    except InputError as exc:
        problem = exc.problems[0]
        raise InputError(Problem(problem.message, problem.file, hint=hint)) from None


def _stored_cells(store: Store, run_id: str, model: str | None, name: str, version: int
                  ) -> dict[str, list]:
    """A run's cells of one prompt version on one model, by case, in rerun order (a chain's
    exported input is its final step as a stored rerun sent it)."""
    from workbench.engine.plan import Plan

    plan = Plan.from_dict(store.run(run_id).plan)
    refs = {v.ref for v in plan.variants if (v.name, v.version) == (name, version)}
    by_case: dict[str, list] = {}
    for cell in store.cells(run_id):  # ordered by variant, model, case, rerun
        if cell.model == model and cell.variant in refs:
            by_case.setdefault(cell.case_id, []).append(cell)
    return by_case


def export_from_cli(args: argparse.Namespace) -> int:
    from workbench.finetune.export import (
        build_examples,
        check_example,
        holdout_path,
        split_holdout,
        validate_jsonl,
        write_jsonl,
    )
    from workbench.prompts.library import PromptLibrary
    from workbench.prompts.version import parse_version_text

    if args.holdout is not None and not 0.0 <= args.holdout < 1.0:
        raise InputError("--holdout is the held-out fraction: at least 0 and below 1 "
                         "(e.g. --holdout 0.2)")
    with existing_store(args) as store:
        ref = resolve_suite(args.suite, store)
        if ref.suite is None:
            raise InputError(Problem(f"the file of suite '{ref.name}' is gone; export needs "
                                     "its cases", hint="pass the suite file's path"))
        suite = ref.suite
        library = PromptLibrary(find_project_root(suite.path.resolve().parent) / "prompts")
        if args.prompt:
            prompt = library.resolve(args.prompt)
            source = f"{prompt.ref} (--prompt)"
            run_id = model = None
            if prompt.spec.steps and store is not None:  # a chain needs its stored reruns
                measured = [p for p in _history(store, ref, args).points
                            if (p.prompt, p.version) == (prompt.name, prompt.version)
                            and (args.model is None or p.model == args.model)]
                if measured:
                    run_id, model = measured[-1].run_id, measured[-1].model
        else:
            best = best_point(_history(store, ref, args), ref.settings, args.model)
            text = store.stored_prompt_text(best.prompt, best.version)  # _history needs a store
            path = library.path_of(best.prompt, best.version)
            prompt = (parse_version_text(text, path, best.prompt, best.version)
                      if text is not None else library.load(best.prompt, best.version))
            source = f"{best.ref}, the best version on {best.model}"
            run_id, model = best.run_id, best.model
        cells_by_case = (_stored_cells(store, run_id, model, prompt.name, prompt.version)
                         if prompt.spec.steps and run_id else {})  # a run id comes from a store
    cases = [(c.id, c.vars, c.expected) for c in suite.cases]
    examples, skipped = build_examples(prompt, cases, cells_by_case)
    if not examples and not skipped:
        raise InputError(Problem("nothing to export: no case has an expected answer",
                                 display_path(suite.path),
                                 hint="add 'expected' to the cases: it is the fine-tuning target"))
    if not examples:
        raise InputError(Problem("nothing to export: no stored rerun reached the chain's final "
                                 "step", display_path(suite.path),
                                 hint=f"run it first: workbench run {args.suite}"))
    unusable = [(e.case_id, check_example({"messages": e.messages})) for e in examples]
    if any(why for _, why in unusable):
        raise InputError([Problem(f"case '{cid}' cannot be a training example: {why}",
                                  display_path(suite.path),
                                  hint="fix its expected answer or what its prompt renders")
                          for cid, why in unusable if why])
    train, held = split_holdout(examples, args.holdout or 0.0, args.seed)
    out = Path(args.output)
    targets = [(out, train)]
    if held:
        targets.append((Path(args.holdout_out) if args.holdout_out else holdout_path(out), held))
    for path, chunk in targets:
        write_jsonl(path, chunk)
        problems = validate_jsonl(path)
        if problems:  # a bug, not bad input: never leave an invalid file behind silently
            raise RuntimeError("exported JSONL failed validation: "
                               + "; ".join(str(p) for p in problems))
    dropped = len(prompt.spec.examples or [])
    print(f"prompt: {source}" + (f", without its {dropped} few-shot examples" if dropped else ""))
    print(f"wrote {len(train)} example(s) to {display_path(out)}"
          + (f" and {len(held)} held out to {display_path(targets[1][0])}" if held else ""))
    without = sum(1 for c in suite.cases if c.expected is None)
    if without:
        print(f"left out {without} case(s) without an expected answer")
    if skipped:
        print(f"skipped {len(skipped)} case(s) no stored rerun took to the final step: "
              + ", ".join(skipped[:10]) + (" …" if len(skipped) > 10 else ""))
    return 0
