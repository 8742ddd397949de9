"""Assertions: what a cell's output must satisfy, and how well it did.

A suite lists assertions under a case's ``assert:`` (and ``defaults: {assert: [...]}``)::

    - type: icontains        # any type may be negated: "not-icontains" or `negate: true`
      value: refund
      weight: 2              # default 1; 0 = informational (recorded, never fails the cell)
      on: raw                # raw (stripped output) or answer (the parsed answer)

:class:`AssertionSpec` validates one item and reports *every* problem in it at once, each
at the offending key, with the allowed values — so one edit fixes a suite. :func:`evaluate`
turns specs and a cell's :class:`Output` into :class:`AssertionResult` values whose
``reason`` always says why. Evaluation never raises for bad model output or a broken user
check: those become failed assertions with a reason.

Security note: the ``python`` type imports and runs a ``.py`` file named in the suite — the
user's own code, with this process's privileges, exactly like running their tests. Suites
from untrusted sources should be read before they are run. ``llm-rubric`` and embedding
similarity go through injected callables (:data:`Judge`, :data:`Embed`); this module never
talks to a model itself.
"""

from __future__ import annotations

import asyncio
import difflib
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from workbench.checks import _checks as checks

__all__ = [
    "TYPES",
    "AssertionResult",
    "AssertionSpec",
    "Context",
    "Embed",
    "Judge",
    "Output",
    "cell_passed",
    "check_spec_files",
    "evaluate",
    "expected_assertion",
]

Judge = Callable[[list[dict[str, str]], str | None], Awaitable[str]]
"""``(messages, model or None) -> reply text``; the runner wires it to litellm."""

Embed = Callable[[list[str], str | None], Awaitable[list[list[float]]]]
"""``(texts, model or None) -> one vector per text``."""


@dataclass(frozen=True)
class _TypeInfo:
    fields: tuple[str, ...]  # type-specific keys, on top of type/negate/weight(/on)
    required: tuple[str, ...]
    default_on: Literal["raw", "answer"] | None  # None: `on` does not apply


TYPES: dict[str, _TypeInfo] = {
    "equals": _TypeInfo(("value", "ignore_case"), ("value",), "answer"),
    "contains": _TypeInfo(("value", "ignore_case"), ("value",), "raw"),
    "icontains": _TypeInfo(("value",), ("value",), "raw"),
    "regex": _TypeInfo(("value", "flags"), ("value",), "raw"),
    "one-of": _TypeInfo(("value", "ignore_case"), ("value",), "answer"),
    "is-json": _TypeInfo((), (), "raw"),
    "json-schema": _TypeInfo(("schema", "schema_file"), (), "raw"),
    "json-path": _TypeInfo(("path", "value"), ("path",), "raw"),
    "length": _TypeInfo(("min", "max", "unit"), (), "raw"),
    "similar": _TypeInfo(("value", "threshold", "method", "model"), ("value",), "raw"),
    "latency": _TypeInfo(("max_ms",), ("max_ms",), None),
    "cost": _TypeInfo(("max",), ("max",), None),
    "python": _TypeInfo(("file", "function", "threshold"), ("file",), "raw"),
    "llm-rubric": _TypeInfo(("value", "model", "threshold"), ("value",), "raw"),
}
"""Every assertion type, with the keys it takes. Any type may be prefixed ``not-``."""

_COMMON = ("type", "negate", "weight")
_ALL_FIELDS = sorted({*_COMMON, "on", *(f for info in TYPES.values() for f in info.fields)})
_FLAG_LETTERS = "imsx"


def _allowed(kind: str) -> list[str]:
    info = TYPES[kind]
    return [*_COMMON, *(["on"] if info.default_on else []), *info.fields]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _got(value: Any) -> str:
    return checks.show(value, 60)


