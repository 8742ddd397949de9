"""Report writers against a real store holding a small, hand-made run.

The run: 2 variants × 1 model × 3 cases × 3 reruns. ``triage@1`` is a plain prompt with a
flaky case, a stable case and a case with one error and one parse failure; ``triage-chain@1``
is a two-step chain (summary → label) whose summaries vary while its labels mostly agree.
Outputs carry ``<script>``, ``|``, ``]]>``, a BEL control character and non-ASCII text, the
things that break naive JSON/XML/Markdown writers.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from workbench.analysis.results import RunResults, load_results
from workbench.checks.assertions import AssertionResult
from workbench.engine.plan import Plan, PlanCase, PlanVariant
from workbench.reports import (
    SCHEMA,
    build_json,
    render_junit,
    render_markdown,
    render_summary,
    write_json,
    write_junit,
    write_markdown,
)
from workbench.reports.markdown import cell as md_cell
from workbench.store.database import Store
from workbench.store.records import CellRecord, StepRecord

A = "triage@1"
B = "triage-chain@1"
MODEL = "fake-model"
RUN_ID = "20240501-120000-abcd"
NASTY = "shipping | maybe ]]> <b>\x07 Größe 🚚"
SCRIPT = "<script>alert('x')</script>"


def _plan(reruns: int = 3) -> Plan:
    return Plan(
        suite="ticket-triage",
        suite_path="suites/triage.yaml",
        base_dir="/tmp/project",
        variants=[
            PlanVariant(A, "triage", 1, "h1", "prompts/triage/v1.yaml"),
            PlanVariant(B, "triage-chain", 1, "h2", "prompts/triage-chain/v1.yaml"),
        ],
        models=[{"name": MODEL, "api_base": None, "api_key_env": "SECRET_NAME", "params": {}}],
        groups=[(A, MODEL), (B, MODEL)],
        cases=[
            PlanCase("c1", {"ticket": "charged twice"}, "billing", [], None),
            PlanCase("c2", {"ticket": "parcel late"}, "shipping", [], None),
            PlanCase("c3", {"ticket": "money back"}, "refund", [], None),
        ],
        reruns=reruns,
        params={"temperature": 0.7},
        seed=42,
        concurrency=4,
        timeout=30.0,
        max_attempts=3,
        judge=None,
        thresholds={"pass_rate": 0.8},
    )


def _equals(expected: str, got: str | None, passed: bool) -> dict[str, Any]:
    reason = (f"answer equals {expected!r}" if passed
              else "no parsed answer" if got is None else f"expected {expected!r}, got {got!r}")
    return {"type": "equals", "negated": False, "passed": passed,
            "score": 1.0 if passed else 0.0, "weight": 1.0, "reason": reason}


def _cell(variant: str, case: str, rerun: int, expected: str, *, output: str | None,
          answer: str | None, status: str = "ok", error: str | None = None,
          steps: list[dict[str, Any]] | None = None) -> CellRecord:
    parse_ok = status == "ok" and answer is not None
    passed = parse_ok and answer == expected
    if status == "error":
        assertions = [{**_equals(expected, None, False), "reason": f"cell errored: {error}"}]
    else:
        assertions = [_equals(expected, answer, passed)]
    return CellRecord(
        run_id=RUN_ID, variant=variant, model=MODEL, case_id=case, rerun=rerun, status=status,
        output=output, answer=answer, parse_ok=parse_ok, passed=passed,
        assertions=[AssertionResult.from_dict(a) for a in assertions],
        steps=[StepRecord.from_dict(s)
               for s in steps or [{"output": "answer", "raw": output or ""}]],
        latency_ms=100.0, prompt_tokens=10, completion_tokens=5, cost=0.001, error=error,
        attempts=1, seed=42000 + rerun, prompt_hash="h", started=1.0, finished=2.0,
    )


def _chain_cell(case: str, rerun: int, expected: str, summary: str, label: str) -> CellRecord:
    steps = [
        {"output": "summary", "raw": summary, "messages": [], "params": {}},
        {"output": "label", "raw": label, "answer": label, "parse_ok": True,
         "messages": [], "params": {}},
    ]
    return _cell(B, case, rerun, expected, output=label, answer=label, steps=steps)


def _cells() -> list[CellRecord]:
    cells = [
        # A/c1: flaky, 2 of 3 pass; the failing rerun's output is the nasty one.
        _cell(A, "c1", 0, "billing", output="billing", answer="billing"),
        _cell(A, "c1", 1, "billing", output=NASTY, answer="shipping"),
        _cell(A, "c1", 2, "billing", output="billing", answer="billing"),
        # A/c3: one pass, one error, one parse failure.
        _cell(A, "c3", 0, "refund", output="refund", answer="refund"),
        _cell(A, "c3", 1, "refund", output=None, answer=None, status="error",
              error="timeout after 30s"),
        _cell(A, "c3", 2, "refund", output=SCRIPT, answer=None),
        # B/c1: summaries differ, labels agree.
        _chain_cell("c1", 0, "billing", "Customer charged twice", "billing"),
        _chain_cell("c1", 1, "billing", "Double charge on card", "billing"),
        _chain_cell("c1", 2, "billing", "Customer charged twice", "billing"),
        # B/c3: summaries differ and one label is wrong.
        _chain_cell("c3", 0, "refund", "Wants money back", "refund"),
        _chain_cell("c3", 1, "refund", "Asks for a refund", "billing"),
        _chain_cell("c3", 2, "refund", "Wants money back", "refund"),
    ]
    for rerun in range(3):  # c2: stable everywhere, non-ASCII output.
        cells.append(_cell(A, "c2", rerun, "shipping", output="shipping", answer="shipping"))
        cells.append(_chain_cell("c2", rerun, "shipping", "Paket verspätet ✓", "shipping"))
    return cells


def _store_run(path: Path, cells: list[CellRecord], finished: bool = True) -> RunResults:
    plan = _plan()
    store = Store(path)
    try:
        store.create_run(RUN_ID, plan.suite, plan.suite_path, plan.to_dict(), plan.total_cells)
        for c in cells:
            store.add_cell(c)
        if finished:
            store.set_status(RUN_ID, "finished")
        return load_results(store, RUN_ID)
    finally:
        store.close()


@pytest.fixture
def results(tmp_path: Path) -> RunResults:
    return _store_run(tmp_path / "wb.db", _cells())


@pytest.fixture
def partial(tmp_path: Path) -> RunResults:
    """The same run with B's last rerun of every case not yet done."""
    cells = [c for c in _cells() if not (c.variant == B and c.rerun == 2)]
    return _store_run(tmp_path / "partial.db", cells, finished=False)


