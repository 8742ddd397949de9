"""What the store holds: a run and its cells, as typed records."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class CellRecord:
    """One finished cell: one rerun of one case through one variant on one model."""

    run_id: str
    variant: str
    model: str
    case_id: str
    rerun: int
    status: str
    output: str | None
    answer: Any
    parse_ok: bool
    passed: bool
    assertions: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost: float
    error: str | None
    attempts: int
    seed: int | None
    prompt_hash: str
    started: float
    finished: float

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.variant, self.model, self.case_id, self.rerun)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunInfo:
    id: str
    suite: str
    suite_path: str
    created: float
    finished: float | None
    status: str
    total_cells: int
    plan: dict[str, Any] = field(repr=False)


def new_run_id() -> str:
    """Sortable and readable: when it started, plus a few random characters."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
