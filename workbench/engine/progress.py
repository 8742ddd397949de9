"""Counters a progress display reads after each finished cell (CLI and TUI alike)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from workbench.store.records import CellRecord


@dataclass
class Progress:
    """Counters a progress display reads after each cell."""

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
