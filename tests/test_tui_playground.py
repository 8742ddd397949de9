"""The Playground driven by Pilot: edit a draft, run it, read its variance beside its parent,
save it, and find its runs under the new version — over the real engine, store and fake
server (and once on the embedded model).

The cases script the fake server: "charge" always answers billing, "parcel" alternates
shipping and account (so ticket@2 is flaky there), "crash" answers technical. The edit typed
below pins parcel to shipping, so the draft is stable where its parent is not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, SelectionList, Static

from workbench.escalation.history import load_history
from workbench.store.database import Store
from workbench.testing.fakeserver import FakeServer
from workbench.testing.projects import KEY_ENV, make_project
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.playground import CaseBlock, PlaygroundScreen
from workbench.tui.screens.playground_picks import PicksScreen
from workbench.tui.widgets.yaml_view import YamlArea

SIZE = (120, 40)
CASES = [("charge", "[[reply:billing]] charged twice", "billing"),
         ("parcel", "[[replies:shipping|account]] parcel late", "shipping"),
         ("crash", "[[reply:technical]] app crashes", "technical")]
EDIT = ' {% if "parcel" in ticket %} [[reply:shipping]]{% endif %}'


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key")


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 30.0,
                   what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def text_of(widget: Static) -> str:
    content = widget.content
    return getattr(content, "plain", str(content))


def block_text(block: CaseBlock) -> str:
    """A case block as plain text, as it is drawn at the screen's width."""
    console = block.app.console
    lines = console.render_lines(block.content, console.options.update_width(70))
    return "\n".join("".join(seg.text for seg in line) for line in lines)


def scripted(tmp_path: Path, base_url: str, **extra) -> Path:
    return make_project(tmp_path, api_base=base_url, reruns=4, cases=CASES,
                        suite_extra={"concurrency": 1, **extra})


async def open_playground(pilot: Pilot) -> PlaygroundScreen:
    """From Prompts (ticket@2 selected once the list is read), open the Playground."""
    app = pilot.app
    await wait_for(pilot, lambda: app.selected_prompt == ("ticket", 2), what="prompt list")
    await pilot.press("7")
    screen = app.screen
    assert isinstance(screen, PlaygroundScreen)
    await wait_for(pilot, lambda: bool(screen.query("#pg-editor")) and screen.workload
                   is not None and len(screen.query(CaseBlock)) == 3, what="playground")
    return screen


async def type_edit(pilot: Pilot, screen: PlaygroundScreen, edit: str = EDIT) -> None:
    """Into the editor (``e``), the cursor after the user message's ``Team:``, type ``edit``."""
    await pilot.press("e")
    area = screen.query_one("#pg-editor", YamlArea)
    assert area.has_focus
    lines = area.text.splitlines()
    row = next(i for i, line in enumerate(lines) if "Team:'" in line)
    area.move_cursor((row, lines[row].index("Team:") + len("Team:")))
    await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in edit])


async def run_draft(pilot: Pilot, screen: PlaygroundScreen, timeout: float = 30) -> None:
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: not screen.live and screen.status not in {"idle", "starting"},
                   timeout=timeout, what="the draft's run")


def block(screen: PlaygroundScreen, case_id: str) -> str:
    return next(block_text(b) for b in screen.query(CaseBlock) if b.case_id == case_id)


# --------------------------------------------------------------------------- the loop


