"""The Optimize screen driven by Pilot: a search on the simulated model over real HTTP,
candidates arriving in the table, a candidate's diff against its parent, and stop."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from tests.test_optimize import needs_examples, project
from tests.test_tui import table_text, text_of, wait_for
from workbench.testing.fakeserver import FakeServer
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.diff import DiffScreen
from workbench.tui.screens.optimize import OptimizeScreen


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "test-key")


async def test_search_from_suites_then_diff(tmp_path: Path, fake_server: FakeServer) -> None:
    project(tmp_path, fake_server, needs_examples)
    app = WorkbenchApp(tmp_path, db=tmp_path / "wb.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: app.screen.query("#suite-list"), what="suites")
        await pilot.pause(0.2)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OptimizeScreen), what="optimize")
        screen = app.screen
        assert isinstance(screen, OptimizeScreen)
        await pilot.press("s")
        await wait_for(pilot, lambda: not screen.running and bool(screen.refs), timeout=60,
                       what="the search")
        rows = table_text(screen.query_one("#opt-table", DataTable))
        assert rows[0][1] == "start" and any(r[0].startswith("★") for r in rows)
        assert len(rows) >= 6  # the start, five levers, and the rewrites the echo proposed
        summary = text_of(screen.query_one("#opt-summary", Static))
        assert "held-out split" in summary and "confirmed" in summary
        best = next(i for i, r in enumerate(rows) if r[0].startswith("★"))
        screen.query_one("#opt-table", DataTable).move_cursor(row=best)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen), what="the diff")
        diff = app.screen
        assert isinstance(diff, DiffScreen) and diff.left == 1 and diff.right > 1
        await pilot.press("escape")


async def test_stop_keeps_finished_candidates(tmp_path: Path, fake_server: FakeServer) -> None:
    suite = project(tmp_path, fake_server, needs_examples)
    # Slow enough that the search cannot end between its first candidate and the key press
    # (at 10 ms a quiet machine finished the whole search first).
    fake_server.configure(latency=0.2)
    app = WorkbenchApp(tmp_path, db=tmp_path / "wb.db")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = OptimizeScreen(suite)
        await app.push_screen(screen)
        await pilot.press("s")
        await wait_for(pilot, lambda: bool(screen.refs), timeout=60, what="a candidate")
        await pilot.press("x")
        await wait_for(pilot, lambda: not screen.running, timeout=60, what="the stop")
        summary = text_of(screen.query_one("#opt-summary", Static))
        assert "stopped on request" in summary
        finished = len(screen.refs)
        await pilot.press("s")  # continues: the finished candidates are not measured again
        await wait_for(pilot, lambda: not screen.running and "stopped on request" not in
                       text_of(screen.query_one("#opt-summary", Static)), timeout=60,
                       what="the rest")
        assert len(screen.refs) >= finished
