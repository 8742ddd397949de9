"""The Markdown report: a run at a glance for a CI job summary or a PR comment.

GitHub-flavoured Markdown. Model output is untrusted text: every table cell is escaped
(``|``, newlines, Markdown and HTML punctuation) so a reply containing ``<script>`` or a
pipe renders as text and cannot break the table, and excerpts are truncated so one chatty
model cannot blow the 64 KB job-summary limit.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from workbench.analysis.results import CaseResult, GroupResult, RunResults
from workbench.analysis.stats import VERDICT_BETTER, VERDICT_WORSE, MetricDiff
from workbench.atomic import atomic_write_text
from workbench.reports._common import (
    done_cells,
    first_varying_step,
    lowest_tar_step,
    resume_command,
    unstable_cases,
)
from workbench.reports.format import answer_distribution, diff_ci, pass_rate_ci
from workbench.text import pct, strip_control, truncate

MAX_UNSTABLE = 20
MAX_CHARS = 60_000  # under GitHub's 65,536-character limit for a PR comment
_EXCERPT = 80
# Backslash-escaping any ASCII punctuation is always literal in CommonMark; these are the
# characters that could start emphasis, links, code, HTML, entities or strikethrough.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#!])")


def cell(value: object, limit: int | None = None) -> str:
    """Escape text for one GFM table cell: Markdown/HTML punctuation, pipes and newlines."""
    text = strip_control(str(value))
    if limit is not None:
        text = truncate(" ".join(text.split()), limit)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("\r\n", "<br>").replace("\n", "<br>").replace("\r", "<br>")


def code(value: object, *, in_table: bool = False) -> str:
    """Inline code for identifiers (run id, step names); backticks and pipes cannot break out.

    GFM splits table rows on ``|`` even inside code spans, so there it must be ``\\|``;
    elsewhere that backslash would show literally.
    """
    text = " ".join(strip_control(str(value)).split()).replace("`", "'")
    if in_table:
        text = text.replace("|", "\\|")
    return f"`{text}`"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A GFM table; callers escape the cells (:func:`cell`, :func:`code`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _thresholds(group: GroupResult) -> str:
    if not group.checks:
        return "–"
    met = sum(c.passed for c in group.checks)
    mark = "✅" if met == len(group.checks) else "❌"
    return f"{mark} {met}/{len(group.checks)}"


def _overview(results: RunResults) -> list[str]:
    n = results.plan.reruns
    header = ["Variant", "Model", "Pass rate (95% CI)", f"TARa@{n}", f"TARr@{n}",
              "Modal share", "Parse rate", "Unstable", "Errors", "Cost", "Thresholds"]
    rows = []
    for g in results.groups:
        st = g.stats
        # A partial run may have fewer reruns than planned: say so next to the TAR values.
        at = "" if st.reruns == n else f" (@{st.reruns})"
        rows.append([
            cell(g.variant), cell(g.model), pass_rate_ci(st), pct(st.tar_answer_at_n) + at,
            pct(st.tar_raw_at_n) + at, f"{st.mean_modal_share:.2f}", pct(st.mean_parse_rate),
            f"{len(st.unstable)}/{st.n_cases} ({pct(st.unstable_share)})", str(g.errors),
            f"${g.cost:.4f}", _thresholds(g),
        ])
    return table(header, rows)


def _check_lines(group: GroupResult) -> list[str]:
    lines = []
    for c in group.checks:
        op = "≤" if c.name.startswith("max_") else "≥"
        mark = "✅" if c.passed else "❌"
        lines.append(f"- {mark} {code(c.name)} {c.actual:.3f} (target {op} {c.target:g})")
    return lines


def _failing_excerpt(case: CaseResult) -> str:
    """The first failing rerun's output (or error), so the flake is visible in the table."""
    for c in case.cells:
        if not c.passed:
            text = c.output if c.output is not None else f"error: {c.error or 'unknown'}"
            return cell(text, _EXCERPT)
    return ""


def details(summary: str, body: list[str]) -> list[str]:
    """A collapsed section (GitHub renders ``<details>``; the blank lines let the Markdown
    inside render). ``summary`` is HTML, so callers pass only their own text and numbers."""
    return [f"<details><summary>{summary}</summary>", "", *body, "", "</details>"]


def _unstable_table(group: GroupResult, limit: int = MAX_UNSTABLE) -> list[str]:
    flaky = unstable_cases(group)
    if not flaky:
        return ["No unstable cases: every case passed all or none of its reruns."]
    rows = [
        [cell(c.case_id, 60), f"{c.stats.passes}/{c.stats.n}",
         cell(answer_distribution(c.stats)), _failing_excerpt(c)]
        for c in flaky[:limit]
    ]
    lines = table(["Case", "Passed", "Answers", "A failing output"], rows)
    if len(flaky) > limit:
        lines += ["", f"…and {len(flaky) - limit} more (see the HTML or JSON report)."]
    return details(f"Unstable cases: {len(flaky)} of {group.stats.n_cases}, flakiest first",
                   lines)


