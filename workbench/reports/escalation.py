"""The escalation report in the terminal, in Markdown and in HTML, and the files it writes.

Each only formats an :class:`workbench.escalation.EscalationReport`: the verdict first, then
every check of the rule with its numbers, the trend over versions, the levers, the cost
comparison and the training examples — so a reader can see why, not just what. The sentences
come from :mod:`workbench.reports.escalation_text`, the JSON from
:mod:`workbench.reports.escalation_json`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workbench.atomic import atomic_write_text
from workbench.escalation.checks import LEVER_VOTING
from workbench.escalation.report import (
    VERDICT_FINE_TUNE,
    Assessment,
    CostComparison,
    EscalationReport,
    TrendPoint,
)
from workbench.models.adapters import VERDICT_HELPED
from workbench.reports import svg
from workbench.reports._html import Markup, el, join, page, table
from workbench.reports.escalation_json import dumps_escalation
from workbench.reports.escalation_text import (
    FINETUNE_HEADER,
    check_detail,
    cost_notes,
    examples_text,
    finetune_rows,
    finetune_summary,
    finetune_verdict,
    headline,
    lever_detail,
    metric_label,
    sensitivity_text,
    serving_text,
)
from workbench.reports.format import Paint, diff_ci
from workbench.reports.markdown import cell as md_cell
from workbench.reports.markdown import code as md_code
from workbench.reports.markdown import details as md_details
from workbench.reports.markdown import table as md_table
from workbench.text import one_line

MAX_TREND_ROWS = 20  # Markdown: the latest versions; the HTML and JSON have them all


def _money(x: float | None) -> str:
    if x is None:
        return "unknown"
    return f"${x:,.2f}" if x >= 1 else f"${x:,.4f}"


def _temp(t: float | None) -> str:
    return "default" if t is None else f"{t:g}"


def _iv(value: float, ci: tuple[float, float], percent: bool = False) -> str:
    if percent:
        return f"{value:.0%} ({ci[0]:.0%}–{ci[1]:.0%})"
    return f"{value:.2f} ({ci[0]:.2f}–{ci[1]:.2f})"


def trend_header(report: EscalationReport, a: Assessment) -> list[str]:
    k = a.trend[-1].k if a.trend else "k"
    return ["Version", "Kind", "Temp.", "Pass rate (95% CI)",
            f"{metric_label(report.settings.metric)} (95% CI)", "Parse rate", "TARa", "TARr",
            f"pass^{k} (95% CI)", "Majority vote", "Tokens/call"]


def trend_row(t: TrendPoint, best: str) -> list[str]:
    return [t.ref + (" ★" if t.ref == best else ""), t.kind, _temp(t.temperature),
            _iv(t.pass_rate.value, t.pass_rate.ci, percent=True),
            _iv(t.consistency.value, t.consistency.ci), f"{t.parse_rate:.0%}",
            f"{t.tar_answer:.0%}", f"{t.tar_raw:.0%}", _iv(t.pass_hat_k.value, t.pass_hat_k.ci),
            f"{t.vote_pass_rate:.0%}", f"{t.tokens_per_call:.0f}"]


def cost_rows(c: CostComparison) -> list[list[str]]:
    short = "unknown" if c.short_prompt_tokens is None else f"{c.short_prompt_tokens:.0f}"
    return [
        ["Tokens per call", f"{c.prompt_tokens:.0f} in + {c.completion_tokens:.0f} out",
         f"≈ {short} in + {c.short_completion_tokens:.0f} out (no few-shot examples)"],
        ["Price per 1k tokens", _price(c.price, c.price_source),
         _price(c.finetuned_price, c.finetuned_price_source)],
        ["Per 1,000 calls", _money(c.per_1k_calls_now), _money(c.per_1k_calls_finetuned)],
        *([["Per 1,000 calls, as billed in the runs", _money(c.observed_per_1k_calls), "–"]]
          if c.observed_per_1k_calls > 0 else []),
        ["One-off training", "–",
         _money(c.training_cost) + (f" ({c.training_tokens:,.0f} training tokens over "
                                    f"{c.epochs} epochs)" if c.training_tokens is not None
                                    else "")],
    ]


def _price(p: Any, source: str) -> str:
    if p is None:
        return "unknown"
    return f"${p.input_per_1k:g} in / ${p.output_per_1k:g} out ({source})"


def lever_state(lever: Any) -> str:
    if lever.tried:
        return "tried"
    if lever.name == LEVER_VOTING:
        return "worth trying" if lever.blocks else "estimated: not enough"
    return "try first" if lever.blocks else "untried"


def _export_hint(report: EscalationReport, suite_arg: str | None) -> str:
    return (f"workbench export-finetune {suite_arg or report.suite} -o {report.suite}.jsonl "
            "--holdout 0.2")


# --------------------------------------------------------------------------------------------
# Terminal
# --------------------------------------------------------------------------------------------


def _plain(text: object, limit: int = 200) -> str:
    return one_line(str(text), limit)


def render_escalation_text(report: EscalationReport, *, color: bool,
                           suite_arg: str | None = None) -> str:
    """What ``workbench escalate`` prints."""
    paint = Paint(color)
    lines = [paint(f"Escalation report: {_plain(report.suite)}", "bold")
             + paint(f"  ({len(report.runs)} run(s))", "dim"), ""]
    for a in report.assessments:
        style = "yellow" if a.verdict == VERDICT_FINE_TUNE else "green"
        lines.append(paint(f"{_plain(a.model)}: {a.verdict.upper()}", "bold", style))
        lines.append(f"  {_plain(headline(a), 400)}")
        lines.append("")
        lines.append(paint("  Checks", "bold") + paint("  (all must hold to fine-tune)", "dim"))
        for c in a.checks:
            mark = paint("✓", "green") if c.ok else paint("✗", "red")
            lines.append(f"  {mark} {c.name}: {_plain(check_detail(c), 600)}")
        lines.append("")
        lines.append(paint("  Trend over versions", "bold") + paint("  (oldest first; ★ best)",
                                                                    "dim"))
        header = trend_header(report, a)
        rows = [trend_row(t, a.best) for t in a.trend]
        lines += ["  " + line for line in _columns(header, rows)]
        lines.append("")
        lines.append(paint("  Cheap levers", "bold"))
        for lv in a.levers:
            state = paint(lever_state(lv), "yellow") if lv.blocks else lever_state(lv)
            lines.append(f"  - {lv.name}: {state} — {_plain(lever_detail(lv), 400)}")
        lines.append("")
        lines.append(f"  Serving: {_plain(serving_text(a.serving), 600)}")
        lines.append(f"  Prompt sensitivity: {_plain(sensitivity_text(a.sensitivity), 400)}")
        lines.append("")
        c = a.cost
        lines.append(paint("  Cost", "bold") + paint(f"  ({_plain(a.best)} now vs a fine-tuned "
                                                     "model with a short prompt)", "dim"))
        lines += ["  " + line for line in _columns(
            ["", "now", "fine-tuned" + (f" ({_plain(c.finetuned_model)})"
                                        if c.finetuned_model else "")], cost_rows(c))]
        for note in cost_notes(c):
            lines.append(paint(f"  note: {_plain(note, 300)}", "dim"))
        lines.append("")
        e = a.examples
        lines.append(f"  Training examples: {examples_text(e)} ({e.with_expected} with expected "
                     f"answers, {e.from_passing_reruns} more from passing reruns)")
        lines.append(paint(f"  Export them: {_export_hint(report, suite_arg)}", "dim"))
        lines.append("")
    after = report.after_finetune
    if after is not None:
        lines.append(paint(f"After fine-tuning: {finetune_verdict(after).upper()}", "bold",
                           "green" if after.verdict == VERDICT_HELPED else "yellow"))
        lines.append(f"  {_plain(finetune_summary(after), 600)}")
        lines += ["  " + line for line in _columns(FINETUNE_HEADER, finetune_rows(after))]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    cells = [header] + [[_plain(c, 60) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in cells]


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A table of escaped cells, each row cell shortened to 80 characters."""
    return md_table([md_cell(h) for h in header], [[md_cell(c, 80) for c in row] for row in rows])


