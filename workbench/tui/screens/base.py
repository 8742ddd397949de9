"""The frame every section shares: header, section bar, body, footer of keys."""

from __future__ import annotations

from typing import ClassVar

from textual import getters
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header

from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.section_bar import SectionBar


class SectionScreen(Screen[None]):
    """A top-level section; subclasses give ``SECTION`` and compose their body."""

    SECTION: ClassVar[str] = ""
    app = getters.app(WorkbenchApp)  # typed: the project and the shared state

    def compose(self) -> ComposeResult:
        yield Header()
        yield SectionBar(self.SECTION, id="sections")
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()
