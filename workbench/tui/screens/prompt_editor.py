"""The version editor: edit a copy of a version and save it as the next one.

Saving goes through :meth:`PromptLibrary.save`, which validates first and never overwrites:
invalid YAML or a schema problem is listed under the editor with its line, the cursor jumps
to the first one, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import getters
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, Static

from workbench.errors import InputError
from workbench.tui.app import WorkbenchApp
from workbench.tui.render import MUTED, POOR, inert
from workbench.tui.widgets.yaml_view import YamlArea


class PromptEditorScreen(Screen[int | None]):
    """Dismisses with the new version number, or None when cancelled."""
    CSS_PATH = Path(__file__).with_name("prompt_editor.tcss")
    app = getters.app(WorkbenchApp)

    TITLE = "Edit prompt"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save as new version", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),  # the TextArea would take it
    ]

    def __init__(self, name: str, version: int, text: str) -> None:
        super().__init__()
        self.prompt_name = name
        self.base_version = version
        self.original = text
        self._discard = False  # set after one escape with unsaved edits

    def compose(self) -> ComposeResult:
        yield Header()
        library = self.app.project.library
        versions = library.versions(self.prompt_name)
        next_version = (versions[-1] + 1) if versions else 1
        with Vertical(id="editor-body"):
            yield Label(Text.assemble(
                ("Editing ", ""), inert(self.prompt_name, style="bold"),
                (f" from v{self.base_version}", ""),
                (f" — ctrl+s saves it as v{next_version}; no version is ever overwritten",
                 MUTED)), id="editor-title")
            yield YamlArea(self.original, read_only=False, id="editor")
            yield Static(id="editor-problems")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#editor", YamlArea).focus()

    def action_save(self) -> None:
        area = self.query_one("#editor", YamlArea)
        problems = self.query_one("#editor-problems", Static)
        try:
            prompt = self.app.project.library.save(self.prompt_name, area.text)
        except InputError as exc:
            message = Text("Not saved:\n", style=f"bold {POOR}")
            for problem in exc.problems:
                message.append_text(inert(f"  line {problem.line}: " if problem.line else "  "))
                message.append_text(inert(problem.message))
                if problem.hint:
                    message.append_text(inert(f" ({problem.hint})", style=MUTED))
                message.append("\n")
            problems.update(message)
            problems.add_class("shown")
            first = next((p.line for p in exc.problems if p.line), None)
            if first:
                area.move_cursor((first - 1, 0))
            area.focus()
            return
        self.dismiss(prompt.version)

    def action_cancel(self) -> None:
        area = self.query_one("#editor", YamlArea)
        if area.text != self.original and not self._discard:
            self._discard = True
            self.notify("unsaved edits: escape again discards them, ctrl+s saves",
                        severity="warning")
            return
        self.dismiss(None)
