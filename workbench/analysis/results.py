"""A stored run, grouped and measured: the one object every report and view reads.

Data flows one way: the store holds cells; this module groups them by variant × model
and case, computes the statistics and checks the suite's thresholds. Reports (JSON,
JUnit, Markdown) and the CLI summary only format what is here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from workbench.analysis.stats import (
    CaseStats,
    Comparison,
    GroupStats,
    Rerun,
    compare,
    group_stats,
)
from workbench.checks.parsing import answer_key
from workbench.engine.plan import Plan
from workbench.store.database import Store
from workbench.store.records import CellRecord, RunInfo

# Enough for stable 95% percentile intervals (Efron & Tibshirani suggest >= 1000) while
# keeping a report of a few hundred cases quick to load; the t interval decides verdicts.
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class ThresholdCheck:
    name: str
    target: float
    actual: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "target": self.target, "actual": self.actual,
                "passed": self.passed}


@dataclass
class CaseResult:
    case_id: str
    vars: dict[str, Any]
    expected: Any
    stats: CaseStats
    cells: list[CellRecord]  # ordered by rerun


@dataclass
class GroupResult:
    """One variant on one model: its cases (unstable first) and summary statistics."""

    variant: str
    model: str
    stats: GroupStats
    cases: list[CaseResult]
    errors: int
    checks: list[ThresholdCheck]
    step_stats: dict[str, GroupStats] = field(default_factory=dict)  # chains: per step
    cost: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def label(self) -> str:
        return f"{self.variant} · {self.model}"

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def all_cells_passed(self) -> bool:
        return all(cell.passed for case in self.cases for cell in case.cells)


@dataclass
class RunResults:
    run: RunInfo
    plan: Plan
    groups: list[GroupResult]
    comparisons: list[tuple[str, str, Comparison]]  # (label a, label b, comparison)
    missing: int  # cells of the plan not (yet) in the store

    @property
    def has_thresholds(self) -> bool:
        return bool(self.plan.thresholds)

    @property
    def ok(self) -> bool:
        """Exit-code rule: thresholds decide when the suite sets them, else every cell must pass."""
        if self.missing:
            return False
        if self.has_thresholds:
            return all(g.passed for g in self.groups)
        return all(g.all_cells_passed for g in self.groups)


def to_rerun(cell: CellRecord) -> Rerun:
    return Rerun(
        passed=cell.passed,
        raw=cell.output,
        answer=answer_key(cell.answer) if cell.parse_ok else None,
        error=cell.status == "error",
    )


def _step_reruns(cell: CellRecord, index: int, last: bool) -> Rerun:
    """Step ``index`` of a chain's cell as a rerun, with the answer the step is scored on:
    the final step's is the cell's (the prompt's ``parse`` spec), an earlier step's its own
    ``parse`` spec's, else its stripped text (what later steps receive)."""
    if index >= len(cell.steps) or not cell.steps[index].replied:
        return Rerun(passed=False, raw=None, answer=None, error=True)
    step = cell.steps[index]
    raw = (step.raw or "").strip()
    if last and cell.status == "ok":
        return Rerun(passed=cell.passed, raw=raw,
                     answer=answer_key(cell.answer) if cell.parse_ok else None)
    if step.parse_ok is not None:
        answer = answer_key(step.answer) if step.parse_ok else None
    else:
        answer = raw or None
    return Rerun(passed=cell.passed, raw=raw, answer=answer)


def check_thresholds(
    plan: Plan, stats: GroupStats, errors: int, cells: int
) -> list[ThresholdCheck]:
    t = plan.thresholds
    checks: list[ThresholdCheck] = []
    if "pass_rate" in t:
        checks.append(ThresholdCheck("pass_rate", t["pass_rate"], stats.mean_pass_rate,
                                     stats.mean_pass_rate >= t["pass_rate"]))
    if "consistency" in t:
        checks.append(ThresholdCheck("consistency", t["consistency"], stats.mean_modal_share,
                                     stats.mean_modal_share >= t["consistency"]))
    if "tar_answer" in t:
        checks.append(ThresholdCheck("tar_answer", t["tar_answer"], stats.tar_answer_at_n,
                                     stats.tar_answer_at_n >= t["tar_answer"]))
    if "pass_hat_k" in t:
        k = min(t.get("k") or stats.reruns, stats.reruns)
        actual = stats.pass_hat_k[k - 1] if stats.pass_hat_k else 0.0
        checks.append(ThresholdCheck(f"pass_hat_k@{k}", t["pass_hat_k"], actual,
                                     actual >= t["pass_hat_k"]))
    if "max_error_rate" in t:
        rate = errors / cells if cells else 0.0
        checks.append(ThresholdCheck("max_error_rate", t["max_error_rate"], rate,
                                     rate <= t["max_error_rate"]))
    return checks


def load_results(store: Store, run_id: str, *, comparisons: bool = True) -> RunResults:
    """Group a stored run's cells and compute everything the reports show.

    ``comparisons=False`` leaves out the paired comparisons of the variants on each model
    (``RunResults.comparisons`` is then empty): a bootstrap each, for callers that only read
    the groups."""
    run = store.run(run_id)
    plan = Plan.from_dict(run.plan)
    by_group: dict[tuple[str, str], dict[str, list[CellRecord]]] = defaultdict(
        lambda: defaultdict(list)
    )
    stored = 0
    for cell in store.cells(run.id):
        by_group[(cell.variant, cell.model)][cell.case_id].append(cell)
        stored += 1
    cases_by_id = {c.id: c for c in plan.cases}
    order = {c.id: i for i, c in enumerate(plan.cases)}
    groups: list[GroupResult] = []
    step_names = {v.ref: v for v in plan.variants}
    for variant, model in plan.groups:
        per_case = by_group.get((variant, model))
        if not per_case:
            continue
        reruns = {cid: [to_rerun(c) for c in sorted(cells, key=lambda c: c.rerun)]
                  for cid, cells in sorted(per_case.items(), key=lambda kv: order.get(kv[0], 0))}
        stats = group_stats(reruns)
        unstable_rank = {cid: i for i, cid in enumerate(stats.unstable)}
        case_results = [
            CaseResult(
                cid,
                cases_by_id[cid].vars if cid in cases_by_id else {},
                cases_by_id[cid].expected if cid in cases_by_id else None,
                stats.cases[cid],
                sorted(per_case[cid], key=lambda c: c.rerun),
            )
            for cid in reruns
        ]
        # Unstable (flaky) cases first, flakiest first; then the rest in suite order.
        case_results.sort(key=lambda r: (unstable_rank.get(r.case_id, len(unstable_rank)),
                                         order.get(r.case_id, 0)))
        all_cells = [c for cells in per_case.values() for c in cells]
        errors = sum(c.status == "error" for c in all_cells)
        group = GroupResult(
            variant, model, stats, case_results, errors,
            check_thresholds(plan, stats, errors, len(all_cells)),
            cost=sum(c.cost for c in all_cells),
            prompt_tokens=sum(c.prompt_tokens for c in all_cells),
            completion_tokens=sum(c.completion_tokens for c in all_cells),
        )
        n_steps = max((len(c.steps) for c in all_cells), default=0)
        if n_steps > 1 and variant in step_names:
            for index in range(n_steps):
                name = next((c.steps[index].output for c in all_cells
                             if len(c.steps) > index), f"step{index + 1}")
                step_reruns = {
                    cid: [_step_reruns(c, index, index == n_steps - 1)
                          for c in sorted(cells, key=lambda c: c.rerun)]
                    for cid, cells in per_case.items()
                }
                group.step_stats[name] = group_stats(step_reruns)
        groups.append(group)
    pairs = _compare_variants(groups) if comparisons else []
    return RunResults(run, plan, groups, pairs, max(0, plan.total_cells - stored))


def _compare_variants(groups: list[GroupResult]) -> list[tuple[str, str, Comparison]]:
    """Each model's first variant against each of its others, paired over shared cases."""
    out: list[tuple[str, str, Comparison]] = []
    by_model: dict[str, list[GroupResult]] = defaultdict(list)
    for g in groups:
        by_model[g.model].append(g)
    for model_groups in by_model.values():
        base = model_groups[0]
        for other in model_groups[1:]:
            out.append(
                (base.label, other.label, compare(reruns_by_case(base), reruns_by_case(other),
                                                  resamples=BOOTSTRAP_RESAMPLES))
            )
    return out


def reruns_by_case(group: GroupResult) -> dict[str, list[Rerun]]:
    """The group's reruns by case id, in the group's case order (unstable first)."""
    return {c.case_id: [to_rerun(x) for x in c.cells] for c in group.cases}


def compare_runs(a: RunResults, b: RunResults) -> list[tuple[str, str, Comparison]]:
    """Pair the groups of two runs and compare each pair on their shared cases.

    Groups pair by identical (variant, model) first; what is left pairs by model (the usual
    case: the same suite run with a new prompt version); a single group on each side pairs
    regardless, so any two single-variant runs can be compared.
    """
    left = list(a.groups)
    right = list(b.groups)
    pairs: list[tuple[GroupResult, GroupResult]] = []
    for g in list(left):
        match = next((h for h in right if (h.variant, h.model) == (g.variant, g.model)), None)
        if match:
            pairs.append((g, match))
            left.remove(g)
            right.remove(match)
    for g in list(left):
        match = next((h for h in right if h.model == g.model), None)
        if match:
            pairs.append((g, match))
            left.remove(g)
            right.remove(match)
    if len(left) == 1 and len(right) == 1:
        pairs.append((left[0], right[0]))
    return [
        (f"{a.run.id}: {g.label}", f"{b.run.id}: {h.label}",
         compare(reruns_by_case(g), reruns_by_case(h), resamples=BOOTSTRAP_RESAMPLES))
        for g, h in pairs
    ]
