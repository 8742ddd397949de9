"""The HTML report and the TUI's case detail diff a case's outputs against the same reference.

Each view is read as the user sees it: in the HTML, the rerun boxes with nothing marked
inserted or struck through; in the TUI, the output columns with no word highlighted. Every
other output here has a word the reference lacks, so only the reference (and copies of it)
has nothing marked in either view.
"""

from __future__ import annotations

import re
from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from tests.test_reports import A, _cell, _store_run
from workbench.analysis.reference import reference_output
from workbench.analysis.results import CaseResult, RunResults
from workbench.reports import render_html
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.case_detail import CaseDetailScreen
from workbench.tui.widgets.side_by_side import CHANGED_WORD

# Every output differs; "billing" is the most common answer, first given by rerun 1.
ALL_DIFFER = [("Shipping, I think", "shipping"), ("It is billing.", "billing"),
              ("billing, surely", "billing")]
# One unparsed output twice: the most common output is that text, although the most common
# answer ("billing", the only one parsed) comes from rerun 2.
REPEATED = [("I cannot tell.", None), ("I cannot tell.", None), ("billing", "billing")]


def _results(tmp_path: Path) -> RunResults:
    cells = [_cell(A, case, rerun, "billing", output=output, answer=answer)
             for case, outputs in (("c1", ALL_DIFFER), ("c3", REPEATED))
             for rerun, (output, answer) in enumerate(outputs)]
    return _store_run(tmp_path / "wb.db", cells)


def _case(results: RunResults, case_id: str) -> CaseResult:
    return next(c for c in results.groups[0].cases if c.case_id == case_id)


def html_unmarked(html: str, case_id: str) -> list[int]:
    """Reruns of the case (first group) whose box marks no word."""
    case = html.split(f"<summary><code>{case_id}</code>")[1].split("</details>")[0]
    boxes = re.split(r'<div class="rerun(?: failed)?">', case)[1:]
    return [i for i, box in enumerate(boxes) if "<ins>" not in box and "<del" not in box]


async def tui_unmarked(results: RunResults, case_id: str, project: Path) -> list[int]:
    """Reruns of the case (first group) whose column in the case detail marks no word."""
    app = WorkbenchApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(CaseDetailScreen(results, case_id, 0))
        await pilot.pause()
        bodies = [col.query_one(Static).content for col in app.screen.query(".output-col")]
    assert all(isinstance(body, Text) for body in bodies)
    return [i for i, body in enumerate(bodies)
            if not any(str(span.style) == CHANGED_WORD for span in body.spans)]


async def test_html_and_tui_diff_against_the_same_reference(tmp_path: Path) -> None:
    results = _results(tmp_path)
    html = render_html(results)
    project = tmp_path / "project"
    project.mkdir()

    # Every output differs: the first rerun that gave the most common answer.
    assert reference_output(_case(results, "c1")) == "It is billing."
    assert html_unmarked(html, "c1") == [1]
    assert await tui_unmarked(results, "c1", project) == [1]

    # Some output repeats: the most common output, whatever its answer.
    assert reference_output(_case(results, "c3")) == "I cannot tell."
    assert html_unmarked(html, "c3") == [0, 1]
    assert await tui_unmarked(results, "c3", project) == [0, 1]
    assert re.search(r"<del[^>]*>I cannot tell\.</del><ins>billing</ins>", html)
