"""The TUI driven by Textual's Pilot: the whole prompt → run → results loop, over real parts.

Runs go through the real runner, gateway, litellm and SQLite store against the fake
OpenAI-compatible server (``fake_server``), so they are fast and deterministic; one test
(marked ``model``) runs the embedded model. Assertions are on app state: files written,
store rows, widget contents.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.command import CommandList
from textual.pilot import Pilot
from textual.widgets import DataTable, RichLog, SelectionList, Static, Tree

from workbench.store.database import Store
from workbench.testing.fakeserver import FakeServer
from workbench.testing.projects import (
    BIG_RUN_ID,
    KEY_ENV,
    RUN_ID,
    big_project,
    fill_store,
    make_project,
)
from workbench.tui.app import SECTIONS, WorkbenchApp
from workbench.tui.screens.case_detail import CaseDetailScreen
from workbench.tui.screens.diff import DiffScreen
from workbench.tui.screens.prompt_editor import PromptEditorScreen
from workbench.tui.screens.prompts import LabelScreen, PromptsScreen
from workbench.tui.screens.results import ResultsScreen
from workbench.tui.screens.run import RunScreen
from workbench.tui.widgets.yaml_view import YamlArea

SIZE = (120, 40)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key")


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 30.0,
                   what: str = "condition") -> None:
    """Let the app run until ``condition()`` holds (workers finish, messages arrive)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def text_of(static: Static) -> str:
    content = static.content
    return getattr(content, "plain", str(content))


def table_text(table: DataTable) -> list[list[str]]:
    return [[getattr(c, "plain", str(c)) for c in table.get_row_at(i)]
            for i in range(table.row_count)]


async def run_suite(pilot: Pilot, app: WorkbenchApp) -> RunScreen:
    """Open Suites, wait for the suite to load, press r; returns the Run screen."""
    await pilot.press("2")
    await wait_for(pilot, lambda: app.screen.suite is not None, what="suite")
    await pilot.press("r")
    assert isinstance(app.screen, RunScreen)
    return app.screen


def scripted_project(tmp_path: Path, base_url: str, **kw) -> Path:
    """Cases whose tickets script the fake server's replies: one stable, one flaky."""
    cases = [("charge", "[[reply:billing]] charged twice", "billing"),
             ("parcel", "[[replies:shipping|account]] parcel late", "shipping")]
    return make_project(tmp_path, api_base=base_url, reruns=2, cases=cases, **kw)


# --------------------------------------------------------------------------- start-up


def test_first_paint_does_not_import_litellm(tmp_path: Path) -> None:
    """In a fresh interpreter (other tests import litellm): mount the app, check modules."""
    project = make_project(tmp_path)
    fill_store(project)
    script = (
        "import asyncio, sys\n"
        "from workbench.tui.app import WorkbenchApp\n"
        "async def main():\n"
        "    app = WorkbenchApp(sys.argv[1])\n"
        "    async with app.run_test(size=(120, 40)) as pilot:\n"
        "        await pilot.pause()\n"
        "        await app.workers.wait_for_complete()\n"
        "        await pilot.pause()\n"
        "        screen = type(app.screen).__name__\n"
        "        print(screen, 'litellm' in sys.modules, 'openai' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(project)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["PromptsScreen", "False", "False"]


async def test_sections_keys_and_palette(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    fill_store(project)
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, PromptsScreen)
        for section in SECTIONS:
            await pilot.press(section.key)
            assert app.current_mode == section.id
        # The command palette lists every section and the current screen's actions.
        await pilot.press("1")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {f"Go to {s.title}" for s in SECTIONS} <= set(titles)
        assert {"Edit → new version", "Diff versions", "Set label"} <= set(titles)
        await pilot.press("ctrl+p")
        await pilot.pause()
        for char in "Go to Results":
            await pilot.press("space" if char == " " else char)
        await wait_for(pilot, lambda: any(c.option_count for c in app.screen.query(CommandList)),
                       what="palette hits")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "results", what="results via palette")
        # Light and dark themes both work.
        dark = app.current_theme.dark
        await pilot.press("ctrl+t")
        assert app.current_theme.dark is not dark


# --------------------------------------------------------------------------- prompts


