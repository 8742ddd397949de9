"""What an evaluation reads (:class:`Output`, :class:`Context`) and what it gives back.

A handler returns an :class:`Outcome` with negation already applied, so every reason reads
naturally for the negated form too. A handler that cannot evaluate at all (the output is
not JSON, the python function raised, the judge reply is unreadable, no backend is
configured) raises :class:`CannotCheck`: that fails the assertion whether or not it is
negated, because "could not tell" must never count as a pass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

Judge = Callable[[list[dict[str, str]], str | None], Awaitable[str]]
"""``(messages, model or None) -> reply text``; the runner wires it to litellm."""

Embed = Callable[[list[str], str | None], Awaitable[list[list[float]]]]
"""``(texts, model or None) -> one vector per text``."""


@dataclass(frozen=True)
class Output:
    """What a cell produced: the evaluation input."""

    raw: str | None  # stripped model output; None if the cell errored
    answer: Any | None  # parsed answer (None = parse failure)
    parse_ok: bool
    latency_ms: float
    cost: float
    error: str | None = None


@dataclass(frozen=True)
class Context:
    """The case and the backends an evaluation may need."""

    vars: Mapping[str, Any]
    expected: Any | None
    base_dir: Path
    judge: Judge | None = None
    embed: Embed | None = None


@dataclass(frozen=True)
class AssertionResult:
    """One assertion's verdict on one cell; ``reason`` always explains it.

    This is what a cell stores (``to_dict``), so its fields and their order are a format.
    """

    type: str
    negated: bool
    passed: bool
    score: float
    weight: float
    reason: str

    @property
    def label(self) -> str:
        return f"not-{self.type}" if self.negated else self.type

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AssertionResult:
        """Inverse of :meth:`to_dict` (for results read back from the store)."""
        return cls(
            type=str(data["type"]),
            negated=bool(data["negated"]),
            passed=bool(data["passed"]),
            score=float(data["score"]),
            weight=float(data["weight"]),
            reason=str(data["reason"]),
        )


class CannotCheck(Exception):
    """The assertion could not be evaluated; it fails with this reason, negated or not."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    """A handler's final verdict (negation applied); the score is clamped by the caller."""

    passed: bool
    score: float
    reason: str


def verdict(
    negate: bool,
    holds: bool,
    *,
    yes: str,
    no: str,
    neg_yes: str,
    neg_no: str | None = None,
    score: float | None = None,
) -> Outcome:
    """Apply negation to a yes/no check and pick the reason that explains the result.

    ``yes``/``no`` describe the positive form passing/failing; ``neg_yes`` is shown when the
    negated form fails (the condition holds), ``neg_no`` when it passes (defaults to ``no``).
    ``score`` is the positive form's score (default 1/0); negation uses 1 − score.
    """
    positive = (1.0 if holds else 0.0) if score is None else score
    if not negate:
        return Outcome(holds, positive, yes if holds else no)
    return Outcome(not holds, 1.0 - positive, neg_yes if holds else (neg_no or no))
