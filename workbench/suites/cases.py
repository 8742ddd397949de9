"""A suite's cases: inline entries and ``file:`` sources (CSV, JSONL), validated one by one.

Every problem is collected with its file and line, so one ``validate`` shows them all.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import (
    ValidationError,
)

from workbench.checks.assertions import Assertion, check_spec_files
from workbench.config.params import problems_from_error
from workbench.config.yaml import Located
from workbench.errors import Problem, display_path
from workbench.suites.spec import CasesFile, CaseSpec, SuiteSpec


def _cases(spec: SuiteSpec, doc: Located, path: Path, problems: list[Problem]) -> list[Case]:
    cases: list[Case] = []
    first_seen: dict[str, str] = {}
    for i, entry in enumerate(spec.cases):
        if isinstance(entry, CasesFile):
            loaded = _load_case_file(path.parent / entry.file, doc, ("cases", i), problems)
        else:
            loaded = [(entry, f"{doc.file}:{doc.line(('cases', i))}", doc, ("cases", i))]
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


def _load_case_file(
    file: Path, doc: Located, loc: tuple, problems: list[Problem]
) -> list[tuple[CaseSpec, str, Located, tuple]]:
    """Cases from ``.jsonl`` (one JSON object per line) or ``.csv`` (header row)."""
    shown = display_path(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(doc.problem((*loc, "file"), f"cases file not found: {shown}",
                                    "paths are relative to the suite file"))
        return []
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(f"cannot read cases file: {exc}", shown))
        return []
    if file.suffix == ".jsonl":
        return _jsonl_cases(text, shown, problems)
    if file.suffix == ".csv":
        return _csv_cases(text, shown, problems)
    problems.append(doc.problem((*loc, "file"), f"cases file must be .jsonl or .csv: {shown}"))
    return []


def _validated_case(
    data: Any, shown: str, line: int, problems: list[Problem]
) -> tuple[CaseSpec, str, Located, tuple] | None:
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


def _jsonl_cases(text: str, shown: str, problems: list[Problem]) -> list:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(f"invalid JSON: {exc.msg} (column {exc.colno})", shown, number,
                                    "each line must be one JSON object"))
            continue
        row = _validated_case(data, shown, number, problems)
        if row:
            out.append(row)
    if not out and not any(p.file == shown for p in problems):
        problems.append(Problem("cases file has no cases", shown))
    return out


def _csv_cases(text: str, shown: str, problems: list[Problem]) -> list:
    """Columns: ``id`` (optional), ``expected`` (optional), every other column is a var."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        problems.append(Problem("CSV file is empty", shown, 1, "add a header row of var names"))
        return []
    except csv.Error as exc:
        problems.append(Problem(f"invalid CSV: {exc}", shown, 1))
        return []
    header = [h.strip() for h in header]
    bad = [h for h in header if not h]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if bad or dupes:
        what = "empty column name" if bad else f"repeated column '{dupes[0]}'"
        problems.append(Problem(f"CSV header has an {what}" if bad else f"CSV header has a {what}",
                                shown, 1, "each column needs a distinct name"))
        return []
    out = []
    stem = Path(shown).stem
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
                continue
            values = dict(zip(header, row, strict=True))
            data: dict[str, Any] = {"id": values.pop("id", None) or f"{stem}-{number}"}
            if "expected" in values:
                data["expected"] = values.pop("expected")
            data["vars"] = values
            case = _validated_case(data, shown, number, problems)
            if case:
                out.append(case)
    except csv.Error as exc:
        problems.append(Problem(f"invalid CSV: {exc}", shown, reader.line_num))
    return out


@dataclass(frozen=True)
class Case:
    """A validated case with the assertions that apply to it (defaults first)."""

    id: str
    vars: dict[str, Any]
    expected: Any
    assertions: list[Assertion]
    threshold: float | None
    source: str  # "file:line", for messages
