"""``workbench run``: suite → plan → runner → store → results → reports, and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from workbench._progress import ProgressDisplay
from workbench.errors import InputError, Problem
from workbench.results import RunResults, load_results
from workbench.runner import Plan, Progress, Runner, load_plan_variants, make_plan, start_run
from workbench.store import Store, default_db_path
from workbench.suites import find_project_root, load_suite
from workbench.templates import PromptLibrary, PromptVersion


def open_store(args: argparse.Namespace) -> Store:
    return Store(Path(args.db) if getattr(args, "db", None) else
                 default_db_path(Path(args.project)))


def run_from_cli(args: argparse.Namespace) -> int:
    suite_path = Path(args.suite)
    store = open_store(args)
    try:
        if args.resume:
            if args.prompt or args.model or args.reruns:
                raise InputError("--resume repeats the stored run exactly; "
                                 "drop --prompt, --model and --reruns")
            info = store.run(args.resume)
            plan = Plan.from_dict(info.plan)
            if args.concurrency:
                plan.concurrency = args.concurrency
            library = PromptLibrary(find_project_root(suite_path.resolve().parent) / "prompts")
            variants = load_plan_variants(plan, library, store)
            check_local_models(plan, variants)
            check_api_keys(plan)
            run_id = info.id
            store.set_status(run_id, "running")
        else:
            suite = load_suite(suite_path, prompts=args.prompt, models=args.model)
            plan = make_plan(suite, reruns=args.reruns, concurrency=args.concurrency)
            variants = {v.ref: v for v in suite.variants}
            check_local_models(plan, variants)
            check_api_keys(plan)
            run_id = start_run(suite, store, plan)
        return _execute(args, store, plan, variants, run_id)
    finally:
        store.close()


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
    """Refuse before any cell runs if the embedded model cannot load (exit 2, with the fix)."""
    names = {m["name"] for m in plan.models}
    names |= {s.model for v in variants.values() for s in v.spec.steps or [] if s.model}
    if not any(n.startswith("local/") for n in names):
        return
    from workbench.models._local import LocalModelUnavailable, _import_llama_cpp, resolve_model_path

    try:
        resolve_model_path()
        _import_llama_cpp()
    except LocalModelUnavailable as exc:
        raise InputError(str(exc)) from None


def _execute(args: argparse.Namespace, store: Store, plan: Plan, variants: dict,
             run_id: str) -> int:
    runner = Runner(plan, variants, store, run_id)
    already = store.count_cells(run_id)
    progress = Progress(total=plan.total_cells, done=already)
    display = ProgressDisplay(progress, quiet=args.quiet)
    if not args.quiet:
        print(f"run {run_id}: {plan.suite} — {plan.total_cells - already} cell(s) to run"
              + (f", {already} already stored" if already else "")
              + f", concurrency {plan.concurrency}", file=sys.stderr, flush=True)
    try:
        asyncio.run(runner.run(on_cell=display.update))
    except KeyboardInterrupt:
        display.finish()
        store.set_status(run_id, "interrupted")
        stored = store.count_cells(run_id)
        print(f"interrupted: {stored} of {plan.total_cells} cells are stored. Resume with:\n"
              f"  workbench run {args.suite} --resume {run_id}", file=sys.stderr)
        return 130
    display.finish()
    complete = store.count_cells(run_id) >= plan.total_cells
    store.set_status(run_id, "finished" if complete else "interrupted")
    results = load_results(store, run_id)
    write_reports(results, json_path=args.json, junit_path=args.junit, md_path=args.md,
                  html_path=args.html)
    from workbench.reports import render_summary

    print(render_summary(results, color=sys.stdout.isatty()))
    return 0 if results.ok else 1


def write_reports(results: RunResults, *, json_path: str | None = None,
                  junit_path: str | None = None, md_path: str | None = None,
                  html_path: str | None = None) -> None:
    from workbench.reports import write_html, write_json, write_junit, write_markdown

    for path, writer in ((json_path, write_json), (junit_path, write_junit),
                         (md_path, write_markdown), (html_path, write_html)):
        if path:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            writer(results, target)