def _group(report: dict[str, Any], variant: str) -> dict[str, Any]:
    return next(g for g in report["groups"] if g["variant"] == variant)


# ------------------------------------------------------------------------------------------
# JSON
# ------------------------------------------------------------------------------------------


def test_json_header_and_run(results: RunResults) -> None:
    report = build_json(results)
    assert report["schema"] == SCHEMA == "workbench.run/2"
    run = report["run"]
    assert run["id"] == RUN_ID and run["suite"] == "ticket-triage"
    assert run["status"] == "finished"
    assert run["reruns"] == 3 and run["total_cells"] == 18 and run["missing"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", run["created"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", run["finished"])
    assert run["settings"] == {
        "params": {"temperature": 0.7}, "seed": 42, "concurrency": 4, "timeout": 30.0,
        "max_attempts": 3, "judge": None, "thresholds": {"pass_rate": 0.8},
    }
    assert "SECRET_NAME" not in json.dumps(report)
    assert report["ok"] is False  # A misses pass_rate ≥ 0.8
    assert [(g["variant"], g["model"]) for g in report["groups"]] == [(A, MODEL), (B, MODEL)]


def test_json_groups_cases_and_reruns(results: RunResults) -> None:
    report = build_json(results)
    a, b = _group(report, A), _group(report, B)
    assert a["summary"]["mean_pass_rate"] == pytest.approx(6 / 9)
    assert b["summary"]["mean_pass_rate"] == pytest.approx(8 / 9)
    assert a["summary"]["tar_answer_at_n"] == pytest.approx(1 / 3)
    assert a["summary"]["unstable"] == ["c1", "c3"]
    assert "cases" not in a["summary"]
    assert a["errors"] == 1 and b["errors"] == 0
    assert a["cost"] == pytest.approx(0.009)
    assert a["tokens"] == {"prompt": 90, "completion": 45, "total": 135}
    assert a["thresholds"] == [{"name": "pass_rate", "target": 0.8,
                                "actual": pytest.approx(6 / 9), "passed": False}]
    assert b["thresholds"][0]["passed"] is True
    # Reruns are nested under their case; unstable cases come first.
    assert [c["id"] for c in a["cases"]] == ["c1", "c3", "c2"]
    c1 = a["cases"][0]
    assert c1["vars"] == {"ticket": "charged twice"} and c1["expected"] == "billing"
    assert [r["rerun"] for r in c1["reruns"]] == [0, 1, 2]
    assert [r["passed"] for r in c1["reruns"]] == [True, False, True]
    assert c1["reruns"][1]["output"] == NASTY
    assert c1["stats"]["passes"] == 2
    assert c1["stats"]["answers"] == [{"answer": "billing", "count": 2},
                                      {"answer": "shipping", "count": 1}]
    c3 = a["cases"][1]
    assert [r["status"] for r in c3["reruns"]] == ["ok", "error", "ok"]
    assert c3["reruns"][1]["error"] == "timeout after 30s"
    assert c3["reruns"][2]["parse_ok"] is False and c3["reruns"][2]["answer"] is None
    assert set(c3["reruns"][0]) == {
        "rerun", "seed", "status", "output", "answer", "parse_ok", "passed", "assertions",
        "latency_ms", "prompt_tokens", "completion_tokens", "cost", "error", "attempts", "steps",
    }
    # Chain: per-step summaries; the summary step varies more than the label step.
    assert list(b["per_step"]) == ["summary", "label"]
    assert b["per_step"]["summary"]["tar_answer_at_n"] == pytest.approx(1 / 3)
    assert b["per_step"]["label"]["tar_answer_at_n"] == pytest.approx(2 / 3)
    assert a["per_step"] == {}


