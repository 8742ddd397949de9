"""The import's account of itself: one row per thing read, and what became of it.

Why a table: a migration that silently drops a test is worse than none. Every prompt,
provider, test, variable and assertion of the config gets a row — imported as it was,
converted (with what changed), or unsupported (with why) — located at its file and line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

Status = Literal["imported", "converted", "unsupported"]
STATUSES: tuple[Status, ...] = ("imported", "converted", "unsupported")


@dataclass(frozen=True)
class Row:
    """One item of the config and what the import did with it."""

    status: Status
    item: str  # e.g. "assert contains-any", "provider openai:chat:gpt-4o-mini"
    where: str  # "file:line"
    note: str = ""


@dataclass
class Outcome:
    """Every row, in the order the config was read."""

    rows: list[Row] = field(default_factory=list)

    def add(self, status: Status, item: str, where: str, note: str = "") -> None:
        self.rows.append(Row(status, item, where, note))

    def imported(self, item: str, where: str, note: str = "") -> None:
        self.add("imported", item, where, note)

    def converted(self, item: str, where: str, note: str) -> None:
        self.add("converted", item, where, note)

    def unsupported(self, item: str, where: str, note: str) -> None:
        self.add("unsupported", item, where, note)

    def counts(self) -> dict[Status, int]:
        found = Counter(row.status for row in self.rows)
        return {status: found[status] for status in STATUSES}

    def relative_to(self, root: Path) -> None:
        """Show every row's file relative to the config's folder (the table's header names
        the folder), so the line numbers stay readable."""
        rows = []
        for row in self.rows:
            file, sep, line = row.where.rpartition(":")
            if not sep or not line.isdigit():
                file, line = row.where, ""
            try:
                shown = Path(file).resolve().relative_to(root).as_posix()
            except ValueError:
                shown = file
            rows.append(replace(row, where=f"{shown}:{line}" if line else shown))
        self.rows = rows

    @property
    def has_unsupported(self) -> bool:
        return any(row.status == "unsupported" for row in self.rows)


def render_table(outcome: Outcome) -> str:
    """The table as aligned plain text, unsupported rows first, then a count line."""
    order = {"unsupported": 0, "converted": 1, "imported": 2}
    rows = sorted(outcome.rows, key=lambda r: order[r.status])
    header = ("status", "item", "where", "note")
    cells = [header, *((r.status, r.item, r.where, r.note) for r in rows)]
    widths = [min(max(len(c[i]) for c in cells), limit) for i, limit in enumerate((11, 48, 60))]
    lines = []
    for cell in cells:
        parts = [_fit(cell[i], widths[i]).ljust(widths[i]) for i in range(3)]
        lines.append("  ".join([*parts, cell[3]]).rstrip())
    counts = outcome.counts()
    lines.append(", ".join(f"{counts[s]} {s}" for s in STATUSES))
    return "\n".join(lines) + "\n"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
