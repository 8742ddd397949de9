"""Intervals against a known truth, and the paired comparison under no true difference.

The simulations (:mod:`workbench.testing.coverage`) draw cases from a known population, run
the product's statistics on their reruns and count how often the 95% intervals contain the
truth. Seeded and in-process; ``bench/statistics_coverage.py`` prints the same figures over
more runs and more settings (README, "How far to trust the numbers").
"""

from __future__ import annotations

import pytest

from workbench.testing.coverage import Population, false_difference, interval_coverage

# Cases differ the way real ones do: most right most of the time, some flaky, a few hard.
POPULATION = Population(2, 1.5)


@pytest.mark.parametrize("cases", [12, 24])
def test_intervals_cover_the_truth_95_percent_of_the_time(cases: int) -> None:
    rates = interval_coverage(POPULATION, cases=cases, reruns=5, runs=1000, seed=cases)
    assert [r.name for r in rates] == ["mean pass rate, case-clustered", "pass^5",
                                       "per-case pass rate, Wilson",
                                       "mean pass rate, clustered with 1.96"]
    assert rates[0].runs == rates[1].runs == 1000 and rates[2].runs == 1000 * cases
    for rate in rates[:3]:
        assert 0.93 <= rate.rate <= 0.97, (rate.name, rate.rate)
    # Why the clustered interval uses Student's t: with 1.96 instead it covers less often,
    # visibly so on a dozen cases.
    assert rates[3].rate < rates[0].rate
    if cases == 12:
        assert rates[3].rate < 0.935


def test_no_true_difference_is_rarely_called_better_or_worse() -> None:
    rates = false_difference(POPULATION, cases=24, reruns=5, runs=800, seed=3)
    by_name = {r.name: r for r in rates}
    # Each verdict is a two-sided test at the 5% level: its false rate is 5% by design, so it
    # may not exceed 5% by more than the simulation's own noise (two Monte Carlo SEs).
    for name in ("pass rate better/worse", "modal share better/worse"):
        r = by_name[name]
        assert r.rate <= 0.05 + 2 * r.se, (name, r.rate)
    # What the escalation rule acts on (one-sided "better"): at most 5%.
    assert by_name["counted as an improvement"].rate <= 0.05
