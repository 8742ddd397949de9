"""What the playground shows, filled in cell by cell while a draft's run streams in.

Per case and model, for the draft and for the version it came from: the N outputs in rerun
order (a slot stays empty until its cell finishes), the statistics of the finished ones
(answer counts, modal share, parse rate, passes — :func:`workbench.analysis.stats.case_stats`,
as every report computes them), and the reference output the others are compared with word
by word (:mod:`workbench.analysis.reference`). Once both sides have finished all N reruns
of a case, the case joins the paired comparison of draft against parent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from workbench.analysis.reference import reference_text, rerun_answers
from workbench.analysis.results import BOOTSTRAP_RESAMPLES, to_rerun
from workbench.analysis.stats import CaseStats, Comparison, Rerun, case_stats, compare
from workbench.engine.plan import Plan, PlanCase
from workbench.store.records import CellKey, CellRecord


def counted(cell: CellRecord) -> Rerun:
    """A rerun as the playground counts it: passed, answer, error — without its raw text.

    Every count it shows (passes, answers, modal share, parse rate) and the paired
    comparison ignore the raw text; what would read it, the pairwise similarity of the
    outputs, costs time quadratic in their length, and the statistics are redone at every
    cell that arrives. So the :class:`CaseStats` here leave ``similarity`` and ``tar_raw``
    out (1.0 and False); the reports compute them.
    """
    return replace(to_rerun(cell), raw=None)


@dataclass
class Outputs:
    """One case of one variant on one model, as far as its run has got."""

    variant: str
    model: str
    case: PlanCase
    slots: list[CellRecord | None]  # by rerun; None: not finished yet

    @property
    def finished(self) -> list[CellRecord]:
        return [c for c in self.slots if c is not None]

    @property
    def complete(self) -> bool:
        return all(c is not None for c in self.slots)

    @cached_property
    def stats(self) -> CaseStats | None:
        """Counts over the finished reruns (None before the first); see :func:`counted`."""
        done = self.finished
        return case_stats(self.case.id, [counted(c) for c in done]) if done else None

    @cached_property
    def reference(self) -> str | None:
        """The text every output is compared with: the one the case detail and the HTML
        report would pick among the finished reruns."""
        done = self.finished
        texts = [None if c.status == "error" else c.output for c in done]
        return reference_text(texts, rerun_answers(done))


@dataclass
class Board:
    """The cells of one playground run, and the views of them the playground shows."""

    plan: Plan
    draft: str  # the draft's variant ref in the plan
    parent: str | None  # the parent's, None when the draft runs alone
    cells: dict[CellKey, CellRecord] = field(default_factory=dict)
    # model → (the cases compared, the comparison): redone only when a case completes.
    _compared: dict[str, tuple[tuple[str, ...], Comparison]] = field(default_factory=dict,
                                                                     repr=False)

    def add(self, cell: CellRecord) -> None:
        self.cells[cell.key] = cell

    @property
    def done(self) -> int:
        return len(self.cells)

    @property
    def total(self) -> int:
        return self.plan.total_cells

    @property
    def models(self) -> list[str]:
        return [m["name"] for m in self.plan.models]

    def outputs(self, variant: str, model: str, case: PlanCase) -> Outputs:
        return Outputs(variant, model, case,
                       [self.cells.get((variant, model, case.id, r))
                        for r in range(self.plan.reruns)])

    def comparison(self, model: str) -> Comparison | None:
        """Draft minus parent, paired over the cases both have finished (None: no parent,
        or no such case yet). Its verdict needs two cases; until then it says so."""
        if self.parent is None:
            return None
        draft, parent = {}, {}
        for case in self.plan.cases:
            mine = self.outputs(self.draft, model, case)
            theirs = self.outputs(self.parent, model, case)
            if mine.complete and theirs.complete:
                draft[case.id] = [counted(c) for c in mine.finished]
                parent[case.id] = [counted(c) for c in theirs.finished]
        if not draft:
            return None
        done = tuple(draft)
        cached = self._compared.get(model)
        if cached is None or cached[0] != done:
            cached = (done, compare(parent, draft, resamples=BOOTSTRAP_RESAMPLES))
            self._compared[model] = cached
        return cached[1]
