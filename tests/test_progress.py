"""The progress line: one builder (:meth:`Progress.parts`) for the CLI and the TUI's Run screen.

The CLI prints it plain in CI logs; the Run screen shows the request rate too, groups the
token count and shows ``–`` for rates while it only displays a stored run.
"""

from __future__ import annotations

import dataclasses
import io

import pytest

from tests.test_reports import A, _cell
from workbench.cli.progress import ProgressDisplay
from workbench.engine import progress as progress_module
from workbench.engine.progress import Progress
from workbench.store.records import CellRecord

START = 1000.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A clock the test moves: rates are cells (or calls) over the seconds it advanced."""
    now = [START]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    return now


def _cells() -> list[CellRecord]:
    ok = _cell(A, "c1", 0, "billing", output="billing", answer="billing")
    wrong = _cell(A, "c1", 1, "billing", output="shipping", answer="shipping")
    failed = _cell(A, "c1", 2, "billing", output=None, answer=None, status="error",
                   error="HTTP 500")
    return [dataclasses.replace(ok, prompt_tokens=700, completion_tokens=300, cost=0.0125),
            dataclasses.replace(wrong, attempts=2), dataclasses.replace(failed, attempts=3)]


def test_progress_pieces_and_line(clock: list[float]) -> None:
    p = Progress(total=10, done=4, started=START)  # four cells stored before a resume
    for cell in _cells():
        p.add(cell)
    clock[0] += 2.0
    assert p.line() == ("7/10 cells · 1 passed · 1 errors · 1.5 cells/s · 1030 tokens · "
                        "$0.0145")
    assert p.parts(calls=True, grouped=True) == [
        ("cells", "7/10 cells"), ("passed", "1 passed"), ("errors", "1 errors"),
        ("rate", "1.5 cells/s"), ("rate", "3.0 calls/s"), ("tokens", "1,030 tokens"),
        ("cost", "$0.0145")]
    assert p.line(rates=False, calls=True, grouped=True) == (
        "7/10 cells · 1 passed · 1 errors · – cells/s · 1,030 tokens · $0.0145")


def test_cli_prints_the_progress_line_and_errors_in_logs(clock: list[float]) -> None:
    out = io.StringIO()
    display = ProgressDisplay(Progress(total=3, started=START), stream=out, tty=False)
    for cell in _cells():
        clock[0] += 1.0
        display.update(cell)
    lines = out.getvalue().splitlines()
    assert lines[-2] == f"error: {A} · fake-model · c1 #2: HTTP 500"
    assert lines[-1] == "3/3 cells · 1 passed · 1 errors · 1.0 cells/s · 1030 tokens · $0.0145"
