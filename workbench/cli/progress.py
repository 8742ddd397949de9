"""Progress for headless runs: a live bar on a terminal, plain lines in CI logs."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from workbench.engine.progress import Progress
from workbench.store.records import CellRecord
from workbench.text import terminal_line


class ProgressDisplay:
    """Renders :class:`Progress` after each cell; never more than ~10 updates a second."""

    def __init__(self, progress: Progress, *, stream: TextIO | None = None,
                 tty: bool | None = None, quiet: bool = False):
        self.progress = progress
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.quiet = quiet
        self._last_draw = 0.0
        self._next_line_at = 0.0
        self._last_decile = -1

    def update(self, cell: CellRecord) -> None:
        self.progress.add(cell)
        if self.quiet:
            return
        if cell.status == "error" and not self.tty:
            # Names come from files and errors from servers: neither may drive the terminal.
            where = " · ".join(terminal_line(t) for t in (cell.variant, cell.model, cell.case_id))
            print(f"error: {where} #{cell.rerun}: {terminal_line(cell.error or '')}",
                  file=self.stream, flush=True)
        now = time.monotonic()
        p = self.progress
        if self.tty:
            if now - self._last_draw >= 0.1 or p.done == p.total:
                self._last_draw = now
                self._draw_bar()
        else:
            decile = p.done * 10 // max(1, p.total)
            if decile != self._last_decile or now >= self._next_line_at:
                self._last_decile = decile
                self._next_line_at = now + 30
                print(self.line(), file=self.stream, flush=True)

    def line(self) -> str:
        return self.progress.line()

    def _draw_bar(self) -> None:
        p = self.progress
        width = 28
        filled = int(width * p.done / max(1, p.total))
        bar = "█" * filled + "░" * (width - filled)
        self.stream.write(f"\r{bar} {self.line()}\x1b[K")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()
