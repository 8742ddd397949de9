"""Texts side by side: two prompt versions aligned line by line, and outputs with the words
that differ from a reference marked.

Alignment and spans are plain data, tested on their own; the views only colour them. The
word diff is :func:`workbench.text.word_diff`, the one the HTML report renders too, so both
mark the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import zip_longest

from rich.table import Table
from rich.text import Text

from workbench.text import strip_terminal, word_diff

Span = tuple[str, bool]  # (text, changed)

DELETED = "#101010 on #f2b8b5"  # explicit fg and bg: readable on light and dark themes
INSERTED = "#101010 on #b7e4c0"
CHANGED_WORD = "bold reverse"
_ROW_STYLE = {"delete": DELETED, "insert": INSERTED}


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


def word_spans(left: str, right: str) -> tuple[list[Span], list[Span]]:
    """Both strings as spans, with the words that differ between them marked changed."""
    segments = word_diff(left, right)
    return ([(text, op == "delete") for op, text in segments if op != "insert"],
            [(text, op == "insert") for op, text in segments if op != "delete"])


def against_reference(text: str, reference: str) -> list[Span]:
    """``text`` as spans, marking the words that are not in ``reference``."""
    return word_spans(reference, text)[1]


def spans_text(spans: list[Span], *, style: str = "") -> Text:
    """Spans as one Text (inert: escape sequences removed), changed words highlighted."""
    out = Text(style=style)
    for chunk, changed in spans:
        out.append(strip_terminal(chunk), style=CHANGED_WORD if changed else "")
    return out


def diff_table(rows: list[DiffRow], left_title: str, right_title: str) -> Table:
    """Two columns with line numbers; removed lines red, added green, changed words marked."""
    table = Table(expand=True, show_lines=False, pad_edge=False, box=None, padding=(0, 1))
    table.add_column("", justify="right", style="dim", width=4, no_wrap=True)
    table.add_column(left_title, ratio=1, overflow="fold")
    table.add_column("", justify="right", style="dim", width=4, no_wrap=True)
    table.add_column(right_title, ratio=1, overflow="fold")
    for row in rows:
        if row.tag == "replace" and row.left is not None and row.right is not None:
            left_spans, right_spans = word_spans(row.left, row.right)
            left = spans_text(left_spans, style=DELETED)
            right = spans_text(right_spans, style=INSERTED)
        else:
            style = _ROW_STYLE.get(row.tag, "")
            left = Text(strip_terminal(row.left or ""), style=style if row.left is not None else "")
            right = Text(strip_terminal(row.right or ""),
                         style=style if row.right is not None else "")
        marker_l = "" if row.left_no is None else str(row.left_no)
        marker_r = "" if row.right_no is None else str(row.right_no)
        table.add_row(marker_l, left, marker_r, right)
    return table
