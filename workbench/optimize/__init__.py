"""Automated prompt search for consistency: propose candidates, measure them with reruns on a
search split, keep the best, stop at a plateau or the budget, and confirm the final choice
on held-out cases.

``splits`` holds cases out, ``objective`` scores a measurement (pass^k by default) with the
analysis layer's intervals, ``generators/`` propose candidates (one module per strategy),
``proposer`` holds the OPRO/APE meta-prompts, ``measure`` runs a candidate as a stored run,
``provenance`` writes versions with their ``origin``, ``state`` keeps a search resumable and
``search`` is the loop with its budget.
"""

from workbench.optimize.objective import OBJECTIVES, Objective, Score
from workbench.optimize.search import (
    STOP_BUDGET,
    STOP_MAX_COST,
    STOP_PERFECT,
    STOP_PLATEAU,
    STOP_ROUNDS,
    STOP_STOPPED,
    Event,
    SearchSettings,
    prepare_search,
    run_search,
)
from workbench.optimize.splits import Split, split_cases
from workbench.optimize.state import Candidate, SearchState

__all__ = [
    "OBJECTIVES", "STOP_BUDGET", "STOP_MAX_COST", "STOP_PERFECT", "STOP_PLATEAU",
    "STOP_ROUNDS", "STOP_STOPPED",
    "Candidate", "Event", "Objective", "Score", "SearchSettings", "SearchState", "Split",
    "prepare_search", "run_search", "split_cases",
]
