"""Escalation: should this suite's prompt be fine-tuned, or is there something cheaper to try?

The screen shows :class:`workbench.escalation.EscalationReport` for a suite file — the same
object ``workbench escalate`` prints — as a verdict, the trend over prompt versions (a chart
and a table), the checks of the rule, the cheap levers, the cost comparison and the count of
training examples. The report is built in a worker: it groups every stored run of the suite.

``t`` checks the advice: it fine-tunes the embedded model on the suite in a worker
(:func:`workbench.finetune.loop.finetune_suite`, as ``workbench finetune``), shows the step,
the loss curve and the time left, then the held-out re-run; ``x`` cancels (a cancelled
training keeps nothing). When it ends the report is rebuilt, with its "after fine-tuning"
section.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option
from textual_plotext import PlotextPlot

from workbench.errors import InputError
from workbench.tui.render import FAIR, GOOD, MUTED, POOR, inert
from workbench.tui.screens.base import SectionScreen

_SERIES = (("pass rate", "blue"), ("consistency", "orange"), ("pass^k", "green"))


def verdict_text(report, model_index: int) -> Text:
    """The verdict of every model (the shown one first in bold), and the shown one's headline."""
    from workbench.escalation.report import VERDICT_FINE_TUNE, VERDICT_MEETS_TARGET
    from workbench.reports.escalation_text import headline, metric_label

    out = inert(report.suite, style="bold")
    out.append(f"  {len(report.runs)} run(s) · target {report.settings.target:.2f} "
               f"({metric_label(report.settings.metric)})\n",
               style=MUTED)
    for i, a in enumerate(report.assessments):
        colour = {VERDICT_FINE_TUNE: FAIR, VERDICT_MEETS_TARGET: GOOD}.get(a.verdict, POOR)
        out.append("▶ " if i == model_index else "  ")
        out.append_text(inert(a.model, limit=40, style="bold" if i == model_index else ""))
        out.append(": ")
        out.append(a.verdict.upper(), style=f"bold {colour}")
        out.append("\n")
    shown = report.assessments[model_index]
    out.append_text(inert(headline(shown)))
    return out


def trend_series(assessment) -> tuple[list[str], dict[str, list[float]]]:
    """x labels (one per version, oldest first) and the three series the chart draws."""
    labels = [t.ref for t in assessment.trend]
    return labels, {
        "pass rate": [t.pass_rate.value for t in assessment.trend],
        "consistency": [t.consistency.value for t in assessment.trend],
        "pass^k": [t.pass_hat_k.value for t in assessment.trend],
    }


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 40) -> str:
    """The last ``width`` values as block characters, lowest to highest."""
    shown = values[-width:]
    if not shown:
        return ""
    lo, hi = min(shown), max(shown)
    span = (hi - lo) or 1.0
    return "".join(SPARKS[min(7, int((v - lo) / span * 7.999))] for v in shown)


def after_finetune_text(after) -> Text:
    """The "after fine-tuning" section: the verdict on the advice and the before/after table."""
    from workbench.models.adapters import VERDICT_HELPED
    from workbench.reports.escalation_text import (
        FINETUNE_HEADER,
        finetune_rows,
        finetune_summary,
        finetune_verdict,
    )

    out = Text()
    out.append("After fine-tuning: ", style="bold")
    out.append(finetune_verdict(after).upper(),
               style=f"bold {GOOD if after.verdict == VERDICT_HELPED else FAIR}")
    out.append("\n")
    out.append_text(inert(finetune_summary(after)))
    out.append("\n")
    rows = [FINETUNE_HEADER, *finetune_rows(after)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(FINETUNE_HEADER))]
    for i, row in enumerate(rows):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        out.append_text(inert(line, style=MUTED if i == 0 else ""))
        out.append("\n")
    return out


