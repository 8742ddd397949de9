"""A search's state, kept as JSON under ``.workbench/optimize/<search id>.json``.

Why a file: a search spends real calls, so Ctrl-C (or a crash) must keep every finished
candidate; running the same search again reads this file, reuses what it holds (each
candidate's run is in the store) and continues. The id is a hash of what defines the search
— suite, starting version, model, objective, split, generators — and not of the budget, so
a larger ``--budget`` continues the same search.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.atomic import atomic_write_text
from workbench.errors import InputError, Problem, display_path

STATE_DIR = Path(".workbench") / "optimize"
STATE_VERSION = 1


@dataclass
class Candidate:
    """One candidate: proposed, then measured on the search split, then saved as a version."""

    key: str  # content hash of the version's data without origin: its identity
    generator: str
    note: str
    round: int
    parent: str  # the version it was derived from (name@N)
    draft_hash: str
    text: str  # the file text it is measured as (origin without scores)
    example_cases: list[str] = field(default_factory=list)
    proposer_calls: int = 0
    run_id: str | None = None
    version: str | None = None  # name@N once saved
    status: str = "planned"  # planned | measured | invalid | unaffordable
    score: dict[str, Any] | None = None  # objective.Score as a dict (search split)
    vs_parent: dict[str, Any] | None = None  # paired difference against the parent
    better: bool = False  # the paired interval against the parent lies above zero
    calls: int = 0
    cost: float = 0.0
    cost_per_call: float = 0.0
    tokens_per_call: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """How the store names it: the version, or the draft until it is saved."""
        return self.version or draft_ref(self.parent.partition("@")[0], self.draft_hash)


def draft_ref(name: str, draft_hash: str) -> str:
    return f"{name}@draft:{draft_hash[:12]}"


@dataclass
class Round:
    number: int
    best: str  # the candidate key proposals were made from
    proposals: list[str] = field(default_factory=list)  # candidate keys, in order
    improved: str | None = None  # the key of the round's winner


@dataclass
class SearchState:
    id: str
    suite: str
    suite_path: str
    start: str  # the starting version, name@N
    model: str
    objective: str
    k: int
    search_cases: list[str]
    held_out_cases: list[str]
    baseline: Candidate | None = None
    candidates: list[Candidate] = field(default_factory=list)
    rounds: list[Round] = field(default_factory=list)
    best: str | None = None  # candidate key (the baseline's key when nothing beat it)
    spent_calls: int = 0
    spent_cost: float = 0.0
    stopped: str | None = None  # plateau | budget | max-cost | rounds | perfect | stopped
    confirmation: dict[str, Any] | None = None
    vote: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    budget_note: str | None = None  # why this session's last measurement did not fit
    label: str | None = None
    version: int = STATE_VERSION

    def all(self) -> list[Candidate]:
        return ([self.baseline] if self.baseline else []) + self.candidates

    def by_key(self, key: str) -> Candidate | None:
        return next((c for c in self.all() if c.key == key), None)

    def best_candidate(self) -> Candidate | None:
        return self.by_key(self.best) if self.best else self.baseline

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchState:
        data = dict(data)
        data["baseline"] = Candidate(**data["baseline"]) if data.get("baseline") else None
        data["candidates"] = [Candidate(**c) for c in data.get("candidates") or []]
        data["rounds"] = [Round(**r) for r in data.get("rounds") or []]
        return cls(**data)


def search_id(**defining: Any) -> str:
    text = json.dumps(defining, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def state_path(project: Path, search: str) -> Path:
    return project / STATE_DIR / f"{search}.json"


def load_state(path: Path) -> SearchState | None:
    """The saved state, or None when there is none; a damaged file is refused (exit 2)."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"state version {data.get('version')!r}")
        return SearchState.from_dict(data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InputError(Problem(f"the saved search state is unreadable ({exc})",
                                 display_path(path),
                                 hint="delete the file to start this search afresh")) from None


def save_state(path: Path, state: SearchState) -> None:
    atomic_write_text(path, json.dumps(state.to_dict(), indent=1, ensure_ascii=False) + "\n")
