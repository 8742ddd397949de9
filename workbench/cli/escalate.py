"""``workbench escalate`` and ``workbench export-finetune``: the command-line shells of
:func:`workbench.escalation.assess_suite` and :func:`workbench.finetune.dataset.export_suite`
(flags in, printed lines and exit codes out)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.cli.run import store_path
from workbench.errors import InputError, Problem, display_path
from workbench.escalation.history import NoHistoryError


@contextmanager
def run_it_first(suite_arg: str) -> Iterator[None]:
    """A suite with nothing stored yet: the hint is the command that stores something."""
    try:
        yield
    except NoHistoryError as exc:
        problem = exc.problems[0]
        raise InputError(Problem(problem.message, problem.file,
                                 hint=f"run it first: workbench run {suite_arg}")) from None


def escalate_from_cli(args: argparse.Namespace) -> int:
    from workbench.escalation.pipeline import assess_suite
    from workbench.reports.escalation import render_escalation_text, write_escalation

    with run_it_first(args.suite):
        report = assess_suite(store_path(args), args.suite)
    written = write_escalation(report, md=args.md, html=args.html, json_path=args.json,
                               suite_arg=args.suite)
    print(render_escalation_text(report, color=sys.stdout.isatty(), suite_arg=args.suite),
          end="", flush=True)
    for path in written:
        print(f"wrote {display_path(path)}", file=sys.stderr)
    return 0


def export_from_cli(args: argparse.Namespace) -> int:
    from workbench.finetune.dataset import export_suite

    if args.holdout is not None and not 0.0 <= args.holdout < 1.0:
        raise InputError("--holdout is the held-out fraction: at least 0 and below 1 "
                         "(e.g. --holdout 0.2)")
    with run_it_first(args.suite):
        done = export_suite(store_path(args), args.suite, Path(args.output),
                            prompt=args.prompt, model=args.model, holdout=args.holdout or 0.0,
                            seed=args.seed, holdout_output=args.holdout_out)
    source = (f"{done.prompt.ref}, the best version on {done.best_on}" if done.best_on
              else f"{done.prompt.ref} (--prompt)")
    dropped = len(done.prompt.spec.examples or [])
    print(f"prompt: {source}" + (f", without its {dropped} few-shot examples" if dropped else ""))
    print(f"wrote {done.written} example(s) to {display_path(done.output)}"
          + (f" and {done.held_out} held out to {display_path(done.holdout_output)}"
             if done.holdout_output else ""))
    if done.without_expected:
        print(f"left out {done.without_expected} case(s) without an expected answer")
    if done.skipped:
        print(f"skipped {len(done.skipped)} case(s) no stored rerun took to the final step: "
              + ", ".join(done.skipped[:10]) + (" …" if len(done.skipped) > 10 else ""))
    return 0
