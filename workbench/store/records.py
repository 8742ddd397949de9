"""What the store holds: a run, its cells and each cell's steps, as typed records.

Every reader (statistics, reports, escalation, fine-tuning export, TUI) gets these records,
never the JSON the database keeps, so a field has one name and one type everywhere. The
JSON shape of a step (``to_dict``) is the one the JSON report documents and earlier stores
hold; ``from_dict`` reads it back, tolerating keys a step never had.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.checks.assertions import AssertionResult

CellKey = tuple[str, str, str, int]  # variant ref, model name, case id, rerun


@dataclass
class StepRecord:
    """One request of a cell (a chain has one per step; other prompts exactly one).

    A step either replied (``raw`` is set, with its usage) or failed for good (``error``).
    ``parse_ok`` is None when the step has no parse spec of its own.
    """

    output: str  # the name later steps use for this step's result
    model: str
    messages: list[dict[str, str]]
    params: dict[str, Any]
    raw: str | None = None
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    attempts: int = 0
    answer: Any = None
    parse_ok: bool | None = None
    error: str | None = None

    @property
    def replied(self) -> bool:
        return self.raw is not None

    def to_dict(self) -> dict[str, Any]:
        """The stored and reported shape: only the keys that apply to this step."""
        data: dict[str, Any] = {"output": self.output, "model": self.model,
                                "messages": self.messages, "params": self.params}
        if self.raw is not None:
            data.update(raw=self.raw, latency_ms=self.latency_ms,
                        prompt_tokens=self.prompt_tokens,
                        completion_tokens=self.completion_tokens, cost=self.cost,
                        attempts=self.attempts)
            if self.parse_ok is not None:
                data.update(answer=self.answer, parse_ok=self.parse_ok)
        if self.error is not None:
            data.update(error=self.error, attempts=self.attempts)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRecord:
        return cls(
            output=str(data.get("output", "")),
            model=str(data.get("model", "")),
            messages=list(data.get("messages") or []),
            params=dict(data.get("params") or {}),
            raw=data.get("raw"),
            latency_ms=float(data.get("latency_ms") or 0.0),
            prompt_tokens=int(data.get("prompt_tokens") or 0),
            completion_tokens=int(data.get("completion_tokens") or 0),
            cost=float(data.get("cost") or 0.0),
            attempts=int(data.get("attempts") or 0),
            answer=data.get("answer"),
            parse_ok=bool(data["parse_ok"]) if "parse_ok" in data else None,
            error=data.get("error"),
        )


@dataclass
class CellRecord:
    """One finished cell: one rerun of one case through one variant on one model."""

    run_id: str
    variant: str
    model: str
    case_id: str
    rerun: int
    status: str  # ok | error
    output: str | None
    answer: Any
    parse_ok: bool
    passed: bool
    assertions: list[AssertionResult]
    steps: list[StepRecord]
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
    def key(self) -> CellKey:
        return (self.variant, self.model, self.case_id, self.rerun)

    @property
    def errored(self) -> bool:
        return self.status == "error"

    def failed_assertions(self, *, counted_only: bool = True) -> list[AssertionResult]:
        """The assertions that failed; ``counted_only`` skips informational (weight 0) ones."""
        return [a for a in self.assertions
                if not a.passed and (a.weight > 0 or not counted_only)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "variant": self.variant, "model": self.model,
            "case_id": self.case_id, "rerun": self.rerun, "status": self.status,
            "output": self.output, "answer": self.answer, "parse_ok": self.parse_ok,
            "passed": self.passed, "assertions": [a.to_dict() for a in self.assertions],
            "steps": [s.to_dict() for s in self.steps], "latency_ms": self.latency_ms,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "cost": self.cost, "error": self.error, "attempts": self.attempts,
            "seed": self.seed, "prompt_hash": self.prompt_hash, "started": self.started,
            "finished": self.finished,
        }


@dataclass
class RunInfo:
    """A stored run: its suite, status and the plan it executes (JSON, read by the engine)."""

    id: str
    suite: str
    suite_path: str
    created: float
    finished: float | None
    status: str  # running | finished | interrupted
    total_cells: int
    plan: dict[str, Any] = field(repr=False)
    kind: str = "suite"  # suite | playground (a draft's run, made in the TUI's playground)
    draft_hash: str | None = None  # playground: the draft's content hash
    draft_parent: str | None = None  # playground: the name@N the draft was edited from
    attached_version: int | None = None  # playground: the version the draft was saved as

    @property
    def is_draft(self) -> bool:
        """A playground run whose draft was not saved as a version (with the same text)."""
        return self.kind == "playground" and self.attached_version is None


def new_run_id() -> str:
    """Sortable and readable: when it started, plus a few random characters."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
