"""The TUI's pure parts: alignment, the matrix model, inert text, chart bins, the CLI door."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workbench.analysis.results import load_results
from workbench.cli.main import main
from workbench.store.database import Store
from workbench.testing.projects import ANSWERS, RUN_ID, TICKETS, fill_store, make_project
from workbench.text import strip_terminal, tokens
from workbench.tui.matrix import SORTS, build_rows, view
from workbench.tui.render import inert, pass_cell, rate_style
from workbench.tui.screens.charts import _whole_ticks, consistency_histogram
from workbench.tui.widgets.side_by_side import against_reference, side_by_side, word_spans

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- alignment


def test_side_by_side_pairs_changes_and_keeps_line_numbers() -> None:
    left = ["a", "b", "c", "d"]
    right = ["a", "B", "c", "e", "f"]
    rows = [(r.tag, r.left_no, r.left, r.right_no, r.right) for r in side_by_side(left, right)]
    assert rows == [
        ("equal", 1, "a", 1, "a"),
        ("replace", 2, "b", 2, "B"),
        ("equal", 3, "c", 3, "c"),
        ("replace", 4, "d", 4, "e"),
        ("insert", None, None, 5, "f"),
    ]
    deleted = side_by_side(["x", "y"], ["x"])
    assert [(r.tag, r.left, r.right) for r in deleted] == [("equal", "x", "x"),
                                                           ("delete", "y", None)]


def test_word_diff_marks_only_changed_words() -> None:
    left, right = word_spans("The answer is billing.", "The answer is shipping.")
    assert "".join(t for t, _ in left) == "The answer is billing."
    assert [t for t, changed in left if changed] == ["billing"]
    assert [t for t, changed in right if changed] == ["shipping"]
    assert tokens("a, b") == ["a", ",", " ", "b"]
    spans = against_reference("Billing!", "Billing.")
    assert spans == [("Billing", False), ("!", True)]


# --------------------------------------------------------------------------- inert text


def test_inert_text_never_interprets_markup_or_escapes() -> None:
    raw = "[bold red]x[/] \x1b[2J\x1b]0;title\x07\x1b[31mred\x1b[0m\x07\tend\r\n"
    assert strip_terminal(raw) == "[bold red]x[/] red  end\n"  # the tab: to column 20
    text = inert(raw)
    assert text.plain == "[bold red]x[/] red  end\n" and not text.spans
    one = inert("a\nb  c" + "x" * 50, limit=10)
    assert one.plain == "a b cxxxx…"
    styled = inert("name", style="bold")
    styled.append(" tail")
    assert [(s.start, s.end) for s in styled.spans] == [(0, 4)]  # the tail stays plain


def test_rate_colours_and_cells() -> None:
    assert rate_style(1.0) != rate_style(0.8) != rate_style(0.2) != rate_style(0.0)
    assert rate_style(0.5) == rate_style(0.8)
    cell = pass_cell(3, 5, 0.6)
    assert cell.plain == " 3/5  0.60"
    assert cell.spans[0].style == rate_style(0.6) and cell.spans[0].end == 5


# --------------------------------------------------------------------------- matrix


@pytest.fixture
def demo_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    project = make_project(tmp_path)
    monkeypatch.chdir(project)
    db = fill_store(project)
    with Store(db) as store:
        return load_results(store, RUN_ID)


def test_matrix_rows_filter_and_sorts(demo_results) -> None:
    rows = build_rows(demo_results)
    assert [r.case_id for r in rows] == [cid for cid, _, _ in TICKETS]
    by_id = {r.case_id: r for r in rows}
    # Hand-computed from workbench.testing.projects.ANSWERS: passes out of 5 per variant.
    assert [s.passes for s in by_id["app-crash"].stats] == [3, 4]
    assert [s.passes for s in by_id["refund-wait"].stats] == [2, 4]
    assert by_id["wrong-address"].stats[0].errors == 1
    unstable = {cid for cid, _, _ in TICKETS
                if any(0 < sum(a == exp for a in ANSWERS[(g, i)]) < 5 for g in (0, 1)
                       for i, (c, _, exp) in enumerate(TICKETS) if c == cid)}
    assert {r.case_id for r in rows if r.unstable} == unstable
    # Unstable first, flakiest first (pass rate nearest 0.5), ties in suite order:
    # app-crash (3/5) and refund-wait (2/5) are both 0.1 from 0.5.
    first = view(rows)
    assert [r.case_id for r in first[:2]] == ["app-crash", "refund-wait"]
    assert {r.case_id for r in first[:len(unstable)]} == unstable
    assert [r.case_id for r in view(rows, sort="case id")] == sorted(by_id)
    rates = [r.mean("pass_rate") for r in view(rows, sort="pass rate ↑")]
    assert rates == sorted(rates)
    shares = [r.mean("modal_share") for r in view(rows, sort="consistency ↑")]
    assert shares == sorted(shares)
    # Filter matches case ids, vars and expected answers, case-insensitively.
    assert [r.case_id for r in view(rows, needle="PARCEL")] == ["late-parcel"]
    assert {r.case_id for r in view(rows, needle="billing")} == {"double-charge", "refund-wait"}
    assert {r.case_id for r in view(rows, needle="a", unstable_only=True)} == unstable
    assert set(SORTS) == {"unstable first", "case id", "pass rate ↑", "consistency ↑"}
    with pytest.raises(ValueError):
        view(rows, sort="nope")


def test_consistency_histogram_counts_cases_per_modal_share(demo_results) -> None:
    bins, counts, names = consistency_histogram(demo_results)
    assert bins == ["0.20", "0.40", "0.60", "0.80", "1.00"]
    # ticket@1: app-crash 3/5 and refund-wait 3/5 agree at 0.6; late-parcel, wrong-address 0.8
    assert counts == [[0, 0, 2, 2, 2], [0, 0, 0, 2, 4]]
    assert names == ["ticket@1 · openai/fake", "ticket@2 · openai/fake"]
    assert _whole_ticks(4) == [0, 1, 2, 3, 4]
    assert _whole_ticks(100) == [0, 13, 26, 39, 52, 65, 78, 91, 104]


# --------------------------------------------------------------------------- the CLI door


def test_tui_needs_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--project", str(tmp_path), "tui"]) == 2
    assert "the TUI needs a terminal" in capsys.readouterr().err
    # With no command and no terminal, the help is printed instead of opening the TUI.
    out = subprocess.run([sys.executable, "-m", "workbench"], cwd=ROOT, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL, timeout=30)
    assert out.returncode == 0 and "tui" in out.stdout and "COMMAND" in out.stdout
