"""The results matrix as data: one row per case, one column per variant × model.

Filtering and sorting happen here on plain rows, so the view only redraws a DataTable and a
500-case run re-sorts in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.analysis.stats import CaseStats

SORTS = ("unstable first", "case id", "pass rate ↑", "consistency ↑")


@dataclass
class MatrixRow:
    case_id: str
    order: int  # position in the suite
    stats: list[CaseStats | None]  # one per group; None where the group has no cells yet
    expected: Any
    vars: dict[str, Any]

    @property
    def unstable(self) -> bool:
        return any(s is not None and s.unstable for s in self.stats)

    @property
    def flakiness(self) -> float:
        """Distance of the flakiest group's pass rate from 0.5: 0 is as flaky as it gets."""
        return min((abs(s.pass_rate - 0.5) for s in self.stats if s is not None and s.unstable),
                   default=1.0)

    def mean(self, attr: str) -> float:
        values = [getattr(s, attr) for s in self.stats if s is not None]
        return sum(values) / len(values) if values else 0.0

    def matches(self, needle: str) -> bool:
        if not needle:
            return True
        needle = needle.lower()
        if needle in self.case_id.lower():
            return True
        return any(needle in str(v).lower() for v in self.vars.values()) or (
            self.expected is not None and needle in str(self.expected).lower())


def build_rows(results) -> list[MatrixRow]:
    """Rows in suite order, from a :class:`RunResults`."""
    order = {c.id: i for i, c in enumerate(results.plan.cases)}
    by_case: dict[str, MatrixRow] = {}
    for case in results.plan.cases:
        by_case[case.id] = MatrixRow(case.id, order[case.id], [None] * len(results.groups),
                                     case.expected, case.vars)
    for index, group in enumerate(results.groups):
        for case in group.cases:
            row = by_case.get(case.case_id)
            if row is None:  # a cell of a case the plan does not list
                row = by_case[case.case_id] = MatrixRow(case.case_id, len(by_case),
                                                        [None] * len(results.groups),
                                                        case.expected, case.vars)
            row.stats[index] = case.stats
    return sorted(by_case.values(), key=lambda r: r.order)


def view(rows: list[MatrixRow], *, needle: str = "", unstable_only: bool = False,
         sort: str = SORTS[0]) -> list[MatrixRow]:
    """The rows to show, filtered and sorted."""
    shown = [r for r in rows if r.matches(needle) and (r.unstable or not unstable_only)]
    if sort == "unstable first":
        shown.sort(key=lambda r: (not r.unstable, r.flakiness, r.order))
    elif sort == "case id":
        shown.sort(key=lambda r: r.case_id)
    elif sort == "pass rate ↑":
        shown.sort(key=lambda r: (r.mean("pass_rate"), r.order))
    elif sort == "consistency ↑":
        shown.sort(key=lambda r: (r.mean("modal_share"), r.order))
    else:
        raise ValueError(f"unknown sort {sort!r}")
    return shown
