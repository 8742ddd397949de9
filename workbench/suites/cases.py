"""A suite's cases: inline entries and ``file:`` sources (CSV, JSONL), validated one by one.

Every problem is collected with its file and line, so one ``validate`` shows them all.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import (
    ValidationError,
)

from workbench.checks.assertions import Assertion, check_spec_files
from workbench.config.files import (
    MAX_CASES_BYTES,
    FileRefused,
    check_regular,
    resolve_inside,
    stream_lines,
)
from workbench.config.params import problems_from_error
from workbench.config.paths import find_project_root
from workbench.config.yaml import Located
from workbench.errors import Problem, display_path
from workbench.suites.spec import MAX_CASE_DEPTH, CasesFile, CaseSpec, SuiteSpec


def _cases(spec: SuiteSpec, doc: Located, path: Path, problems: list[Problem]) -> list[Case]:
    cases: list[Case] = []
    first_seen: dict[str, str] = {}
    root = find_project_root(path.resolve().parent)
    for i, entry in enumerate(spec.cases):
        if isinstance(entry, CasesFile):
            loaded = _load_case_file(root, path.parent, entry.file, doc, ("cases", i), problems)
        else:
            loaded = iter([(entry, f"{doc.file}:{doc.line(('cases', i))}", doc, ("cases", i))])
        for case, source, case_doc, loc in loaded:
            if case.id in first_seen:
                problems.append(
                    case_doc.problem(
                        (*loc, "id") if loc else (),
                        f"duplicate case id '{case.id}' (first at {first_seen[case.id]})",
                        "case ids must be unique; rename one",
                    )
                )
                continue
            first_seen[case.id] = source
            for j, assertion in enumerate(case.assertions):
                for message in check_spec_files(assertion, path.parent):
                    problems.append(case_doc.problem((*loc, "assert", j), message))
            cases.append(
                Case(
                    id=case.id,
                    vars=dict(case.vars),
                    expected=case.expected,
                    assertions=[*spec.defaults.assertions, *case.assertions],
                    threshold=case.threshold
                    if case.threshold is not None
                    else spec.defaults.threshold,
                    source=source,
                )
            )
    return cases


Loaded = tuple[CaseSpec, str, Located, tuple]


def _load_case_file(root: Path, base_dir: Path, name: str, doc: Located, loc: tuple,
                    problems: list[Problem]) -> Iterator[Loaded]:
    """Cases from ``.jsonl`` (one JSON object per line) or ``.csv`` (header row), streamed.

    The file must be a regular file inside the project (see :mod:`workbench.config.files`).
    """
    where = (*loc, "file")
    try:
        file = resolve_inside(root, base_dir, name)
    except FileRefused as exc:
        problems.append(doc.problem(where, f"cases file {exc.reason}", exc.hint))
        return
    shown = display_path(file)
    if file.suffix not in (".jsonl", ".csv"):
        problems.append(doc.problem(where, f"cases file must be .jsonl or .csv: {shown}"))
        return
    try:
        check_regular(file, MAX_CASES_BYTES)
    except FileNotFoundError:
        problems.append(doc.problem(where, f"cases file not found: {shown}",
                                    "paths are relative to the suite file"))
        return
    except FileRefused as exc:
        problems.append(doc.problem(where, f"cases file {shown} {exc.reason}", exc.hint))
        return
    lines = stream_lines(file, MAX_CASES_BYTES)
    rows = _jsonl_cases(lines, shown, problems) if file.suffix == ".jsonl" else _csv_cases(
        lines, shown, problems)
    try:
        yield from rows
    except FileRefused as exc:  # not UTF-8, or grew past the limit while being read
        problems.append(exc.problem(shown))


def _validated_case(
    data: Any, shown: str, line: int, problems: list[Problem]
) -> Loaded | None:
    row_doc = Located(data, shown, {(): line})
    if not isinstance(data, dict):
        problems.append(Problem("each case must be a JSON object", shown, line))
        return None
    try:
        case = CaseSpec.model_validate(data)
    except ValidationError as exc:
        problems.extend(problems_from_error(exc, row_doc, CaseSpec))
        return None
    return case, f"{shown}:{line}", row_doc, ()


def _jsonl_cases(lines: Iterator[str], shown: str, problems: list[Problem]) -> Iterator[Loaded]:
    found = False
    failed = False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(f"invalid JSON: {exc.msg} (column {exc.colno})", shown, number,
                                    "each line must be one JSON object"))
            failed = True
            continue
        except RecursionError:
            problems.append(Problem(f"invalid case: nested deeper than {MAX_CASE_DEPTH} levels",
                                    shown, number))
            failed = True
            continue
        row = _validated_case(data, shown, number, problems)
        if row:
            found = True
            yield row
        else:
            failed = True
    if not found and not failed:
        problems.append(Problem("cases file has no cases", shown))


def _csv_cases(lines: Iterator[str], shown: str, problems: list[Problem]) -> Iterator[Loaded]:
    """Columns: ``id`` (optional), ``expected`` (optional), every other column is a var."""
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        problems.append(Problem("CSV file is empty", shown, 1, "add a header row of var names"))
        return
    except csv.Error as exc:
        problems.append(Problem(f"invalid CSV: {exc}", shown, 1))
        return
    header = [h.strip() for h in header]
    bad = [h for h in header if not h]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if bad or dupes:
        what = "empty column name" if bad else f"repeated column '{dupes[0]}'"
        problems.append(Problem(f"CSV header has an {what}" if bad else f"CSV header has a {what}",
                                shown, 1, "each column needs a distinct name"))
        return
    stem = Path(shown).stem
    found = failed = False
    try:
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                problems.append(
                    Problem(
                        f"row has {len(row)} fields but the header has {len(header)}",
                        shown,
                        number,
                        "quote fields that contain commas",
                    )
                )
                failed = True
                continue
            values = dict(zip(header, row, strict=True))
            data: dict[str, Any] = {"id": values.pop("id", None) or f"{stem}-{number}"}
            if "expected" in values:
                data["expected"] = values.pop("expected")
            data["vars"] = values
            case = _validated_case(data, shown, number, problems)
            if case:
                found = True
                yield case
            else:
                failed = True
    except csv.Error as exc:
        problems.append(Problem(f"invalid CSV: {exc}", shown, reader.line_num))
        failed = True
    if not found and not failed:
        problems.append(Problem("cases file has no cases, only a header row", shown, 1,
                                "add a row per case below the header"))


@dataclass(frozen=True)
class Case:
    """A validated case with the assertions that apply to it (defaults first)."""

    id: str
    vars: dict[str, Any]
    expected: Any
    assertions: list[Assertion]
    threshold: float | None
    source: str  # "file:line", for messages