def test_json_answers_are_values_and_a_chains_final_step_is_parsed(tmp_path: Path) -> None:
    """workbench.run/2: ``stats.answers[].answer`` is the parsed value (8, not "8"), and a
    chain's final step, which has no parse spec of its own, is counted by the answer the cell
    is scored on (the prompt's parse spec), not by its raw text."""
    def chain(case: str, rerun: int, raw: str, answer: int | None) -> CellRecord:
        steps = [{"output": "summary", "raw": "facts", "messages": [], "params": {}},
                 {"output": "label", "raw": raw, "messages": [], "params": {}}]
        cell = _cell(B, case, rerun, "8", output=raw, answer=None, steps=steps)
        cell.answer, cell.parse_ok = answer, answer is not None
        return cell

    raws = [("The answer is 8.", 8), ("8", 8), ("It is 8 items", 8)]
    cells = [chain(case, r, raw, answer) for case in ("c1", "c2", "c3")
             for r, (raw, answer) in enumerate(raws)]
    cells[-1] = chain("c3", 2, "no idea", None)
    b = _group(build_json(_store_run(tmp_path / "chain.db", cells)), B)
    c1 = next(c for c in b["cases"] if c["id"] == "c1")
    assert c1["stats"]["answers"] == [{"answer": 8, "count": 3}]
    assert [r["answer"] for r in c1["reruns"]] == [8, 8, 8]
    final = b["per_step"]["label"]
    # Raw text differs in every rerun (TARa 0 if read raw); parsed, c1 and c2 agree on 8 and
    # c3 gives 8, 8 and no answer: modal share (1 + 1 + 2/3)/3, parse rate (1 + 1 + 2/3)/3.
    assert final["tar_answer_at_n"] == pytest.approx(2 / 3)
    assert final["mean_modal_share"] == pytest.approx(8 / 9)
    assert final["mean_parse_rate"] == pytest.approx(8 / 9)
    assert final["tar_raw_at_n"] == 0.0


