"""The closing summary ``workbench run`` prints: the verdict in a few lines per group.

It answers the questions one asks right after a run — did it pass, how consistent was it,
which cases are flaky, did anything error, and is the new variant actually better — and
leaves the details to the written reports. Colour is optional so CI logs stay plain.
"""

from __future__ import annotations

from workbench.analysis.results import GroupResult, RunResults
from workbench.analysis.stats import VERDICT_BETTER, VERDICT_WORSE, Comparison, MetricDiff
from workbench.reports._common import done_cells, lowest_tar_step, resume_command, unstable_cases
from workbench.reports.format import Paint, diff_ci, pass_rate_ci
from workbench.text import one_line, pct

_SHOWN_UNSTABLE = 3
_NAME = 60  # characters of a variant, model or group name shown


def _group_block(group: GroupResult, paint: Paint) -> list[str]:
    st = group.stats
    cells = sum(len(c.cells) for c in group.cases)
    lines = [
        paint(f"{one_line(group.variant, _NAME)} · {one_line(group.model, _NAME)}", "bold")
        + paint(f"  ({st.n_cases} cases × {st.reruns} reruns)", "dim"),
        f"  pass rate    {pass_rate_ci(st)}",
        f"  agreement    {pct(st.tar_answer_at_n)} of cases agree in all reruns "
        f"(TARa@{st.reruns}) · modal share {st.mean_modal_share:.2f} · "
        f"parse rate {pct(st.mean_parse_rate)}",
    ]
    flaky = unstable_cases(group)
    if flaky:
        shown = ", ".join(f"{one_line(c.case_id, 30)} ({c.stats.passes}/{c.stats.n})"
                          for c in flaky[:_SHOWN_UNSTABLE])
        more = f", +{len(flaky) - _SHOWN_UNSTABLE} more" if len(flaky) > _SHOWN_UNSTABLE else ""
        lines.append(paint(f"  unstable     {len(flaky)}/{st.n_cases} cases: {shown}{more}",
                           "yellow"))
    else:
        lines.append("  unstable     0 cases")
    err = f"  errors       {group.errors} of {cells} cells"
    lines.append(paint(err, "red") if group.errors else err)
    if group.checks:
        met = [c for c in group.checks if c.passed]
        missed = [c for c in group.checks if not c.passed]
        text = f"  thresholds   {len(met)} met, {len(missed)} missed"
        if missed:
            text += ": " + ", ".join(
                f"{c.name} {c.actual:.3f} {'>' if c.name.startswith('max_') else '<'} "
                f"{c.target:g}"
                for c in missed
            )
        lines.append(paint(text, "red" if missed else "green"))
    lowest = lowest_tar_step(group)
    if lowest is not None:
        name, step = lowest
        lines.append(f"  chain        least consistent step: {one_line(name, 30)} "
                     f"(TARa@{step.reruns} {pct(step.tar_answer_at_n)})")
    tokens = group.prompt_tokens + group.completion_tokens
    lines.append(paint(f"  cost         ${group.cost:.4f} · {tokens:,} tokens", "dim"))
    return lines


def _diff(label: str, d: MetricDiff, paint: Paint) -> str:
    style = {VERDICT_BETTER: "green", VERDICT_WORSE: "red"}.get(d.verdict)
    verdict = paint(d.verdict, style) if style else d.verdict
    return f"{label} {diff_ci(d.mean_diff, d.t_ci)} {verdict}"


def _failure_reason(results: RunResults) -> str:
    if results.missing:
        return "cells missing"
    if results.has_thresholds:
        return "thresholds missed"
    return "some reruns did not pass"


def _comparison_lines(comparisons: list[tuple[str, str, Comparison]], paint: Paint) -> list[str]:
    lines = [paint("Comparisons", "bold")
             + paint("  (B vs A, paired over shared cases, 95% CI)", "dim")]
    for a, b, cmp in comparisons:
        lines.append(f"  {one_line(b, _NAME)} vs {one_line(a, _NAME)} ({cmp.n_shared} cases)")
        lines.append(f"    {_diff('pass rate', cmp.pass_rate, paint)} · "
                     f"{_diff('modal share', cmp.consistency, paint)}")
        if cmp.only_a or cmp.only_b:
            lines.append(paint(f"    not compared: {len(cmp.only_a)} case(s) only in A, "
                               f"{len(cmp.only_b)} only in B", "dim"))
    return lines


def render_comparisons(comparisons: list[tuple[str, str, Comparison]], *, color: bool) -> str:
    """What ``workbench compare`` prints: one paired verdict per pair of groups."""
    if not comparisons:
        return "nothing to compare: the runs share no model\n"
    return "\n".join(_comparison_lines(comparisons, Paint(color))) + "\n"


def render_summary(results: RunResults, *, color: bool) -> str:
    """Plain-text summary (ANSI colour only when ``color``), ending with a newline."""
    paint = Paint(color)
    lines: list[str] = []
    for group in results.groups:
        lines += _group_block(group, paint) + [""]
    if not results.groups:
        lines += ["no cells recorded yet", ""]
    if results.comparisons:
        lines += _comparison_lines(results.comparisons, paint) + [""]
    plan = results.plan
    verdict = (paint("OK", "green", "bold") if results.ok
               else paint(f"FAILED ({_failure_reason(results)})", "red", "bold"))
    lines.append(f"Run {results.run.id} · {done_cells(results)}/{plan.total_cells} cells · "
                 f"{verdict}")
    if results.missing:
        lines.append(paint(f"{results.missing} cells missing; resume with: "
                           f"{resume_command(results)}", "yellow"))
    return "\n".join(lines) + "\n"
