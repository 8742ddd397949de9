"""Report writers: JSON (machines), JUnit XML (CI test views), Markdown (PR comments and job
summaries), the self-contained HTML variance report and the terminal summary. All of them only
format a :class:`RunResults`; none computes statistics of its own, so every view shows the
same numbers.
"""

from workbench.reports.html import render_html, write_html
from workbench.reports.json_report import SCHEMA, build_json, write_json
from workbench.reports.junit import build_junit, render_junit, write_junit
from workbench.reports.markdown import render_markdown, write_markdown
from workbench.reports.summary import render_comparisons, render_summary

__all__ = [
    "SCHEMA",
    "build_json",
    "write_json",
    "build_junit",
    "render_junit",
    "write_junit",
    "render_html",
    "write_html",
    "render_markdown",
    "write_markdown",
    "render_comparisons",
    "render_summary",
]