def test_json_comparisons(results: RunResults) -> None:
    (comparison,) = build_json(results)["comparisons"]
    assert comparison["a"] == f"{A} · {MODEL}" and comparison["b"] == f"{B} · {MODEL}"
    assert comparison["n_shared"] == 3
    assert comparison["pass_rate"]["mean_diff"] == pytest.approx(2 / 9)
    assert comparison["pass_rate"]["verdict"] == "no detectable difference"


def test_json_file_round_trips(results: RunResults, tmp_path: Path) -> None:
    path = write_json(results, tmp_path / "out" / "report.json")
    text = path.read_text(encoding="utf-8")
    assert "Größe 🚚" in text  # ensure_ascii=False
    assert "\n  \"run\": {" in text  # indent 2
    loaded = json.loads(text)
    assert loaded == json.loads(json.dumps(build_json(results)))
    assert _group(loaded, A)["cases"][0]["reruns"][1]["output"] == NASTY
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temp file left


def test_json_has_no_nan(tmp_path: Path) -> None:
    """A NaN in stored step JSON (json.dumps writes it, json.loads reads it back) must not
    produce invalid JSON: strict parsers (JavaScript, jq) reject ``NaN``."""
    cells = _cells()
    cells[0].steps[0].cost = math.nan
    report = build_json(_store_run(tmp_path / "nan.db", cells))
    text = json.dumps(report, allow_nan=False)  # raises on NaN
    assert _group(json.loads(text), A)["cases"][0]["reruns"][0]["steps"][0]["cost"] is None


def test_json_partial_run(partial: RunResults) -> None:
    report = build_json(partial)
    assert report["run"]["missing"] == 3 and report["run"]["finished"] is None
    assert report["run"]["status"] == "running"
    assert report["ok"] is False


