"""The base of the sections that show one stored run (Results, Charts): the run is loaded in
a worker, follows the app's current run, and can be picked or reloaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.message import Message
from textual.worker import Worker

from workbench.errors import InputError
from workbench.tui.render import MUTED, POOR
from workbench.tui.screens.base import SectionScreen
from workbench.tui.state import RunSelected

if TYPE_CHECKING:
    from workbench.analysis.results import RunResults


class RunViewScreen(SectionScreen):
    """A section that shows one stored run (Results, Charts): loads it off the UI thread,
    follows the app's current run, and lets the user pick another.

    Subclasses implement :meth:`show` (and :meth:`show_missing` for the head line).
    """

    PICK_TITLE: ClassVar[str] = "Open which run?"

    @dataclass
    class Loaded(Message):
        """The worker's result: the run grouped and measured, or why there is none."""

        results: RunResults | None
        error: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self.results: RunResults | None = None
        self._loading: tuple[str | None, Worker] | None = None  # the last load started

    def on_mount(self) -> None:
        """Nothing to load yet: Textual sends ScreenResume after Mount whenever a screen is
        shown, and :meth:`on_screen_resume` loads then. While shown, the screen follows the
        current run; a hidden one catches up when it is shown again."""
        self.watch(self.app, "current_run", self._current_run_changed, init=False)

    def on_screen_resume(self) -> None:
        wanted = self.app.current_run
        if self.results is None or (wanted and wanted != self.results.run.id):
            self._load(wanted)
        elif self.results.run.status != "finished":
            self._load(self.results.run.id)  # a run that was still filling in

    def _current_run_changed(self, run_id: str | None) -> None:
        if self.is_active and run_id and (self.results is None
                                          or run_id != self.results.run.id):
            self._load(run_id)

    def _load(self, run_id: str | None, *, again: bool = False) -> None:
        # A mode's first open sends ScreenResume twice; a thread worker cannot be cancelled,
        # so a second load of the same run would group and measure it again.
        if again or self._loading is None or self._loading[0] != run_id \
                or self._loading[1].is_finished:
            self._loading = (run_id, self.load(run_id))

    @work(thread=True, exclusive=True, group="load-run", exit_on_error=False)
    def load(self, run_id: str | None) -> None:
        """Group and measure the run in a worker: a large run takes a moment."""
        try:
            self.post_message(self.Loaded(self.app.project.results(run_id)))
        except InputError as exc:
            self.post_message(self.Loaded(None, str(exc)))

    def on_run_view_screen_loaded(self, message: Loaded) -> None:
        if message.results is None:
            self.show_missing(Text(message.error or "No stored runs yet: start one on Run (3).",
                                   style=POOR if message.error else MUTED))
            return
        if message.results is not self.results:  # else the same (cached) results are shown:
            self.results = message.results      # keep the cursor and the view
            self.show(message.results)
        if self.app.current_run != message.results.run.id:  # e.g. the newest, by default
            self.post_message(RunSelected(message.results.run.id))

    def show(self, results: RunResults) -> None:
        raise NotImplementedError

    def show_missing(self, text: Text) -> None:
        raise NotImplementedError

    def action_pick_run(self) -> None:
        from workbench.tui.screens.runs_picker import RunsPicker

        def chosen(run_id: str | None) -> None:
            if run_id:
                self.post_message(RunSelected(run_id))

        self.app.push_screen(RunsPicker(self.PICK_TITLE), chosen)

    def action_reload(self) -> None:
        self._load(self.results.run.id if self.results else self.app.current_run, again=True)