def details_text(assessment) -> Text:
    """Checks, levers, serving and sensitivity, cost and examples: why the verdict is what it is."""
    from workbench.reports.escalation import cost_rows, lever_state
    from workbench.reports.escalation_text import (
        check_detail,
        cost_notes,
        examples_text,
        lever_detail,
        sensitivity_text,
        serving_text,
    )

    out = Text()
    out.append("Checks", style="bold")
    out.append("  (all must hold to fine-tune)\n", style=MUTED)
    for check in assessment.checks:
        out.append("✓ " if check.ok else "✗ ", style=GOOD if check.ok else POOR)
        out.append(f"{check.name}: ", style="bold")
        out.append_text(inert(check_detail(check)))
        out.append("\n")
    out.append("\nCheap levers\n", style="bold")
    for lever in assessment.levers:
        out.append(f"- {lever.name}: ")
        out.append(lever_state(lever), style=FAIR if lever.blocks else "")
        out.append(" — ")
        out.append_text(inert(lever_detail(lever)))
        out.append("\n")
    out.append("\nServing: ", style="bold")
    out.append_text(inert(serving_text(assessment.serving)))
    out.append("\nPrompt sensitivity: ", style="bold")
    out.append_text(inert(sensitivity_text(assessment.sensitivity)))
    cost = assessment.cost
    out.append("\n\nCost", style="bold")
    out.append_text(inert(f"  ({assessment.best} now vs a fine-tuned model"
                          + (f" {cost.finetuned_model}" if cost.finetuned_model else "")
                          + " with a short prompt)", style=MUTED))
    out.append("\n")
    for label, now, tuned in cost_rows(cost):
        out.append(f"{label}: ", style=MUTED)
        out.append(f"now {now} · fine-tuned {tuned}\n")
    for note in cost_notes(cost):
        out.append_text(inert(f"note: {note}", style=MUTED))
        out.append("\n")
    examples = assessment.examples
    out.append("\nTraining examples: ", style="bold")
    out.append_text(inert(f"{examples_text(examples)} ({examples.with_expected} with expected "
                          f"answers, {examples.from_passing_reruns} more from passing reruns)"))
    out.append("\nExport them: ", style=MUTED)
    out.append("workbench export-finetune SUITE -o FILE.jsonl --holdout 0.2", style=MUTED)
    return out


class EscalationScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("escalation.tcss")
    SECTION = "escalation"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "next_model", "Next model"),
        Binding("f5", "reload", "Reload"),
        Binding("t", "finetune", "Fine-tune"),
        Binding("x", "cancel_finetune", "Cancel fine-tune"),
    ]

    class TuneStatus(Message):
        """A line of progress from the fine-tuning worker (``done``: it ended)."""

        def __init__(self, text: Text, done: bool = False) -> None:
            super().__init__()
            self.text = text
            self.done = done

    class Built(Message):
        def __init__(self, suite: Path, report, error: str | None = None) -> None:
            super().__init__()
            self.suite = suite
            self.report = report
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self.report = None
        self.suite: Path | None = None
        self.model_index = 0
        self._picked = False  # a suite was highlighted since the screen opened
        self._build_timer: Timer | None = None
        self._tune_stop = threading.Event()
        self._tuning = False
        self._losses: list[float] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="esc-body"):
            yield OptionList(id="esc-suites")
            with VerticalScroll(id="esc-main"):
                yield Static(Text("Pick a suite on the left.", style=MUTED), id="esc-verdict")
                yield Static(id="esc-finetune")
                yield PlotextPlot(id="esc-trend")
                yield DataTable(id="esc-table", cursor_type="row", zebra_stripes=True)
                yield Static(id="esc-details")

    def on_mount(self) -> None:
        suites = self.query_one("#esc-suites", OptionList)
        suites.border_title = "Suites"
        files = self.app.project.suite_files()
        suites.add_options(Option(inert(p.stem), id=str(p)) for p in files)
        wanted = self.app.selected_suite
        if files:
            index = next((i for i, p in enumerate(files) if p == wanted), 0)
            suites.highlighted = index
        suites.focus()

    @on(OptionList.OptionHighlighted, "#esc-suites")
    def _suite_chosen(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is None:
            return
        suite = Path(event.option.id)
        if self._build_timer is not None:
            self._build_timer.stop()
            self._build_timer = None
        if not self._picked:  # the suite shown on opening: at once
            self._picked = True
            self.build(suite)
        else:  # moving through the list builds only the suite the cursor stops on
            self._build_timer = self.set_timer(0.12, lambda: self.build(suite))

    @work(thread=True, exclusive=True, group="escalation", exit_on_error=False)
    def build(self, suite: Path) -> None:
        try:
            self.post_message(self.Built(suite, self.app.project.escalation(suite)))
        except InputError as exc:
            self.post_message(self.Built(suite, None, str(exc)))

    def on_escalation_screen_built(self, message: Built) -> None:
        self.suite = message.suite
        if message.report is None or not message.report.assessments:
            self.report = None
            self.query_one("#esc-verdict", Static).update(
                Text(message.error or "No results yet.", style=POOR))
            self.query_one("#esc-table", DataTable).clear(columns=True)
            self.query_one("#esc-details", Static).update("")
            self._plot(None)
            return
        if self.report is None or self.report.suite != message.report.suite:
            self.model_index = 0
        self.report = message.report
        self.model_index = min(self.model_index, len(self.report.assessments) - 1)
        self.show()

    def show(self) -> None:
        from workbench.reports.escalation import trend_header, trend_row

        report = self.report
        assessment = report.assessments[self.model_index]
        self.query_one("#esc-verdict", Static).update(verdict_text(report, self.model_index))
        self._plot(assessment)
        table = self.query_one("#esc-table", DataTable)
        table.clear(columns=True)
        table.add_columns(*trend_header(report, assessment))
        table.add_rows([[inert(value) for value in trend_row(t, assessment.best)]
                        for t in assessment.trend])
        details = details_text(assessment)
        if report.after_finetune is not None:
            details = Text("\n").join([after_finetune_text(report.after_finetune), details])
        self.query_one("#esc-details", Static).update(details)

    def _plot(self, assessment) -> None:
        widget = self.query_one("#esc-trend", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        if assessment is not None and assessment.trend:
            labels, series = trend_series(assessment)
            xs = list(range(1, len(labels) + 1))
            for name, colour in _SERIES:
                plt.plot(xs, series[name], color=colour, marker="hd", label=name)
            plt.hline(self.report.settings.target, "red")
            plt.xticks(xs, [label.split("@")[-1] if len(labels) > 4 else label
                            for label in labels])
            plt.ylim(0, 1.25)
            plt.yticks([0, 0.25, 0.5, 0.75, 1.0])
            plt.title("Trend over versions (red: consistency target)")
        widget.refresh()

    def action_next_model(self) -> None:
        if self.report is not None and len(self.report.assessments) > 1:
            self.model_index = (self.model_index + 1) % len(self.report.assessments)
            self.show()

    def action_reload(self) -> None:
        if self.suite is not None:
            self.build(self.suite)

    # -- fine-tuning: the advice checked --------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer "Cancel fine-tune" only while one runs, and "Fine-tune" only when not."""
        if action == "cancel_finetune":
            return self._tuning
        if action == "finetune":
            return not self._tuning
        return True

    def action_finetune(self) -> None:
        if self._tuning or self.suite is None:
            return
        self._tuning = True
        self.refresh_bindings()
        self._tune_stop.clear()
        self._losses = []
        status = self.query_one("#esc-finetune", Static)
        status.display = True
        status.update(
            Text("fine-tuning: loading the base model… (x cancels)", style=FAIR))
        self.tune(self.suite)

    def action_cancel_finetune(self) -> None:
        if self._tuning:
            self._tune_stop.set()
            self.query_one("#esc-finetune", Static).update(
                Text("cancelling at the next step…", style=FAIR))

    def _progress_text(self, p) -> Text:
        self._losses.append(p.loss)
        eta = "?" if p.eta is None else f"{p.eta:.0f}s"
        out = Text(f"fine-tuning: step {p.step}/{p.total_steps} · epoch {p.epoch} · "
                   f"loss {p.loss:.3f} · {p.tokens_per_second:.0f} tok/s · ETA {eta}"
                   "  (x cancels)\n", style=FAIR)
        out.append(f"loss {sparkline(self._losses)}", style=MUTED)
        return out

    @work(thread=True, exclusive=True, group="finetune", exit_on_error=False)
    def tune(self, suite: Path) -> None:
        from workbench.finetune.loop import ComparisonInterrupted, finetune_suite
        from workbench.finetune.train import TrainingCancelled

        calls = [0]

        def on_cell(_cell) -> None:
            calls[0] += 1
            self.post_message(self.TuneStatus(Text(
                f"re-running the held-out cases on the tuned model: {calls[0]} call(s)",
                style=FAIR)))

        try:
            outcome = finetune_suite(
                self.app.project.db_path, suite,
                on_progress=lambda p: self.post_message(self.TuneStatus(self._progress_text(p))),
                on_cell=on_cell, stop=self._tune_stop.is_set)
        except TrainingCancelled:
            self.post_message(self.TuneStatus(Text("fine-tuning cancelled: nothing was kept",
                                                   style=MUTED), done=True))
        except ComparisonInterrupted:
            self.post_message(self.TuneStatus(Text(
                "comparison cancelled: the adapter is kept, nothing was compared",
                style=MUTED), done=True))
        except InputError as exc:
            self.post_message(self.TuneStatus(Text(str(exc), style=POOR), done=True))
        else:
            info = outcome.adapter.info
            self.post_message(self.TuneStatus(Text(
                f"fine-tuned: model {info.model} ({len(info.losses)} steps, loss "
                f"{info.losses[0]:.3f} → {info.losses[-1]:.3f})", style=GOOD), done=True))

    def on_escalation_screen_tune_status(self, message: TuneStatus) -> None:
        self.query_one("#esc-finetune", Static).update(message.text)
        if message.done:
            self._tuning = False
            self.refresh_bindings()
            if self.suite is not None:  # the report's cache sees the new comparison
                self.build(self.suite)
