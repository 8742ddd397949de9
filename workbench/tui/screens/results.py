"""Results: per-variant summary, the comparison verdicts, and the variants × cases matrix.

Everything shown is read from :class:`workbench.analysis.results.RunResults` (the object the reports
read), so the numbers match the terminal summary and the JSON report. The matrix is one
DataTable (it renders only the visible rows), filled from plain rows that
:mod:`workbench.tui.matrix` filters and sorts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.reactive import var
from textual.timer import Timer
from textual.widgets import DataTable, Input, Label, Static

from workbench.text import pct
from workbench.tui.matrix import SORTS, MatrixRow, build_rows, view
from workbench.tui.render import GOOD, MUTED, POOR, inert, level_color, pass_cell
from workbench.tui.screens.run_view import RunViewScreen

if TYPE_CHECKING:
    from workbench.analysis.results import GroupResult, RunResults
    from workbench.analysis.stats import Comparison


def group_row(group: GroupResult) -> list[Text]:
    """One line of the summary table for a variant × model."""
    st = group.stats
    lo, hi = st.ci
    rate = Text(f"{pct(st.mean_pass_rate)} ", style=f"bold {level_color(st.mean_pass_rate)}")
    rate.append(f"({pct(lo)}–{pct(hi)})", style=MUTED)
    unstable = Text(f"{len(st.unstable)}/{st.n_cases}",
                    style=POOR if st.unstable else GOOD)
    errors = Text(str(group.errors), style=POOR if group.errors else "")
    tokens = group.prompt_tokens + group.completion_tokens
    if group.checks:
        missed = sum(not c.passed for c in group.checks)
        checks = Text(f"{missed} of {len(group.checks)} missed" if missed else "all met",
                      style=POOR if missed else GOOD)
    else:
        checks = Text("–", style=MUTED)
    return [inert(group.label, limit=44), rate,
            Text(pct(st.tar_answer_at_n), style=level_color(st.tar_answer_at_n)),
            Text(f"{st.mean_modal_share:.2f}", style=level_color(st.mean_modal_share)),
            Text(pct(st.mean_parse_rate), style=level_color(st.mean_parse_rate)),
            unstable, errors, Text(f"${group.cost:.4f} · {tokens:,} tok"), checks]


def verdict_text(comparisons: list[tuple[str, str, Comparison]]) -> Text:
    """One line per compared pair: B vs A, the paired differences and the verdicts."""
    from workbench.analysis.stats import VERDICT_BETTER, VERDICT_WORSE
    from workbench.reports.format import diff_ci

    out = Text()
    if not comparisons:
        return Text("One variant per model: nothing to compare in this run.", style=MUTED)
    for i, (a, b, cmp) in enumerate(comparisons):
        if i:
            out.append("\n")
        out.append_text(inert(b, style="bold", limit=40))
        out.append(" vs ")
        out.append_text(inert(a, limit=40))
        out.append(f" ({cmp.n_shared} cases): ", style=MUTED)
        for j, (label, d) in enumerate((("pass rate", cmp.pass_rate),
                                        ("modal share", cmp.consistency))):
            if j:
                out.append(" · ")
            out.append(f"{label} {diff_ci(d.mean_diff, d.t_ci)} ")
            style = {VERDICT_BETTER: f"bold {GOOD}", VERDICT_WORSE: f"bold {POOR}"}.get(
                d.verdict, "italic")
            out.append(d.verdict, style=style)
    return out


class ResultsScreen(RunViewScreen):
    CSS_PATH = Path(__file__).with_name("results.tcss")
    SECTION = "results"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_case", "Open case", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort", "Sort"),
        Binding("u", "unstable", "Unstable only"),
        Binding("p", "pick_run", "Pick run"),
        Binding("f5", "reload", "Reload"),
    ]

    sort: var[str] = var(SORTS[0], init=False)
    unstable_only: var[bool] = var(False, init=False)
    needle: var[str] = var("", init=False)
    """The filter in effect: typing in the filter box sets it once the keys pause."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[MatrixRow] = []
        self.shown: list[MatrixRow] = []
        self._cells: dict[str, list[Text]] = {}
        self._in_table: set[str] = set()  # case ids currently in the matrix
        self._filter_timer: Timer | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(Text("Loading results…", style=MUTED), id="results-head")
        yield DataTable(id="group-table", cursor_type="none", show_cursor=False)
        yield Static(id="verdicts")
        with Horizontal(id="filter-row"):
            yield Label("Filter")
            yield Input(placeholder="case id, var or expected…  (/)", id="matrix-filter",
                        compact=True)
            yield Static(id="matrix-status")
        yield DataTable(id="matrix", cursor_type="cell", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#group-table", DataTable).add_columns(
            "variant · model", "pass rate (95% CI)", "TARa", "modal", "parse", "unstable",
            "errors", "cost", "thresholds")
        super().on_mount()

    def show_missing(self, text: Text) -> None:
        self.query_one("#results-head", Static).update(text)

    def show(self, results: RunResults) -> None:
        head = self.query_one("#results-head", Static)
        plan = results.plan
        text = inert(plan.suite, style="bold")
        text.append(f"  run {results.run.id}", style=MUTED)
        stored = plan.total_cells - results.missing
        text.append(f"  {len(plan.cases)} cases × {plan.reruns} reruns · "
                    f"{stored}/{plan.total_cells} cells")
        if results.missing:
            text.append(f" · {results.missing} missing (resume on Run: u)", style=POOR)
        text.append("  ")
        text.append("OK" if results.ok else "FAILED", style=f"bold {GOOD if results.ok else POOR}")
        head.update(text)
        groups = self.query_one("#group-table", DataTable)
        groups.clear()
        groups.add_rows([group_row(g) for g in results.groups])
        self.query_one("#verdicts", Static).update(verdict_text(results.comparisons))
        self.rows = build_rows(results)
        matrix = self.query_one("#matrix", DataTable)
        matrix.clear(columns=True)
        # Fixed widths: the table never measures 500 × N cells to size its columns.
        width = max((len(r.case_id) for r in self.rows), default=4)
        matrix.add_column("case", key="case", width=min(30, max(4, width)))
        for index, group in enumerate(results.groups):
            label = inert(group.label, limit=32)
            matrix.add_column(label, key=f"g{index}", width=max(12, len(label.plain)))
        matrix.add_column("expected", key="expected", width=24)
        self._build_cells()
        self.refill()
        matrix.focus()

    def refill(self) -> None:
        """Show the rows for the current filter and sort (columns stay).

        Cells are built once per load; a new sort only reorders the table's rows, and only
        a new filter re-adds them (the table measures each added cell).
        """
        matrix = self.query_one("#matrix", DataTable)
        self.shown = view(self.rows, needle=self.needle, unstable_only=self.unstable_only,
                          sort=self.sort)
        wanted = [row.case_id for row in self.shown]
        if set(wanted) == self._in_table and len(wanted) == matrix.row_count:
            rank = {case_id: i for i, case_id in enumerate(wanted)}
            matrix.sort("case", key=lambda cell: rank[cell.plain])
        else:
            matrix.clear()
            matrix.add_rows(self._cells[case_id] for case_id in wanted)
            self._in_table = set(wanted)
        status = Text(f"{len(self.shown)} of {len(self.rows)} cases · sort: {self.sort}")
        if self.unstable_only:
            status.append(" · unstable only", style="bold")
        status.append("   cell: passes/N · modal share", style=MUTED)
        self.query_one("#matrix-status", Static).update(status)

    def _build_cells(self) -> None:
        missing = Text("–", style=MUTED)
        self._cells = {
            row.case_id: [
                inert(row.case_id, limit=30),
                *[pass_cell(s.passes, s.n, s.modal_share) if s is not None else missing
                  for s in row.stats],
                inert("" if row.expected is None else str(row.expected), limit=24)]
            for row in self.rows}
        self._in_table = set()

    # -- the view follows the filter and the sort --------------------------------------

    def watch_sort(self) -> None:
        self._refill_shown()

    def watch_unstable_only(self) -> None:
        self._refill_shown()

    def watch_needle(self) -> None:
        self._refill_shown()

    def _refill_shown(self) -> None:
        if self.results is not None:  # else show() fills the matrix with them
            self.refill()

    # -- interaction -------------------------------------------------------------------

    @on(Input.Changed, "#matrix-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        # Typing quickly re-filters once, after a short pause, not on every key.
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(0.12, lambda: self._apply_filter(event.value))

    @on(Input.Submitted, "#matrix-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self._apply_filter(event.value)
        self.query_one("#matrix", DataTable).focus()

    def _apply_filter(self, value: str) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        self.needle = value.strip()

    @on(DataTable.CellSelected, "#matrix")
    def _cell_chosen(self, event: DataTable.CellSelected) -> None:
        self.open_case(event.coordinate.row, event.coordinate.column)

    def action_open_case(self) -> None:
        matrix = self.query_one("#matrix", DataTable)
        self.open_case(matrix.cursor_row, matrix.cursor_column)

    def open_case(self, row: int, column: int) -> None:
        if self.results is None or not 0 <= row < len(self.shown):
            return
        from workbench.tui.screens.case_detail import CaseDetailScreen

        group = column - 1 if 1 <= column <= len(self.results.groups) else 0
        self.app.push_screen(CaseDetailScreen(self.results, self.shown[row].case_id, group))

    def action_filter(self) -> None:
        self.query_one("#matrix-filter", Input).focus()

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]

    def action_unstable(self) -> None:
        self.unstable_only = not self.unstable_only
