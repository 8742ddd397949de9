"""Checking the files a command will write before it does any work.

A run can take hours; finding out at the end that ``--html`` names a folder would waste it.
Every output flag is checked up front: not a folder, not a device, and inside a folder that
exists or can be made.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.errors import InputError, Problem

# argparse destination → the flag as the user typed it
OUTPUT_FLAGS = {"json": "--json", "junit": "--junit", "md": "--md", "html": "--html",
                "output": "-o", "holdout_out": "--holdout-out", "db": "--db"}


def output_problem(flag: str, value: str) -> Problem | None:
    """Why ``value`` cannot be written as a file, or None."""
    path = Path(value)
    if not value.strip():
        return Problem(f"{flag}: the file name is empty")
    if path.is_dir():
        return Problem(f"{flag} {value}: is a folder", hint="give a file name")
    if path.exists() and not path.is_file():
        return Problem(f"{flag} {value}: is not a regular file", hint="give a file name")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return Problem(f"{flag} {value}: {parent} is not a folder")
            break
    return None


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before any work, output flags that cannot be written (exit 2)."""
    problems = [problem for dest, flag in OUTPUT_FLAGS.items()
                if getattr(args, dest, None) is not None
                and (problem := output_problem(flag, str(getattr(args, dest))))]
    if problems:
        raise InputError(problems)
