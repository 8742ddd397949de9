"""JUnit XML: how CI systems (GitHub, GitLab, Jenkins, Azure) show a run as tests.

One ``<testsuite>`` per variant × model, one ``<testcase>`` per case — not per rerun, since a
case is only meaningfully "passing" across all its reruns. The failure message carries the
pass count and answer distribution so a flaky case is recognisable in the CI test view
without opening the full report. Threshold checks become testcases of their own so a
missed gate shows up red in the same view.

A testcase gets at most one of ``<error>``/``<failure>`` (the common Ant/Surefire schema
allows only one): a case with any errored rerun is an error, otherwise a case whose reruns
did not all pass is a failure.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from workbench.analysis.results import CaseResult, GroupResult, RunResults, ThresholdCheck
from workbench.atomic import atomic_write_text
from workbench.reports._common import done_cells, resume_command
from workbench.reports.format import answer_distribution
from workbench.store.records import CellRecord
from workbench.text import one_line

# Characters XML 1.0 forbids outright (§2.2 Char), including lone surrogates. ElementTree
# would write them and produce a file every parser rejects, so they are removed first.
_ILLEGAL_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_OUTPUT_EXCERPT = 300
_MAX_FAILING_RERUNS = 20


def xml_text(value: object) -> str:
    """Text safe for XML 1.0: illegal characters dropped (escaping is ElementTree's job)."""
    return _ILLEGAL_XML.sub("", str(value))


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: object) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = xml_text(text)
    return el


def _properties(parent: ET.Element, props: dict[str, object]) -> None:
    holder = _el(parent, "properties")
    for name, value in props.items():
        if isinstance(value, float):
            value = f"{value:.4f}"
        elif isinstance(value, bool):
            value = str(value).lower()
        _el(holder, "property", name=name, value="" if value is None else value)


def _seconds(cells: list[CellRecord]) -> str:
    return f"{sum(c.latency_ms for c in cells) / 1000.0:.3f}"


def _rerun_lines(cell: CellRecord, n: int) -> list[str]:
    """Why one rerun did not pass: its error, failed assertions, and an output excerpt.

    Numbered 1-based for people ("rerun 2/3"); the JSON report's ``rerun`` field is 0-based.
    """
    head = f"rerun {cell.rerun + 1}/{n}"
    if cell.status == "error":
        return [f"{head}: error: {one_line(cell.error or 'unknown error', _OUTPUT_EXCERPT)}"]
    lines = [f"{head}:"]
    failed = cell.failed_assertions(counted_only=False)
    for a in failed:
        lines.append(f"  {a.label}: {one_line(a.reason, _OUTPUT_EXCERPT)}")
    if not failed:
        lines.append("  weighted assertion score below the case threshold"
                     if cell.assertions else "  no assertions counted")
    if not cell.parse_ok:
        lines.append("  (answer could not be parsed)")
    if cell.output is not None:
        lines.append(f"  output: {one_line(cell.output, _OUTPUT_EXCERPT)}")
    return lines


def _case_message(case: CaseResult) -> str:
    s = case.stats
    return f"{s.passes}/{s.n} reruns passed; answers: {answer_distribution(s, sep=', ')}"


def _case_body(case: CaseResult) -> str:
    failing = [c for c in case.cells if not c.passed]
    lines: list[str] = []
    for cell in failing[:_MAX_FAILING_RERUNS]:
        lines.extend(_rerun_lines(cell, case.stats.n))
    if len(failing) > _MAX_FAILING_RERUNS:
        lines.append(f"… and {len(failing) - _MAX_FAILING_RERUNS} more failing reruns")
    return "\n".join(lines)


