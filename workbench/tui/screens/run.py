"""Run: start or resume a run in a worker thread and watch its cells fill in.

The run goes through the same library calls as ``workbench run`` (:mod:`workbench.engine.session`):
same validation, same checks, same store, one commit per cell. It runs on its own thread
with its own event loop and SQLite connection and reports back with messages, so the UI
keeps responding; litellm is first imported there, when the first call is made.
Cancelling (``c``) lets the cells in flight finish; ``c`` again stops at once. Either way
every finished cell is kept and the run can be resumed (``u``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, ProgressBar, RichLog, Static
from textual.widgets.data_table import CellDoesNotExist

from workbench.errors import InputError
from workbench.tui.render import GOOD, MUTED, POOR, inert, rerun_glyph
from workbench.tui.run_control import RunControl
from workbench.tui.screens.base import SectionScreen
from workbench.tui.state import RunFinished, RunRequest, RunRequestTaken, RunSelected, RunStarted

if TYPE_CHECKING:
    from workbench.engine.plan import Plan
    from workbench.engine.progress import Progress
    from workbench.engine.session import PreparedRun
    from workbench.store.records import CellRecord, RunInfo




class RunScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("run.tcss")
    SECTION = "run"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "start", "Run selected suite"),
        Binding("u", "resume", "Resume a run"),
        Binding("c", "cancel", "Cancel run"),
        Binding("o", "open_results", "Open results"),
    ]

    # What the run's thread reports to the screen.

    @dataclass
    class Started(Message):
        """The run is recorded; ``stored``: its cells stored before (a resume)."""

        prepared: PreparedRun
        stored: list[CellRecord]

    @dataclass
    class CellDone(Message):
        cell: CellRecord

    @dataclass
    class Ended(Message):
        run_id: str | None  # None: it failed before the run was recorded
        status: str  # finished, interrupted, or "failed: …"

    @dataclass
    class Refused(Message):
        """The run did not start: the suite, a pick or a key is wrong."""

        error: InputError

    @dataclass
    class Shown(Message):
        """A stored run loaded for viewing (not running)."""

        info: RunInfo
        plan: Plan
        stored: list[CellRecord]

    def __init__(self) -> None:
        super().__init__()
        self.control: RunControl | None = None
        self.run_id: str | None = None
        self.suite_name = ""
        self.status = "idle"
        self.progress: Progress | None = None  # while a run is shown
        self.live = False
        self.cells_seen = 0  # cells that arrived during the current live run
        self._groups: dict[tuple[str, str], str] = {}
        self._glyphs: dict[tuple[str, str], list[Text]] = {}
        self._reruns = 0

    def compose_body(self) -> ComposeResult:
        yield Static(id="run-head")
        yield ProgressBar(id="run-progress", show_eta=False)
        yield Static(id="run-stats")
        yield DataTable(id="live-table", cursor_type="row", zebra_stripes=True)
        log = RichLog(id="run-errors", wrap=True, markup=False, max_lines=2000)
        log.border_title = "errors"
        yield log

    def on_mount(self) -> None:
        # Rates decay while a slow call is in flight, so they are redrawn every second.
        self._rates = self.set_interval(1.0, self._stats, pause=True)
        self.query_one("#live-table", DataTable).focus()
        self._head()
        # A run asked for on Suites: one already pending now, and any asked for later.
        self.watch(self.app, "run_request", self._take_request)
        if not self.live:
            self.show_stored(self.app.current_run)

    # -- starting ----------------------------------------------------------------------

    def _take_request(self, request: RunRequest | None) -> None:
        if request is not None:
            self.post_message(RunRequestTaken(request))
            self.begin(request)

    def begin(self, request: RunRequest) -> None:
        if self.live:
            self.notify("a run is in progress; cancel it first (c)", severity="warning")
            return
        self.live = True
        self.status = "starting"
        self.cells_seen = 0
        self.query_one("#run-errors", RichLog).clear()
        self._head()
        self.control = RunControl()
        self._execute(request, self.control)

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def _execute(self, request: RunRequest, control: RunControl) -> None:
        from workbench.engine.session import close_run, execute, resume_run, start_run

        store = self.app.project.open_store()
        run_id = None
        try:
            try:
                if request.resume:
                    prepared = resume_run(store, request.resume)
                else:
                    prepared = start_run(store, request.suite, prompts=request.prompts,
                                             models=request.models, reruns=request.reruns)
            except InputError as exc:
                self.post_message(self.Refused(exc))
                return
            run_id = prepared.run_id
            stored = list(store.cells(run_id)) if prepared.already else []
            self.post_message(self.Started(prepared, stored))

            async def main() -> None:
                control.task = asyncio.current_task()
                control.stop = asyncio.Event()
                if control.stopping:  # cancelled while the run was being prepared
                    control.stop.set()
                await execute(store, prepared, stop=control.stop,
                              on_cell=lambda cell: self.post_message(self.CellDone(cell)))

            # asyncio.Runner, like asyncio.run in the CLI, also winds down what litellm
            # leaves on the loop (its logging worker) when the run ends or is cancelled.
            with asyncio.Runner() as runner:
                control.loop = runner.get_loop()
                with contextlib.suppress(asyncio.CancelledError):
                    runner.run(main())
            self.post_message(self.Ended(run_id, close_run(store, prepared)))
        except Exception as exc:  # a bug or a store failure: show it, never hide it
            self.post_message(self.Ended(run_id, f"failed: {type(exc).__name__}: {exc}"))
            raise
        finally:
            store.close()

    # -- showing -----------------------------------------------------------------------

    def on_run_screen_refused(self, message: Refused) -> None:
        self.live = False
        self.status = "refused"
        self._head()
        log = self.query_one("#run-errors", RichLog)
        log.write(Text("The run did not start:", style=f"bold {POOR}"))
        for problem in message.error.problems:
            log.write(inert(f"  {problem}"))

    def on_run_screen_started(self, message: Started) -> None:
        prepared = message.prepared
        self.run_id = prepared.run_id
        self.post_message(RunStarted(prepared.run_id))
        self.suite_name = prepared.plan.suite
        self.status = "running"
        self._show_plan(prepared.plan, message.stored)
        self._rates.resume()

    def on_run_screen_cell_done(self, message: CellDone) -> None:
        cell = message.cell
        self.cells_seen += 1
        if self.progress is not None:
            self.progress.add(cell)
        self._place(cell)
        if cell.status == "error":
            self.query_one("#run-errors", RichLog).write(inert(
                f"{cell.case_id} #{cell.rerun} · {cell.variant} · {cell.model}: {cell.error}"))
        self._stats()

    def on_run_screen_ended(self, message: Ended) -> None:
        self._rates.pause()
        self.live = False
        self.status = message.status
        self.control = None
        self._head()
        self._stats()
        if message.run_id is not None:
            self.post_message(RunFinished(message.run_id, self.suite_name, message.status))

    def on_run_screen_shown(self, message: Shown) -> None:
        if self.live:
            return
        self.run_id = message.info.id
        self.suite_name = message.info.suite
        stored = len(message.stored)
        self.status = "finished" if stored >= message.plan.total_cells else message.info.status
        self._show_plan(message.plan, message.stored)

    @work(thread=True, exclusive=True, group="show", exit_on_error=False)
    def show_stored(self, run_id: str | None) -> None:
        """Show a stored run (by default the newest) while nothing is running."""
        from workbench.engine.plan import Plan

        if not self.app.project.has_store():
            return
        with self.app.project.open_store() as store:
            info = store.run(run_id) if run_id else store.latest_run()
            if info is None:
                return
            plan = Plan.from_dict(info.plan)
            self.post_message(self.Shown(info, plan, list(store.cells(info.id))))

    def _show_plan(self, plan: Plan, stored: list[CellRecord]) -> None:
        """Redraw for ``plan``: an empty table and new counters, then the cells stored
        before this view (they count toward totals but not rates)."""
        from workbench.engine.progress import Progress

        self._build_table(plan)
        self.progress = Progress(total=plan.total_cells)
        for cell in stored:
            self._place(cell)
            self.progress.add(cell, stored=True)
        self.progress.started = time.monotonic()  # rates count from now, not the placing
        self._head()
        self._stats()

    def _build_table(self, plan: Plan) -> None:
        table = self.query_one("#live-table", DataTable)
        table.clear(columns=True)
        self._reruns = plan.reruns
        self._groups = {}
        self._glyphs = {}
        table.add_column("case", key="case")
        for variant, model in plan.groups:
            key = f"{variant} · {model}"
            self._groups[(variant, model)] = key
            table.add_column(inert(key, limit=40), key=key)
        empty = [Text("·" * plan.reruns, style=MUTED)] * len(plan.groups)
        for case in plan.cases:
            table.add_row(inert(case.id, limit=30), *empty, key=case.id)

    def _place(self, cell: CellRecord) -> None:
        column = self._groups.get((cell.variant, cell.model))
        if column is None:
            return
        glyphs = self._glyphs.setdefault((cell.case_id, column),
                                         [rerun_glyph(None)] * self._reruns)
        if cell.rerun < len(glyphs):
            glyphs[cell.rerun] = rerun_glyph(cell.passed, cell.status == "error")
        with contextlib.suppress(CellDoesNotExist):  # a case the plan does not list
            self.query_one("#live-table", DataTable).update_cell(
                cell.case_id, column, Text("").join(glyphs))

    def _head(self) -> None:
        head = Text()
        if self.run_id is None and self.status in {"idle", "starting", "refused"}:
            head.append("No run yet. " if self.status == "idle" else "")
            head.append("Pick a suite on Suites (2) and press r, or press u to resume "
                        "a stored run.", style=MUTED)
            if self.status == "starting":
                head = Text("Starting… (validating the suite and loading the models)",
                            style=MUTED)
            self.query_one("#run-head", Static).update(head)
            return
        head.append_text(inert(self.suite_name, style="bold"))
        head.append(f"  run {self.run_id}  ", style=MUTED)
        style = {"running": "bold", "finished": f"bold {GOOD}"}.get(self.status,
                                                                      f"bold {POOR}")
        label = "stopping (finishing cells in flight; c again stops now)" \
            if self.live and self.control and self.control.stopping else self.status
        head.append(label, style=style)
        self.query_one("#run-head", Static).update(head)

    def _stats(self) -> None:
        p = self.progress
        bar = self.query_one("#run-progress", ProgressBar)
        if p is None:
            self.query_one("#run-stats", Static).update("")
            return
        bar.update(total=p.total, progress=p.done)
        styles = {"passed": GOOD, "errors": POOR if p.errors else ""}
        text = Text(p.SEPARATOR).join(
            Text(part, style=styles.get(kind, ""))
            for kind, part in p.parts(rates=self.live, calls=True, grouped=True))
        self.query_one("#run-stats", Static).update(text)

    # -- actions -----------------------------------------------------------------------

    def action_start(self) -> None:
        suite = self.app.selected_suite
        if suite is None:
            files = self.app.project.suite_files()
            suite = files[0] if len(files) == 1 else None
        if suite is None:
            self.notify("pick a suite on the Suites screen (2) first", severity="warning")
            return
        self.begin(RunRequest(suite=suite))

    def action_resume(self) -> None:
        if self.live:
            self.notify("a run is in progress", severity="warning")
            return
        from workbench.tui.screens.runs_picker import RunsPicker

        def chosen(run_id: str | None) -> None:
            if run_id:
                self.begin(RunRequest(resume=run_id))

        self.app.push_screen(RunsPicker("Resume which run?", unfinished_only=True), chosen)

    def action_cancel(self) -> None:
        if not self.live or self.control is None:
            self.notify("nothing is running")
            return
        if self.control.stopping:
            self.control.cancel_now()
        else:
            self.control.request_stop()
        self._head()

    def action_open_results(self) -> None:
        if self.run_id is None:
            self.notify("no run to show yet", severity="warning")
            return
        self.post_message(RunSelected(self.run_id, open_results=True))

    def on_unmount(self) -> None:
        if self.control is not None:
            self.control.cancel_now()