class AssertionSpec(BaseModel):
    """One assertion as written in a suite, validated and normalised.

    ``not-X`` becomes ``type=X, negate=True``; numbers from ``value`` of text checks become
    text; YAML dates become ISO text. Fields that do not apply to a type are rejected, not
    ignored, so a typo never silently weakens a test.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: str
    negate: bool = False
    weight: float = 1.0
    on: Literal["raw", "answer"] | None = None
    value: Any = None
    ignore_case: bool = False
    flags: str | None = None
    json_schema: dict[str, Any] | bool | None = Field(default=None, alias="schema")
    schema_file: str | None = None
    path: str | None = None
    min: float | None = None
    max: float | None = None
    unit: Literal["chars", "words"] | None = None
    threshold: float | None = None
    method: Literal["lexical", "embedding"] | None = None
    model: str | None = None
    max_ms: float | None = None
    file: str | None = None
    function: str | None = None

    @property
    def effective_on(self) -> Literal["raw", "answer"] | None:
        """What the check reads: the explicit ``on`` or the type's default (None: neither)."""
        return self.on or TYPES[self.type].default_on

    @property
    def label(self) -> str:
        """The type as a user would write it, e.g. ``not-contains``."""
        return f"not-{self.type}" if self.negate else self.type

    def describe(self) -> str:
        """One line for lists and reports, e.g. ``not-icontains 'refund' (weight 2)``."""
        detail = ""
        if self.type in ("python",):
            detail = f" {self.file}:{self.function or 'check'}"
        elif self.type == "json-path":
            detail = f" {self.path}" + (
                f" = {checks.show(self.value, 40)}" if "value" in self.model_fields_set else ""
            )
        elif self.type == "json-schema":
            detail = f" {self.schema_file}" if self.schema_file else " (inline schema)"
        elif self.type == "length":
            bounds = [
                f"min {self.min:g}" if self.min is not None else "",
                f"max {self.max:g}" if self.max is not None else "",
            ]
            detail = " " + " ".join(b for b in bounds if b) + f" {self.unit or 'chars'}"
        elif self.type == "latency":
            detail = f" <= {self.max_ms:g} ms"
        elif self.type == "cost":
            detail = f" <= ${self.max:g}"
        elif self.value is not None:
            detail = f" {checks.show(self.value, 40)}"
        weight = f" (weight {self.weight:g})" if self.weight != 1 else ""
        return f"{self.label}{detail}{weight}"

    @model_validator(mode="before")
    @classmethod
    def _validate_raw(cls, data: Any) -> Any:
        """Check the raw mapping and normalise it; all problems are raised together."""
        return _validate_mapping(data)


class _Problems:
    """Collects located problems and raises them as one pydantic ValidationError."""

    def __init__(self, data: Any):
        self.data = data
        self.items: list[InitErrorDetails] = []

    def add(self, key: str | None, message: str) -> None:
        loc: tuple[str, ...] = (key,) if key else ()
        value = self.data.get(key) if key and isinstance(self.data, dict) else self.data
        # "value_error" so the suite loader shows the message as written (no "Value error,").
        self.items.append(
            InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=value)
        )

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationError.from_exception_data("AssertionSpec", self.items)