def _case_element(parent: ET.Element, classname: str, case: CaseResult) -> str | None:
    """Add one case; returns ``"error"``, ``"failure"`` or None for the counts."""
    s = case.stats
    tc = _el(parent, "testcase", classname=classname, name=case.case_id,
             time=_seconds(case.cells))
    _properties(tc, {
        "pass_rate": s.pass_rate, "passes": s.passes, "reruns": s.n,
        "modal_share": s.modal_share, "parse_rate": s.parse_rate, "tar_answer": s.tar_answer,
        "tar_raw": s.tar_raw,
        "unstable": s.unstable, "errors": s.errors,
    })
    if s.errors:
        _el(tc, "error", _case_body(case),
            message=f"{s.errors}/{s.n} reruns errored; {_case_message(case)}",
            type="RerunError")
        return "error"
    if s.passes < s.n:
        _el(tc, "failure", _case_body(case), message=_case_message(case),
            type="FlakyCase" if s.unstable else "FailedCase")
        return "failure"
    return None


def _threshold_element(parent: ET.Element, classname: str, check: ThresholdCheck) -> bool:
    """Add one threshold check as a testcase; returns whether it failed."""
    op = "<=" if check.name.startswith("max_") else ">="
    tc = _el(parent, "testcase", classname=classname,
             name=f"threshold: {check.name} {op} {check.target:g}", time="0")
    _properties(tc, {"target": float(check.target), "actual": float(check.actual)})
    if not check.passed:
        _el(tc, "failure", f"actual {check.actual:.4f}, target {op} {check.target:g}",
            message=f"{check.name} = {check.actual:.3f}, needs {op} {check.target:g}",
            type="ThresholdMissed")
        return True
    return False


def _group_suite(root: ET.Element, results: RunResults, group: GroupResult) -> tuple[int, int, int]:
    classname = f"{results.run.suite}.{group.variant}.{group.model}"
    st = group.stats
    ts = _el(root, "testsuite", name=group.label)
    _properties(ts, {
        "variant": group.variant, "model": group.model, "run_id": results.run.id,
        "reruns": st.reruns, "pass_rate": st.mean_pass_rate, "ci_low": st.ci[0],
        "ci_high": st.ci[1], "tar_answer_at_n": st.tar_answer_at_n,
        "tar_raw_at_n": st.tar_raw_at_n, "modal_share": st.mean_modal_share,
        "parse_rate": st.mean_parse_rate,
        "unstable_cases": len(st.unstable), "errors": group.errors, "cost": group.cost,
    })
    failures = errors = 0
    for case in group.cases:
        outcome = _case_element(ts, classname, case)
        failures += outcome == "failure"
        errors += outcome == "error"
    for check in group.checks:
        failures += _threshold_element(ts, classname, check)
    tests = len(group.cases) + len(group.checks)
    ts.set("tests", str(tests))
    ts.set("failures", str(failures))
    ts.set("errors", str(errors))
    ts.set("skipped", "0")
    ts.set("time", _seconds([c for case in group.cases for c in case.cells]))
    return tests, failures, errors


def _missing_suite(root: ET.Element, results: RunResults) -> None:
    """An incomplete run must not look green in CI: report the missing cells as an error."""
    ts = _el(root, "testsuite", name="run completeness", tests=1, failures=0, errors=1,
             skipped=0, time="0")
    tc = _el(ts, "testcase", classname=f"{results.run.suite}.run", name="all cells ran",
             time="0")
    _el(tc, "error", f"resume with: {resume_command(results)}",
        message=f"{results.missing} of {results.plan.total_cells} cells missing "
                f"({done_cells(results)} done)",
        type="IncompleteRun")


def build_junit(results: RunResults) -> ET.Element:
    """The ``<testsuites>`` element for a run."""
    root = ET.Element("testsuites", {"name": xml_text(f"{results.run.suite} ({results.run.id})")})
    tests = failures = errors = 0
    for group in results.groups:
        t, f, e = _group_suite(root, results, group)
        tests, failures, errors = tests + t, failures + f, errors + e
    if results.missing:
        _missing_suite(root, results)
        tests, errors = tests + 1, errors + 1
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    total_ms = sum(c.latency_ms for g in results.groups for case in g.cases for c in case.cells)
    root.set("time", f"{total_ms / 1000.0:.3f}")
    return root


def render_junit(results: RunResults) -> str:
    """JUnit XML text with an XML declaration."""
    root = build_junit(results)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def write_junit(results: RunResults, path: str | os.PathLike[str]) -> Path:
    """Write JUnit XML atomically; returns the path written."""
    return atomic_write_text(path, render_junit(results))
