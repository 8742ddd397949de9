"""The search split and the held-out split: the guard against overfitting the cases.

A search ranks many candidates on the same cases, so the winner's score there is biased
upward (it won partly by luck on those cases). Only the final choice is measured on cases
the search never looked at. The split is seeded (the same cases every time the search is
resumed) and stratified by the expected answer, so each split holds every label in about
the same share and a rare label cannot vanish from the search.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from workbench.errors import InputError

MIN_SEARCH_CASES = 2  # a paired interval needs two shared cases


class HasCase(Protocol):
    id: str
    expected: Any


@dataclass(frozen=True)
class Split:
    """Case ids, each in exactly one of the two splits, in suite order."""

    search: tuple[str, ...]
    held_out: tuple[str, ...]


def stratum(expected: Any) -> str:
    """The stratum of a case: its expected answer as canonical JSON (None: no answer)."""
    return json.dumps(expected, sort_keys=True, default=str)


def split_cases(cases: Sequence[HasCase], held_out: float = 0.3, seed: int = 0) -> Split:
    """Hold out about ``held_out`` of the cases, the same share of each expected answer.

    Each stratum is shuffled with ``random.Random(seed)`` and its first ``round(n·share)``
    cases are held out; the rounding remainders are settled across strata so the total is
    ``round(len(cases)·share)``. Raises ``InputError`` when too few cases are left to search.
    """
    if not 0.0 <= held_out < 1.0:
        raise InputError(f"--holdout is a share of the cases, at least 0 and below 1 "
                         f"(got {held_out})")
    ids = [c.id for c in cases]
    if len(ids) < MIN_SEARCH_CASES:
        raise InputError(f"the search needs at least {MIN_SEARCH_CASES} cases "
                         f"(the suite has {len(ids)})")
    rng = random.Random(seed)
    strata: dict[str, list[str]] = defaultdict(list)
    for case in cases:
        strata[stratum(case.expected)].append(case.id)
    target = round(len(ids) * held_out)
    # Largest remainder: each stratum's exact share, floored, then the leftovers to the
    # strata with the largest fractions (ties in a seeded order).
    keys = sorted(strata)
    rng.shuffle(keys)
    exact = {k: len(strata[k]) * held_out for k in keys}
    counts = {k: int(exact[k]) for k in keys}
    leftover = target - sum(counts.values())
    for k in sorted(keys, key=lambda k: exact[k] - counts[k], reverse=True)[:max(0, leftover)]:
        counts[k] += 1
    chosen: set[str] = set()
    for k in keys:
        members = list(strata[k])
        rng.shuffle(members)
        chosen.update(members[:counts[k]])
    search = tuple(i for i in ids if i not in chosen)
    if len(search) < MIN_SEARCH_CASES:
        raise InputError(f"holding out {held_out:.0%} of {len(ids)} cases leaves "
                         f"{len(search)} to search; lower --holdout or add cases")
    return Split(search, tuple(i for i in ids if i in chosen))
