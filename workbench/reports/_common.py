"""Helpers shared by the report writers: formatting, text cleaning and atomic writes.

Every writer formats the same numbers, so the formatting lives here once: a pass rate reads
the same in the terminal, the Markdown and the JUnit messages.
"""

from __future__ import annotations

from datetime import UTC, datetime

from workbench.analysis.results import CaseResult, GroupResult, RunResults
from workbench.analysis.stats import GroupStats


def iso_utc(ts: float | None) -> str | None:
    """A Unix timestamp as ISO-8601 UTC (``2024-05-01T12:00:00.123Z``); None stays None."""
    if ts is None:
        return None
    stamp = datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def lowest_tar_step(group: GroupResult) -> tuple[str, GroupStats] | None:
    """The chain step whose answers agree least (lowest TARa@N; earliest step on a tie)."""
    if not group.step_stats:
        return None
    return min(group.step_stats.items(), key=lambda kv: kv[1].tar_answer_at_n)


def first_varying_step(group: GroupResult) -> tuple[str, GroupStats] | None:
    """The first chain step whose reruns disagree somewhere: where the variance comes in."""
    for name, stats in group.step_stats.items():
        if stats.tar_answer_at_n < 1.0:
            return name, stats
    return None


def unstable_cases(group: GroupResult) -> list[CaseResult]:
    """The group's unstable cases, flakiest first (the order ``load_results`` gives)."""
    return [c for c in group.cases if c.stats.unstable]


def resume_command(results: RunResults) -> str:
    """The exact command that finishes a partial run."""
    return f"workbench run {results.run.suite_path} --resume {results.run.id}"


def done_cells(results: RunResults) -> int:
    return max(0, results.plan.total_cells - results.missing)