def _steps_table(group: GroupResult) -> list[str]:
    n = group.stats.reruns
    rows = [
        [code(name, in_table=True), pct(st.tar_answer_at_n), pct(st.tar_raw_at_n),
         f"{st.mean_modal_share:.2f}", pct(st.mean_parse_rate), f"{st.mean_entropy:.2f}"]
        for name, st in group.step_stats.items()
    ]
    lines = ["**Per-step consistency** (chain):", ""]
    lines += table(["Step", f"TARa@{n}", f"TARr@{n}", "Modal share", "Parse rate", "Entropy"],
                   rows)
    first = first_varying_step(group)
    if first is None:
        lines += ["", "Every step gave the same answer in all reruns."]
    else:
        name, st = first
        lowest = lowest_tar_step(group)
        lines += ["", f"Variance first appears at step {code(name)} "
                      f"(TARa@{n} {pct(st.tar_answer_at_n)})."]
        if lowest is not None and lowest[0] != name:
            lines[-1] += (f" Lowest agreement at step {code(lowest[0])} "
                          f"(TARa@{n} {pct(lowest[1].tar_answer_at_n)}).")
    return lines


def _group_section(group: GroupResult, limit: int = MAX_UNSTABLE) -> list[str]:
    st = group.stats
    lines = [f"### {cell(group.variant)} · {cell(group.model)}", ""]
    lines.append(
        f"{st.n_cases} cases × {st.reruns} reruns · pass rate {pass_rate_ci(st)} · "
        f"tokens {group.prompt_tokens + group.completion_tokens:,} · cost ${group.cost:.4f}"
    )
    lines.append("")
    if group.checks:
        lines += _check_lines(group) + [""]
    lines += _unstable_table(group, limit) + [""]
    if group.step_stats:
        lines += _steps_table(group) + [""]
    return lines


def _diff(d: MetricDiff) -> str:
    mark = {VERDICT_BETTER: "⬆️ ", VERDICT_WORSE: "⬇️ "}.get(d.verdict, "")
    return f"{diff_ci(d.mean_diff, d.t_ci)} · {mark}{d.verdict}"


def _comparisons(results: RunResults) -> list[str]:
    rows = [
        [cell(b), cell(a), str(cmp.n_shared), _diff(cmp.pass_rate), _diff(cmp.consistency)]
        for a, b, cmp in results.comparisons
    ]
    lines = ["## Comparisons", "",
             "Paired over shared cases, B − A, with a 95% paired-t interval.", ""]
    return lines + table(["B", "vs A", "Shared cases", "Δ pass rate", "Δ modal share"], rows)


def render_markdown(results: RunResults, max_chars: int = MAX_CHARS) -> str:
    """The whole report as GitHub-flavoured Markdown, at most ``max_chars`` long.

    GitHub refuses pull-request comments over 65,536 characters. A report that would exceed
    the budget lists fewer unstable cases per group, then drops the per-group sections and
    says so; the overview table and the comparisons always stay.
    """
    for limit in (MAX_UNSTABLE, 5, 0):
        text = _render(results, limit)
        if len(text) <= max_chars:
            return text
    note = ("\n> Per-group details left out to stay under GitHub's size limit; see the HTML or "
            "JSON report.\n")
    head = text.split("\n## Groups\n", 1)[0].rstrip("\n") + "\n" + note
    return head if len(head) <= max_chars else truncate(head, max_chars - 1) + "\n"


def _render(results: RunResults, limit: int) -> str:
    run, plan = results.run, results.plan
    status = "✅ passed" if results.ok else "❌ failed"
    lines = [
        f"# Prompt Workbench: {cell(run.suite)} · run {code(run.id)}",
        "",
        f"**{status}** · {len(plan.variants)} variant(s) × {len(plan.models)} model(s) × "
        f"{len(plan.cases)} cases × {plan.reruns} reruns · "
        f"{done_cells(results)}/{plan.total_cells} cells · status {cell(run.status)}",
        "",
    ]
    if results.missing:
        lines += [f"> ⚠️ {results.missing} cells missing: resume with "
                  f"{code(resume_command(results))}", ""]
    if not results.groups:
        lines += ["No cells recorded yet."]
        return "\n".join(lines) + "\n"
    lines += _overview(results) + [""]
    if results.comparisons:
        lines += _comparisons(results) + [""]
    lines += ["## Groups", ""]
    for group in results.groups:
        lines += _group_section(group, limit)
    return "\n".join(lines).rstrip("\n") + "\n"


def write_markdown(results: RunResults, path: str | os.PathLike[str]) -> Path:
    """Write the Markdown report atomically; returns the path written."""
    return atomic_write_text(path, render_markdown(results))

