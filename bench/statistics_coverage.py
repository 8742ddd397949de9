"""How far to trust the intervals: coverage against a known truth, and the paired comparison's
false "better/worse" rate when nothing differs.

Cases are drawn from a known population (each case's chance of the right answer follows a
Beta distribution), reruns from that chance, and the product's own statistics measure them
(``workbench/testing/coverage.py``). Prints one table per figure with the Monte Carlo
standard error; README's "How far to trust the numbers" quotes them.

    .venv/bin/python bench/statistics_coverage.py [--runs 4000] [--fp-runs 2000]
"""

from __future__ import annotations

import argparse
import os
import time

from workbench.testing.coverage import Population, false_difference, interval_coverage

POPULATIONS = [Population(2, 1.5), Population(1, 1), Population(0.5, 0.5), Population(4, 1)]
CASES = [12, 24, 50]
RERUNS = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4000, help="simulated runs per setting")
    parser.add_argument("--fp-runs", type=int, default=2000,
                        help="simulated pairs per setting for the false-difference rate")
    ns = parser.parse_args()
    started = time.perf_counter()
    print(f"load average {os.getloadavg()[0]:.2f} · {RERUNS} reruns per case · "
          f"{ns.runs} runs per setting (coverage), {ns.fp_runs} pairs (false differences)")
    print("\nCoverage of the 95% intervals (truth inside), ± Monte Carlo SE")
    print(f"{'population':<16}{'cases':>6}  {'clustered mean':>16}  {'pass^5':>16}  "
          f"{'Wilson per case':>16}  {'(1.96, not t)':>16}")
    for population in POPULATIONS:
        for cases in CASES:
            rates = interval_coverage(population, cases=cases, reruns=RERUNS, runs=ns.runs,
                                      seed=cases * 100 + int(population.a * 10))
            cells = "  ".join(f"{r.rate:>9.1%} ±{r.se:.1%}" for r in rates)
            print(f"{population.label:<16}{cases:>6}  {cells}")
    print("\nNo true difference: share of pairs called better or worse, ± Monte Carlo SE")
    print(f"{'population':<16}{'cases':>6}  {'pass rate':>16}  {'modal share':>16}  "
          f"{'improvement':>16}")
    for population in POPULATIONS[:2]:
        for cases in CASES:
            rates = false_difference(population, cases=cases, reruns=RERUNS, runs=ns.fp_runs,
                                     seed=cases + 1)
            cells = "  ".join(f"{r.rate:>9.1%} ±{r.se:.1%}" for r in rates)
            print(f"{population.label:<16}{cases:>6}  {cells}")
    print(f"\n{time.perf_counter() - started:.0f} s · load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