def render_escalation_markdown(report: EscalationReport, suite_arg: str | None = None) -> str:
    """GitHub-flavoured Markdown for a job summary or a pull-request comment."""
    lines = [f"# Escalation report: {md_cell(report.suite)}", ""]
    for a in report.assessments:
        mark = "🟠" if a.verdict == VERDICT_FINE_TUNE else "🟢"
        lines += [f"## {md_cell(a.model)}: {mark} **{md_cell(a.verdict)}**", "",
                  md_cell(headline(a)), ""]
        lines += [f"- {'✅' if c.ok else '❌'} **{md_cell(c.name)}**: {md_cell(check_detail(c))}"
                  for c in a.checks]
        rows = [trend_row(t, a.best) for t in a.trend]
        shown = rows[-MAX_TREND_ROWS:]
        trend = _md_table(trend_header(report, a), shown)
        if len(rows) > len(shown):
            trend += ["", f"…{len(rows) - len(shown)} older version(s) in the HTML and JSON."]
        lines += ["", *md_details(f"Trend over versions ({len(rows)}, oldest first; ★ best)",
                                  trend), ""]
        levers = _md_table(["Lever", "State", "Detail"],
                           [[lv.name, lever_state(lv), lever_detail(lv)] for lv in a.levers])
        levers += ["", f"- Serving: {md_cell(serving_text(a.serving))}",
                   f"- Prompt sensitivity: {md_cell(sensitivity_text(a.sensitivity))}"]
        lines += [*md_details("Cheap levers, serving, sensitivity", levers), ""]
        c = a.cost
        cost = _md_table(["", "Now", "Fine-tuned"
                          + (f" ({c.finetuned_model})" if c.finetuned_model else "")],
                         cost_rows(c))
        cost += [""] + [f"- {md_cell(n)}" for n in cost_notes(c)]
        cost += [f"- Training examples: {md_cell(examples_text(a.examples))}",
                 f"- Export: {md_code(_export_hint(report, suite_arg))}"]
        lines += [*md_details("Cost and training examples", cost), ""]
    after = report.after_finetune
    if after is not None:
        lines += [f"## After fine-tuning: **{md_cell(finetune_verdict(after))}**", "",
                  md_cell(finetune_summary(after)), "",
                  *_md_table(FINETUNE_HEADER, finetune_rows(after)), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------


def _trend_chart(report: EscalationReport, a: Assessment) -> Markup:
    trend = a.trend
    labels = [t.ref for t in trend]
    metric = metric_label(report.settings.metric)
    k = trend[-1].k if trend else 1
    series = [
        svg.Series("pass rate", [t.pass_rate.value for t in trend],
                   [t.pass_rate.ci for t in trend], color_index=0),
        svg.Series(metric, [t.consistency.value for t in trend],
                   [t.consistency.ci for t in trend], color_index=1),
        svg.Series(f"pass^{k}", [t.pass_hat_k.value for t in trend],
                   [t.pass_hat_k.ci for t in trend], dashed=True, color_index=2),
    ]
    legend = [svg.LegendEntry(s.name, svg.color(s.color_index), s.dashed) for s in series]
    legend.append(svg.LegendEntry(f"target {report.settings.target:g} ({metric})",
                                  svg.color(-1), dashed=True))
    chart = svg.line_chart(labels, [*series, svg.Series(
        "target", [report.settings.target] * len(trend), dashed=True, color_index=-1)],
        f"Trend over versions: {a.model}", legend=legend)
    return el("figure", chart, el("figcaption",
                                  "Oldest version first. Shaded whiskers: 95% intervals. "
                                  "The dashed grey line is the consistency target."))


def _checks_html(a: Assessment) -> Markup:
    return el("ul", [el("li", el("span", "✓" if c.ok else "✗", class_="pass" if c.ok else "fail"),
                        " ", el("b", c.name), ": ", check_detail(c)) for c in a.checks])


def _assessment_html(report: EscalationReport, a: Assessment, suite_arg: str | None) -> Markup:
    go = a.verdict == VERDICT_FINE_TUNE
    c = a.cost
    notes = cost_notes(c)
    e = a.examples
    improvements = [[i.ref, i.baseline, str(i.n_shared),
                     diff_ci(i.pass_rate_diff, i.pass_rate_ci), i.pass_rate_verdict,
                     diff_ci(i.consistency_diff, i.consistency_ci), i.consistency_verdict,
                     el("span", "yes", class_="pass") if i.improved else "no"]
                    for i in a.improvements]
    return join([
        el("h2", a.model, id="m-" + "".join(ch if ch.isalnum() else "-" for ch in a.model)),
        el("div", el("p", el("b", f"Verdict: {a.verdict}")), el("p", headline(a)),
           class_="verdict " + ("go" if go else "stop")),
        el("h3", "The rule, checked"), _checks_html(a),
        el("h3", "Trend over versions"),
        el("div", _trend_chart(report, a), class_="charts"),
        table(trend_header(report, a), [trend_row(t, a.best) for t in a.trend],
              numeric=range(2, 11)),
        el("h3", "Did the last versions improve?"),
        table(["Version", "vs best before", "Shared cases", "Δ pass rate (95% CI)", "Verdict",
               "Δ modal share (95% CI)", "Verdict", "Improved"], improvements, numeric=[2])
        if improvements else el("p", "Only one version: nothing to compare.", class_="muted"),
        el("h3", "Cheap levers"),
        table(["Lever", "State", "Detail"],
              [[lv.name,
                el("span", lever_state(lv), class_="warn") if lv.blocks else lever_state(lv),
                lever_detail(lv)] for lv in a.levers]),
        el("h3", "Serving nondeterminism and prompt sensitivity"),
        el("p", serving_text(a.serving)), el("p", sensitivity_text(a.sensitivity)),
        el("h3", "Cost"),
        table(["", "Now: " + a.best, "Fine-tuned" + (f": {c.finetuned_model}"
                                                     if c.finetuned_model else "")],
              cost_rows(c)),
        el("ul", [el("li", n, class_="muted") for n in notes]) if notes else None,
        el("h3", "Training examples"),
        el("p", examples_text(e), f" ({e.with_expected} cases with expected answers, "
                            f"{e.from_passing_reruns} more with a passing rerun; "
                            f"{e.passing_reruns} distinct passing outputs)."),
        el("p", "Export them: ", el("code", _export_hint(report, suite_arg))),
    ])


def _after_finetune_html(report: EscalationReport) -> Markup | None:
    after = report.after_finetune
    if after is None:
        return None
    helped = after.verdict == VERDICT_HELPED
    return join([
        el("h2", "After fine-tuning", id="after-finetune"),
        el("div", el("p", el("b", f"Verdict on the advice: {finetune_verdict(after)}")),
           el("p", finetune_summary(after)), class_="verdict " + ("go" if helped else "stop")),
        table(FINETUNE_HEADER, finetune_rows(after), numeric=[1, 2]),
    ])


def render_escalation_html(report: EscalationReport, suite_arg: str | None = None) -> str:
    body = [
        el("h1", f"Escalation report: {report.suite}"),
        el("p", f"{len(report.runs)} run(s): ", join([el("code", r) for r in report.runs], ", "),
           f" · consistency metric {metric_label(report.settings.metric)}, "
           f"target {report.settings.target:g}"
           + (f", pass^k target {report.settings.pass_hat_k:g}"
              if report.settings.pass_hat_k is not None else "")
           + f", plateau over the last {report.settings.plateau} versions", class_="meta"),
        el("p", "First, the best version's answers must be readable (its parse rate at least "
                f"{report.settings.parse_rate_target:g}); otherwise fix the output format "
                "first. Fine-tuning is recommended only when the best version stays below the "
                "target with its 95% interval excluding it, the shortfall is not serving "
                "nondeterminism, the last versions brought no detectable improvement, the "
                "cheap levers were tried, and there are at least 10 training examples.",
           class_="muted"),
        *[_assessment_html(report, a, suite_arg) for a in report.assessments],
        _after_finetune_html(report),
        el("footer", "Self-contained report: no scripts, no network."),
    ]
    return page(f"Escalation: {report.suite}", join(body))


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def write_escalation(report: EscalationReport, *, md: str | os.PathLike[str] | None = None,
                     html: str | os.PathLike[str] | None = None,
                     json_path: str | os.PathLike[str] | None = None,
                     suite_arg: str | None = None) -> list[Path]:
    """Write the requested formats atomically; returns the paths written."""
    written = []
    if md:
        written.append(atomic_write_text(md, render_escalation_markdown(report, suite_arg)))
    if html:
        written.append(atomic_write_text(html, render_escalation_html(report, suite_arg)))
    if json_path:
        written.append(atomic_write_text(json_path, dumps_escalation(report)))
    return written
