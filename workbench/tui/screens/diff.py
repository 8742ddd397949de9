"""Side-by-side diff of two versions of one prompt; either side can be any version."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import getters, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, Select, Static

from workbench.tui.app import WorkbenchApp
from workbench.tui.render import GOOD, MUTED, POOR, inert
from workbench.tui.widgets.side_by_side import DiffRow, diff_table, side_by_side


class DiffScreen(Screen[None]):
    CSS_PATH = Path(__file__).with_name("diff.tcss")
    TITLE = "Diff"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("left_square_bracket", "step('left', -1)", "Left −1", key_display="["),
        Binding("right_square_bracket", "step('left', 1)", "Left +1", key_display="]"),
        Binding("left_curly_bracket", "step('right', -1)", "Right −1", key_display="{"),
        Binding("right_curly_bracket", "step('right', 1)", "Right +1", key_display="}"),
        Binding("s", "swap", "Swap sides"),
    ]

    app = getters.app(WorkbenchApp)
    # The versions shown on either side; the pickers set them.
    left: var[int] = var(0, init=False)
    right: var[int] = var(0, init=False)

    def __init__(self, name: str, versions: list[int], left: int, right: int) -> None:
        super().__init__()
        self.prompt_name = name
        self.versions = versions
        self.set_reactive(DiffScreen.left, left)  # drawn on mount, not before
        self.set_reactive(DiffScreen.right, right)
        self.rows: list[DiffRow] = []

    def compose(self) -> ComposeResult:
        yield Header()
        options = [(f"v{v}", v) for v in self.versions]
        with Horizontal(id="diff-pickers"):
            yield Label(inert(self.prompt_name, style="bold"), id="diff-name")
            yield Select(options, value=self.left, allow_blank=False, id="diff-left",
                         compact=True)
            yield Label("→")
            yield Select(options, value=self.right, allow_blank=False, id="diff-right",
                         compact=True)
            yield Static(id="diff-stats")
        with VerticalScroll(id="diff-scroll"):
            yield Static(id="diff-view")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_diff()
        self.query_one("#diff-scroll").focus()

    def refresh_diff(self) -> None:
        library = self.app.project.library
        left = library.path_of(self.prompt_name, self.left).read_text(encoding="utf-8")
        right = library.path_of(self.prompt_name, self.right).read_text(encoding="utf-8")
        rows = self.rows = side_by_side(left.splitlines(), right.splitlines())
        removed = sum(r.left is not None and r.tag != "equal" for r in rows)
        added = sum(r.right is not None and r.tag != "equal" for r in rows)
        stats = Text()
        if removed or added:
            stats.append(f"−{removed}", style=f"bold {POOR}")
            stats.append(" ")
            stats.append(f"+{added}", style=f"bold {GOOD}")
            stats.append(" lines", style=MUTED)
        else:
            stats.append("identical", style=MUTED)
        self.query_one("#diff-stats", Static).update(stats)
        self.query_one("#diff-view", Static).update(
            diff_table(rows, f"v{self.left}", f"v{self.right}"))

    def watch_left(self) -> None:
        self.refresh_diff()

    def watch_right(self) -> None:
        self.refresh_diff()

    @on(Select.Changed, "#diff-left")
    def _left_picked(self, event: Select.Changed) -> None:
        if event.value is not Select.BLANK:
            self.left = int(event.value)

    @on(Select.Changed, "#diff-right")
    def _right_picked(self, event: Select.Changed) -> None:
        if event.value is not Select.BLANK:
            self.right = int(event.value)

    def action_step(self, side: str, delta: int) -> None:
        index = self.versions.index(getattr(self, side)) + delta
        if 0 <= index < len(self.versions):
            self.query_one(f"#diff-{side}", Select).value = self.versions[index]

    def action_swap(self) -> None:
        left, right = self.left, self.right
        self.query_one("#diff-left", Select).value = right
        self.query_one("#diff-right", Select).value = left
