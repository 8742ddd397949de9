"""A search's summary (``workbench optimize``) in the terminal, Markdown, HTML and JSON.

Each only formats a :class:`workbench.optimize.SearchState`: every candidate with its
generator, search-split score and interval, the paired difference against its parent, calls
and cost; why the search stopped; and the held-out confirmation, stated beside the search
score — the search score is optimistic (the winner was chosen on those cases), the held-out
one is not.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from workbench.atomic import atomic_write_text
from workbench.jsonable import jsonable
from workbench.optimize.state import Candidate, SearchState
from workbench.reports._html import el, join, page, table
from workbench.reports.format import Paint, diff_ci, interval
from workbench.reports.markdown import cell as md_cell
from workbench.reports.markdown import table as md_table
from workbench.text import one_line

OBJECTIVE_LABELS = {"pass_hat_k": "pass^{k}", "consistency": "consistency",
                    "pass_rate": "pass rate"}
STOP_TEXT = {
    "plateau": "plateau: no candidate of the last round beat the best version (paired "
               "interval above zero)",
    "budget": "budget: the next measurement would not fit in the calls left",
    "max-cost": "cost cap: the next measurement would pass --max-cost",
    "rounds": "all rounds done",
    "perfect": "the best version passes every search case on every rerun: nothing to improve",
    "stopped": "stopped on request; run the same command again to continue",
}
HEADER = ["candidate", "generator", "round", "search score (95% CI)", "vs parent (95% CI)",
          "calls", "cost"]


def objective_label(state: SearchState) -> str:
    return OBJECTIVE_LABELS.get(state.objective, state.objective).format(k=state.k)


def _score(c: Candidate) -> str:
    s = c.score
    if not s:
        return c.status
    return f"{s['value']:.2f} {interval(s.get('ci'))} n={s['cases']}"


def _vs(c: Candidate) -> str:
    d = c.vs_parent
    if not d:
        return "—" if c.generator == "start" else ""
    mark = " ✓" if c.better else ""
    return diff_ci(d.get("diff"), d.get("ci")) + mark


def candidate_row(c: Candidate, best: str | None) -> list[str]:
    star = "★ " if c.key == best else ""
    return [star + (c.version or c.ref), c.generator, str(c.round), _score(c), _vs(c),
            str(c.calls + c.proposer_calls), f"${c.cost:.4f}"]


def confirmation_text(state: SearchState) -> str:
    conf = state.confirmation
    best = state.best_candidate()
    if best is None or best is state.baseline:
        return "nothing beat the starting version, so there is nothing to confirm"
    if not state.held_out_cases:
        return ("no held-out split (--holdout 0): the search score is optimistic, since the "
                "winner was chosen on the same cases")
    if not conf or not conf.get("done"):
        return "not yet confirmed on the held-out split (see the notes)"
    d = conf["diff"]
    verdict = ("confirmed" if conf["confirmed"] else
               "NOT confirmed: the held-out interval includes zero or lies below it")
    return (f"held-out split ({conf['cases']} cases): {conf['best']} "
            f"{conf['best_score']['value']:.2f} {interval(conf['best_score'].get('ci'))} vs "
            f"{conf['start']} {conf['start_score']['value']:.2f} "
            f"{interval(conf['start_score'].get('ci'))}, paired difference "
            f"{diff_ci(d.get('diff'), d.get('ci'))}: {verdict}")


def vote_text(state: SearchState) -> str | None:
    v = state.vote
    if not v:
        return None
    return (f"serving strategy, majority vote over {v['samples']} samples of {v['ref']}: "
            f"pass rate {v['vote_pass_rate']:.2f} against {v['pass_rate']:.2f} for one "
            f"sample, at {v['cost_multiplier']}× the calls (measured on the search split)")


def summary_lines(state: SearchState) -> list[str]:
    best = state.best_candidate()
    lines = [f"search {state.id}: {state.suite}, from {state.start} on {state.model}",
             f"objective {objective_label(state)}; {len(state.search_cases)} search cases, "
             f"{len(state.held_out_cases)} held out",
             f"stopped: {STOP_TEXT.get(state.stopped or '', state.stopped or 'running')}",
             f"best: {best.version or best.ref if best else '—'}"
             + (f" (labelled {state.label})" if state.label else ""),
             confirmation_text(state),
             f"spent {state.spent_calls} calls, ${state.spent_cost:.4f}"]
    vote = vote_text(state)
    if vote:
        lines.append(vote)
    for c in state.all():
        lines += [f"note ({c.version or c.ref}): {n}" for n in c.notes]
    lines += [f"note: {n}" for n in state.notes]
    if state.budget_note:
        lines.append(f"note: {state.budget_note}")
    return lines


def _columns(rows: list[list[str]]) -> list[str]:
    cells = [HEADER] + [[one_line(x, 60) for x in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(HEADER))]
    return ["  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip()
            for r in cells]


def render_round_text(state: SearchState, number: int, *, color: bool = False) -> str:
    """The table of one round (0: the starting version)."""
    paint = Paint(color)
    rows = [candidate_row(c, state.best) for c in state.all()
            if c.round == number and c.status == "measured"]
    title = "starting version" if number == 0 else f"round {number}"
    return "\n".join([paint(title, "bold"), *["  " + line for line in _columns(rows)]]) + "\n"


def render_optimize_text(state: SearchState, *, color: bool = False) -> str:
    """What ``workbench optimize`` prints at the end."""
    paint = Paint(color)
    rows = [candidate_row(c, state.best) for c in state.all() if c.status == "measured"]
    lines = [paint("Optimize: " + one_line(state.suite, 80), "bold"),
             *["  " + line for line in _columns(rows)], ""]
    lines += ["  " + one_line(line, 400) for line in summary_lines(state)]
    return "\n".join(lines) + "\n"


def render_optimize_markdown(state: SearchState) -> str:
    rows = [[md_cell(x, 80) for x in candidate_row(c, state.best)]
            for c in state.all() if c.status == "measured"]
    lines = [f"# Prompt search: {md_cell(state.suite)}", "",
             *[f"- {md_cell(line, 400)}" for line in summary_lines(state)], "",
             *md_table([md_cell(h) for h in HEADER], rows), "",
             "The search score is measured on the search split, where the winner was chosen; "
             "only the held-out line is an unbiased estimate.", ""]
    return "\n".join(lines)


def render_optimize_html(state: SearchState) -> str:
    rows = [candidate_row(c, state.best) for c in state.all() if c.status == "measured"]
    body = [el("h1", f"Prompt search: {state.suite}"),
            el("ul", [el("li", line) for line in summary_lines(state)]),
            table(HEADER, rows, numeric=[2, 5]),
            el("p", "The search score is measured on the search split, where the winner was "
                    "chosen; only the held-out comparison is an unbiased estimate.",
               class_="muted"),
            el("footer", "Self-contained report: no scripts, no network.")]
    return page(f"Prompt search: {state.suite}", join(body))


def optimize_json(state: SearchState) -> dict[str, Any]:
    data = jsonable(state.to_dict())
    for c in ([data["baseline"]] if data.get("baseline") else []) + data["candidates"]:
        c.pop("text", None)  # the version file holds it
    best = state.best_candidate()
    data["best_version"] = best.version if best else None
    data["stop_reason"] = STOP_TEXT.get(state.stopped or "", state.stopped)
    return data


def write_optimize(state: SearchState, *, md: str | os.PathLike[str] | None = None,
                   html: str | os.PathLike[str] | None = None,
                   json_path: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write the requested formats atomically; returns the paths written."""
    written = []
    if md:
        written.append(atomic_write_text(md, render_optimize_markdown(state)))
    if html:
        written.append(atomic_write_text(html, render_optimize_html(state)))
    if json_path:
        written.append(atomic_write_text(
            json_path, json.dumps(optimize_json(state), indent=2, ensure_ascii=False,
                                  allow_nan=False) + "\n"))
    return written
