"""Snapshots of every screen at 120×40 on fixed data (pytest-textual-snapshot).

The project and its store come from :mod:`workbench.testing.projects`: fixed run ids, fixed
answers and timestamps, a project folder named ``demo``, and nothing on screen that depends
on the clock or the temporary path. Update after an intended change with
``pytest --snapshot-update`` and review the SVGs under ``tests/__snapshots__/``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from workbench.testing.projects import RUN_ID, fill_store, make_project
from workbench.tui.app import WorkbenchApp

SIZE = (120, 40)


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = make_project(tmp_path)
    fill_store(project)
    monkeypatch.chdir(project)  # file names in messages are shown relative to here
    return project


def app_for(project: Path, run: str | None = RUN_ID) -> WorkbenchApp:
    app = WorkbenchApp(project)
    app.current_run = run
    return app


async def settle(pilot: Pilot) -> None:
    """Let workers finish and their messages land, and stop the cursor blinking."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    for area in pilot.app.screen.query("TextArea"):
        area.cursor_blink = False


def keys(*pressed: str) -> Callable[[Pilot], Awaitable[None]]:
    """Settle, press the keys (settling after each), settle again."""

    async def run(pilot: Pilot) -> None:
        await settle(pilot)
        for key in pressed:
            await pilot.press(key)
            await settle(pilot)

    return run


def test_prompts(snap_compare, demo: Path) -> None:
    assert snap_compare(app_for(demo), terminal_size=SIZE, run_before=settle)


def test_prompt_editor_with_problem(snap_compare, demo: Path) -> None:
    # A second 'kind' key at the top: the problem is listed with its line, nothing saved.
    run = keys("e", *"kind: chain", "enter", "ctrl+s")
    assert snap_compare(app_for(demo), terminal_size=SIZE, run_before=run)
    assert not (demo / "prompts/ticket/v3.yaml").exists()


def test_prompt_diff(snap_compare, demo: Path) -> None:
    assert snap_compare(app_for(demo), terminal_size=SIZE, run_before=keys("d"))


def test_label_dialog(snap_compare, demo: Path) -> None:
    assert snap_compare(app_for(demo), terminal_size=SIZE, run_before=keys("l", *"stag"))


def test_suites(snap_compare, demo: Path) -> None:
    assert snap_compare(app_for(demo), terminal_size=SIZE, run_before=keys("2"))


def test_run_showing_stored_run(snap_compare, demo: Path) -> None:
    assert snap_compare(app_for(demo), terminal_size=SIZE, run_before=keys("3"))


def test_runs_picker(snap_compare, demo: Path) -> None:
    assert snap_compare(app_for(demo), terminal_size=SIZE, run_before=keys("4", "p"))


def test_results(snap_compare, demo: Path) -> None:
    assert snap_compare(app_for(demo), terminal_size=SIZE, run_before=keys("4"))


def test_results_unstable_only_light_theme(snap_compare, demo: Path) -> None:
    run = keys("4", "u", "s", "ctrl+t")
    assert snap_compare(app_for(demo), terminal_size=SIZE, run_before=run)


def test_case_detail(snap_compare, demo: Path) -> None:
    async def run(pilot: Pilot) -> None:
        await keys("4")(pilot)
        matrix = pilot.app.screen.query_one("#matrix", DataTable)
        shown = [r.case_id for r in pilot.app.screen.shown]
        matrix.move_cursor(row=shown.index("wrong-address"), column=1)  # has an error rerun
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(app_for(demo), terminal_size=SIZE, run_before=run)


def test_charts(snap_compare, demo: Path) -> None:
    assert snap_compare(app_for(demo), terminal_size=SIZE, run_before=keys("5"))


def test_escalation(snap_compare, demo: Path) -> None:
    assert snap_compare(app_for(demo), terminal_size=SIZE, run_before=keys("6"))
