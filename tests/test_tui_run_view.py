"""Results and Charts load a run once: a mode's first open sends Mount and then
ScreenResume twice. Returning to a screen re-reads a run that was still filling in, but a
run that did not change is not drawn again (the matrix keeps its cursor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.testing.projects import KEY_ENV, fill_store, make_project
from workbench.tui.app import WorkbenchApp
from workbench.tui.project import Project
from workbench.tui.screens.charts import ChartsScreen
from workbench.tui.screens.results import ResultsScreen


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key")


async def test_each_screen_loads_and_draws_its_run_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"results": 0, "show": 0}
    loads, shows = Project.results, {}

    def counted_results(self, run_id=None):
        calls["results"] += 1
        return loads(self, run_id)

    monkeypatch.setattr(Project, "results", counted_results)
    for screen in (ResultsScreen, ChartsScreen):
        shows[screen] = screen.show

        def counted_show(self, results, _show=shows[screen]):
            calls["show"] += 1
            return _show(self, results)

        monkeypatch.setattr(screen, "show", counted_show)

    project = make_project(tmp_path)
    fill_store(project)
    app = WorkbenchApp(project)  # shows the newest run: interrupted, so re-read on return
    async with app.run_test(size=(120, 40)) as pilot:
        for key, screen in (("4", ResultsScreen), ("5", ChartsScreen)):
            calls.update(results=0, show=0)
            await pilot.press(key)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert isinstance(app.screen, screen)
            assert calls == {"results": 1, "show": 1}, screen.__name__

        # Back to Results: the unfinished run is read again, unchanged, so the matrix stays.
        await pilot.press("4")
        matrix = app.screen.query_one("#matrix")
        matrix.move_cursor(row=1, column=1)
        calls.update(results=0, show=0)
        await pilot.press("1", "4")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert calls == {"results": 1, "show": 0}
        assert tuple(matrix.cursor_coordinate) == (1, 1)
