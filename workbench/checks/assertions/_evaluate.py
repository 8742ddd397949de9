"""Running assertions on a cell and deciding whether the cell passed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.checks.assertions._base import BaseAssertion
from workbench.checks.assertions._outcome import AssertionResult, CannotCheck, Context, Output
from workbench.checks.assertions.text import Equals


def expected_assertion(expected: Any) -> Equals:
    """The implicit assertion a case's ``expected`` adds: equals on the parsed answer.

    Comparison is exact on the canonical text (stripped; ``3`` equals ``3.0`` and ``"3"``):
    label parsing already normalises case, and a looser default would hide real variance.
    """
    return Equals(type="equals", value=expected, on="answer")


def check_spec_files(spec: BaseAssertion, base_dir: Path) -> list[str]:
    """Problems with files an assertion refers to, relative to the suite file's folder.

    Called by the suite loader at validation time so a missing check file or a broken
    schema file is reported with the rest, before any model call. Importing a python check
    runs its module code (see :mod:`workbench.checks.assertions.python`).
    """
    return spec.file_problems(base_dir)


def _failed(spec: BaseAssertion, reason: str) -> AssertionResult:
    return AssertionResult(spec.type, spec.negate, False, 0.0, spec.weight, reason)


async def _evaluate_one(spec: BaseAssertion, output: Output, ctx: Context) -> AssertionResult:
    if output.error is not None:
        return _failed(spec, f"cell errored: {output.error}")
    if spec.effective_on == "answer" and not output.parse_ok:
        return _failed(spec, "no parsed answer")
    try:
        outcome = await spec.check(output, ctx)
    except CannotCheck as exc:
        return _failed(spec, exc.reason)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug here must not take the run down; record it
        return _failed(spec, f"internal error in {spec.type} check: {type(exc).__name__}: {exc}")
    score = min(1.0, max(0.0, outcome.score))
    return AssertionResult(
        spec.type, spec.negate, outcome.passed, score, spec.weight, outcome.reason
    )


async def evaluate(
    specs: Sequence[BaseAssertion], output: Output, ctx: Context
) -> list[AssertionResult]:
    """Evaluate all specs concurrently (judge calls overlap); results keep the spec order.

    An errored output fails every assertion with ``cell errored: …``; a parse failure fails
    the answer-based ones with ``no parsed answer``. Never raises for bad output or a
    failing user check.
    """
    return list(await asyncio.gather(*(_evaluate_one(s, output, ctx) for s in specs)))


def cell_passed(results: Sequence[AssertionResult], threshold: float | None = None) -> bool:
    """Whether a cell passes.

    Only weight > 0 assertions count (weight 0 is informational). Without ``threshold``
    every counted assertion must pass; with it, their weighted mean score must reach it.
    A cell with nothing counted is not a pass: no evidence is not success.
    """
    counted = [r for r in results if r.weight > 0]
    if not counted:
        return False
    if threshold is None:
        return all(r.passed for r in counted)
    total = sum(r.weight for r in counted)
    mean = sum(r.score * r.weight for r in counted) / total
    return mean >= threshold - 1e-12
