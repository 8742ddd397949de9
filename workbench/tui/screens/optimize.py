"""Optimize: start a prompt search on a suite, watch candidates arrive, diff any of them
against its parent, stop it.

A shell over :func:`workbench.optimize.run_search`: the search runs in a worker thread
(with its own store connection), each finished candidate is posted to the screen as table
rows already formatted by :mod:`workbench.reports.optimize`, and ``x`` asks the search to
stop after the candidate in flight — every finished one is kept, and starting again
continues it. Opened with ``o`` on Suites.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import getters, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Static

from workbench.errors import InputError
from workbench.tui.app import WorkbenchApp
from workbench.tui.render import MUTED, POOR, inert


class OptimizeScreen(Screen[None]):
    CSS_PATH = Path(__file__).with_name("optimize.tcss")
    TITLE = "Optimize"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("s", "start", "Start / continue"),
        Binding("x", "stop", "Stop"),
        Binding("d", "diff", "Diff vs parent"),
    ]

    app = getters.app(WorkbenchApp)

    class Update(Message):
        """Rows and summary lines of the search, formatted in the worker."""

        def __init__(self, rows: list[list[str]], refs: list[tuple[str | None, str]],
                     lines: list[str], done: bool, error: str | None = None) -> None:
            super().__init__()
            self.rows = rows
            self.refs = refs
            self.lines = lines
            self.done = done
            self.error = error

    def __init__(self, suite: Path, prompt: str | None = None, model: str | None = None,
                 budget: int = 600) -> None:
        super().__init__()
        self.suite = suite
        self.prompt = prompt
        self.model = model
        self.budget = budget
        self.refs: list[tuple[str | None, str]] = []  # per row: (version, parent)
        self.running = False
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="opt-settings"):
            yield Label(inert(self.suite.name, style="bold"), id="opt-suite")
            yield Label("budget (calls)")
            yield Input(str(self.budget), id="opt-budget", type="integer", compact=True)
            yield Label("rounds")
            yield Input("3", id="opt-rounds", type="integer", compact=True)
        yield Static(Text("s: start (or continue) · x: stop · d: diff the selected candidate "
                          "against its parent", style=MUTED), id="opt-status")
        yield DataTable(id="opt-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="opt-summary-scroll"):
            yield Static(id="opt-summary")
        yield Footer()

    def on_mount(self) -> None:
        from workbench.reports.optimize import HEADER

        table = self.query_one("#opt-table", DataTable)
        table.add_columns(*HEADER)
        table.focus()  # the keys are the screen's; the inputs take focus when clicked

    def _number(self, widget: str, default: int) -> int:
        text = self.query_one(widget, Input).value.strip()
        return int(text) if text.lstrip("-").isdigit() else default

    def action_start(self) -> None:
        if self.running:
            self.notify("the search is running", title="Optimize")
            return
        self.running = True
        self._stop.clear()
        self.query_one("#opt-status", Static).update(Text("searching…", style="bold"))
        self.search(self._number("#opt-budget", self.budget), self._number("#opt-rounds", 3))

    def action_stop(self) -> None:
        if self.running:
            self._stop.set()
            self.query_one("#opt-status", Static).update(
                Text("stopping after the candidate in flight…", style="bold"))

    def action_diff(self) -> None:
        from workbench.tui.screens.diff import DiffScreen

        table = self.query_one("#opt-table", DataTable)
        if not self.refs or table.cursor_row >= len(self.refs):
            return
        version, parent = self.refs[table.cursor_row]
        if not version or version == parent:
            self.notify("the starting version has no parent in this search", title="Diff")
            return
        name, _, number = version.partition("@")
        _, _, parent_number = parent.partition("@")
        library = self.app.project.library
        self.app.push_screen(DiffScreen(name, library.versions(name), int(parent_number),
                                        int(number)))

    @work(thread=True, exclusive=True, group="optimize", exit_on_error=False)
    def search(self, budget: int, rounds: int) -> None:
        from workbench.optimize import SearchSettings, run_search
        from workbench.reports.optimize import candidate_row, summary_lines
        from workbench.store.database import Store

        def post(state, done: bool) -> None:  # in the worker: format, then hand over
            shown = [c for c in state.all() if c.status == "measured"]
            self.post_message(self.Update(
                [candidate_row(c, state.best) for c in shown],
                [(c.version, c.parent) for c in shown], summary_lines(state), done))

        try:
            settings = SearchSettings(self.suite, prompt=self.prompt, model=self.model,
                                      budget=budget, rounds=rounds)
            with Store(self.app.project.db_path) as store:
                state = run_search(settings, store,
                                   on_event=lambda e: post(e.state, False),
                                   stop=self._stop.is_set)
            post(state, True)
        except InputError as exc:
            self.post_message(self.Update([], [], [], True, str(exc)))

    def on_optimize_screen_update(self, message: Update) -> None:
        if message.done:
            self.running = False
        status = self.query_one("#opt-status", Static)
        if message.error:
            status.update(Text(message.error, style=f"bold {POOR}"))
            return
        table = self.query_one("#opt-table", DataTable)
        row = table.cursor_row
        table.clear()
        table.add_rows([[inert(x) for x in r] for r in message.rows])
        if message.rows:
            table.move_cursor(row=min(row, len(message.rows) - 1))
        self.refs = message.refs
        out = Text()
        for line in message.lines:
            out.append_text(inert(line))
            out.append("\n")
        self.query_one("#opt-summary", Static).update(out)
        status.update(Text("done: s continues it (a bigger budget or more rounds), d diffs a "
                           "candidate" if message.done else "searching…  x stops",
                           style="bold" if not message.done else MUTED))
