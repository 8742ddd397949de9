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

from workbench.testing.fakeserver import FakeServer
from workbench.testing.projects import KEY_ENV, RUN_ID, fill_store, make_project
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
    """Let workers finish and their messages land, stop the cursors blinking, and wait for
    the screen to stop changing.

    Work deferred until after the first frame (the prompt list, its scan) may not have
    started yet on a cold, busy machine: wait for the first frame first, then for every
    worker, then for the refreshes their messages schedule (a tree cursor is moved after a
    refresh).
    """
    for _ in range(200):
        if pilot.app._painted:
            break
        await pilot.pause(0.05)
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    for field in pilot.app.screen.query("TextArea, Input"):
        field.cursor_blink = False
    # Then until the screen stops changing: three equal frames in a row. (A fixed wait was
    # not enough on a cold, busy machine: the tree cursor, moved after a refresh, once landed
    # after the snapshot.)
    previous, steady = None, 0
    for _ in range(60):
        await pilot.pause(0.05)
        await pilot.app.workers.wait_for_complete()
        frame = pilot.app.export_screenshot()
        steady = steady + 1 if frame == previous else 0
        previous = frame
        if steady >= 3:
            break


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


# The Playground after a run of an edited draft against the fake server: its cases script
# the answers (one flaky on the parent, pinned by the edit), and one call at a time makes
# every rerun's answer the same on every run.
PLAYGROUND_CASES = [("charge", "[[reply:billing]] charged twice", "billing"),
                    ("parcel", "[[replies:shipping|account]] parcel late", "shipping"),
                    ("crash", "[[reply:technical]] app crashes", "technical")]
PLAYGROUND_EDIT = ' {% if "parcel" in ticket %} [[reply:shipping]]{% endif %}'


@pytest.fixture
def playground(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               fake_server: FakeServer) -> Path:
    monkeypatch.setenv(KEY_ENV, "test-key")
    project = make_project(tmp_path, api_base=fake_server.base_url, reruns=4,
                           cases=PLAYGROUND_CASES, suite_extra={"concurrency": 1})
    monkeypatch.chdir(project)
    return project


def playground_run(*after: str) -> Callable[[Pilot], Awaitable[None]]:
    """Open the Playground on ticket@2, type the edit, run it, then press ``after``."""

    async def run(pilot: Pilot) -> None:
        from workbench.tui.screens.playground import CaseBlock

        await settle(pilot)
        while pilot.app.selected_prompt != ("ticket", 2):
            await pilot.pause(0.05)
        await pilot.press("7")
        screen = pilot.app.screen
        while not (screen.query("#pg-editor") and screen.workload is not None
                   and len(screen.query(CaseBlock)) == 3):
            await pilot.pause(0.05)
        area = screen.query_one("#pg-editor")
        lines = area.text.splitlines()
        row = next(i for i, line in enumerate(lines) if "Team:'" in line)
        area.move_cursor((row, lines[row].index("Team:") + len("Team:")))
        area.insert(PLAYGROUND_EDIT)
        await pilot.press("ctrl+r")
        while screen.live or screen.status in {"idle", "starting"}:
            await pilot.pause(0.05)
        await settle(pilot)
        for key in after:
            await pilot.press(key)
            await settle(pilot)

    return run


def test_playground_after_a_run(snap_compare, playground: Path) -> None:
    assert snap_compare(app_for(playground, None), terminal_size=SIZE,
                        run_before=playground_run())


def test_playground_after_a_run_light_theme(snap_compare, playground: Path) -> None:
    assert snap_compare(app_for(playground, None), terminal_size=SIZE,
                        run_before=playground_run("ctrl+t"))
