"""Shared helpers behind the reports: the modal-share interval, difference formatting, and the
escaping of terminal control characters in the JSON files."""

from __future__ import annotations

import json
import math
import re
import statistics
from dataclasses import replace
from pathlib import Path

import pytest
import scipy.stats

from tests.test_escalation import PLATEAU, SUITE, _cases, _plateau
from workbench.analysis.stats import Rerun, case_stats, modal_share_ci, wilson_interval
from workbench.escalation import escalate, load_history
from workbench.reports import escalation_json
from workbench.reports.escalation import write_escalation
from workbench.reports.escalation_json import build_escalation_json
from workbench.reports.format import diff_ci
from workbench.store.database import Store


def _case(answers: list[str | None]):
    return case_stats("c", [Rerun(True, a, a, error=a is None) for a in answers])


def test_modal_share_ci_is_case_clustered() -> None:
    cases = [_case(["a", "a", "b"]), _case(["a", "a", "a"]), _case(["a", "b", None])]
    shares = [2 / 3, 1.0, 1 / 3]
    mean, se, (lo, hi) = modal_share_ci(iter(cases))  # any iterable, e.g. dict values
    assert mean == pytest.approx(statistics.fmean(shares))
    assert se == pytest.approx(statistics.stdev(shares) / math.sqrt(3))
    half = scipy.stats.t.ppf(0.975, 2) * se  # Student's t with n − 1 = 2 df
    assert (lo, hi) == pytest.approx((max(0.0, mean - half), min(1.0, mean + half)))


def test_modal_share_ci_falls_back_to_wilson_over_pooled_reruns() -> None:
    # Every case 2 of 3 agree: SE 0, so the interval is Wilson over 4 of 6 reruns, not ±0.
    mean, se, ci = modal_share_ci([_case(["a", "a", "b"]), _case(["x", "y", "y"])])
    assert (mean, se) == (pytest.approx(2 / 3), 0.0)
    assert ci == pytest.approx(wilson_interval(4, 6))


def test_diff_ci() -> None:
    assert diff_ci(0.2222, (-0.2611, 0.7)) == "+0.22 [-0.26, +0.70]"
    assert diff_ci(0.5, None) == "+0.50"
    assert diff_ci(None, None) == "–"
    assert diff_ci(-0.125, [-0.25, 0.0], digits=3) == "-0.125 [-0.250, +0.000]"


# Every character a terminal acts on: ESC (json.dumps escapes it), DEL, the C1 controls
# (0x9b is an 8-bit CSI), the bidi overrides and isolates (json.dumps writes those raw).
_TERMINAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_escalation_json_escapes_terminal_controls(tmp_path: Path, monkeypatch) -> None:
    with Store(tmp_path / "wb.db") as store:
        _plateau(store, _cases())
        report = escalate(load_history(store, SUITE), PLATEAU)
    nasty = "p\x1b[31m\u202e\x9b2J\x7f\u2066@9"
    a = report.assessments[0]
    a = replace(a, best=nasty, trend=(replace(a.trend[0], ref=nasty), *a.trend[1:]))
    report = replace(report, assessments=(a,))
    # The first check's sentence holds the controls too (sentences are made from the data).
    sentence = escalation_json.check_detail
    monkeypatch.setattr(escalation_json, "check_detail", lambda c: f"red {nasty} done"
                        if c is a.checks[0] else sentence(c))
    path = tmp_path / "escalation.json"
    write_escalation(report, json_path=path)
    text = path.read_text(encoding="utf-8")
    assert not _TERMINAL.search(text)
    assert r"p\u001b[31m\u202e\u009b2J\u007f\u2066@9" in text
    loaded = json.loads(text)
    assert loaded == json.loads(json.dumps(build_escalation_json(report)))
    assert loaded["assessments"][0]["best"] == nasty
    assert loaded["assessments"][0]["checks"][0]["detail"] == f"red {nasty} done"
