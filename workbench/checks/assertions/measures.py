"""Measured assertions: length, similar, latency, cost — a number against a bound.

``similar`` scores lexical similarity (ROUGE-L, see :mod:`workbench.checks.similarity`) or
the cosine of embeddings from the injected :data:`~workbench.checks.assertions.Embed`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from workbench.checks.assertions._base import (
    REGISTRY,
    BaseAssertion,
    Problems,
    ReadsOutput,
    got,
    is_number,
    value_detail,
)
from workbench.checks.assertions._fields import check_text_value, check_threshold, model_name_ok
from workbench.checks.assertions._outcome import CannotCheck, Context, Outcome, Output, verdict
from workbench.checks.similarity import lexical_similarity
from workbench.checks.values import as_text


@REGISTRY.register
class Length(ReadsOutput):
    """The output has between ``min`` and ``max`` chars (or words, with ``unit: words``)."""

    type: Literal["length"]
    min: float | None = None
    max: float | None = None
    unit: Literal["chars", "words"] | None = None

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        if "min" not in data and "max" not in data:
            problems.add(None, "'length' assertion needs 'min', 'max' or both")
        bounds_ok = True
        for key in ("min", "max"):
            if key in data:
                value = data[key]
                if isinstance(value, float) and value.is_integer():
                    value = data[key] = int(value)
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    problems.add(key, f"'{key}' must be a whole number >= 0, got {got(value)}")
                    bounds_ok = False
        if bounds_ok and "min" in data and "max" in data and data["min"] > data["max"]:
            problems.add("min", f"'min' ({data['min']}) is greater than 'max' ({data['max']})")
        if "unit" in data and data["unit"] not in ("chars", "words"):
            problems.add("unit", f"'unit' must be one of: chars, words; got {got(data['unit'])}")

    def detail(self) -> str:
        bounds = [
            f"min {self.min:g}" if self.min is not None else "",
            f"max {self.max:g}" if self.max is not None else "",
        ]
        return " " + " ".join(b for b in bounds if b) + f" {self.unit or 'chars'}"

    async def check(self, output: Output, ctx: Context) -> Outcome:
        what = self.subject_name
        text = as_text(self.subject(output))
        unit = self.unit or "chars"
        size = len(text.split()) if unit == "words" else len(text)
        low = int(self.min) if self.min is not None else None
        high = int(self.max) if self.max is not None else None
        bounds = " and ".join(
            part
            for part in (
                f"min {low}" if low is not None else "",
                f"max {high}" if high is not None else "",
            )
            if part
        )
        if low is not None and size < low:
            holds, why = False, f"{what} has {size} {unit}, fewer than min {low}"
        elif high is not None and size > high:
            holds, why = False, f"{what} has {size} {unit}, more than max {high}"
        else:
            holds, why = True, f"{what} has {size} {unit}, within {bounds}"
        return verdict(
            self.negate,
            holds,
            yes=why,
            no=why,
            neg_yes=f"expected {what} length NOT within {bounds} {unit}, but it has {size}",
        )


@REGISTRY.register
class Similar(ReadsOutput):
    """Similarity to the reference ``value`` reaches ``threshold`` (default 0.8)."""

    type: Literal["similar"]
    value: str = Field(description="the reference text")
    threshold: float | None = None
    method: Literal["lexical", "embedding"] | None = None
    model: str | None = None

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        check_text_value("similar", "the reference text", data, problems)
        check_threshold(data, problems)
        if "method" in data and data["method"] not in ("lexical", "embedding"):
            problems.add(
                "method",
                f"'method' must be one of: lexical, embedding; got {got(data['method'])}",
            )
        embedding = data.get("method", "lexical") == "embedding"
        if model_name_ok(data, problems) and "model" in data and not embedding:
            problems.add("model", "'model' only applies to 'similar' with method: embedding")

    def detail(self) -> str:
        return value_detail(self.value)

    async def check(self, output: Output, ctx: Context) -> Outcome:
        what = self.subject_name
        text = as_text(self.subject(output))
        threshold = 0.8 if self.threshold is None else self.threshold
        method = self.method or "lexical"
        if method == "embedding":
            similarity = await _embedding_similarity(text, self.value, self.model, ctx)
        else:
            similarity = lexical_similarity(text, self.value)
        holds = similarity >= threshold
        measured = f"{method} similarity to the reference is {similarity:.2f}"
        return verdict(
            self.negate,
            holds,
            score=similarity,
            yes=f"{measured} (threshold {threshold:.2f})",
            no=f"{measured}, below threshold {threshold:.2f}",
            neg_yes=f"expected {what} NOT to be similar to the reference, but {measured} "
            f"(threshold {threshold:.2f})",
        )


async def _embedding_similarity(
    text: str, reference: str, model: str | None, ctx: Context
) -> float:
    if ctx.embed is None:
        raise CannotCheck("no embedding backend is configured for 'similar' with method: embedding")
    try:
        vectors = await ctx.embed([reference, text], model)
    except Exception as exc:  # a backend failure must fail the assertion, not the run
        raise CannotCheck(f"embedding call failed: {type(exc).__name__}: {exc}") from None
    try:
        a, b = (list(map(float, v)) for v in vectors)
        if len(a) != len(b) or not a:
            raise ValueError("vectors differ in length or are empty")
    except (TypeError, ValueError) as exc:
        raise CannotCheck(f"embedding backend returned unusable vectors ({exc})") from None
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    if norm == 0:
        return 0.0
    cosine = sum(x * y for x, y in zip(a, b, strict=True)) / norm
    return min(1.0, max(0.0, cosine))


@REGISTRY.register
class Latency(BaseAssertion):
    """The call took at most ``max_ms`` milliseconds."""

    type: Literal["latency"]
    max_ms: float = Field(description="the limit in milliseconds")

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        if "max_ms" in data and (not is_number(data["max_ms"]) or data["max_ms"] <= 0):
            problems.add(
                "max_ms",
                f"'max_ms' must be a number of milliseconds > 0, got {got(data['max_ms'])}",
            )

    def detail(self) -> str:
        return f" <= {self.max_ms:g} ms"

    async def check(self, output: Output, ctx: Context) -> Outcome:
        limit = self.max_ms
        took = output.latency_ms
        return verdict(
            self.negate,
            took <= limit,
            yes=f"latency {took:.0f} ms is within max {limit:g} ms",
            no=f"latency {took:.0f} ms exceeds max {limit:g} ms",
            neg_yes=f"expected latency above {limit:g} ms, but it took {took:.0f} ms",
        )


def _money(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return f"${text}"


@REGISTRY.register
class Cost(BaseAssertion):
    """The call cost at most ``max`` USD."""

    type: Literal["cost"]
    max: float = Field(description="the limit in USD")

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        if "max" in data and (not is_number(data["max"]) or data["max"] < 0):
            problems.add("max", f"'max' must be a cost in USD >= 0, got {got(data['max'])}")

    def detail(self) -> str:
        return f" <= ${self.max:g}"

    async def check(self, output: Output, ctx: Context) -> Outcome:
        limit = self.max
        cost = output.cost
        return verdict(
            self.negate,
            cost <= limit,
            yes=f"cost {_money(cost)} is within max {_money(limit)}",
            no=f"cost {_money(cost)} exceeds max {_money(limit)}",
            neg_yes=f"expected cost above {_money(limit)}, but it was {_money(cost)}",
        )
