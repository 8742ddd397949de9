"""``WorkbenchApp``: one mode per section, switched with a number key or the palette.

Sections are listed once, in :data:`SECTIONS`; the key bindings, the section bar at the top
of every screen and the command-palette entries are all derived from that list, so adding a
screen is one more :class:`Section` entry (module and class imported on first open).

A screen that shows one stored run subclasses :class:`~workbench.tui.screens.run_view.RunViewScreen`
(loading in a worker, the run picker and reload come with it) and implements ``show``.

The app holds what the sections share (the project, the selected suite, the current run, a
pending run request) as reactive attributes; screens read or watch them and post the
messages of :mod:`workbench.tui.state` to change them (attributes down, messages up).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import var
from textual.screen import Screen

from workbench.tui.project import Project

if TYPE_CHECKING:  # the screens that post them import them, after the first paint
    from workbench.tui.state import (
        PromptSelected,
        RunFinished,
        RunRequest,
        RunRequested,
        RunRequestTaken,
        RunSelected,
        RunStarted,
        SuitePicked,
    )


@dataclass(frozen=True)
class Section:
    """A top-level screen: its mode id, key, title, palette help and where its class lives."""

    id: str
    key: str
    title: str
    help: str
    screen: str  # "module:Class", imported when the section is first opened

    def make_screen(self) -> Screen:
        module, _, name = self.screen.partition(":")
        return getattr(import_module(module), name)()


SECTIONS: tuple[Section, ...] = (
    Section("prompts", "1", "Prompts", "Prompt versions: view, edit, diff, label",
            "workbench.tui.screens.prompts:PromptsScreen"),
    Section("suites", "2", "Suites", "Suites and cases; pick variants and models to run",
            "workbench.tui.screens.suites:SuitesScreen"),
    Section("run", "3", "Run", "Start, watch, cancel or resume a run",
            "workbench.tui.screens.run:RunScreen"),
    Section("results", "4", "Results", "Variants × cases matrix, summaries, verdicts",
            "workbench.tui.screens.results:ResultsScreen"),
    Section("charts", "5", "Charts", "Consistency distribution, pass@k vs pass^k",
            "workbench.tui.screens.charts:ChartsScreen"),
    Section("escalation", "6", "Escalation", "Fine-tune or not: verdict, trend over versions, "
            "levers, cost", "workbench.tui.screens.escalation:EscalationScreen"),
    Section("playground", "7", "Playground", "Run a draft of the selected prompt on a few "
            "cases, N times, before saving it", "workbench.tui.screens.playground:"
            "PlaygroundScreen"),
)


class WorkbenchApp(App[None]):
    """Prompt Workbench: iterate on prompts, watch runs, read variance."""

    TITLE = "Prompt Workbench"
    CSS_PATH = Path(__file__).with_name("workbench.tcss")  # absolute: subclasses work too
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(s.key, f"section('{s.id}')", s.title, show=False) for s in SECTIONS),
        Binding("ctrl+t", "toggle_theme", "Light/dark", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]
    # The first section is the app's default screen, every other one a mode (added for the
    # first one once it is up, see get_default_screen): a mode's first screen makes Textual
    # re-read the whole stylesheet before painting it, which the first frame need not wait for.
    MODES: ClassVar[dict] = {s.id: s.make_screen for s in SECTIONS[1:]}
    DEFAULT_MODE = SECTIONS[0].id  # the first screen paints directly, no blank screen first

    selected_prompt: var[tuple[str, int] | None] = var(None)
    """The prompt version last shown on Prompts (name, version): the Playground edits it."""
    selected_suite: var[Path | None] = var(None)
    """The suite last picked on Suites: Run's ``r`` runs it, Escalation opens on it."""
    current_run: var[str | None] = var(None)
    """The run Results and Charts show (None: the newest stored run)."""
    run_request: var[RunRequest | None] = var(None)
    """A run asked for on Suites that the Run screen has not taken yet."""

    def __init__(self, project: Path | str, *, db: Path | None = None):
        super().__init__()
        self.project: Project = Project(Path(project), db)
        self.sections = SECTIONS
        self.sub_title = self.project.name
        self._painted = False
        self._after_paint: list[Callable[[], object]] = []
        self._gc_paused = False

    # -- first paint -----------------------------------------------------------------

    def _on_load(self) -> None:
        # Building the first frame allocates enough to set off the interpreter's first full
        # collection, which walks every object the imports made (tens of milliseconds on a
        # small machine). Nothing worth collecting exists yet: collect after the first paint.
        if gc.isenabled():
            gc.disable()
            self._gc_paused = True

    def _resume_gc(self) -> None:
        if self._gc_paused:
            self._gc_paused = False
            gc.enable()

    def _on_unmount(self) -> None:  # an app that stops before its first frame
        self._resume_gc()

    def get_default_screen(self) -> Screen:
        first = self.sections[0]
        # From now on the first section is a mode like the others, so its key switches back.
        self.add_mode(first.id, first.make_screen)
        return first.make_screen()

    def after_first_paint(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the first frame is on screen (at once if it already is).

        Work that imports the heavier library modules waits for this, so it never competes
        with the first paint for the interpreter.
        """
        if self._painted:
            callback()
        else:
            self._after_paint.append(callback)

    def _on_ready(self) -> None:  # the underscore form: a subclass's on_ready keeps it
        self._painted = True
        self._resume_gc()
        callbacks, self._after_paint = self._after_paint, []
        for callback in callbacks:
            callback()

    # -- navigation ------------------------------------------------------------------

    def action_section(self, section: str) -> None:
        self.switch_mode(section)

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    # -- shared state: the screens' messages -----------------------------------------

    def on_prompt_selected(self, message: PromptSelected) -> None:
        self.selected_prompt = (message.name, message.version)

    def on_suite_picked(self, message: SuitePicked) -> None:
        self.selected_suite = message.suite

    def on_run_requested(self, message: RunRequested) -> None:
        # An open Run screen watches run_request and takes it at once; a Run screen opened
        # by this switch takes it when mounted.
        self.run_request = message.request
        self.switch_mode("run")

    def on_run_request_taken(self, message: RunRequestTaken) -> None:
        if self.run_request is message.request:
            self.run_request = None

    def on_run_started(self, message: RunStarted) -> None:
        self.current_run = message.run_id

    def on_run_finished(self, message: RunFinished) -> None:
        if message.status == "finished":  # wherever the user is by then
            self.notify("run finished — press o for results", title=message.suite)

    def on_run_selected(self, message: RunSelected) -> None:
        self.current_run = message.run_id
        if message.open_results:
            self.switch_mode("results")

    # -- command palette -------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for section in self.sections:
            yield SystemCommand(f"Go to {section.title}", f"{section.help}  [{section.key}]",
                                partial(self.switch_mode, section.id))
        # The current screen's own actions, so everything the footer offers is searchable.
        where = next((s.title for s in self.sections
                      if s.id == getattr(screen, "SECTION", None)), screen.title or "")
        for binding in _screen_bindings(screen):
            yield SystemCommand(binding.description,
                                f"{where}  [{binding.key_display or binding.key}]",
                                partial(screen.run_action, binding.action))
        yield SystemCommand("Toggle light/dark theme", "Switch between the light and dark "
                            "theme  [ctrl+t]", self.action_toggle_theme)
        yield from super().get_system_commands(screen)


def _screen_bindings(screen: Screen) -> list[Binding]:
    seen: set[str] = set()
    found: list[Binding] = []
    for binding in getattr(screen, "BINDINGS", []):
        if isinstance(binding, Binding) and binding.description and binding.show \
                and binding.description not in seen:
            seen.add(binding.description)
            found.append(binding)
    return found