async def test_edit_run_compare_save_and_the_runs_count_for_the_new_version(
        tmp_path: Path, fake_server: FakeServer) -> None:
    project = scripted(tmp_path, fake_server.base_url)
    db = project / ".workbench/workbench.db"
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground(pilot)
        assert "ticket@2" in text_of(screen.query_one("#pg-title", Static))
        setup = text_of(screen.query_one("#pg-setup", Static))
        assert "3 cases of tickets" in setup and "openai/fake" in setup and "N=4" in setup
        assert "ctrl+r runs the draft on this case" in block(screen, "parcel")
        # The command palette offers the section and the playground's own actions.
        titles = {c.title for c in app.get_system_commands(screen)}
        assert {"Go to Playground", "Run draft", "Save as version", "Cases·models·N",
                "Edit draft", "Stop run", "Revert draft"} <= titles

        # 1. edit: the draft is autosaved outside prompts/, no version is written
        await type_edit(pilot, screen)
        draft_file = project / ".workbench/drafts/ticket@2.yaml"
        await wait_for(pilot, lambda: draft_file.exists() and EDIT in draft_file.read_text(),
                       what="autosave")
        assert "→ draft" in text_of(screen.query_one("#pg-title", Static))
        assert sorted(p.name for p in (project / "prompts/ticket").glob("v*.yaml")) == [
            "v1.yaml", "v2.yaml"]

        # 2. run it: every case fills in, the draft beside ticket@2
        await run_draft(pilot, screen)
        assert screen.status == "finished"
        assert fake_server.stats()["total"] == 3 * 4 * 2
        status = text_of(screen.query_one("#pg-status", Static))
        assert "24/24 cells" in status
        parcel = block(screen, "parcel")
        assert "draft 4/4 passed · shipping×4 · modal 1.00 · parsed 100%" in parcel
        assert "ticket@2 2/4 passed · shipping×2 account×2 · modal 0.50" in parcel
        assert parcel.count("✗ account") == 2 and parcel.count("✓ shipping") == 6
        assert "draft 4/4 passed · billing×4 · modal 1.00" in block(screen, "charge")
        compare = text_of(screen.query_one("#pg-compare", Static))
        assert compare.splitlines() == [
            "draft vs ticket@2, paired over 3 of 3 cases:",
            "  pass rate   +0.17 [-0.55, +0.88]   no detectable difference",
            "  modal share +0.17 [-0.55, +0.88]   no detectable difference"]
        run_id = screen.draft_run.run_id
        assert app.current_run == run_id  # Results and Charts open on it
        with Store(db) as store:
            assert store.run(run_id).is_draft

        # 3. run it again: nothing is called, the same run is shown
        await run_draft(pilot, screen)
        assert screen.draft_run.run_id == run_id and fake_server.stats()["total"] == 24
        assert "24/24 cells" in text_of(screen.query_one("#pg-status", Static))

        # 4. save: the next version, and the run now counts for it
        await pilot.press("ctrl+s")
        v3 = project / "prompts/ticket/v3.yaml"
        await wait_for(pilot, lambda: v3.exists(), what="v3")
        assert EDIT in v3.read_text() and not draft_file.exists()
        assert "now counts for ticket@3" in text_of(screen.query_one("#pg-status", Static))
        assert screen.origin.ref == "ticket@3"
        with Store(db) as store:
            info = store.run(run_id)
            assert info.attached_version == 3 and not info.is_draft
            assert {c.variant for c in store.cells(run_id)} == {"ticket@2", "ticket@3"}
            history = load_history(store, "tickets")
        assert [p.ref for p in history.points] == ["ticket@2", "ticket@3"]

        # 5. the run appears under the new version on Results, and ticket@3 on Prompts
        await pilot.press("escape")  # out of the editor, so number keys switch sections
        await pilot.press("4")
        results = app.screen
        await wait_for(pilot, lambda: getattr(results, "results", None) is not None,
                       what="results")
        assert results.results.run.id == run_id
        groups = [row[0] for row in [[getattr(c, "plain", str(c)) for c in
                                      results.query_one("#group-table", DataTable)
                                      .get_row_at(i)] for i in range(2)]]
        assert groups == ["ticket@2 · openai/fake", "ticket@3 · openai/fake"]
        await pilot.press("1")
        prompts = app.screen
        await wait_for(pilot, lambda: prompts.selected is not None
                       and prompts.selected.version == 3, what="v3 on Prompts")


async def test_stop_midway_then_run_again_fills_only_what_is_missing(
        tmp_path: Path, fake_server: FakeServer) -> None:
    fake_server.configure(latency=0.15)
    project = scripted(tmp_path, fake_server.base_url)
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground(pilot)
        await type_edit(pilot, screen)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.cells_seen >= 3, what="first cells")
        await pilot.press("escape")  # stop after the call in flight
        await wait_for(pilot, lambda: not screen.live, what="stopped")
        assert screen.status == "interrupted"
        done = screen.board.done
        assert 3 <= done < 24
        run_id = screen.draft_run.run_id
        calls = fake_server.stats()["total"]
        fake_server.configure(latency=0.0)
        await run_draft(pilot, screen)
        assert screen.status == "finished" and screen.draft_run.run_id == run_id
        assert fake_server.stats()["total"] == calls + (24 - done)
        assert f"{done} from the last try" in text_of(screen.query_one("#pg-status", Static))
        # A bigger N reuses all 24 cells and calls only for the new reruns.
        screen.picks.reruns = 5
        screen.re_resolve(screen.origin, screen.picks)
        await wait_for(pilot, lambda: screen.workload.reruns == 5, what="N=5")
        await run_draft(pilot, screen)
        assert screen.draft_run.reused == 24 and screen.draft_run.run_id != run_id
        assert fake_server.stats()["total"] == calls + (24 - done) + 6
        assert "24 reused" in text_of(screen.query_one("#pg-status", Static))