# ------------------------------------------------------------------------------------------
# JUnit
# ------------------------------------------------------------------------------------------

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def test_junit_structure_and_counts(results: RunResults, tmp_path: Path) -> None:
    path = write_junit(results, tmp_path / "junit.xml")
    raw = path.read_text(encoding="utf-8")
    assert not _XML_ILLEGAL.search(raw)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("8", "3", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [f"{A} · {MODEL}", f"{B} · {MODEL}"]
    a, b = suites
    assert (a.get("tests"), a.get("failures"), a.get("errors")) == ("4", "2", "1")
    assert (b.get("tests"), b.get("failures"), b.get("errors")) == ("4", "1", "0")
    assert a.get("time") == "0.900"
    names = [tc.get("name") for tc in a.findall("testcase")]
    assert names == ["c1", "c3", "c2", "threshold: pass_rate >= 0.8"]
    assert {tc.get("classname") for tc in a.findall("testcase")} == {
        f"ticket-triage.{A}.{MODEL}"}


def test_junit_failure_error_and_properties(results: RunResults) -> None:
    root = ET.fromstring(render_junit(results).encode("utf-8"))
    cases = {(tc.get("classname"), tc.get("name")): tc for tc in root.iter("testcase")}
    cls_a, cls_b = f"ticket-triage.{A}.{MODEL}", f"ticket-triage.{B}.{MODEL}"

    c1 = cases[(cls_a, "c1")]
    failure = c1.find("failure")
    assert failure is not None and c1.find("error") is None
    assert failure.get("message") == "2/3 reruns passed; answers: billing×2, shipping×1"
    body = failure.text or ""
    assert "rerun 2/3:" in body and "expected 'billing', got 'shipping'" in body
    assert "]]> <b>" in body and "Größe 🚚" in body and "\x07" not in body
    props = {p.get("name"): p.get("value") for p in c1.iter("property")}
    assert props["pass_rate"] == "0.6667" and props["modal_share"] == "0.6667"
    assert props["parse_rate"] == "1.0000"
    assert props["tar_answer"] == "false"

    c3 = cases[(cls_a, "c3")]
    error = c3.find("error")
    assert error is not None and c3.find("failure") is None
    assert error.get("message") == (
        "1/3 reruns errored; 1/3 reruns passed; answers: refund×1, (no answer)×2")
    assert "timeout after 30s" in (error.text or "")
    assert "answer could not be parsed" in (error.text or "")
    assert SCRIPT in (error.text or "")  # escaped by the writer, intact after parsing

    c2 = cases[(cls_a, "c2")]
    assert c2.find("failure") is None and c2.find("error") is None
    assert {p.get("name"): p.get("value") for p in c2.iter("property")}["tar_answer"] == "true"

    missed = cases[(cls_a, "threshold: pass_rate >= 0.8")].find("failure")
    assert missed is not None and missed.get("message") == "pass_rate = 0.667, needs >= 0.8"
    assert cases[(cls_b, "threshold: pass_rate >= 0.8")].find("failure") is None
    assert cases[(cls_b, "c3")].find("failure").get("message") == (
        "2/3 reruns passed; answers: refund×2, billing×1")


def test_junit_escapes_raw_markup(results: RunResults) -> None:
    text = render_junit(results)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "]]>" not in text


def test_junit_strips_characters_illegal_in_xml(tmp_path: Path) -> None:
    """NUL, ESC and the non-characters U+FFFE/U+FFFF may not appear in XML 1.0 even escaped."""
    nasty = "bad\x00\x1b[31m\ufffe\uffff\x07end"
    cells = _cells()
    cells[0].output = nasty  # A/c1 rerun 0 (passing: only in JSON, not the failure body)
    cells[1].assertions[0] = dataclasses.replace(
        cells[1].assertions[0], reason=f"expected 'billing', got {nasty!s}")
    cells[4].error = nasty  # A/c3's errored rerun
    results = _store_run(tmp_path / "nasty.db", cells)
    text = write_junit(results, tmp_path / "j.xml").read_text(encoding="utf-8")
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", text)
    root = ET.parse(tmp_path / "j.xml").getroot()
    bodies = "".join(e.text or "" for e in root.iter() if e.tag in ("failure", "error"))
    assert "got bad[31mend" in bodies and "error: bad[31mend" in bodies
    assert json.loads(json.dumps(build_json(results)))["groups"][0]["cases"][0]["reruns"][0][
        "output"] == nasty  # JSON keeps the raw text (escaped as \\u0000 etc.)


def test_xml_text() -> None:
    from workbench.reports.junit import xml_text

    assert xml_text("a\x00b\x0bc\td\ne\rf\ud800g\U0001F69A") == "abc\td\ne\rfg\U0001F69A"


def test_junit_partial_run_reports_missing_cells(partial: RunResults) -> None:
    root = ET.fromstring(render_junit(partial))
    completeness = root.findall("testsuite")[-1]
    assert completeness.get("name") == "run completeness"
    error = completeness.find("testcase/error")
    assert error is not None and error.get("message") == "3 of 18 cells missing (15 done)"
    assert f"--resume {RUN_ID}" in (error.text or "")
    assert root.get("errors") == "2"


# ------------------------------------------------------------------------------------------
# Markdown
# ------------------------------------------------------------------------------------------


def test_markdown_tables(results: RunResults, tmp_path: Path) -> None:
    md = write_markdown(results, tmp_path / "report.md").read_text(encoding="utf-8")
    assert md.startswith(f"# Prompt Workbench: ticket-triage · run `{RUN_ID}`\n")
    assert "**❌ failed**" in md and "18/18 cells" in md
    assert "| Variant | Model | Pass rate (95% CI) | TARa@3 | TARr@3 | Modal share |" in md
    # Parse rate beside modal share (c3 of triage@1: one answer, one error, one unparsed).
    # Three cases: the clustered interval uses t(.975, 2) = 4.30, so it is wide.
    assert "| Modal share | Parse rate | Unstable |" in md
    assert ("| triage@1 | fake-model | 67% (95% CI 0%–100%) | 33% | 33% | 0.67 | 78% "
            "| 2/3 (67%) | 1 | $0.0090 | ❌ 0/1 |") in md
    assert ("| triage-chain@1 | fake-model | 89% (95% CI 41%–100%) | 67% | 67% | 0.89 | 100% "
            "| 1/3 (33%) | 0 | $0.0090 | ✅ 1/1 |") in md
    assert "- ❌ `pass_rate` 0.667 (target ≥ 0.8)" in md


def test_markdown_unstable_cases_and_escaping(results: RunResults) -> None:
    md = render_markdown(results)
    section_a = md.split(f"### {A}")[1].split("### ")[0]
    rows = [line for line in section_a.splitlines() if line.startswith("| c")]
    assert [r.split(" | ")[0] for r in rows] == ["| c1", "| c3"]  # flakiest first, c2 stable
    assert rows[0] == ("| c1 | 2/3 | billing×2 · shipping×1 "
                       "| shipping \\| maybe \\]\\]\\> \\<b\\> Größe 🚚 |")
    assert rows[1] == "| c3 | 1/3 | refund×1 · (no answer)×2 | error: timeout after 30s |"
    assert "<script>" not in md and "\x07" not in md
    # Each row has exactly the table's 4 columns: no pipe leaked from the output.
    assert all(len(re.split(r"(?<!\\)\|", r)) == 6 for r in rows)


def test_markdown_comparison_and_chain(results: RunResults) -> None:
    md = render_markdown(results)
    assert "## Comparisons" in md
    row = next(line for line in md.splitlines()
               if line.startswith(f"| {B} · {MODEL} | {A} · {MODEL} |"))
    assert "| 3 | +0.22 [" in row and "no detectable difference" in row
    assert "| `summary` | 33% | 33% | 0.78 | " in md
    assert "| `label` | 67% | 67% | 0.89 | " in md
    assert "Variance first appears at step `summary` (TARa@3 33%)." in md


def test_markdown_details_are_collapsible(results: RunResults) -> None:
    md = render_markdown(results)
    section_a = md.split(f"### {A}")[1].split("### ")[0]
    assert "<details><summary>Unstable cases: 2 of 3, flakiest first</summary>\n\n| Case |" \
        in section_a
    assert section_a.count("<details>") == section_a.count("</details>") == 1
    assert "\n\n</details>" in section_a  # the blank line GitHub needs to render the table


def test_markdown_stays_under_the_comment_limit(results: RunResults) -> None:
    full = render_markdown(results)
    fewer = render_markdown(results, max_chars=len(full) - 1)
    assert "## Groups" in fewer and "| c3 |" not in fewer  # no unstable rows left
    assert "…and 2 more (see the HTML or JSON report)." in fewer
    tiny = render_markdown(results, max_chars=1200)
    assert len(tiny) <= 1200 and "## Groups" not in tiny
    assert "| triage@1 | fake-model |" in tiny  # the overview stays
    assert "Per-group details left out" in tiny


def test_markdown_cell_escaping() -> None:
    assert md_cell("a|b\nc") == "a\\|b<br>c"
    assert md_cell("x" * 100, 10) == "xxxxxxxxx…"
    assert md_cell("*bold* `code` [l](u) &amp;") == "\\*bold\\* \\`code\\` \\[l\\](u) \\&amp;"


def test_markdown_partial_run_says_how_to_resume(partial: RunResults) -> None:
    md = render_markdown(partial)
    assert "15/18 cells" in md
    assert f"| {B} | {MODEL} | 83% (95% CI 12%–100%) | 67% (@2) | 67% (@2) |" in md
    assert f"`workbench run suites/triage.yaml --resume {RUN_ID}`" in md


# ------------------------------------------------------------------------------------------
# Terminal summary
# ------------------------------------------------------------------------------------------


def test_summary_plain(results: RunResults) -> None:
    text = render_summary(results, color=False)
    assert "\x1b[" not in text
    lines = text.splitlines()
    assert lines[0] == f"{A} · {MODEL}  (3 cases × 3 reruns)"
    assert "  pass rate    67% (95% CI 0%–100%)" in lines
    assert ("  agreement    33% of cases agree in all reruns (TARa@3) · modal share 0.67 · "
            "parse rate 78%") in lines
    assert "  unstable     2/3 cases: c1 (2/3), c3 (1/3)" in lines
    assert "  unstable     1/3 cases: c3 (2/3)" in lines
    assert "  errors       1 of 9 cells" in lines
    assert "  thresholds   0 met, 1 missed: pass_rate 0.667 < 0.8" in lines
    assert "  thresholds   1 met, 0 missed" in lines
    assert "  chain        least consistent step: summary (TARa@3 33%)" in lines
    at = lines.index(f"  {B} · {MODEL} vs {A} · {MODEL} (3 cases)")
    assert lines[at + 1].startswith("    pass rate +0.22 [-0.26, +0.70] no detectable difference")
    assert lines[-1] == f"Run {RUN_ID} · 18/18 cells · FAILED (thresholds missed)"
    block_a = text.split("\n\n")[0].splitlines()
    assert len(block_a) <= 10


def test_summary_color_and_resume(partial: RunResults) -> None:
    text = render_summary(partial, color=True)
    assert "\x1b[31;1mFAILED (cells missing)\x1b[0m" in text
    assert f"resume with: workbench run suites/triage.yaml --resume {RUN_ID}" in text
    assert "3 cells missing" in text


def test_schema_doc_covers_every_field(results: RunResults) -> None:
    """docs/json-schema.md must name every fixed field the report emits."""
    doc = (Path(__file__).parent.parent / "docs" / "json-schema.md").read_text(encoding="utf-8")
    report = build_json(results)
    group = _group(report, A)
    objects = [
        report, report["run"], report["run"]["settings"], report["run"]["variants"][0],
        report["run"]["models"][0], group, group["tokens"], group["summary"],
        group["thresholds"][0], group["cases"][0], group["cases"][0]["stats"],
        group["cases"][0]["reruns"][0], group["cases"][0]["reruns"][0]["assertions"][0],
        report["comparisons"][0], report["comparisons"][0]["pass_rate"],
    ]
    undocumented = sorted({key for obj in objects for key in obj if f"`{key}`" not in doc
                           and f".{key}`" not in doc})
    assert undocumented == []


def test_writers_handle_a_run_without_cells(tmp_path: Path) -> None:
    """Right after start (or a crash before the first cell) every writer still works."""
    empty = _store_run(tmp_path / "empty.db", [], finished=False)
    assert build_json(empty)["groups"] == [] and build_json(empty)["run"]["missing"] == 18
    root = ET.fromstring(render_junit(empty))
    assert (root.get("tests"), root.get("errors")) == ("1", "1")
    assert "No cells recorded yet." in render_markdown(empty)
    assert "0/18 cells · FAILED (cells missing)" in render_summary(empty, color=False)