def _validate_mapping(data: Any) -> Any:
    problems = _Problems(data)
    known = ", ".join(TYPES)
    if isinstance(data, AssertionSpec):
        return data
    if not isinstance(data, dict):
        problems.add(
            None,
            f"an assertion must be a mapping like {{type: contains, value: ...}}, got {_got(data)}",
        )
        problems.raise_if_any()
    data = dict(data)
    if "json_schema" in data and "schema" not in data:  # Python callers may use the name
        data["schema"] = data.pop("json_schema")

    kind = data.get("type")
    if kind is None:
        problems.add(None, f"assertion is missing 'type' (known types: {known})")
    elif not isinstance(kind, str):
        problems.add("type", f"'type' must be text, one of: {known}; got {_got(kind)}")
        kind = None
    else:
        name = kind.strip()
        negated_by_name = name.startswith("not-")
        base = name.removeprefix("not-")
        if base not in TYPES:
            candidates = [*TYPES, *(f"not-{t}" for t in TYPES)]
            close = difflib.get_close_matches(name, candidates, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            problems.add(
                "type",
                f"unknown assertion type '{kind}' ({hint}known types: {known}; "
                "prefix any with 'not-' to negate)",
            )
            kind = None
        else:
            kind = base
            data["type"] = base
            if negated_by_name:
                if data.get("negate") is True:
                    problems.add(
                        "negate",
                        f"'{name}' is already negated; remove 'negate: true' "
                        f"or write type '{base}'",
                    )
                elif data.get("negate") is False:
                    problems.add(
                        "negate",
                        f"'negate: false' contradicts type '{name}'; write type '{base}'",
                    )
                data["negate"] = True

    # Keys: unknown anywhere, or known but not for this type.
    allowed = _allowed(kind) if kind else _ALL_FIELDS
    for key in list(data):
        if key in allowed:
            continue
        if not isinstance(key, str):
            problems.add(None, f"assertion keys must be text, got {_got(key)}")
            continue
        if kind and key in _ALL_FIELDS:
            problems.add(
                key,
                f"'{key}' does not apply to '{kind}' assertions "
                f"(keys for {kind}: {', '.join(allowed)})",
            )
        else:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            what = f"'{kind}' assertions" if kind else "assertions"
            problems.add(key, f"unknown key '{key}' ({hint}keys for {what}: {', '.join(allowed)})")

    _check_common(data, problems)
    if kind:
        _check_type_fields(kind, data, problems)
    problems.raise_if_any()
    return data


def _check_common(data: dict[str, Any], problems: _Problems) -> None:
    if "negate" in data and not isinstance(data["negate"], bool):
        problems.add("negate", f"'negate' must be true or false, got {_got(data['negate'])}")
    if "weight" in data:
        weight = data["weight"]
        if not _is_number(weight) or weight < 0:
            problems.add("weight", f"'weight' must be a number >= 0, got {_got(weight)}")
    if "on" in data and data["on"] not in ("raw", "answer"):
        problems.add("on", f"'on' must be one of: raw, answer; got {_got(data['on'])}")


def _check_type_fields(kind: str, data: dict[str, Any], problems: _Problems) -> None:
    """Per-type requirements and value shapes; normalises ``data`` in place."""
    info = TYPES[kind]
    for key in info.required:
        if key not in data:
            problems.add(
                None, f"'{kind}' assertion is missing '{key}'" + _REQUIRED_HINT.get((kind, key), "")
            )

    for key in ("ignore_case",):
        if key in data and not isinstance(data[key], bool):
            problems.add(key, f"'{key}' must be true or false, got {_got(data[key])}")

    if "value" in data:
        _check_value(kind, data, problems)

    if "flags" in data:
        flags = data["flags"]
        if not isinstance(flags, str) or any(c not in _FLAG_LETTERS for c in flags):
            problems.add(
                "flags",
                f"'flags' must be letters from i (ignore case), m (multiline), s (dot matches "
                f"newline), x (verbose); got {_got(flags)}",
            )
        else:
            data["flags"] = "".join(sorted(set(flags), key=_FLAG_LETTERS.index))
    if kind == "regex" and isinstance(data.get("value"), str):
        flags = data.get("flags") if isinstance(data.get("flags"), str) else ""
        try:
            checks.compile_regex(data["value"], flags if set(flags) <= set(_FLAG_LETTERS) else "")
        except re.error as exc:
            problems.add("value", f"invalid regex {data['value']!r}: {exc}")

    if kind == "json-schema":
        _check_schema_fields(data, problems)

    if "path" in data:
        path = data["path"]
        if not isinstance(path, str):
            problems.add("path", f"'path' must be text like a.b[0].c or $.a.b[0], got {_got(path)}")
        else:
            try:
                checks.parse_json_path(path)
            except ValueError as exc:
                problems.add(
                    "path", f"invalid json-path {path!r}: {exc} (use a.b[0].c or $.a.b[0])"
                )

    if kind == "length":
        _check_length_fields(data, problems)
    if kind == "cost" and "max" in data and (not _is_number(data["max"]) or data["max"] < 0):
        problems.add("max", f"'max' must be a cost in USD >= 0, got {_got(data['max'])}")
    if "max_ms" in data and (not _is_number(data["max_ms"]) or data["max_ms"] <= 0):
        problems.add(
            "max_ms", f"'max_ms' must be a number of milliseconds > 0, got {_got(data['max_ms'])}"
        )
    if "threshold" in data:
        threshold = data["threshold"]
        if not _is_number(threshold) or not 0 <= threshold <= 1:
            problems.add(
                "threshold", f"'threshold' must be a number from 0 to 1, got {_got(threshold)}"
            )
    if "method" in data and data["method"] not in ("lexical", "embedding"):
        problems.add(
            "method", f"'method' must be one of: lexical, embedding; got {_got(data['method'])}"
        )
    if "model" in data:
        if not isinstance(data["model"], str) or not data["model"].strip():
            problems.add("model", f"'model' must be a model name, got {_got(data['model'])}")
        elif kind == "similar" and data.get("method", "lexical") != "embedding":
            problems.add("model", "'model' only applies to 'similar' with method: embedding")
    if "file" in data:
        file = data["file"]
        if not isinstance(file, str) or not file.strip().endswith(".py"):
            problems.add(
                "file",
                f"'file' must be the path of a .py file (relative to the "
                f"suite file), got {_got(file)}",
            )
    if "function" in data:
        function = data["function"]
        if not isinstance(function, str) or not function.isidentifier():
            problems.add(
                "function", f"'function' must be a Python function name, got {_got(function)}"
            )


_REQUIRED_HINT: dict[tuple[str, str], str] = {
    ("equals", "value"): " (the expected answer)",
    ("contains", "value"): " (text, or a list of texts that must all appear)",
    ("icontains", "value"): " (text, or a list of texts that must all appear)",
    ("regex", "value"): " (the pattern)",
    ("one-of", "value"): " (the list of allowed answers)",
    ("json-path", "path"): " (like a.b[0].c)",
    ("similar", "value"): " (the reference text)",
    ("latency", "max_ms"): " (the limit in milliseconds)",
    ("cost", "max"): " (the limit in USD)",
    ("python", "file"): " (a .py file relative to the suite file)",
    ("llm-rubric", "value"): " (the rubric the judge applies)",
}


def _check_value(kind: str, data: dict[str, Any], problems: _Problems) -> None:
    value = data["value"]
    if kind in ("contains", "icontains"):
        items = value if isinstance(value, list) else [value]
        if not items:
            problems.add("value", f"'value' of '{kind}' must not be an empty list")
            return
        texts: list[str] = []
        for item in items:
            if _is_number(item):
                item = str(item)
            if not isinstance(item, str) or not item:
                problems.add(
                    "value",
                    f"'value' of '{kind}' must be non-empty text or a list "
                    f"of texts, got {_got(value)}",
                )
                return
            texts.append(item)
        data["value"] = texts if isinstance(value, list) else texts[0]
    elif kind in ("regex", "similar", "llm-rubric"):
        what = {
            "regex": "a pattern",
            "similar": "the reference text",
            "llm-rubric": "the rubric text",
        }[kind]
        if _is_number(value) and kind != "regex":
            value = data["value"] = str(value)
        if not isinstance(value, str) or not value.strip():
            problems.add("value", f"'value' of '{kind}' must be {what}, got {_got(value)}")
    elif kind == "one-of":
        if (
            not isinstance(value, list)
            or not value
            or any(isinstance(v, dict | list) for v in value)
        ):
            problems.add(
                "value",
                f"'value' of 'one-of' must be a non-empty list of allowed "
                f"answers (text, numbers, true/false), got {_got(value)}",
            )
            return
        try:
            data["value"] = checks.plain(value)
        except TypeError as exc:
            problems.add("value", f"'value' of 'one-of' is not plain data: {exc}")
    else:  # equals, json-path: any JSON value
        try:
            data["value"] = checks.plain(value)
        except TypeError as exc:
            problems.add(
                "value",
                f"'value' must be JSON-like data (text, number, true/false, "
                f"null, list, mapping): {exc}",
            )


def _check_schema_fields(data: dict[str, Any], problems: _Problems) -> None:
    has_inline, has_file = "schema" in data, "schema_file" in data
    if has_inline == has_file:
        problems.add(
            None,
            "'json-schema' assertion needs exactly one of 'schema' (an inline mapping) or "
            "'schema_file' (a .json/.yaml file relative to the suite file)",
        )
    if has_inline:
        problem = checks.schema_problem(data["schema"])
        if problem:
            problems.add("schema", f"'schema' is not a valid JSON Schema: {problem}")
    if has_file and (not isinstance(data["schema_file"], str) or not data["schema_file"].strip()):
        problems.add(
            "schema_file", f"'schema_file' must be a file path, got {_got(data['schema_file'])}"
        )


def _check_length_fields(data: dict[str, Any], problems: _Problems) -> None:
    if "min" not in data and "max" not in data:
        problems.add(None, "'length' assertion needs 'min', 'max' or both")
    bounds_ok = True
    for key in ("min", "max"):
        if key in data:
            value = data[key]
            if isinstance(value, float) and value.is_integer():
                value = data[key] = int(value)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                problems.add(key, f"'{key}' must be a whole number >= 0, got {_got(value)}")
                bounds_ok = False
    if bounds_ok and "min" in data and "max" in data and data["min"] > data["max"]:
        problems.add("min", f"'min' ({data['min']}) is greater than 'max' ({data['max']})")
    if "unit" in data and data["unit"] not in ("chars", "words"):
        problems.add("unit", f"'unit' must be one of: chars, words; got {_got(data['unit'])}")


def check_spec_files(spec: AssertionSpec, base_dir: Path) -> list[str]:
    """Problems with files a spec refers to, relative to the suite file's folder.

    Called by the suite loader at validation time so a missing check file or a broken
    schema file is reported with the rest, before any model call. Importing a python check
    runs its module code (see the module note on trust).
    """
    problems: list[str] = []
    if spec.type == "python" and spec.file:
        function = spec.function or "check"
        try:
            func = checks.load_function(base_dir, spec.file, function)
        except (OSError, LookupError) as exc:
            problems.append(str(exc))
        except Exception as exc:  # the user's module failed while importing
            problems.append(f"cannot import {spec.file}: {type(exc).__name__}: {exc}")
        else:
            problem = checks.signature_problem(func, function)
            if problem:
                problems.append(f"{spec.file}: {problem}")
    if spec.type == "json-schema" and spec.schema_file:
        try:
            checks.load_schema(base_dir, spec.schema_file)
        except (OSError, ValueError) as exc:
            problems.append(str(exc))
    return problems


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
    """One assertion's verdict on one cell; ``reason`` always explains it."""

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


def expected_assertion(expected: Any) -> AssertionSpec:
    """The implicit assertion a case's ``expected`` adds: equals on the parsed answer.

    Comparison is exact on the canonical text (stripped; ``3`` equals ``3.0`` and ``"3"``):
    label parsing already normalises case, and a looser default would hide real variance.
    """
    return AssertionSpec(type="equals", value=expected, on="answer")


def _failed(spec: AssertionSpec, reason: str) -> AssertionResult:
    return AssertionResult(spec.type, spec.negate, False, 0.0, spec.weight, reason)


async def _evaluate_one(spec: AssertionSpec, output: Output, ctx: Context) -> AssertionResult:
    if output.error is not None:
        return _failed(spec, f"cell errored: {output.error}")
    if spec.effective_on == "answer" and not output.parse_ok:
        return _failed(spec, "no parsed answer")
    try:
        outcome = await checks.CHECKERS[spec.type](spec, output, ctx)
    except checks.CannotCheck as exc:
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
    specs: Sequence[AssertionSpec], output: Output, ctx: Context
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
