"""Simulations with a known truth: do the 95% intervals cover it, and does the paired
comparison stay quiet when two variants do not differ?

Why: an interval is only as good as how often it contains the true value. Here the truth is
set: each case's chance of the right answer is drawn from a known population (a Beta
distribution over cases, so cases differ as real ones do), its N reruns are drawn from that
chance, and the product's own functions (:mod:`workbench.analysis.stats`,
:func:`workbench.escalation.is_improvement`) measure them. Everything is in-process and
seeded, so the tests (``tests/test_coverage.py``) are quick and repeatable, and
``bench/statistics_coverage.py`` prints the figures the README quotes at larger run counts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from workbench.analysis.stats import (
    VERDICT_NO_DIFF,
    Z95,
    Rerun,
    case_stats,
    clustered_mean_ci,
    compare,
    pass_hat_k_ci,
    wilson_interval,
)
from workbench.escalation.rule import is_improvement

LABELS = ("billing", "shipping", "technical", "account")


@dataclass(frozen=True)
class Population:
    """Cases whose chance of the right answer p follows Beta(a, b); a wrong answer is one of
    the other labels, with weights drawn per case."""

    a: float
    b: float

    def mean(self) -> float:
        """The true mean pass rate: E[p]."""
        return self.a / (self.a + self.b)

    def mean_power(self, k: int) -> float:
        """The true mean pass^k: E[p^k] = B(a + k, b)/B(a, b)."""
        return math.exp(math.lgamma(self.a + k) + math.lgamma(self.a + self.b)
                        - math.lgamma(self.a) - math.lgamma(self.a + self.b + k))

    @property
    def label(self) -> str:
        return f"Beta({self.a:g}, {self.b:g})"


@dataclass(frozen=True)
class Rate:
    """How often something happened in ``runs`` simulated runs, with its Monte Carlo SE."""

    name: str
    hits: int
    runs: int

    @property
    def rate(self) -> float:
        return self.hits / self.runs

    @property
    def se(self) -> float:
        return math.sqrt(self.rate * (1 - self.rate) / self.runs)


def draw_case(rng: random.Random, p: float, truth: str, reruns: int) -> list[Rerun]:
    """``reruns`` answers to one case: right with chance ``p``, else a wrong label."""
    wrong = [label for label in LABELS if label != truth]
    weights = [rng.random() + 0.05 for _ in wrong]
    out = []
    for _ in range(reruns):
        answer = truth if rng.random() < p else rng.choices(wrong, weights)[0]
        out.append(Rerun(passed=answer == truth, raw=None, answer=answer))
    return out


def draw_group(rng: random.Random, chances: Sequence[float], reruns: int
               ) -> dict[str, list[Rerun]]:
    return {f"c{i:03d}": draw_case(rng, p, LABELS[i % len(LABELS)], reruns)
            for i, p in enumerate(chances)}


def interval_coverage(population: Population, *, cases: int, reruns: int, runs: int,
                      seed: int) -> list[Rate]:
    """Coverage of the mean pass rate's case-clustered interval (truth E[p]), of pass^N's
    interval (truth E[p^N]), of each case's Wilson interval (truth: that case's p), and — for
    comparison — of the clustered interval with 1.96 in place of Student's t."""
    rng = random.Random(seed)
    clustered = hat = wilson = wilson_trials = normal = 0
    truth_hat = population.mean_power(reruns)
    for _ in range(runs):
        chances = [rng.betavariate(population.a, population.b) for _ in range(cases)]
        stats = [case_stats(cid, rr) for cid, rr in draw_group(rng, chances, reruns).items()]
        mean, se, (lo, hi) = clustered_mean_ci(
            [s.pass_rate for s in stats],
            pooled=(sum(s.passes for s in stats), sum(s.n for s in stats)))
        clustered += lo <= population.mean() <= hi
        if se > 0:
            lo, hi = mean - Z95 * se, mean + Z95 * se
        normal += lo <= population.mean() <= hi
        _, (lo, hi) = pass_hat_k_ci(stats, reruns)
        hat += lo <= truth_hat <= hi
        for p, s in zip(chances, stats, strict=True):
            lo, hi = wilson_interval(s.passes, s.n)
            wilson += lo <= p <= hi
            wilson_trials += 1
    return [Rate("mean pass rate, case-clustered", clustered, runs),
            Rate(f"pass^{reruns}", hat, runs),
            Rate("per-case pass rate, Wilson", wilson, wilson_trials),
            Rate("mean pass rate, clustered with 1.96", normal, runs)]


def false_difference(population: Population, *, cases: int, reruns: int, runs: int,
                     seed: int) -> list[Rate]:
    """Two variants with the same chance per case (no true difference): how often the paired
    comparison still says better or worse, per metric, and how often the escalation rule
    would count the second as an improvement."""
    rng = random.Random(seed)
    pass_rate = modal = improved = 0
    for _ in range(runs):
        chances = [rng.betavariate(population.a, population.b) for _ in range(cases)]
        a = draw_group(rng, chances, reruns)
        b = draw_group(rng, chances, reruns)
        cmp = compare(a, b, resamples=1)  # the verdict uses the t interval, not the bootstrap
        pass_rate += cmp.pass_rate.verdict != VERDICT_NO_DIFF
        modal += cmp.consistency.verdict != VERDICT_NO_DIFF
        improved += is_improvement(cmp)
    return [Rate("pass rate better/worse", pass_rate, runs),
            Rate("modal share better/worse", modal, runs),
            Rate("counted as an improvement", improved, runs)]
