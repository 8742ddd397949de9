"""How the playground draws one case: for the draft and for its parent, the N outputs side
by side with the words that differ from the reference highlighted, over a line of counts.

Plain renderables built from :class:`workbench.playground.board.Outputs`; the screen puts
each case in one ``Static`` and redraws it when one of its cells arrives.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from workbench.analysis.stats import VERDICT_BETTER, VERDICT_WORSE, Comparison
from workbench.engine.plan import PlanCase
from workbench.playground.board import Outputs
from workbench.reports.format import NO_ANSWER, answer_counts, diff_ci
from workbench.text import pct
from workbench.tui.render import GOOD, MUTED, POOR, inert, level_color
from workbench.tui.widgets.side_by_side import against_reference, spans_text

MAX_LINES = 6  # of one output; the case detail on Results shows the rest
MAX_CHARS = 400


def value_text(value: Any, limit: int = 60) -> Text:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return inert(text, limit=limit)


def case_title(case: PlanCase, model: str | None = None) -> Text:
    """``parcel  ticket=…  expected shipping`` (and the model when there are several)."""
    out = Text()
    out.append_text(inert(case.id, style="bold", limit=30))
    for name, value in case.vars.items():
        out.append(f"  {name}=", style=MUTED)
        out.append_text(value_text(value, 50))
    if case.expected is not None:
        out.append("  expected ", style=MUTED)
        out.append_text(value_text(case.expected, 30))
    if model:
        out.append(f"  · {model}", style=MUTED)
    return out


def summary(label: str, outputs: Outputs) -> Text:
    """``draft  3/4 passed · shipping×3 account×1 · modal 0.75 · parsed 100%``."""
    out = Text(f"{label} ", style="bold")
    done = outputs.finished
    n = len(outputs.slots)
    st = outputs.stats
    if st is None:
        out.append(f"0/{n} done", style=MUTED)
        return out
    out.append(f"{st.passes}/{st.n} passed", style=f"bold {level_color(st.pass_rate)}")
    if len(done) < n:
        out.append(f" ({len(done)}/{n} done)", style=MUTED)
    out.append(" · ")
    for i, (answer, count) in enumerate(answer_counts(st)):
        if i:
            out.append(" ")
        out.append_text(inert(answer, style="" if answer != NO_ANSWER else MUTED, limit=24))
        out.append(f"×{count}", style=MUTED)
    out.append(" · modal ")
    out.append(f"{st.modal_share:.2f}", style=f"bold {level_color(st.modal_share)}")
    out.append(f" · parsed {pct(st.parse_rate)}")
    if st.errors:
        out.append(f" · {st.errors} error{'s' * (st.errors != 1)}", style=POOR)
    return out


def _clip(text: str) -> str:
    lines = text[:MAX_CHARS].splitlines() or [""]
    clipped = "\n".join(lines[:MAX_LINES])
    return clipped + ("…" if len(lines) > MAX_LINES or len(text) > MAX_CHARS else "")


def outputs_table(outputs: Outputs) -> Table:
    """One column per rerun: ``#2 ✓ shipping`` over its output, differences highlighted."""
    table = Table(box=None, expand=True, show_edge=False, pad_edge=False, padding=(0, 1))
    reference = outputs.reference
    cells = []
    for rerun, cell in enumerate(outputs.slots):
        title = Text(f"#{rerun} ")
        if cell is None:
            title.append("·", style=MUTED)
            body = Text("")
        elif cell.status == "error":
            title.append("! error", style=f"bold {POOR}")
            body = inert(_clip(cell.error or "error"), style=POOR)
        else:
            title.append("✓ " if cell.passed else "✗ ",
                         style=f"bold {GOOD if cell.passed else POOR}")
            title.append_text(inert(str(cell.answer), limit=20) if cell.parse_ok
                              else Text(NO_ANSWER, style=MUTED))
            raw = _clip(cell.output or "")
            body = spans_text(against_reference(raw, _clip(reference))) \
                if reference is not None else inert(raw)
        table.add_column(title, ratio=1, overflow="fold", no_wrap=False)
        cells.append(body)
    table.add_row(*cells)
    return table


def case_block(case: PlanCase, draft: Outputs, parent: Outputs | None, *,
               parent_label: str, model: str | None = None) -> RenderableType:
    """A case: its title, then the draft's outputs, then the parent's."""
    parts: list[RenderableType] = [case_title(case, model), summary("draft", draft),
                                   outputs_table(draft)]
    if parent is not None:
        parts += [summary(parent_label, parent), outputs_table(parent)]
    return Group(*parts)


def comparison_text(comparison: Comparison | None, parent_label: str, cases: int,
                    model: str | None = None) -> Text:
    """The paired difference of draft and parent over the cases both have finished: one
    line per metric, its interval and the verdict (which needs two cases)."""
    out = Text("draft vs ", style="bold")
    out.append_text(inert(parent_label, style="bold", limit=40))
    if model:
        out.append(f" on {model}", style=MUTED)
    if comparison is None:
        out.append(f": paired once a case has all its reruns on both (of {cases})",
                   style=MUTED)
        return out
    out.append(f", paired over {comparison.n_shared} of {cases} cases:", style=MUTED)
    for label, d in (("pass rate", comparison.pass_rate),
                     ("modal share", comparison.consistency)):
        out.append(f"\n  {label:<12}{diff_ci(d.mean_diff, d.t_ci):<23}")
        style = {VERDICT_BETTER: f"bold {GOOD}", VERDICT_WORSE: f"bold {POOR}"}.get(
            d.verdict, "italic")
        out.append(d.verdict, style=style)
    return out