async def test_the_draft_and_picks_survive_a_restart(tmp_path: Path,
                                                     fake_server: FakeServer) -> None:
    project = scripted(tmp_path, fake_server.base_url)
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground(pilot)
        await type_edit(pilot, screen)
        # f2: only parcel, plus a typed case, on N=2
        await pilot.press("escape")  # leave the editor
        await pilot.press("f2")
        picks = app.screen
        assert isinstance(picks, PicksScreen)
        await wait_for(pilot, lambda: picks.query_one("#picks-cases", SelectionList)
                       .option_count == 3, what="cases")
        cases = picks.query_one("#picks-cases", SelectionList)
        cases.deselect("charge")
        cases.deselect("crash")
        typed = picks.query_one("#picks-typed-input", Input)
        typed.focus()
        await pilot.press(*"ticket: refund", "enter")
        await wait_for(pilot, lambda: picks.query_one("#picks-typed", SelectionList)
                       .option_count == 1, what="typed case")
        n = picks.query_one("#picks-n", Input)
        n.value = "2"
        n.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen and screen.workload is not None
                       and screen.workload.reruns == 2, what="new picks")
        assert [c.id for c in screen.workload.cases] == ["parcel", "vars-1"]
        await wait_for(pilot, lambda: len(screen.query(CaseBlock)) == 2, what="two blocks")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.status == "finished", what="run")
        assert "vars-1" in block(screen, "vars-1")
    # A new session on the same project: the draft and the picks are back.
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground_with(pilot, blocks=2)
        assert EDIT in screen.query_one("#pg-editor", YamlArea).text
        assert screen.picks.reruns == 2 and screen.picks.typed == [{"ticket": "refund"}]
        assert "→ draft" in text_of(screen.query_one("#pg-title", Static))
        # f3 twice: back to the saved text, and the draft file goes.
        await pilot.press("escape", "f3", "f3")
        draft_file = project / ".workbench/drafts/ticket@2.yaml"
        await wait_for(pilot, lambda: not draft_file.exists(), what="draft discarded")
        assert EDIT not in screen.query_one("#pg-editor", YamlArea).text


async def open_playground_with(pilot: Pilot, blocks: int) -> PlaygroundScreen:
    app = pilot.app
    await wait_for(pilot, lambda: app.selected_prompt == ("ticket", 2), what="prompt list")
    await pilot.press("7")
    screen = app.screen
    await wait_for(pilot, lambda: bool(screen.query("#pg-editor")) and screen.workload
                   is not None and len(screen.query(CaseBlock)) == blocks, what="playground")
    return screen


async def test_a_broken_draft_is_shown_with_its_line_and_nothing_runs(
        tmp_path: Path, fake_server: FakeServer) -> None:
    project = scripted(tmp_path, fake_server.base_url)
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground(pilot)
        await type_edit(pilot, screen, " {{ language }}")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.status == "refused", what="refusal")
        problems = text_of(screen.query_one("#pg-problems", Static))
        assert "The draft did not run" in problems
        assert "case 'charge' has no var 'language', which the draft uses" in problems
        assert fake_server.stats()["total"] == 0
        # Saving is refused the same way for a text that is not a valid version.
        area = screen.query_one("#pg-editor", YamlArea)
        area.move_cursor((0, 0))
        await pilot.press(*"kind: chain", "enter")
        await pilot.press("ctrl+s")
        assert "Not saved" in text_of(screen.query_one("#pg-problems", Static))
        assert not (project / "prompts/ticket/v3.yaml").exists()


# --------------------------------------------------------------------------- embedded model


@pytest.mark.model
async def test_the_draft_runs_on_the_embedded_model(tmp_path: Path) -> None:
    cases = [("charge", "You charged my card twice.", "billing"),
             ("parcel", "My parcel is late.", "shipping")]
    project = make_project(tmp_path, reruns=2, cases=cases, suite_extra={
        "prompts": ["ticket@2"], "models": ["local/smollm2"], "params": {"max_tokens": 8},
        "concurrency": 1})
    app = WorkbenchApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.selected_prompt == ("ticket", 2), what="prompts")
        await pilot.press("7")
        screen = app.screen
        await wait_for(pilot, lambda: bool(screen.query("#pg-editor")) and screen.workload
                       is not None and len(screen.query(CaseBlock)) == 2, timeout=60,
                       what="playground")
        await type_edit(pilot, screen, " (one word)")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.cells_seen >= 1, timeout=120, what="first output")
        await wait_for(pilot, lambda: screen.status == "finished", timeout=300, what="run")
        assert screen.board.done == 2 * 2 * 2
        assert all(c.status == "ok" for c in screen.board.cells.values())
        assert "draft " in block(screen, "parcel") and "ticket@2 " in block(screen, "parcel")