async def test_editor_saves_next_version_and_refuses_bad_yaml(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    folder = project / "prompts" / "ticket"
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(Tree).cursor_node is not None
                       and app.screen.query_one(Tree).cursor_node.data is not None,
                       what="prompt list")
        screen = app.screen
        assert isinstance(screen, PromptsScreen)
        # The first prompt's latest version is selected and shown highlighted as YAML.
        assert screen.selected.name == "ticket" and screen.selected.version == 2
        viewer = screen.query_one("#prompt-text", YamlArea)
        assert viewer.read_only and viewer.language == "yaml"
        v2_text = (folder / "v2.yaml").read_text()
        assert viewer.text == v2_text

        # Broken YAML: the problem is shown with its line, nothing is written.
        await pilot.press("e")
        assert isinstance(app.screen, PromptEditorScreen)
        for key in ["k", "i", "n", "d", ":", "space", "[", "enter"]:
            await pilot.press(key)
        await pilot.press("ctrl+s")
        problems = app.screen.query_one("#editor-problems", Static)
        assert "Not saved" in text_of(problems) and "line" in text_of(problems)
        assert sorted(p.name for p in folder.glob("v*.yaml")) == ["v1.yaml", "v2.yaml"]
        # Escape with unsaved edits warns first; a second escape discards them.
        await pilot.press("escape")
        assert isinstance(app.screen, PromptEditorScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, PromptsScreen)

        # Typing digits in the editor types them; it does not switch sections.
        await pilot.press("e")
        for key in ["#", "space", "t", "u", "n", "e", "d", "space", "3", "enter"]:
            await pilot.press(key)
        assert app.current_mode == "prompts" and isinstance(app.screen, PromptEditorScreen)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptsScreen), what="saved")
        assert (folder / "v3.yaml").read_text().startswith("# tuned 3\n")
        assert (folder / "v2.yaml").read_text() == v2_text
        await wait_for(pilot, lambda: screen.selected is not None and screen.selected.version == 3,
                       what="v3 selected")

        # Saving the same text again is refused: identical to the latest version.
        await pilot.press("e")
        await pilot.press("ctrl+s")
        assert "identical to version 3" in text_of(app.screen.query_one("#editor-problems"))
        await pilot.press("escape")

        # Label v3 through the dialog; a bad label name is refused in the dialog.
        await pilot.press("l")
        assert isinstance(app.screen, LabelScreen)
        await pilot.press("9")
        await pilot.press("enter")
        assert isinstance(app.screen, LabelScreen)
        assert "not a valid label" in text_of(app.screen.query_one("#label-error"))
        await pilot.press("backspace", *"staging", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptsScreen), what="label set")
        assert "staging: 3" in (folder / "labels.yaml").read_text()

        # Diff v2 → v3 side by side: the added line is an insert on the right.
        await pilot.press("d")
        diff = app.screen
        assert isinstance(diff, DiffScreen)
        assert (diff.left, diff.right) == (2, 3)
        inserted = [r for r in diff.rows if r.tag == "insert"]
        assert [r.right for r in inserted] == ["# tuned 3"]
        await pilot.press("left_square_bracket")  # left side one version back: v1
        assert diff.left == 1 and any(r.tag == "replace" for r in diff.rows)
        await pilot.press("s")
        assert (diff.left, diff.right) == (3, 1)
        await pilot.press("escape")
        assert isinstance(app.screen, PromptsScreen)


# --------------------------------------------------------------------------- the loop


