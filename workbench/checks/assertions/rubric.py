"""The ``llm-rubric`` assertion: a judge model grades the output against a rubric.

The judge is the injected :data:`~workbench.checks.assertions.Judge` (the runner wires it
to litellm); this module never talks to a model itself. Judges reply loosely, so the reply
is read as JSON anywhere in it, or as a leading PASS/FAIL word.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
from typing import Any, Literal

from pydantic import Field

from workbench.checks.assertions._base import REGISTRY, Problems, ReadsOutput, value_detail
from workbench.checks.assertions._fields import check_text_value, check_threshold, model_name_ok
from workbench.checks.assertions._outcome import CannotCheck, Context, Outcome, Output, verdict
from workbench.checks.values import as_text, show

JUDGE_SYSTEM = (
    "You are a strict, impartial grader of an AI model's output. Decide whether the output "
    "satisfies the rubric. Reply with only a JSON object, no other text: "
    '{"pass": true or false, "score": a number from 0 to 1, "reason": "one short sentence"}'
)


def judge_messages(rubric: str, text: str, ctx: Context) -> list[dict[str, str]]:
    """The grading conversation; case variables and reference answer give the judge context."""
    parts = [f"Rubric:\n{rubric}"]
    if ctx.vars:
        shown = json.dumps(dict(ctx.vars), ensure_ascii=False, indent=2, default=str)
        parts.append(f"Test case inputs (JSON):\n{shown}")
    if ctx.expected is not None:
        parts.append(f"Reference answer:\n{as_text(ctx.expected)}")
    parts.append(f"Output to grade:\n<output>\n{text}\n</output>")
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


_WORD_RE = re.compile(
    r"\A[\s*_`'\"#>:-]*(PASS(?:ED)?|FAIL(?:ED)?)\b[\s*_`'\".:!-]*(.*)\Z", re.I | re.S
)
_TRUE = {"pass", "passed", "true", "yes"}
_FALSE = {"fail", "failed", "false", "no"}


def _judge_objects(reply: str) -> list[dict[str, Any]]:
    """Every JSON object in the reply (fences and chatter around them are tolerated)."""
    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(r"\{", reply):
        try:
            value, _ = decoder.raw_decode(reply, match.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def parse_judge_reply(reply: str, threshold: float | None) -> tuple[bool, float, str] | None:
    """``(pass, score, reason)`` from a judge reply, or None when it says neither.

    Accepts the requested JSON (``pass`` may be a bool or PASS/FAIL text; a missing ``pass``
    is decided by ``score`` ≥ threshold) or a reply that starts with a bare PASS/FAIL word.
    An explicit ``threshold`` in the spec overrides the judge's own pass when a score exists.
    """
    cut = 0.5 if threshold is None else threshold
    for obj in _judge_objects(reply):
        lowered = {str(k).lower(): v for k, v in obj.items()}
        verdict_raw = lowered.get("pass", lowered.get("passed"))
        score_raw = lowered.get("score")
        passed: bool | None = None
        if isinstance(verdict_raw, bool):
            passed = verdict_raw
        elif isinstance(verdict_raw, str) and verdict_raw.strip().lower() in _TRUE | _FALSE:
            passed = verdict_raw.strip().lower() in _TRUE
        score: float | None = None
        if isinstance(score_raw, str):
            with contextlib.suppress(ValueError):
                score_raw = float(score_raw)
        if (
            isinstance(score_raw, int | float)
            and not isinstance(score_raw, bool)
            and math.isfinite(score_raw)
        ):
            score = min(1.0, max(0.0, float(score_raw)))
        if passed is None and score is None:
            continue
        if score is not None and (passed is None or threshold is not None):
            passed = score >= cut
        assert passed is not None
        if score is None:
            score = 1.0 if passed else 0.0
        reason = str(lowered.get("reason") or "").strip()
        return passed, score, reason
    match = _WORD_RE.match(reply.strip())
    if match:
        passed = match.group(1).upper().startswith("PASS")
        return passed, 1.0 if passed else 0.0, match.group(2).strip()
    return None


@REGISTRY.register
class LlmRubric(ReadsOutput):
    """A judge model decides whether the output satisfies the rubric ``value``."""

    type: Literal["llm-rubric"]
    value: str = Field(description="the rubric the judge applies")
    model: str | None = None
    threshold: float | None = None

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        check_text_value("llm-rubric", "the rubric text", data, problems)
        check_threshold(data, problems)
        model_name_ok(data, problems)

    def detail(self) -> str:
        return value_detail(self.value)

    async def check(self, output: Output, ctx: Context) -> Outcome:
        if ctx.judge is None:
            raise CannotCheck("no judge backend is configured for llm-rubric")
        text = as_text(self.subject(output))
        try:
            reply = await ctx.judge(judge_messages(self.value, text, ctx), self.model)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise CannotCheck(f"judge call failed: {type(exc).__name__}: {exc}") from None
        parsed = parse_judge_reply(reply if isinstance(reply, str) else str(reply), self.threshold)
        if parsed is None:
            raise CannotCheck(
                "could not parse the judge's reply (expected JSON with pass/score/reason "
                f"or a PASS/FAIL word): {show(reply, 120)}"
            )
        passed, score, why = parsed
        why = f": {why}" if why else ""
        said = f"judge: {'PASS' if passed else 'FAIL'} (score {score:.2f}){why}"
        return verdict(
            self.negate,
            passed,
            score=score,
            yes=said,
            no=said,
            neg_yes=f"expected the judge to fail it, but {said}",
        )
