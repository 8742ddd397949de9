"""Shared helpers behind the reports: the modal-share interval and difference formatting."""

from __future__ import annotations

import math
import statistics

import pytest

from workbench.reports._common import diff_ci
from workbench.stats import Z95, Rerun, case_stats, modal_share_ci, wilson_interval


def _case(answers: list[str | None]):
    return case_stats("c", [Rerun(True, a, a, error=a is None) for a in answers])


def test_modal_share_ci_is_case_clustered() -> None:
    cases = [_case(["a", "a", "b"]), _case(["a", "a", "a"]), _case(["a", "b", None])]
    shares = [2 / 3, 1.0, 1 / 3]
    mean, se, (lo, hi) = modal_share_ci(iter(cases))  # any iterable, e.g. dict values
    assert mean == pytest.approx(statistics.fmean(shares))
    assert se == pytest.approx(statistics.stdev(shares) / math.sqrt(3))
    assert (lo, hi) == pytest.approx((max(0.0, mean - Z95 * se), min(1.0, mean + Z95 * se)))


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