async def test_whole_loop_edit_run_results_case_diff(tmp_path: Path,
                                                     fake_server: FakeServer) -> None:
    project = scripted_project(tmp_path, fake_server.base_url)
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        prompts = app.screen
        await wait_for(pilot, lambda: prompts.selected is not None, what="prompt list")
        # 1. open ticket@2, edit it, save it as v3
        await pilot.press("e")
        for key in ["#", "space", "v", "3", "enter"]:
            await pilot.press(key)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: (project / "prompts/ticket/v3.yaml").exists(), what="v3")

        # 2. Suites: run ticket@2 against the new ticket@3
        await pilot.press("2")
        suites = app.screen
        await wait_for(pilot, lambda: suites.suite is not None, what="suite loaded")
        cases = table_text(suites.query_one("#case-table", DataTable))
        assert [row[0] for row in cases] == ["charge", "parcel"]
        assert cases[0][1] == "billing" and cases[0][2] == "ticket=[[reply:billing]] charged twice"
        picks = suites.query_one("#pick-prompts", SelectionList)
        assert picks.selected == ["ticket@production", "ticket@2"]
        picks.deselect("ticket@production")
        picks.select("ticket@3")
        await pilot.press("r")
        run = app.screen
        assert isinstance(run, RunScreen)
        await wait_for(pilot, lambda: run.status == "finished", what="run finished")
        run_id = run.run_id
        with Store(project / ".workbench/workbench.db") as store:
            cells = list(store.cells(run_id))
            assert store.run(run_id).status == "finished"
        assert len(cells) == 2 * 2 * 2
        assert {c.variant for c in cells} == {"ticket@2", "ticket@3"}
        live = table_text(run.query_one("#live-table", DataTable))
        assert live[0] == ["charge", "✓✓", "✓✓"]
        # Both variants send the same text for "parcel", so the server's shipping/account
        # cycle is shared between them: two passes and two failures in all.
        assert sorted(live[1][1] + live[1][2]) == ["✓", "✓", "✗", "✗"]
        assert "8/8 cells" in text_of(run.query_one("#run-stats", Static))

        # 3. results of that run
        await pilot.press("o")
        results = app.screen
        assert isinstance(results, ResultsScreen)
        await wait_for(pilot, lambda: results.results is not None, what="results")
        assert results.results.run.id == run_id
        matrix = table_text(results.query_one("#matrix", DataTable))
        rows = {row[0]: row for row in matrix}
        assert set(rows) == {"charge", "parcel"}
        assert rows["charge"][1].split() == rows["charge"][2].split() == ["2/2", "1.00"]
        parcel_passes = [int(cell.split()[0].split("/")[0]) for cell in rows["parcel"][1:3]]
        assert sum(parcel_passes) == 2
        groups = table_text(results.query_one("#group-table", DataTable))
        assert [g[0] for g in groups] == ["ticket@2 · openai/fake", "ticket@3 · openai/fake"]
        verdicts = text_of(results.query_one("#verdicts", Static))
        assert "ticket@3 · openai/fake vs ticket@2 · openai/fake (2 cases)" in verdicts

        # 4. open the parcel case: two outputs side by side, answers counted
        row = [r.case_id for r in results.shown].index("parcel")
        matrix_widget = results.query_one("#matrix", DataTable)
        matrix_widget.move_cursor(row=row, column=1)
        await pilot.press("enter")
        case = app.screen
        assert isinstance(case, CaseDetailScreen)
        await pilot.pause()
        head = text_of(case.query_one("#case-head", Static))
        assert "parcel" in head and "ticket@2" in head and "answers:" in head
        assert len(case.query(".output-col")) == 2
        assert len(case.query(".output-col.failed")) == 2 - parcel_passes[0]
        await pilot.press("right_square_bracket")
        assert "ticket@3" in text_of(case.query_one("#case-head", Static))
        await pilot.press("escape")

        # 5. the diff of the two versions that ran
        await pilot.press("1")
        tree = app.screen.query_one(Tree)
        node = next(n for n in tree.root.children[0].children if n.data.version == 3)
        tree.move_cursor(node)
        await pilot.press("d")
        diff = app.screen
        assert isinstance(diff, DiffScreen) and (diff.left, diff.right) == (2, 3)
        assert [r.right for r in diff.rows if r.tag == "insert"] == ["# v3"]


