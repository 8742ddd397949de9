"""Charts of the current run: how consistent the cases are, and pass@k against pass^k.

pass@k (at least one of k tries passes) rises with k while pass^k (all k pass) falls; the
gap between the two curves is what rerunning measures.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Static
from textual_plotext import PlotextPlot

from workbench.text import one_line, strip_terminal
from workbench.tui.render import MUTED, inert
from workbench.tui.screens.run_view import RunViewScreen

_COLORS = ("blue", "orange", "green", "magenta", "cyan", "red")
_LEGEND_ROOM = 1.35  # headroom above the data, so the legend (top left) hides no line


def consistency_histogram(results) -> tuple[list[str], list[list[int]], list[str]]:
    """Bins of per-case modal share (one per possible value k/N) and counts per group."""
    reruns = max((g.stats.reruns_max for g in results.groups), default=1)
    bins = [round(k / reruns, 2) for k in range(1, reruns + 1)]
    counts = []
    for group in results.groups:
        row = [0] * len(bins)
        for case in group.cases:
            share = case.stats.modal_share
            index = min(range(len(bins)), key=lambda i: abs(bins[i] - share))
            row[index] += 1
        counts.append(row)
    names = [_label(g.label) for g in results.groups]
    return [f"{b:.2f}" for b in bins], counts, names


def _whole_ticks(top: int, most: int = 8) -> list[int]:
    """Integer ticks from 0 to ``top`` (case counts are whole numbers), at most ``most``."""
    step = max(1, -(-top // most))
    return list(range(0, top + step, step))


def _label(text: str) -> str:
    return one_line(strip_terminal(text), 36)


class ChartsScreen(RunViewScreen):
    CSS_PATH = Path(__file__).with_name("charts.tcss")
    SECTION = "charts"
    PICK_TITLE = "Chart which run?"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pick_run", "Pick run"),
        Binding("f5", "reload", "Reload"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static(Text("Loading…", style=MUTED), id="charts-head")
        with Horizontal(id="charts-body"):
            yield PlotextPlot(id="consistency-plot")
            yield PlotextPlot(id="passk-plot")

    def show_missing(self, text: Text) -> None:
        self.query_one("#charts-head", Static).update(text)

    def show(self, results) -> None:
        text = inert(results.plan.suite, style="bold")
        text.append(f"  run {results.run.id}  ", style=MUTED)
        text.append("left: cases by modal share (1.00 = every rerun gave the same answer) · "
                    "right: pass@k (≥1 of k passes) vs pass^k (all k pass)", style=MUTED)
        self.query_one("#charts-head", Static).update(text)
        self.plot_consistency(results)
        self.plot_pass_k(results)

    def plot_consistency(self, results) -> None:
        widget = self.query_one("#consistency-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        bins, counts, names = consistency_histogram(results)
        if counts:
            top = max(max(row) for row in counts)
            plt.yticks(_whole_ticks(top))
            plt.ylim(0, max(1, top) * _LEGEND_ROOM)
            if len(counts) == 1:
                plt.bar(bins, counts[0], color=_COLORS[0])
            else:
                plt.multiple_bar(bins, counts, labels=names,
                                 color=[_COLORS[i % len(_COLORS)] for i in range(len(counts))])
        plt.title("Consistency: cases by modal share")
        plt.xlabel("modal share")
        plt.ylabel("cases")
        widget.refresh()

    def plot_pass_k(self, results) -> None:
        widget = self.query_one("#passk-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        for i, group in enumerate(results.groups):
            st = group.stats
            ks = list(range(1, len(st.pass_at_k) + 1))
            color = _COLORS[i % len(_COLORS)]
            name = _label(group.label) if len(results.groups) > 1 else ""
            plt.plot(ks, list(st.pass_at_k), color=color, marker="hd",
                     label=f"pass@k {name}".strip())
            plt.plot(ks, list(st.pass_hat_k), color=color, marker="dot",
                     label=f"pass^k {name}".strip())
        plt.ylim(0, _LEGEND_ROOM)
        plt.yticks([0, 0.25, 0.5, 0.75, 1.0])
        plt.title("pass@k vs pass^k")
        plt.xlabel("k")
        widget.refresh()
