"""The frame every section shares (header, section bar, body, footer of keys), and the
base of the sections that show one stored run."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header
from textual.worker import Worker

from workbench.errors import InputError
from workbench.tui._render import MUTED, POOR
from workbench.tui.widgets.section_bar import SectionBar


class SectionScreen(Screen):
    """A top-level section; subclasses give ``SECTION`` and compose their body."""

    SECTION: ClassVar[str] = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield SectionBar(self.SECTION, id="sections")
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    @property
    def project(self):
        return self.app.project


class RunViewScreen(SectionScreen):
    """A section that shows one stored run (Results, Charts): loads it off the UI thread,
    follows the app's current run, and lets the user pick another.

    Subclasses implement :meth:`show` (and :meth:`show_missing` for the head line).
    """

    PICK_TITLE: ClassVar[str] = "Open which run?"

    class Loaded(Message):
        def __init__(self, results, error: str | None = None) -> None:
            super().__init__()
            self.results = results
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self.results = None
        self._loading: tuple[str | None, Worker] | None = None  # the last load started

    def on_mount(self) -> None:
        """Nothing to load yet: Textual sends ScreenResume after Mount whenever a screen is
        shown, and :meth:`on_screen_resume` loads then."""

    def on_screen_resume(self) -> None:
        wanted = self.app.current_run
        if self.results is None or (wanted and wanted != self.results.run.id):
            target = wanted
        elif self.results.run.status != "finished":
            target = self.results.run.id  # a run that was still filling in
        else:
            return
        # A mode's first open sends ScreenResume twice; a thread worker cannot be cancelled,
        # so a second load of the same run would group and measure it again.
        if self._loading is None or self._loading[0] != target or self._loading[1].is_finished:
            self._load(target)

    def _load(self, run_id: str | None) -> None:
        self._loading = (run_id, self.load(run_id))

    @work(thread=True, exclusive=True, group="load-run", exit_on_error=False)
    def load(self, run_id: str | None) -> None:
        """Group and measure the run in a worker: a large run takes a moment."""
        try:
            self.post_message(self.Loaded(self.project.results(run_id)))
        except InputError as exc:
            self.post_message(self.Loaded(None, str(exc)))

    def on_run_view_screen_loaded(self, message: Loaded) -> None:
        if message.results is None:
            self.show_missing(Text(message.error or "No stored runs yet: start one on Run (3).",
                                   style=POOR if message.error else MUTED))
            return
        self.app.current_run = message.results.run.id
        if message.results is self.results:
            return  # the same (cached) results already on screen: keep the cursor and view
        self.results = message.results
        self.show(message.results)

    def show(self, results) -> None:
        raise NotImplementedError

    def show_missing(self, text: Text) -> None:
        raise NotImplementedError

    def action_pick_run(self) -> None:
        from workbench.tui.screens.runs_picker import RunsPicker

        def chosen(run_id: str | None) -> None:
            if run_id:
                self.app.current_run = run_id
                self._load(run_id)

        self.app.push_screen(RunsPicker(self.PICK_TITLE), chosen)

    def action_reload(self) -> None:
        self._load(self.results.run.id if self.results else self.app.current_run)
