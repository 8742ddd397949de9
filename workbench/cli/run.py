"""``workbench run``: suite → plan → runner → store → results → reports, and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from workbench.analysis.results import RunResults, load_results
from workbench.cli.progress import ProgressDisplay
from workbench.config.paths import find_project_root
from workbench.engine.session import (
    PreparedRun,
    begin_run,
    close_run,
    execute,
    plan_run,
    resume_run,
)
from workbench.errors import InputError, Problem, display_path
from workbench.prompts.library import PromptLibrary
from workbench.store.database import Store, default_db_path


def store_path(args: argparse.Namespace) -> Path:
    """The store a command reads or writes: ``--db``, else the project's default."""
    return Path(args.db) if getattr(args, "db", None) else default_db_path(Path(args.project))


def open_store(args: argparse.Namespace) -> Store:
    return Store(store_path(args))


def read_store(args: argparse.Namespace) -> Store:
    """The store a reading command uses: it must exist (reading never creates one)."""
    path = store_path(args)
    if not path.exists():
        raise InputError(Problem("no store here yet", display_path(path),
                                 hint="run a suite first: workbench run SUITE"))
    return Store(path)


def run_command(args: argparse.Namespace) -> int:
    suite_path = Path(args.suite)
    if args.resume:
        if args.prompt or args.model or args.reruns:
            raise InputError("--resume repeats the stored run exactly; "
                             "drop --prompt, --model and --reruns")
        with read_store(args) as store:
            library = PromptLibrary(find_project_root(suite_path.resolve().parent) / "prompts")
            prepared = resume_run(store, args.resume, library=library,
                                  concurrency=args.concurrency, suite_path=suite_path)
            return _execute(args, store, prepared)
    # Planned before the store is opened: a refused suite leaves no store behind.
    planned = plan_run(suite_path, prompts=args.prompt, models=args.model,
                       reruns=args.reruns, concurrency=args.concurrency)
    with open_store(args) as store:
        return _execute(args, store, begin_run(store, planned))


def _execute(args: argparse.Namespace, store: Store, prepared: PreparedRun) -> int:
    plan, run_id = prepared.plan, prepared.run_id
    display = ProgressDisplay(prepared.progress(), quiet=args.quiet)
    if not args.quiet:
        print(f"run {run_id}: {plan.suite} — {prepared.remaining} cell(s) to run"
              + (f", {prepared.already} already stored" if prepared.already else "")
              + f", concurrency {plan.concurrency}", file=sys.stderr, flush=True)
    try:
        asyncio.run(execute(store, prepared, on_cell=display.update))
    except KeyboardInterrupt:
        display.finish()
        store.set_status(run_id, "interrupted")
        stored = store.count_cells(run_id)
        print(f"interrupted: {stored} of {plan.total_cells} cells are stored. Resume with:\n"
              f"  workbench run {args.suite} --resume {run_id}", file=sys.stderr)
        return 130
    display.finish()
    close_run(store, prepared)
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
