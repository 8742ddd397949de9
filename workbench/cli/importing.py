"""``workbench import promptfoo CONFIG``: the thin shell over :mod:`workbench.importers`.

Prints the table of what was imported, converted and unsupported, then what was (or with
``--dry-run`` would be) written, then the validation. Exit codes: 0 imported and valid;
2 bad input, a result that does not validate, or ``--strict`` with anything unsupported
(then nothing is written).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.errors import InputError, Problem

EXIT_OK, EXIT_INPUT = 0, 2


def import_promptfoo(args: argparse.Namespace) -> int:
    from workbench.importers.promptfoo import plan_import, render_table, write_plan

    project = Path(args.project).resolve()
    plan = plan_import(Path(args.config), project, args.name)
    print(f"{args.config}: what was imported (files relative to the config's folder)")
    print(render_table(plan.outcome), end="")
    if args.strict and plan.outcome.has_unsupported:
        count = plan.outcome.counts()["unsupported"]
        raise InputError(f"--strict: {count} item(s) of {args.config} cannot be imported "
                         "(listed above); nothing was written")
    verb = "would write" if args.dry_run else "wrote"
    for file in plan.files:
        what = "uses the identical existing" if file.reuses else verb
        print(f"{what} {file.path}")
    if args.dry_run:
        for file in plan.files:
            if not file.reuses:
                print(f"\n--- {file.path}\n{file.text}", end="")
    else:
        write_plan(plan, project)
    if plan.problems:
        lines = [f"the imported suite does not validate ({len(plan.problems)} problem(s))"]
        if not args.dry_run:
            lines.append("the files were written: fix them (or the config and import again)")
        raise InputError([*plan.problems, *map(Problem, lines)])
    done = "dry run: nothing written; " if args.dry_run else ""
    print(f"{done}suite {plan.suite_path} validates; run it with: "
          f"workbench run {plan.suite_path}")
    return EXIT_OK

