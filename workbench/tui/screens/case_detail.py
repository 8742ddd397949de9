"""One case of one variant × model: its N outputs side by side, differences highlighted.

Each output is compared word by word with the case's reference output — the rule of
:mod:`workbench.analysis.reference`, the one the HTML report uses — so what changes between
reruns stands out; the parsed answers are counted above, and each rerun lists the
assertions it failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import HorizontalScroll, Vertical, VerticalScroll
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from workbench.analysis.reference import reference_output
from workbench.analysis.results import CaseResult, GroupResult, RunResults
from workbench.store.records import CellRecord
from workbench.text import pct
from workbench.tui.render import GOOD, MUTED, POOR, inert, level_color
from workbench.tui.widgets.side_by_side import against_reference, spans_text


def case_header(group: GroupResult, case: CaseResult) -> Text:
    from workbench.reports.format import answer_counts

    st = case.stats
    out = inert(case.case_id, style="bold")
    out.append("  ")
    out.append_text(inert(group.label, style="italic", limit=60))
    out.append("\n")
    if case.vars:
        for name, value in case.vars.items():
            out.append(f"{name} = ", style=MUTED)
            out.append_text(inert(str(value), limit=100))
            out.append("\n")
    if case.expected is not None:
        out.append("expected = ", style=MUTED)
        out.append_text(inert(str(case.expected), limit=80))
        out.append("\n")
    lo, hi = st.wilson
    out.append(f"passed {st.passes}/{st.n} ", style=f"bold {level_color(st.pass_rate)}")
    out.append(f"(95% CI {pct(lo)}–{pct(hi)}) · ", style=MUTED)
    out.append(f"modal share {st.modal_share:.2f}", style=level_color(st.modal_share))
    out.append(f" · TARr {'yes' if st.tar_raw else 'no'} · TARa {'yes' if st.tar_answer else 'no'}"
               f" · entropy {st.entropy:.2f} · similarity {st.similarity:.2f}"
               f" · parsed {pct(st.parse_rate)}", style=MUTED)
    if st.unstable:
        out.append("  unstable", style=f"bold {POOR}")
    out.append("\nanswers: ", style=MUTED)
    for i, (answer, count) in enumerate(answer_counts(st)):
        if i:
            out.append(" · ")
        out.append_text(inert(answer, style="bold", limit=40))
        out.append(f"×{count}")
    return out


def output_column(cell: CellRecord, reference: str | None) -> tuple[Text, Text, bool]:
    """(title, body, failed) for one rerun's column."""
    from workbench.reports.format import NO_ANSWER

    title = Text(f"#{cell.rerun} ")
    if cell.status == "error":
        title.append("! error", style=f"bold {POOR}")
        return title, inert(cell.error or "error", style=POOR), True
    title.append("✓ " if cell.passed else "✗ ", style=f"bold {GOOD if cell.passed else POOR}")
    if cell.parse_ok:
        title.append_text(inert(str(cell.answer), style="bold", limit=30))
    else:
        title.append(NO_ANSWER)
    raw = cell.output or ""
    body = spans_text(against_reference(raw, reference)) if reference is not None \
        else inert(raw)
    failed = cell.failed_assertions()
    if failed:
        body.append("\n\n")
        for a in failed:
            body.append("✗ ", style=POOR)
            body.append_text(inert(f"{a.label}: {a.reason}", style=MUTED))
            body.append("\n")
    return title, body, not cell.passed


class CaseDetailScreen(Screen[None]):
    CSS_PATH = Path(__file__).with_name("case_detail.tcss")
    TITLE = "Case"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("left_square_bracket", "group(-1)", "Prev variant", key_display="["),
        Binding("right_square_bracket", "group(1)", "Next variant", key_display="]"),
    ]

    group: var[int] = var(0, init=False)
    """Which variant × model of the run the case is shown for."""

    def __init__(self, results: RunResults, case_id: str, group: int = 0) -> None:
        super().__init__()
        self.results = results
        self.case_id = case_id
        self.set_reactive(CaseDetailScreen.group, group)  # shown on mount, not before

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="case-head")
        yield HorizontalScroll(id="case-outputs")
        yield Footer()

    async def on_mount(self) -> None:
        await self.show()

    async def watch_group(self) -> None:
        await self.show()

    def _case(self) -> tuple[GroupResult, CaseResult | None]:
        group = self.results.groups[self.group]
        return group, next((c for c in group.cases if c.case_id == self.case_id), None)

    async def show(self) -> None:
        group, case = self._case()
        head = self.query_one("#case-head", Static)
        outputs = self.query_one("#case-outputs", HorizontalScroll)
        await outputs.remove_children()
        if case is None:
            head.update(Text(f"{self.case_id}: no cells for {group.label} yet", style=MUTED))
            return
        head.update(case_header(group, case))
        reference = reference_output(case)
        columns = []
        # Every rerun side by side when they fit; narrow columns scroll sideways instead.
        width = max(22, (outputs.size.width or self.app.size.width) // max(1, len(case.cells)))
        for cell in case.cells:
            title, body, failed = output_column(cell, reference)
            column = Vertical(VerticalScroll(Static(body)), classes="output-col")
            column.border_title = title
            column.styles.width = width
            if failed:
                column.add_class("failed")
            columns.append(column)
        await outputs.mount_all(columns)

    def action_group(self, delta: int) -> None:
        count = len(self.results.groups)
        if count > 1:
            self.group = (self.group + delta) % count
