"""What the search maximises, computed with the statistics the reports show.

pass^k (the chance that all k reruns of a case pass: right *and* repeatable) by default,
at the suite's k; or consistency (mean modal share) or the pass rate. The score of a
measurement is the same number, with the same interval, that the escalation report shows
for the same cells; a candidate is *better* than another only when the paired interval of
the per-case differences excludes zero (:func:`workbench.analysis.stats.paired_diff`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from workbench.analysis.stats import (
    VERDICT_BETTER,
    MetricDiff,
    Rerun,
    group_stats,
    modal_share_ci,
    paired_diff,
    pass_hat_k,
    pass_hat_k_ci,
)

ObjectiveName = Literal["pass_hat_k", "consistency", "pass_rate"]
OBJECTIVES: tuple[ObjectiveName, ...] = ("pass_hat_k", "consistency", "pass_rate")
RESAMPLES = 2000  # bootstrap resamples of a paired comparison (the reports use the same)


@dataclass(frozen=True)
class Score:
    """One measurement's objective over a set of cases, with its 95% interval."""

    objective: ObjectiveName
    k: int
    value: float
    ci: tuple[float, float]
    cases: int
    pass_rate: float
    consistency: float


@dataclass(frozen=True)
class Objective:
    name: ObjectiveName = "pass_hat_k"
    k: int = 1

    def per_case(self, reruns: Mapping[str, Sequence[Rerun]],
                 exclude: Collection[str] = ()) -> dict[str, float]:
        """Each case's value of the objective (case id → value in [0, 1])."""
        if not any(c not in exclude for c in reruns):
            return {}
        st = group_stats({c: r for c, r in reruns.items() if c not in exclude})
        out: dict[str, float] = {}
        for cid, cs in st.cases.items():
            if self.name == "pass_hat_k":
                out[cid] = pass_hat_k(cs.n, cs.passes, min(self.k, cs.n))
            elif self.name == "consistency":
                out[cid] = cs.modal_share
            else:
                out[cid] = cs.pass_rate
        return out

    def score(self, reruns: Mapping[str, Sequence[Rerun]],
              exclude: Collection[str] = ()) -> Score:
        """The objective over the cases, as the reports compute it."""
        st = group_stats({c: r for c, r in reruns.items() if c not in exclude})
        cases = list(st.cases.values())
        k = max(1, min(self.k, st.reruns))
        if self.name == "pass_hat_k":
            value, ci = pass_hat_k_ci(cases, k)
        elif self.name == "consistency":
            value, _, ci = modal_share_ci(cases)
        else:
            value, ci = st.mean_pass_rate, st.ci
        return Score(self.name, k, value, ci, len(cases), st.mean_pass_rate,
                     st.mean_modal_share)

    def compare(self, base: Mapping[str, Sequence[Rerun]],
                other: Mapping[str, Sequence[Rerun]], *, cases: Collection[str] | None = None,
                exclude: Collection[str] = ()) -> MetricDiff:
        """Paired difference other − base of the objective on the shared cases (restricted
        to ``cases`` when given, without ``exclude``)."""
        keep = (lambda c: c in cases and c not in exclude) if cases is not None else (
            lambda c: c not in exclude)
        a = self.per_case({c: r for c, r in base.items() if keep(c)})
        b = self.per_case({c: r for c, r in other.items() if keep(c)})
        return paired_diff(self.name, a, b, resamples=RESAMPLES)


def is_better(diff: MetricDiff) -> bool:
    """Better only when the paired interval lies above zero."""
    return diff.verdict == VERDICT_BETTER
