"""How the UI thread reaches into a run's own thread to stop it (Run and Playground screens).

A run executes on a worker thread with its own event loop; the UI may only hand that loop
callbacks. ``request_stop`` lets the cells in flight finish; ``cancel_now`` stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass


@dataclass
class RunControl:
    """The running run's loop, task and stop event, set by its thread once it starts."""

    loop: asyncio.AbstractEventLoop | None = None
    task: asyncio.Task | None = None
    stop: asyncio.Event | None = None
    stopping: bool = False

    def request_stop(self) -> None:
        self.stopping = True
        if self.loop is not None and self.stop is not None:
            with contextlib.suppress(RuntimeError):  # the run ended meanwhile
                self.loop.call_soon_threadsafe(self.stop.set)

    def cancel_now(self) -> None:
        self.request_stop()  # in case the task has not started yet
        if self.loop is not None and self.task is not None:
            with contextlib.suppress(RuntimeError):  # the run ended meanwhile
                self.loop.call_soon_threadsafe(self.task.cancel)