async def test_bad_picks_are_shown_and_nothing_runs(
        tmp_path: Path, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    project = scripted_project(tmp_path, fake_server.base_url)
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        suites = app.screen
        await wait_for(pilot, lambda: suites.suite is not None, what="suite")
        picks = suites.query_one("#pick-prompts", SelectionList)
        picks.deselect_all()
        await pilot.press("r")
        assert app.current_mode == "suites"
        assert "Pick at least one variant" in text_of(suites.query_one("#suite-problems"))
        # A model without its key variable: the run refuses before any cell (same check
        # as the CLI) and says which variable to set.
        picks.select_all()
        monkeypatch.delenv(KEY_ENV)
        await pilot.press("r")
        run = app.screen
        await wait_for(pilot, lambda: run.status == "refused", what="refusal")
        log = run.query_one("#run-errors", RichLog)
        assert any(KEY_ENV in line.text for line in log.lines)
        db = project / ".workbench/workbench.db"
        if db.exists():
            with Store(db) as store:
                assert store.runs() == []


async def test_broken_suite_problems_name_file_and_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(tmp_path)
    (project / "suites" / "broken.yaml").write_text(
        "name: broken\nprompts: [tickt]\ncases:\n  - id: a\n    vars: {ticket: x}\n")
    monkeypatch.chdir(project)
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("home")  # broken.yaml sorts first
        suites = app.screen
        await wait_for(pilot, lambda: "cannot run" in text_of(suites.query_one("#suite-problems")),
                       what="problems")
        text = text_of(suites.query_one("#suite-problems"))
        assert "suites/broken.yaml:2: prompts[0]: unknown prompt 'tickt'" in text
        assert "did you mean 'ticket'?" in text


# --------------------------------------------------------------------------- runs


async def test_cancel_keeps_finished_cells_and_resume_completes(
        tmp_path: Path, fake_server: FakeServer) -> None:
    fake_server.configure(latency=0.15)
    project = scripted_project(tmp_path, fake_server.base_url,
                               suite_extra={"concurrency": 1, "reruns": 4})
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        suites = app.screen
        await wait_for(pilot, lambda: suites.suite is not None, what="suite")
        await pilot.press("r")
        run = app.screen
        await wait_for(pilot, lambda: run.cells_seen >= 2, what="first cells")
        await pilot.press("c")  # stop after the cell in flight
        await wait_for(pilot, lambda: not run.live, what="stopped")
        assert run.status == "interrupted"
        db = project / ".workbench/workbench.db"
        with Store(db) as store:
            stored = store.count_cells(run.run_id)
            assert store.run(run.run_id).status == "interrupted"
        total = 2 * 2 * 4
        assert 2 <= stored < total

        # Resume it from the picker (unfinished runs only): the missing cells run.
        await pilot.press("u")
        await wait_for(pilot, lambda: bool(app.screen.query("#runs-table"))
                       and app.screen.query_one("#runs-table", DataTable).row_count > 0,
                       what="runs picker")
        picker = app.screen
        rows = table_text(picker.query_one("#runs-table", DataTable))
        assert [r[0] for r in rows] == [run.run_id]
        assert rows[0][3] == f"{stored}/{total}"
        await pilot.press("enter")
        await wait_for(pilot, lambda: run.status == "finished", what="resumed run")
        with Store(db) as store:
            assert store.count_cells(run.run_id) == total
            keys = store.done_keys(run.run_id)
        assert len(keys) == total

        # Cancelling twice stops at once, in-flight cells are dropped, finished ones kept.
        fake_server.configure(latency=2.0)
        await pilot.press("r")
        await wait_for(pilot, lambda: run.status == "running", what="second run")
        await pilot.press("c")
        await pilot.press("c")
        await wait_for(pilot, lambda: not run.live, timeout=5, what="hard stop")
        assert run.status == "interrupted"


async def test_stored_run_shown_on_run_screen(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    fill_store(project)
    app = WorkbenchApp(project)
    app.current_run = RUN_ID
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        run = app.screen
        await wait_for(pilot, lambda: run.run_id == RUN_ID, what="stored run")
        assert run.status == "finished"
        assert "60/60 cells" in text_of(run.query_one("#run-stats", Static))
        rows = table_text(run.query_one("#live-table", DataTable))
        assert rows[5] == ["wrong-address", "✓✓✓!✓", "✓✓✓✓✓"]


# --------------------------------------------------------------------------- results


async def test_results_matrix_500_cases_by_4_variants(tmp_path: Path) -> None:
    project, db = big_project(tmp_path)
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        started = time.monotonic()
        await pilot.press("4")
        screen = app.screen
        await wait_for(pilot, lambda: screen.results is not None, timeout=60, what="big run")
        loaded = time.monotonic() - started
        matrix = screen.query_one("#matrix", DataTable)
        assert screen.results.run.id == BIG_RUN_ID
        assert matrix.row_count == 500 and len(matrix.columns) == 1 + 4 + 1
        unstable = [r for r in screen.rows if r.unstable]
        # Unstable first, the flakiest first.
        assert [r.case_id for r in screen.shown[:len(unstable)]] == \
            [r.case_id for r in sorted(unstable, key=lambda r: (r.flakiness, r.order))]
        # Scroll to the end and back; the cursor follows.
        await pilot.press("end")
        await pilot.press("pagedown", "pagedown")
        await pilot.press("ctrl+end")
        assert matrix.cursor_row == 499
        await pilot.press("ctrl+home")
        assert matrix.cursor_row == 0
        # Filter by case id, then unstable only, then sort by case id.
        await pilot.press("slash")
        for char in "case-049":
            await pilot.press(char)
        await wait_for(pilot, lambda: matrix.row_count == 10, what="filter (after typing stops)")
        await pilot.press("enter")
        assert matrix.has_focus
        await pilot.press("u")
        expected = [r for r in unstable if "case-049" in r.case_id]
        assert matrix.row_count == len(expected) and 0 < len(expected) < 10
        await pilot.press("u", "s")
        assert screen.sort == "case id"
        assert [row[0] for row in table_text(matrix)] == [f"case-049{i}" for i in range(10)]
        # Opening a case of the big run works too.
        await pilot.press("enter")
        assert isinstance(app.screen, CaseDetailScreen)
        assert len(app.screen.query(".output-col")) == 5
    print(f"500×4 run loaded and drawn in {loaded:.2f} s")


async def test_model_output_is_inert(tmp_path: Path, fake_server: FakeServer) -> None:
    """Markup and escape sequences in an output are shown as text, never interpreted."""
    nasty = "[bold red]billing[/] \x1b[2J\x1b[31mred\x1b[0m \x07done"
    cases = [("nasty", nasty, "billing")]  # the fake server echoes it back
    project = make_project(tmp_path, api_base=fake_server.base_url, reruns=1, cases=cases)
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        run = await run_suite(pilot, app)
        await wait_for(pilot, lambda: run.status == "finished", what="run")
        await pilot.press("o")
        results = app.screen
        await wait_for(pilot, lambda: results.results is not None, what="results")
        await pilot.press("enter")
        case = app.screen
        await pilot.pause()
        body = case.query(".output-col Static").first()
        shown = text_of(body)
        assert "Ticket: [bold red]billing[/] red done" in shown
        assert "\x1b" not in shown and "\x07" not in shown
        assert all(not span.style or "red" not in str(span.style)
                   for span in body.content.spans)


# --------------------------------------------------------------------------- embedded model


@pytest.mark.model
async def test_embedded_model_run_keeps_ui_responsive(tmp_path: Path) -> None:
    """A small run on local/smollm2; keys pressed mid-run take effect while cells arrive."""
    tickets = [("charge", "You charged my card twice.", "billing"),
               ("parcel", "My parcel is late.", "shipping"),
               ("crash", "The app crashes on start.", "technical"),
               ("login", "I cannot log in to my account.", "account")]
    cases = [(f"{name}-{i}", f"{text} (ticket {i})", label)
             for i in range(4) for name, text, label in tickets]
    # Enough cases (about 15 s on an idle machine: the model runs a case's five reruns
    # together) that the run is still going while the keys below are pressed.
    project = make_project(tmp_path, reruns=5, cases=cases, suite_extra={
        "prompts": ["ticket@2"], "models": ["local/smollm2"], "params": {"max_tokens": 64},
        "concurrency": 1})
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        run = await run_suite(pilot, app)
        total = 16 * 5
        await wait_for(pilot, lambda: run.cells_seen >= 1, timeout=120, what="first cell")
        # Mid-run: switch sections and move the cursor; each key takes effect at once.
        await pilot.press("1")
        assert app.current_mode == "prompts"
        await pilot.press("3")
        assert app.current_mode == "run"
        await pilot.press("down")
        assert run.query_one("#live-table", DataTable).cursor_row == 1
        seen = run.cells_seen
        assert run.live and seen < total, "the keys were handled while cells still arrived"
        await wait_for(pilot, lambda: run.status == "finished", timeout=180, what="model run")
        assert run.cells_seen == total > seen
        with Store(project / ".workbench/workbench.db") as store:
            cells = list(store.cells(run.run_id))
        assert len(cells) == total and all(c.status == "ok" for c in cells)
