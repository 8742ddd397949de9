"""Suites hands a run to a Run screen that is already open: the screen watches the app's
pending run request, takes it (so it is no longer pending) and is shown."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.pilot import Pilot

from workbench.store.database import Store
from workbench.testing.fakeserver import FakeServer
from workbench.testing.projects import KEY_ENV, make_project
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.run import RunScreen


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key")


async def _until(pilot: Pilot, condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


async def test_run_started_from_suites_on_an_open_run_screen(
        tmp_path: Path, fake_server: FakeServer) -> None:
    project = make_project(tmp_path, api_base=fake_server.base_url, reruns=1,
                           cases=[("charge", "[[reply:billing]] charged twice", "billing")])
    app = WorkbenchApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        run = app.screen
        assert isinstance(run, RunScreen) and run.status == "idle"
        await pilot.press("2")
        await _until(pilot, lambda: app.screen.suite is not None, "suite")
        await pilot.press("r")
        assert app.screen is run
        assert app.run_request is None
        await _until(pilot, lambda: run.status == "finished", "run finished")
        with Store(project / ".workbench/workbench.db") as store:
            assert store.count_cells(run.run_id) == 2
