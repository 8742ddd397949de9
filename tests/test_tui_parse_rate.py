"""The parse rate beside consistency in the TUI: Results and Escalation (Pilot).

On the fixed project of :mod:`workbench.testing.projects`, ``ticket@1`` has one rerun without
a readable answer among its 30 (parse rate 97%), ``ticket@2`` none.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from tests.test_tui import table_text, text_of, wait_for
from workbench.testing.projects import RUN_ID, fill_store, make_project
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.escalation import EscalationScreen
from workbench.tui.screens.results import ResultsScreen


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = make_project(tmp_path)
    fill_store(project)
    monkeypatch.chdir(project)
    return project


def _column(table: DataTable, label: str) -> list[str]:
    labels = [str(c.label) for c in table.ordered_columns]
    at = labels.index(label)
    return [row[at] for row in table_text(table)]


async def test_results_and_escalation_show_the_parse_rate(demo: Path) -> None:
    app = WorkbenchApp(demo)
    app.current_run = RUN_ID
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        results = app.screen
        assert isinstance(results, ResultsScreen)
        await wait_for(pilot, lambda: results.results is not None, what="results")
        groups = results.query_one("#group-table", DataTable)
        labels = [str(c.label) for c in groups.ordered_columns]
        assert labels.index("parse") == labels.index("modal") + 1
        assert _column(groups, "parse") == ["97%", "100%"]

        await pilot.press("6")
        screen = app.screen
        assert isinstance(screen, EscalationScreen)
        await wait_for(pilot, lambda: screen.report is not None, what="escalation report")
        trend = screen.query_one("#esc-table", DataTable)
        assert _column(trend, "Parse rate") == ["97%", "100%"]
        details = text_of(screen.query_one("#esc-details", Static))
        assert details.splitlines()[1].startswith(
            "✓ answers readable: ticket@2: parse rate 1.00 vs target 0.95")
