"""The HTML variance report: one self-contained file a reviewer opens offline.

What it shows, top to bottom: the verdict and a summary per variant × model; charts (pass
rate and consistency with 95% intervals, the distribution of modal share over cases, pass@k
against pass^k, a variant × case heat map); the paired comparisons; then per group its
thresholds, per-step statistics for chains, and every case — unstable ones first — expandable
to its N outputs side by side, each highlighted word by word against a reference output.

Safety: all text goes through :func:`workbench.reports._html.el`, which escapes it; the page
has no script and a Content-Security-Policy that allows none, loads nothing from the network,
and draws its charts as inline SVG.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from workbench.analysis.reference import reference_text, rerun_answers
from workbench.analysis.results import CaseResult, GroupResult, RunResults
from workbench.analysis.stats import VERDICT_BETTER, VERDICT_WORSE, MetricDiff, modal_share_ci
from workbench.atomic import atomic_write_text
from workbench.reports import svg
from workbench.reports._common import (
    done_cells,
    first_varying_step,
    iso_utc,
    lowest_tar_step,
    resume_command,
    unstable_cases,
)
from workbench.reports._html import Markup, el, join, page, table
from workbench.reports.format import answer_counts, diff_ci, pass_rate_ci
from workbench.store.records import CellRecord
from workbench.text import pct, word_diff

MAX_OUTPUT_CHARS = 4000  # per rerun shown; the JSON report keeps everything
OPEN_UNSTABLE = 3  # the flakiest cases of each group start expanded
_Steps = list[tuple[str, str | None]]  # (step name, raw output) per step of one rerun


# --------------------------------------------------------------------------------------------
# Word-level diff
# --------------------------------------------------------------------------------------------


def _clip(text: str) -> tuple[str, int]:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text, 0
    return text[:MAX_OUTPUT_CHARS], len(text) - MAX_OUTPUT_CHARS


def diff_markup(base: str, text: str) -> Markup:
    """``text`` with the words that differ from ``base`` marked: ``<ins>`` for words not in
    the base, ``<del>`` for base words this output lacks (whitespace alone is not struck
    through). The segments come from :func:`workbench.text.word_diff`; everything is escaped."""
    parts: list[Any] = []
    for op, chunk in word_diff(base, text):
        if op == "equal":
            parts.append(chunk)
        elif op == "insert":
            parts.append(el("ins", chunk))
        elif chunk.strip():
            parts.append(el("del", chunk, title="in the reference output"))
    return join(parts)


# --------------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------------


def _badge(ok: bool, yes: str = "pass", no: str = "fail") -> Markup:
    return el("span", yes if ok else no, class_="badge " + ("pass" if ok else "fail"))


def _summary_table(results: RunResults) -> Markup:
    n = results.plan.reruns
    rows = []
    for g in results.groups:
        st = g.stats
        alpha = ("–" if st.krippendorff_alpha is None
                 else f"{st.krippendorff_alpha + 0.0:.2f}".replace("-0.00", "0.00"))
        met = sum(c.passed for c in g.checks)
        rows.append([
            el("a", g.variant, href=f"#{_anchor(g)}"), g.model,
            f"{pct(st.mean_pass_rate)} ({pct(st.ci[0])}–{pct(st.ci[1])})",
            pct(st.tar_answer_at_n), pct(st.tar_raw_at_n), f"{st.mean_modal_share:.2f}",
            pct(st.mean_parse_rate), f"{st.pass_hat_k[-1]:.2f}" if st.pass_hat_k else "–", alpha,
            f"{len(st.unstable)}/{st.n_cases}", str(g.errors),
            f"{g.prompt_tokens + g.completion_tokens:,}", f"${g.cost:.4f}",
            (_badge(met == len(g.checks), f"{met}/{len(g.checks)} met",
                    f"{met}/{len(g.checks)} met") if g.checks else "–"),
        ])
    return table(["Variant", "Model", "Pass rate (95% CI)", f"TARa@{n}", f"TARr@{n}",
                  "Modal share", "Parse rate", f"pass^{n}", "Krippendorff α", "Unstable",
                  "Errors", "Tokens", "Cost", "Thresholds"], rows, numeric=range(2, 13))


def _charts(results: RunResults) -> Markup:
    groups = results.groups
    bars = svg.interval_bars(
        [(g.label, [svg.Bar("pass rate", g.stats.mean_pass_rate, g.stats.ci),
                    _modal_bar(g)]) for g in groups],
        "Pass rate and consistency per variant (95% intervals)", ["pass rate", "modal share"])
    figures = [_figure(bars, "Pass rate and consistency (mean modal share) per variant × model, "
                             "with case-clustered 95% intervals.")]
    hists = []
    for i, g in enumerate(groups):
        n = g.stats.reruns
        counts = Counter(round(c.modal_share * c.n) for c in g.stats.cases.values()
                         if c.n == n)
        bins = [(f"{k}/{n}", counts.get(k, 0)) for k in range(0, n + 1)]
        hists.append(el("div", el("div", g.label, class_="legend"),
                        svg.histogram(bins, f"Modal share over cases: {g.label}",
                                      fill=svg.color(i))))
    figures.append(_figure(
        el("div", hists, class_="charts"),
        "Modal share over cases: how many cases had k of N reruns give the most common "
        "answer. Mass at N/N is consistency; anything left of it is variance."))
    n = min((g.stats.reruns for g in groups), default=1)
    series = []
    for i, g in enumerate(groups):
        series.append(svg.Series(f"pass@k {g.label}", list(g.stats.pass_at_k[:n]),
                                 color_index=i))
        series.append(svg.Series(f"pass^k {g.label}", list(g.stats.pass_hat_k[:n]),
                                 dashed=True, color_index=i))
    legend = [svg.LegendEntry(g.label, svg.color(i)) for i, g in enumerate(groups)]
    legend += [svg.LegendEntry("pass@k (solid)", svg.NO_DATA),
               svg.LegendEntry("pass^k (dashed)", svg.NO_DATA, dashed=True)]
    figures.append(_figure(
        svg.line_chart([str(k) for k in range(1, n + 1)], series, "pass@k and pass^k",
                       x_label="k (tries)", legend=legend),
        "pass@k (solid): at least one of k tries passes. pass^k (dashed): all k tries pass — "
        "what a user who asks k times experiences. The gap between them is the variance."))
    figures.append(_figure(_heat(results), "Pass rate per case (columns, unstable first) and "
                                           "variant × model (rows). Hover a cell for details."))
    return el("div", figures, class_="charts")


def _modal_bar(group: GroupResult) -> svg.Bar:
    mean, _, ci = modal_share_ci(group.stats.cases.values())
    return svg.Bar("modal share", mean, ci)


def _figure(chart: Markup, caption: str) -> Markup:
    return el("figure", chart, el("figcaption", caption))


def _heat(results: RunResults) -> Markup:
    order: list[str] = []
    for g in results.groups:  # unstable anywhere first, then suite order
        for c in unstable_cases(g):
            if c.case_id not in order:
                order.append(c.case_id)
    for case in results.plan.cases:
        if case.id not in order:
            order.append(case.id)
    rows, values, titles = [], [], []
    for g in results.groups:
        rows.append(g.label)
        vals, tips = [], []
        for cid in order:
            cs = g.stats.cases.get(cid)
            vals.append(cs.pass_rate if cs else None)
            tips.append(f"{cid} · {g.label}: " + (
                f"{cs.passes}/{cs.n} passed, modal share {cs.modal_share:.2f}" if cs
                else "not run"))
        values.append(vals)
        titles.append(tips)
    return svg.heatmap(rows, order, values, titles, "Pass rate: variant × case")


def _diff_cell(d: MetricDiff) -> Markup:
    cls = {VERDICT_BETTER: "pass", VERDICT_WORSE: "fail"}.get(d.verdict)
    return join([diff_ci(d.mean_diff, d.t_ci), " ", el("span", d.verdict, class_=cls)])


def _comparisons(results: RunResults) -> Markup:
    rows = [[b, a, str(cmp.n_shared), _diff_cell(cmp.pass_rate), _diff_cell(cmp.consistency)]
            for a, b, cmp in results.comparisons]
    return join([
        el("h2", "Comparisons", id="comparisons"),
        el("p", "Paired over the cases both ran, B − A, with a 95% paired-t interval: "
                "better or worse only when the interval excludes 0.", class_="muted"),
        table(["B", "vs A", "Shared cases", "Δ pass rate", "Δ modal share"], rows,
              numeric=[2]),
    ])


def _steps(group: GroupResult) -> Markup:
    n = group.stats.reruns
    rows = [[el("code", name), pct(st.tar_answer_at_n), pct(st.tar_raw_at_n),
             f"{st.mean_modal_share:.2f}", pct(st.mean_parse_rate), f"{st.mean_entropy:.2f}",
             f"{st.mean_similarity:.2f}"]
            for name, st in group.step_stats.items()]
    first = first_varying_step(group)
    lowest = lowest_tar_step(group)
    note = "Every step gave the same answer in all reruns."
    if first is not None:
        note = f"Variance first appears at step '{first[0]}' (TARa@{n} " \
               f"{pct(first[1].tar_answer_at_n)})."
        if lowest is not None and lowest[0] != first[0]:
            note += f" Lowest agreement at step '{lowest[0]}' " \
                    f"(TARa@{n} {pct(lowest[1].tar_answer_at_n)})."
    return join([el("h3", "Per step (chain)"),
                 table(["Step", f"TARa@{n}", f"TARr@{n}", "Modal share", "Parse rate",
                        "Entropy", "Similarity"], rows, numeric=range(1, 7)),
                 el("p", note)])


def _step_outputs(cell: CellRecord) -> _Steps:
    """(step name, raw output) per step; single-step prompts have one."""
    if len(cell.steps) > 1:
        return [(s.output or f"step {i + 1}", (s.raw or "").strip() if s.replied else None)
                for i, s in enumerate(cell.steps)]
    return [("output", cell.output)]


def _rerun_box(cell: CellRecord, n: int, steps: _Steps, refs: list[str | None]
               ) -> Markup:
    unparsed = not cell.parse_ok and cell.status != "error"
    head = el("h4", f"rerun {cell.rerun + 1}/{n} ", _badge(cell.passed),
              el("span", " no answer parsed", class_="warn") if unparsed else None)
    body: list[Any] = []
    if cell.status == "error":
        body.append(el("div", "error: ", cell.error or "unknown", class_="out fail"))
    else:
        for (name, text), ref in zip(steps, refs, strict=False):
            shown, cut = _clip(text or "")
            ref_shown = _clip(ref or "")[0]
            content = diff_markup(ref_shown, shown) if ref is not None else shown
            more = el("span", f" … {cut:,} more characters (see the JSON report)",
                      class_="muted") if cut else None
            label = el("div", name, class_="step-name") if len(steps) > 1 else None
            body.append(el("div", label, el("div", content, more, class_="out"), class_="step"))
        if cell.parse_ok:
            body.append(el("div", "answer: ", el("code", _answer_text(cell.answer)),
                           class_="meta"))
    failed = cell.failed_assertions()
    if failed and cell.status != "error":
        body.append(el("ul", [el("li", f"{a.label}: {a.reason}") for a in failed],
                       class_="meta"))
    body.append(el("div", f"{cell.latency_ms:.0f} ms · {cell.prompt_tokens}+"
                          f"{cell.completion_tokens} tokens · seed {cell.seed}", class_="meta"))
    return el("div", head, body, class_="rerun" + (" failed" if not cell.passed else ""))


def _answer_text(answer: Any) -> str:
    return answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)


def _case(case: CaseResult, expanded: bool = False) -> Markup:
    s = case.stats
    dist = ", ".join(f"{a}×{c}" for a, c in answer_counts(s))
    cells = [(c, _step_outputs(c)) for c in case.cells]
    n_steps = max((len(steps) for c, steps in cells if c.status != "error"), default=1)
    answers = rerun_answers(case.cells)
    refs = [reference_text([steps[i][1] if c.status != "error" and i < len(steps) else None
                            for c, steps in cells], answers)
            for i in range(n_steps)]
    flag = el("span", "unstable", class_="badge warn") if s.unstable else None
    summary = el("summary", el("code", case.case_id), f" — {s.passes}/{s.n} passed · modal "
                 f"share {s.modal_share:.2f} · parse rate {pct(s.parse_rate)} · answers: {dist} ",
                 flag)
    info = [el("div", "vars: ", el("code", _vars_text(case.vars)), class_="meta")]
    if case.expected is not None:
        info.append(el("div", "expected: ", el("code", _answer_text(case.expected)),
                       class_="meta"))
    info.append(el("div", "Highlighted words differ from the reference output — the most "
                          "common one, or when all differ, the first giving the most common "
                          "answer; struck-through words are in the reference but not here.",
                   class_="legend"))
    boxes = el("div", [_rerun_box(c, s.n, steps, refs) for c, steps in cells], class_="reruns")
    return el("details", summary, el("div", info, boxes, class_="body"), open=expanded)


def _vars_text(variables: dict[str, Any]) -> str:
    return json.dumps(variables, ensure_ascii=False)


def _anchor(group: GroupResult) -> str:
    return "g-" + re.sub(r"[^A-Za-z0-9_-]+", "-", group.label)


def _group(group: GroupResult) -> Markup:
    st = group.stats
    checks = [el("li", _badge(c.passed, "met", "missed"), " ", el("code", c.name),
                 f" {c.actual:.3f} (target {'≤' if c.name.startswith('max_') else '≥'} "
                 f"{c.target:g})") for c in group.checks]
    flaky = unstable_cases(group)
    stable = [c for c in group.cases if not c.stats.unstable]
    return join([
        el("h2", group.label, id=_anchor(group)),
        el("p", f"{st.n_cases} cases × {st.reruns} reruns · pass rate {pass_rate_ci(st)} · "
                f"TARa@{st.reruns} {pct(st.tar_answer_at_n)} · modal share "
                f"{st.mean_modal_share:.2f} · parse rate {pct(st.mean_parse_rate)} · "
                f"{st.precision_advice}"),
        el("ul", checks) if checks else None,
        _steps(group) if group.step_stats else None,
        el("h3", f"Unstable cases ({len(flaky)}), flakiest first"),
        join([_case(c, i < OPEN_UNSTABLE) for i, c in enumerate(flaky)]) if flaky else
        el("p", "None: every case passed all or none of its reruns.", class_="muted"),
        el("h3", f"Stable cases ({len(stable)})"),
        join([_case(c) for c in stable]),
    ])


def render_html(results: RunResults) -> str:
    """The whole report as one HTML document."""
    run, plan = results.run, results.plan
    status = _badge(results.ok, "passed", "failed")
    header = [
        el("h1", f"Prompt Workbench: {run.suite}"),
        el("p", status, " run ", el("code", run.id), f" · {iso_utc(run.created)} · "
                f"{len(plan.variants)} variant(s) × {len(plan.models)} model(s) × "
                f"{len(plan.cases)} cases × {plan.reruns} reruns · "
                f"{done_cells(results)}/{plan.total_cells} cells · status {run.status}",
           class_="meta"),
    ]
    if results.missing:
        header.append(el("p", f"{results.missing} cells missing: resume with ",
                         el("code", resume_command(results)), class_="warn"))
    if not results.groups:
        return page(f"{run.suite} · {run.id}", join([*header, el("p", "No cells recorded yet.")]))
    nav = el("nav", el("ul", [el("li", el("a", "Summary", href="#summary")),
                              el("li", el("a", "Charts", href="#charts")),
                              el("li", el("a", "Comparisons", href="#comparisons"))
                              if results.comparisons else None,
                              *[el("li", el("a", g.label, href=f"#{_anchor(g)}"))
                                for g in results.groups]]))
    body = [
        *header, nav,
        el("h2", "Summary", id="summary"), _summary_table(results),
        el("h2", "Charts", id="charts"), _charts(results),
        _comparisons(results) if results.comparisons else None,
        *[_group(g) for g in results.groups],
        el("footer", "Self-contained report: no scripts, no network. Statistics as defined in "
                     "the README's 'What the numbers mean'."),
    ]
    return page(f"{run.suite} · {run.id}", join(body))


def write_html(results: RunResults, path: str | os.PathLike[str]) -> Path:
    """Write the HTML report atomically; returns the path written."""
    return atomic_write_text(path, render_html(results))
