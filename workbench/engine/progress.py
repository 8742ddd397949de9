"""Counters a progress display reads after each finished cell, and the words it shows them
in: the CLI's progress line and the TUI's Run screen both come from :meth:`Progress.parts`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from workbench.store.records import CellRecord

PartKind = Literal["cells", "passed", "errors", "rate", "tokens", "cost"]


@dataclass
class Progress:
    """Counters a progress display reads after each cell."""

    SEPARATOR: ClassVar[str] = " · "  # between the pieces of the progress line

    total: int
    done: int = 0  # stored cells, including those stored before a resume
    ran: int = 0  # cells finished since this Progress started
    calls: int = 0  # model requests made since then, retries included
    passed: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def add(self, cell: CellRecord, *, stored: bool = False) -> None:
        """Count a finished cell; ``stored=True`` for one stored before this Progress
        started: it counts toward the totals but not the rates (``ran``, ``calls``)."""
        self.done += 1
        if not stored:
            self.ran += 1
            self.calls += cell.attempts
        self.passed += cell.passed
        self.errors += cell.status == "error"
        self.prompt_tokens += cell.prompt_tokens
        self.completion_tokens += cell.completion_tokens
        self.cost += cell.cost

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def cells_per_second(self) -> float:
        elapsed = self.elapsed
        return self.ran / elapsed if elapsed > 0 else 0.0

    @property
    def calls_per_second(self) -> float:
        elapsed = self.elapsed
        return self.calls / elapsed if elapsed > 0 else 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def parts(self, *, rates: bool = True, calls: bool = False,
              grouped: bool = False) -> list[tuple[PartKind, str]]:
        """The progress line in pieces, ``(kind, text)`` in reading order, so a display can
        colour them (the TUI marks passes and errors) or join them with :attr:`SEPARATOR`.

        ``rates=False``: nothing is being measured now (a stored run), shown as ``–``;
        ``calls``: the request rate too (retries included); ``grouped``: thousands
        separators in the token count.
        """
        pieces: list[tuple[PartKind, str]] = [
            ("cells", f"{self.done}/{self.total} cells"),
            ("passed", f"{self.passed} passed"),
            ("errors", f"{self.errors} errors"),
        ]
        if not rates:
            pieces.append(("rate", "– cells/s"))
        else:
            pieces.append(("rate", f"{self.cells_per_second:.1f} cells/s"))
            if calls:
                pieces.append(("rate", f"{self.calls_per_second:.1f} calls/s"))
        pieces.append(("tokens", f"{self.tokens:,} tokens" if grouped
                       else f"{self.tokens} tokens"))
        pieces.append(("cost", f"${self.cost:.4f}"))
        return pieces

    def line(self, **options: bool) -> str:
        """The progress line as plain text (options as for :meth:`parts`)."""
        return self.SEPARATOR.join(text for _, text in self.parts(**options))
