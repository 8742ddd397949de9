"""Alignment for side-by-side views: two prompt versions, or N outputs of one case.

Pure functions over strings (difflib), so the views only colour what these return and the
alignment is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import zip_longest

from workbench.text import tokens

Span = tuple[str, bool]  # (text, changed)


@dataclass(frozen=True)
class DiffRow:
    """One aligned row: a left line, a right line, or both, and how they relate."""

    tag: str  # equal | replace | delete | insert
    left_no: int | None
    left: str | None
    right_no: int | None
    right: str | None


def side_by_side(left: list[str], right: list[str]) -> list[DiffRow]:
    """Rows aligning two texts line by line; changed blocks pair up line for line."""
    rows: list[DiffRow] = []
    matcher = SequenceMatcher(None, left, right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [DiffRow("equal", i + 1, left[i], j + 1, right[j])
                     for i, j in zip(range(i1, i2), range(j1, j2), strict=True)]
            continue
        for i, j in zip_longest(range(i1, i2), range(j1, j2)):
            row_tag = tag if tag != "replace" else (
                "replace" if i is not None and j is not None else
                "delete" if j is None else "insert")
            rows.append(DiffRow(row_tag,
                                None if i is None else i + 1, None if i is None else left[i],
                                None if j is None else j + 1, None if j is None else right[j]))
    return rows


def word_diff(left: str, right: str) -> tuple[list[Span], list[Span]]:
    """Both strings as spans, with the words that differ between them marked changed."""
    a, b = tokens(left), tokens(right)
    left_spans: list[Span] = []
    right_spans: list[Span] = []
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        changed = tag != "equal"
        if i2 > i1:
            left_spans.append(("".join(a[i1:i2]), changed))
        if j2 > j1:
            right_spans.append(("".join(b[j1:j2]), changed))
    return left_spans, right_spans


def against_reference(text: str, reference: str) -> list[Span]:
    """``text`` as spans, marking what differs from ``reference`` (e.g. the modal output)."""
    return word_diff(reference, text)[1]
