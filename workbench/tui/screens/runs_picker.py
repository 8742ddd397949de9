"""Pick a stored run: to open its results, or to resume one that did not finish."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import getters, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from workbench.tui.app import WorkbenchApp
from workbench.tui.render import GOOD, MUTED, POOR, inert


@dataclass(frozen=True)
class RunRow:
    id: str
    suite: str
    status: str
    stored: int
    total: int
    variants: list[str]

    @property
    def complete(self) -> bool:
        return self.stored >= self.total


def list_runs(project) -> list[RunRow]:
    """Stored runs, newest first, with how many of their cells are stored."""
    if not project.has_store():
        return []
    with project.open_store() as store:
        counts = store.cell_counts()
        return [RunRow(r.id, r.suite, r.status, counts.get(r.id, 0), r.total_cells,
                       [v["ref"] for v in r.plan.get("variants", [])])
                for r in reversed(store.runs())]


def status_text(row: RunRow) -> Text:
    if row.complete:
        return Text("finished", style=GOOD)
    if row.status == "running":
        return Text("running?", style=POOR)  # or a process that died without closing it
    return Text(row.status, style=POOR)


class RunsPicker(ModalScreen[str | None]):
    """Dismisses with the chosen run id, or None."""

    CSS_PATH = [Path(__file__).with_name("dialogs.tcss"),
                Path(__file__).with_name("runs_picker.tcss")]
    app = getters.app(WorkbenchApp)

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, *, unfinished_only: bool = False) -> None:
        super().__init__()
        self.heading = title
        self.unfinished_only = unfinished_only

    def compose(self) -> ComposeResult:
        with Vertical(id="runs-dialog", classes="dialog"):
            yield Label(self.heading, classes="dialog-title")
            yield DataTable(id="runs-table", cursor_type="row")
            yield Static(id="runs-empty")
            yield Static(Text("enter: choose · escape: cancel", style=MUTED))

    def on_mount(self) -> None:
        table = self.query_one("#runs-table", DataTable)
        table.add_columns("run", "suite", "status", "cells", "variants")
        rows = [r for r in list_runs(self.app.project)
                if not (self.unfinished_only and r.complete)]
        for row in rows:
            table.add_row(Text(row.id), inert(row.suite, limit=24), status_text(row),
                          Text(f"{row.stored}/{row.total}"),
                          inert(", ".join(row.variants), limit=40), key=row.id)
        if not rows:
            self.query_one("#runs-empty", Static).update(
                Text("No unfinished runs." if self.unfinished_only else "No stored runs yet.",
                     style=MUTED))
        table.focus()

    @on(DataTable.RowSelected, "#runs-table")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        self.dismiss(event.row_key.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
