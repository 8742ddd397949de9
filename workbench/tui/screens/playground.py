"""Playground: edit a draft of a prompt and see, in seconds, how much its answers vary.

The draft's YAML sits beside its output: ``ctrl+r`` runs it, without saving a version, on
the picked cases (``f2``: a few cases of a suite that uses the prompt, or typed vars; the
models; N), and every case fills in as its calls finish — the N outputs side by side with
the words that differ highlighted, the answers counted, modal share, parse rate, passes —
next to the same cases on the version the draft came from, with the paired difference once
both have finished a case. ``ctrl+s`` saves the draft as the next version and attaches the
runs made with that exact text to it.

Everything is a call into :mod:`workbench.playground`: the draft is autosaved there, the run
is a real run in the store (cells reused by what determines them), and :class:`Board` turns
the cells into what is drawn. Runs happen on a thread with their own event loop, as on the
Run screen, and ``escape`` stops them the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static, TextArea

from workbench.errors import InputError
from workbench.playground import session
from workbench.playground.board import Board
from workbench.playground.draft import Draft, DraftBook
from workbench.playground.picks import Picks, Workload, default_picks, describe, resolve
from workbench.tui.render import GOOD, MUTED, POOR, inert
from workbench.tui.run_control import RunControl
from workbench.tui.screens.base import SectionScreen
from workbench.tui.state import RunStarted
from workbench.tui.widgets.draft_outputs import case_block, case_title, comparison_text
from workbench.tui.widgets.yaml_view import YamlArea

if TYPE_CHECKING:
    from workbench.playground.session import DraftRun, Saved
    from workbench.prompts.version import PromptVersion
    from workbench.store.records import CellRecord

AUTOSAVE_AFTER = 0.5  # seconds without typing before the draft is written


class CaseBlock(Static):
    """One case on one model: redrawn whenever one of its cells arrives."""

    def __init__(self, case_id: str, model: str) -> None:
        super().__init__(classes="pg-case")
        self.case_id = case_id
        self.model = model




class PlaygroundScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("playground.tcss")
    SECTION = "playground"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "run", "Run draft", priority=True),
        Binding("e", "edit", "Edit draft"),
        Binding("escape", "stop", "Stop run", priority=True),
        Binding("ctrl+s", "save", "Save as version", priority=True),
        Binding("f2", "picks", "Cases·models·N"),
        Binding("f3", "revert", "Revert draft"),
    ]

    # What the workers report.

    @dataclass
    class Opened(Message):
        """A version to edit: its draft, the picks and what they resolve to (or why not)."""

        parent: PromptVersion
        draft: Draft
        picks: Picks
        workload: Workload | None
        problem: InputError | None

    @dataclass
    class Resolved(Message):
        picks: Picks
        workload: Workload | None
        problem: InputError | None

    @dataclass
    class WarmedUp(Message):
        seconds: float | None

    @dataclass
    class Started(Message):
        draft_run: DraftRun
        stored: list[CellRecord]

    @dataclass
    class CellDone(Message):
        cell: CellRecord

    @dataclass
    class Ended(Message):
        status: str

    @dataclass
    class Refused(Message):
        """Nothing ran (or nothing could be opened), and why."""

        error: InputError
        heading: str = "The draft did not run:"

    def __init__(self) -> None:
        super().__init__()
        self.origin: PromptVersion | None = None
        self.draft: Draft | None = None
        self.picks: Picks | None = None
        self.workload: Workload | None = None
        self.board: Board | None = None
        self.draft_run: DraftRun | None = None
        self.control: RunControl | None = None
        self.live = False
        self.status = "idle"  # idle, starting, running, finished, interrupted, refused, …
        self.cells_seen = 0
        self.saved: Saved | None = None
        self._autosave = None
        self._revert_armed = False

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="pg-body"):
            with Vertical(id="pg-draft-pane", classes="pane"):
                yield Static(id="pg-title")
                yield Vertical(id="pg-editor-box")
                yield Static(id="pg-problems", classes="problems")
            with Vertical(id="pg-out-pane", classes="pane"):
                yield Static(id="pg-setup")
                yield Static(id="pg-status")
                yield Static(id="pg-compare")
                yield VerticalScroll(id="pg-cases")

    @property
    def book(self) -> DraftBook:
        return DraftBook(self.app.project.root)

    def on_mount(self) -> None:
        self.query_one("#pg-title", Static).update(Text("Opening…", style=MUTED))
        self.query_one("#pg-cases").focus()
        self.open(self.app.selected_prompt)

    def on_screen_resume(self) -> None:
        wanted = self.app.selected_prompt
        if wanted and self.origin is not None and not self.live \
                and wanted != (self.origin.name, self.origin.version):
            self.autosave()  # the edit typed just before leaving, before the draft changes
            self.open(wanted)

    # -- opening a version -----------------------------------------------------------

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def open(self, wanted: tuple[str, int] | None) -> None:
        """Load the version, its autosaved draft (else its text) and the picks, resolved."""
        project = self.app.project
        library = project.library
        if wanted is None:
            names = library.names()
            if not names:
                self.post_message(self.Refused(InputError(
                    "no prompts yet: create prompts/<name>/v1.yaml first"), "Nothing to edit:"))
                return
            wanted = (names[0], library.versions(names[0])[-1])
        name, version = wanted
        try:
            parent = library.load(name, version)
        except InputError as exc:
            self.post_message(self.Refused(exc, f"{name}@{version} cannot be opened:"))
            return
        book = DraftBook(project.root)
        draft = book.load(name, version) or Draft(name, version, parent.text)
        saved = book.load_picks(name)
        picks = Picks.from_dict(saved) if saved is not None else default_picks(
            project.root, library, name)
        workload, problem = self._resolve(parent, picks)
        self.post_message(self.Opened(parent, draft, picks, workload, problem))
        if workload is not None:
            self.post_message(self.WarmedUp(session.warm_up(workload.models)))

    def _resolve(self, parent: PromptVersion, picks: Picks
                 ) -> tuple[Workload | None, InputError | None]:
        try:
            return resolve(self.app.project.root, self.app.project.library, parent,
                           picks), None
        except InputError as exc:
            return None, exc

    def on_playground_screen_opened(self, message: Opened) -> None:
        self.origin, self.draft, self.picks = message.parent, message.draft, message.picks
        self.saved = None
        self.board = None
        self.draft_run = None
        self.status = "idle"
        box = self.query_one("#pg-editor-box")
        found = box.query(YamlArea)
        if found:
            area = found.first()
            with area.prevent(TextArea.Changed):
                area.load_text(message.draft.text)
        else:
            area = YamlArea(message.draft.text, read_only=False, id="pg-editor")
            area.soft_wrap = True  # a half-width pane: long template lines wrap
            box.mount(area)
        self._title()
        self._show_workload(message.workload, message.problem)

    def action_edit(self) -> None:
        """Into the editor (which then keeps every key but the screen's ctrl and f keys;
        escape comes back out). The screen opens outside it, so number keys switch."""
        found = self.query("#pg-editor")
        if found:
            found.first().focus()

    def on_playground_screen_resolved(self, message: Resolved) -> None:
        self.picks = message.picks
        self._show_workload(message.workload, message.problem)

    def on_playground_screen_warmed_up(self, message: WarmedUp) -> None:
        if message.seconds is not None and not self.live:
            self.notify(f"embedded model loaded in {message.seconds:.2f} s", timeout=3)

    def _show_workload(self, workload: Workload | None, problem: InputError | None) -> None:
        self.workload = workload
        setup = self.query_one("#pg-setup", Static)
        if workload is None:
            text = Text("These picks cannot run (f2 changes them):\n", style=f"bold {POOR}")
            for p in problem.problems if problem else []:
                text.append_text(inert(f"• {p}\n"))
            setup.update(text)
        else:
            text = inert(describe(workload, self.picks))
            text.append("   f2: change", style=MUTED)
            setup.update(text)
        self._draw_cases()
        self._status()

    # -- the draft -------------------------------------------------------------------

    @on(TextArea.Changed, "#pg-editor")
    def _edited(self, event: TextArea.Changed) -> None:
        if self.draft is None:
            return
        self._sync_draft()
        self._revert_armed = False
        self._title()
        if self._autosave is not None:
            self._autosave.stop()
        self._autosave = self.set_timer(AUTOSAVE_AFTER, self.autosave)

    def _sync_draft(self) -> None:
        """The draft is what the editor holds now (a key may be pressed before the editor's
        Changed message has arrived)."""
        found = self.query("#pg-editor")
        if self.draft is not None and found:
            text = found.first(YamlArea).text
            if text != self.draft.text:
                self.draft = Draft(self.draft.name, self.draft.parent, text)

    def autosave(self) -> None:
        """Keep the draft in .workbench/drafts/ (none when it is the saved text)."""
        self._sync_draft()
        draft, parent = self.draft, self.origin
        if draft is None or parent is None:
            return
        if draft.hash == parent.hash:
            self.book.discard(draft.name, draft.parent)
        else:
            self.book.save(draft)

    def _title(self) -> None:
        draft, parent = self.draft, self.origin
        if draft is None or parent is None:
            return
        out = inert(parent.ref, style="bold")
        if self.saved is not None and self.saved.version.hash == draft.hash:
            out.append("  saved from the draft just now", style=f"bold {GOOD}")
        elif draft.hash == parent.hash:
            out.append("  no edits: the draft is its text", style=MUTED)
        else:
            out.append(" → draft", style="bold")
            out.append(f"  autosaved in {self.book.path(draft.name, draft.parent).name}",
                       style=MUTED)
        self.query_one("#pg-title", Static).update(out)

    def _problems(self, error: InputError | None, heading: str = "") -> None:
        widget = self.query_one("#pg-problems", Static)
        if error is None:
            widget.remove_class("shown")
            return
        out = Text(heading + "\n", style=f"bold {POOR}") if heading else Text()
        for problem in error.problems:
            out.append_text(inert(f"• {problem}\n"))
        widget.update(out)
        widget.add_class("shown")

    # -- running ---------------------------------------------------------------------

    def action_run(self) -> None:
        if self.live:
            self.notify("the draft is running: escape stops it", severity="warning")
            return
        if self.draft is None or self.origin is None:
            return
        if self.workload is None:
            self.notify("pick cases to run first (f2)", severity="warning")
            return
        self._sync_draft()
        self.autosave()
        self._problems(None)
        self.live = True
        self.status = "starting"
        self.cells_seen = 0
        self.control = RunControl()
        self._status()
        self._execute(self.draft, self.origin, self.workload, self.control)

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def _execute(self, draft: Draft, parent: PromptVersion, workload: Workload,
                 control: RunControl) -> None:
        project = self.app.project
        store = project.open_store()
        try:
            try:
                draft_run = session.prepare(store, project.root, draft,
                                            self.book.path(draft.name, draft.parent),
                                            parent, workload)
            except InputError as exc:
                self.post_message(self.Refused(exc))
                return
            stored = list(store.cells(draft_run.run_id)) if draft_run.prepared.already else []
            self.post_message(self.Started(draft_run, stored))

            async def main() -> None:
                control.task = asyncio.current_task()
                control.stop = asyncio.Event()
                if control.stopping:
                    control.stop.set()
                await session.run(store, draft_run, stop=control.stop,
                                  on_cell=lambda cell: self.post_message(self.CellDone(cell)))

            with asyncio.Runner() as runner:
                control.loop = runner.get_loop()
                with contextlib.suppress(asyncio.CancelledError):
                    runner.run(main())
            self.post_message(self.Ended(session.close(store, draft_run)))
        except Exception as exc:  # a bug or a store failure: show it, never hide it
            self.post_message(self.Ended(f"failed: {type(exc).__name__}: {exc}"))
            raise
        finally:
            store.close()

    def on_playground_screen_refused(self, message: Refused) -> None:
        self.live = False
        self.status = "refused"
        self._problems(message.error, message.heading)
        self._status()

    def on_playground_screen_started(self, message: Started) -> None:
        run = message.draft_run
        self.draft_run = run
        self.status = "running"
        self.board = Board(run.plan, run.draft_ref, run.parent_ref)
        for cell in message.stored:
            self.board.add(cell)
        self.post_message(RunStarted(run.run_id))
        self._draw_cases()
        self._status()

    def on_playground_screen_cell_done(self, message: CellDone) -> None:
        if self.board is None:
            return
        cell = message.cell
        self.cells_seen += 1
        self.board.add(cell)
        self._draw_case(cell.case_id, cell.model)
        self._status()

    def on_playground_screen_ended(self, message: Ended) -> None:
        self.live = False
        self.control = None
        self.status = message.status
        self._status()

    def action_stop(self) -> None:
        """Stop the run (again: at once); with nothing running, move out of the editor (which
        keeps every other key, number keys included) or back in."""
        if not self.live or self.control is None:
            editor = self.query("#pg-editor")
            if editor and editor.first().has_focus:
                self.query_one("#pg-cases").focus()
            elif editor:
                editor.first().focus()
            return
        if self.control.stopping:
            self.control.cancel_now()
        else:
            self.control.request_stop()
        self._status()

    def on_unmount(self) -> None:
        if self.control is not None:
            self.control.cancel_now()
        if self._autosave is not None:
            self.autosave()

    # -- drawing ---------------------------------------------------------------------

    def _draw_cases(self) -> None:
        """One block per case × model, redrawn from the board (empty slots until then)."""
        workload = self.workload
        wanted = [(c.id, m.name) for c in workload.cases for m in workload.models] \
            if workload is not None else []
        blocks = list(self.query(CaseBlock))
        if [(b.case_id, b.model) for b in blocks] != wanted:
            self._rebuild(wanted)
            return
        for block in blocks:
            self._render_block(block)
        self._compare()

    @work(exclusive=True, group="draw")
    async def _rebuild(self, wanted: list[tuple[str, str]]) -> None:
        box = self.query_one("#pg-cases", VerticalScroll)
        await box.remove_children()
        blocks = [CaseBlock(case_id, model) for case_id, model in wanted]
        await box.mount_all(blocks)
        for block in blocks:
            self._render_block(block)
        self._compare()

    def _draw_case(self, case_id: str, model: str) -> None:
        for block in self.query(CaseBlock):
            if (block.case_id, block.model) == (case_id, model):
                self._render_block(block)
        self._compare()

    def _render_block(self, block: CaseBlock) -> None:
        board = self.board
        cases = board.plan.cases if board is not None else (
            self.workload.cases if self.workload is not None else [])
        plan_case = next((c for c in cases if c.id == block.case_id), None)
        if plan_case is None:
            return
        multi = len({b.model for b in self.query(CaseBlock)}) > 1
        model = block.model if multi else None
        if board is None or block.model not in board.models:
            out = case_title(plan_case, model)
            out.append("\nctrl+r runs the draft on this case", style=MUTED)
            block.update(out)
            return
        draft = board.outputs(board.draft, block.model, plan_case)
        parent = board.outputs(board.parent, block.model, plan_case) if board.parent else None
        block.update(case_block(plan_case, draft, parent, parent_label=board.parent or "",
                                model=model))

    def _compare(self) -> None:
        widget = self.query_one("#pg-compare", Static)
        board = self.board
        widget.set_class(board is not None and board.parent is not None, "shown")
        if board is None or board.parent is None:
            widget.update("")
            return
        lines = [comparison_text(board.comparison(model), board.parent, len(board.plan.cases),
                                 model if len(board.models) > 1 else None)
                 for model in board.models]
        widget.update(Text("\n").join(lines))

    def _status(self) -> None:
        widget = self.query_one("#pg-status", Static)
        board = self.board
        out = Text()
        if self.status == "idle" or board is None:
            if self.status == "starting":
                out.append("Starting…", style=MUTED)
            elif self.status == "refused":
                out.append("Not run: see the problems under the draft", style=POOR)
            else:
                out.append("ctrl+r runs the draft (not saved as a version) beside "
                           f"{self.origin.ref if self.origin else 'its version'}", style=MUTED)
            widget.update(out)
            return
        run = self.draft_run
        style = {"running": "bold", "finished": f"bold {GOOD}"}.get(self.status,
                                                                      f"bold {POOR}")
        label = "stopping (escape again stops now)" if self.live and self.control \
            and self.control.stopping else self.status
        out.append(label, style=style)
        out.append(f"  {board.done}/{board.total} cells", style="bold")
        if run is not None and run.reused:
            out.append(f" · {run.reused} reused", style=MUTED)
        if run is not None and run.resumed and run.prepared.already:
            out.append(f" · {run.prepared.already} from the last try", style=MUTED)
        errors = sum(c.status == "error" for c in board.cells.values())
        if errors:
            out.append(f" · {errors} errors", style=POOR)
        widget.update(out)

    # -- picks -----------------------------------------------------------------------

    def action_picks(self) -> None:
        if self.origin is None or self.picks is None:
            return
        from workbench.tui.screens.playground_picks import PicksScreen

        parent = self.origin

        def chosen(picks: Picks | None) -> None:
            if picks is not None:
                self.book.save_picks(parent.name, picks.to_dict())
                self.re_resolve(parent, picks)

        self.app.push_screen(PicksScreen(parent, self.picks), chosen)

    @work(thread=True, exclusive=True, group="resolve", exit_on_error=False)
    def re_resolve(self, parent: PromptVersion, picks: Picks) -> None:
        workload, problem = self._resolve(parent, picks)
        self.post_message(self.Resolved(picks, workload, problem))
        if workload is not None:
            self.post_message(self.WarmedUp(session.warm_up(workload.models)))

    # -- saving and reverting --------------------------------------------------------

    def action_save(self) -> None:
        self._sync_draft()
        draft, parent = self.draft, self.origin
        if draft is None or parent is None:
            return
        if self.live:
            self.notify("the draft is running: stop it (escape) before saving",
                        severity="warning")
            return
        from workbench.store.database import existing_store

        try:
            with existing_store(self.app.project.db_path) as store:
                saved = session.save(self.app.project.library, store, draft)
        except InputError as exc:
            self._problems(exc, "Not saved:")
            return
        self._problems(None)
        self.book.discard(draft.name, draft.parent)
        self.saved = saved
        message = f"saved {saved.version.ref}"
        if saved.attached:
            n = len(saved.attached)
            message += f"; {n} playground run{'s' * (n != 1)} of this text now count for it"
        else:
            message += "; this text was never run here, so no run is attached to it"
        if saved.left:
            message += (f" ({saved.left} run{'s' * (saved.left != 1)} of other texts of the "
                        "draft stay draft runs)")
        self.notify(message, title="New version", timeout=8)
        # Go on from the new version: the draft is its text until the next edit.
        self.origin = saved.version
        self.draft = Draft(saved.version.name, saved.version.version, draft.text)
        from workbench.tui.state import PromptSelected

        self.post_message(PromptSelected(saved.version.name, saved.version.version))
        self._title()
        if self.board is not None and self.board.parent is not None and saved.attached:
            self._relabel(saved)

    def _relabel(self, saved: Saved) -> None:
        """The run on screen is now a run of the saved version: say so where it is drawn."""
        self.query_one("#pg-status", Static).update(Text.assemble(
            (f"{self.status}", f"bold {GOOD}" if self.status == "finished" else "bold"),
            (f"  this run now counts for {saved.version.ref} (Results: 4)", MUTED)))

    def action_revert(self) -> None:
        draft, parent = self.draft, self.origin
        if draft is None or parent is None or draft.hash == parent.hash:
            return
        if not self._revert_armed:
            self._revert_armed = True
            self.notify("f3 again replaces the draft with the saved text of "
                        f"{parent.ref}", severity="warning")
            return
        self._revert_armed = False
        self.query_one("#pg-editor", YamlArea).load_text(parent.text)
