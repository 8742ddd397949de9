"""Rendering of aligned texts: a two-column line diff, and spans with changes marked."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from workbench.text import strip_terminal
from workbench.tui._diff import DiffRow, Span

DELETED = "#101010 on #f2b8b5"  # explicit fg and bg: readable on light and dark themes
INSERTED = "#101010 on #b7e4c0"
CHANGED_WORD = "bold reverse"
_ROW_STYLE = {"delete": DELETED, "insert": INSERTED}


def spans_text(spans: list[Span], *, style: str = "") -> Text:
    """Spans as one Text (inert: escape sequences removed), changed words highlighted."""
    out = Text(style=style)
    for chunk, changed in spans:
        out.append(strip_terminal(chunk), style=CHANGED_WORD if changed else "")
    return out


def diff_table(rows: list[DiffRow], left_title: str, right_title: str) -> Table:
    """Two columns with line numbers; removed lines red, added green, changed words marked."""
    from workbench.tui._diff import word_diff

    table = Table(expand=True, show_lines=False, pad_edge=False, box=None, padding=(0, 1))
    table.add_column("", justify="right", style="dim", width=4, no_wrap=True)
    table.add_column(left_title, ratio=1, overflow="fold")
    table.add_column("", justify="right", style="dim", width=4, no_wrap=True)
    table.add_column(right_title, ratio=1, overflow="fold")
    for row in rows:
        if row.tag == "replace" and row.left is not None and row.right is not None:
            left_spans, right_spans = word_diff(row.left, row.right)
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
