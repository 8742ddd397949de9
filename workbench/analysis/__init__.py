"""Statistics over stored cells: per case, per variant × model, and paired comparisons.

No I/O of its own: it measures the records the store hands it.
"""

from workbench.analysis.results import (
    CaseResult,
    GroupResult,
    RunResults,
    compare_runs,
    load_results,
)
from workbench.analysis.stats import CaseStats, Comparison, GroupStats, compare

__all__ = [
    "CaseResult",
    "CaseStats",
    "Comparison",
    "GroupResult",
    "GroupStats",
    "RunResults",
    "compare",
    "compare_runs",
    "load_results",
]
