"""The checks behind each assertion type (private to :mod:`workbench.checks.assertions`).

Each checker gets the validated spec, the cell's output and the context, and returns an
:class:`Outcome` with negation already applied, so every reason reads naturally for the
negated form too. A checker that cannot evaluate at all (output is not JSON, the python
function raised, the judge reply is unreadable, no backend configured) raises
:class:`CannotCheck`: that fails the assertion whether or not it is negated, because
"could not tell" must never count as a pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import inspect
import json
import math
import re
import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

from workbench.checks.similarity import lexical_similarity

if TYPE_CHECKING:
    from workbench.checks.assertions import AssertionSpec, Context, Output


class CannotCheck(Exception):
    """The assertion could not be evaluated; it fails with this reason, negated or not."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    """Final verdict of one check (negation applied)."""

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


# ---------------------------------------------------------------- display helpers


def show(value: Any, limit: int = 80) -> str:
    """A short, one-line rendering of a value for reasons: strings quoted, JSON otherwise."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def show_list(values: list[Any]) -> str:
    return ", ".join(show(v) for v in values)


def canonical(value: Any) -> str:
    """Text form used by equals/one-of: strings stripped, numbers without a spurious .0,
    JSON for everything else — so ``3``, ``3.0`` and ``"3"`` compare equal but ``True``
    reads as ``true`` (how the model would write it)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    try:
        return json.dumps(
            _integral(value), ensure_ascii=False, sort_keys=True, separators=(",", ":")
        )
    except (TypeError, ValueError):
        return str(value).strip()


def _integral(value: Any) -> Any:
    """Nested ``1.0`` → ``1`` so containers compare like their scalars do."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_integral(v) for v in value]
    return value


def as_text(value: Any) -> str:
    """The text a string check looks at: strings as they are, anything else canonical."""
    return value if isinstance(value, str) else canonical(value)


def plain(value: Any) -> Any:
    """YAML values as JSON values (dates become ISO text); raises TypeError for others."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError("numbers must be finite")
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"mapping keys must be text, got {show(k)}")
            out[k] = plain(v)
        return out
    raise TypeError(f"unsupported value of type {type(value).__name__}")


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


# ---------------------------------------------------------------- JSON in model output

_FENCE_RE = re.compile(r"\A```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\r?\n(.*?)\r?\n?[ \t]*```\Z", re.S)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def extract_json(text: str) -> tuple[Any, bool]:
    """Parse output that is JSON, or one ```json fenced block and nothing else.

    Returns ``(value, fenced)``. Raises :class:`CannotCheck` saying why it is not JSON. Prose
    around a fence is not accepted: a format check should notice chatty output.
    """
    stripped = text.strip()
    if not stripped:
        raise CannotCheck("output is empty, not JSON")
    try:
        return _loads(stripped), False
    except ValueError as exc:
        plain_error = exc
    match = _FENCE_RE.match(stripped)
    if match and match.group(1).lower() in ("", "json"):
        try:
            return _loads(match.group(2)), True
        except ValueError as exc:
            raise CannotCheck(f"the ```json fenced block is not valid JSON ({exc})") from None
    raise CannotCheck(f"output is not valid JSON ({plain_error})")


def json_subject(value: Any, where: str) -> tuple[Any, bool]:
    """The JSON a json-* assertion looks at: text is parsed, an already parsed answer is used."""
    if isinstance(value, str):
        try:
            return extract_json(value)
        except CannotCheck as exc:
            raise CannotCheck(exc.reason.replace("output", where, 1)) from None
    return value, False


# ---------------------------------------------------------------- json-path

_NAME_RE = re.compile(r"[^.\[\]\s]+")
_INDEX_RE = re.compile(r"\[\s*(-?\d+)\s*\]")
_QUOTED_RE = re.compile(r"""\[\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\]""")


@lru_cache(maxsize=512)
def parse_json_path(path: str) -> tuple[str | int, ...]:
    """``a.b[0].c``, ``$.a.b[0]``, ``$["odd key"][-1]`` → segments. ValueError on bad syntax."""
    text = path.strip()
    if not text:
        raise ValueError("path is empty")
    pos = 0
    if text.startswith("$"):
        pos = 1
    segments: list[str | int] = []
    first = True
    while pos < len(text):
        char = text[pos]
        if char == "[":
            match = _INDEX_RE.match(text, pos) or _QUOTED_RE.match(text, pos)
            if not match:
                raise ValueError(f'expected [number] or ["key"] at position {pos} of {path!r}')
            if match.re is _INDEX_RE:
                segments.append(int(match.group(1)))
            else:
                raw = match.group(1) if match.group(1) is not None else match.group(2)
                segments.append(re.sub(r"\\(.)", r"\1", raw))
            pos = match.end()
        else:
            if char == ".":
                pos += 1
            elif not first or text.startswith("$"):
                raise ValueError(f"expected '.' or '[' at position {pos} of {path!r}")
            match = _NAME_RE.match(text, pos)
            if not match:
                raise ValueError(f"expected a key name at position {pos} of {path!r}")
            segments.append(match.group(0))
            pos = match.end()
        first = False
    return tuple(segments)


class PathMissing(Exception):
    """The path does not exist in the document; the message says where it stopped."""


def resolve_json_path(document: Any, segments: tuple[str | int, ...]) -> Any:
    current = document
    walked = "$"
    for seg in segments:
        if isinstance(current, dict):
            key = str(seg)
            if key not in current:
                keys = ", ".join(show(k, 30) for k in list(current)[:10]) or "none"
                raise PathMissing(f"no key {show(key)} in the object at {walked} (keys: {keys})")
            current = current[key]
            walked += f".{key}" if _NAME_RE.fullmatch(key) else f"[{json.dumps(key)}]"
        elif isinstance(current, list):
            if isinstance(seg, str):
                if not re.fullmatch(r"-?\d+", seg):
                    raise PathMissing(f"{walked} is an array, not an object (key {show(seg)})")
                seg = int(seg)
            if not -len(current) <= seg < len(current):
                raise PathMissing(
                    f"index {seg} is out of range for the array at {walked} (length {len(current)})"
                )
            current = current[seg]
            walked += f"[{seg}]"
        else:
            raise PathMissing(f"{walked} is a {json_kind(current)}, it has no {show(seg)}")
    return current


# ---------------------------------------------------------------- files (cached by mtime)

_modules: dict[tuple[str, int], ModuleType] = {}
_schemas: dict[tuple[str, int], Any] = {}


def resolve(base_dir: Path, name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else base_dir / path


def load_module(path: Path) -> ModuleType:
    """Import a user's check file by path, once per (path, mtime).

    This executes the user's own code with the tool's privileges — the same trust as running
    their test suite. Editing the file makes the next evaluation load the new version.
    """
    resolved = path.resolve()
    key = (str(resolved), resolved.stat().st_mtime_ns)
    module = _modules.get(key)
    if module is not None:
        return module
    digest = hashlib.sha1(f"{key[0]}:{key[1]}".encode()).hexdigest()[:12]
    name = f"_workbench_check_{resolved.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {resolved}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    _modules[key] = module
    return module


def load_function(base_dir: Path, file: str, function: str) -> Callable[..., Any]:
    """The user's check function; raises LookupError/ImportError/OSError with a clear text."""
    path = resolve(base_dir, file)
    if not path.is_file():
        raise FileNotFoundError(f"python file {file!r} not found (looked for {path})")
    module = load_module(path)
    func = getattr(module, function, None)
    if func is None:
        found = sorted(
            n
            for n, v in vars(module).items()
            if callable(v) and inspect.isfunction(v) and v.__module__ == module.__name__
        )
        listed = ", ".join(found) if found else "none"
        raise LookupError(f"{file} has no function {function!r} (functions defined: {listed})")
    if not callable(func):
        raise LookupError(f"{file}: {function!r} is a {type(func).__name__}, not a function")
    return func


def load_schema(base_dir: Path, file: str) -> Any:
    """A schema file (JSON, or YAML for .yaml/.yml), checked, once per (path, mtime)."""
    path = resolve(base_dir, file)
    if not path.is_file():
        raise FileNotFoundError(f"schema file {file!r} not found (looked for {path})")
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key in _schemas:
        return _schemas[key]
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            schema = yaml.safe_load(text)
        else:
            schema = json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"schema file {file!r} cannot be parsed: {exc}") from None
    problem = schema_problem(schema)
    if problem:
        raise ValueError(f"schema file {file!r} is not a valid JSON Schema: {problem}")
    _schemas[key] = schema
    return schema


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a valid JSON Schema (for its declared draft), or None."""
    if not isinstance(schema, dict | bool):
        return f"a schema must be a mapping, got {type(schema).__name__}"
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        return f"{exc.message}" + (f" (at {where})" if where else "")
    return None


def signature_problem(func: Callable[..., Any], name: str) -> str | None:
    """Whether ``func`` can be called as ``func(output, context)``."""
    try:
        inspect.signature(func).bind("", {})
    except TypeError:
        return f"{name}() must accept two arguments (output, context)"
    except ValueError:  # builtins without a signature: give them the benefit of the doubt
        return None
    return None


# ---------------------------------------------------------------- the checkers


def _subject_name(spec: AssertionSpec) -> str:
    return "answer" if spec.effective_on == "answer" else "output"


def _subject(spec: AssertionSpec, output: Output) -> Any:
    return output.answer if spec.effective_on == "answer" else (output.raw or "")


async def check_equals(spec: AssertionSpec, output: Output, ctx: Context) -> Outcome:
    what = _subject_name(spec)
    actual = canonical(_subject(spec, output))
    wanted = canonical(spec.value)
    holds = actual.casefold() == wanted.casefold() if spec.ignore_case else actual == wanted
    return verdict(
        spec.negate,
        holds,
        yes=f"{what} equals {show(wanted)}",
        no=f"expected {show(wanted)}, got {show(actual)}",
        neg_yes=f"expected {what} NOT to equal {show(wanted)}, but it does",
        neg_no=f"{what} is {show(actual)}, not {show(wanted)}",
    )


async def check_contains(spec: AssertionSpec, output: Output, ctx: Context) -> Outcome:
    """A list value means every item; negated, it means none of them (per item)."""
    what = _subject_name(spec)
    text = as_text(_subject(spec, output))
    needles: list[str] = spec.value if isinstance(spec.value, list) else [spec.value]
    fold = spec.ignore_case or spec.type == "icontains"
    hay = text.casefold() if fold else text
    present = [n for n in needles if (n.casefold() if fold else n) in hay]
    missing = [n for n in needles if n not in present]
    case = " (ignoring case)" if fold else ""
    single = len(needles) == 1
    if not spec.negate:
        score = len(present) / len(needles)
        if not missing:
            reason = (
                f"{what} contains {show(needles[0])}{case}"
                if single
                else f"{what} contains all of {show_list(needles)}{case}"
            )
            return Outcome(True, 1.0, reason)
        reason = (
            f"{what} does not contain {show(needles[0])}{case}"
            if single
            else f"{what} does not contain {show_list(missing)}{case} "
            f"(needs all of {show_list(needles)})"
        )
        return Outcome(False, score, reason)
    score = len(missing) / len(needles)
    if not present:
        reason = (
            f"{what} does not contain {show(needles[0])}{case}"
            if single
            else f"{what} contains none of {show_list(needles)}{case}"
        )
        return Outcome(True, 1.0, reason)
    reason = (
        f"expected {what} NOT to contain {show(needles[0])}{case}, but it does"
        if single
        else f"expected {what} to contain none of {show_list(needles)}{case}, "
        f"but it contains {show_list(present)}"
    )
    return Outcome(False, score, reason)


_FLAG_BITS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


@lru_cache(maxsize=512)
def compile_regex(pattern: str, flags: str) -> re.Pattern[str]:
    bits = 0
    for letter in flags:
        bits |= _FLAG_BITS[letter]
    return re.compile(pattern, bits)


async def check_regex(spec: AssertionSpec, output: Output, ctx: Context) -> Outcome:
    what = _subject_name(spec)
    text = as_text(_subject(spec, output))
    flags = spec.flags or ""
    shown = f"/{spec.value}/{flags}"
    match = compile_regex(spec.value, flags).search(text)
    found = show(match.group(0), 60) if match else ""
    return verdict(
        spec.negate,
        match is not None,
        yes=f"{what} matches {shown} (matched {found})",
        no=f"{what} does not match {shown}",
        neg_yes=f"expected {what} NOT to match {shown}, but it does (matched {found})",
    )


async def check_one_of(spec: AssertionSpec, output: Output, ctx: Context) -> Outcome:
    what = _subject_name(spec)
    actual = canonical(_subject(spec, output))
    options = [canonical(v) for v in spec.value]
    if spec.ignore_case:
        holds = actual.casefold() in {o.casefold() for o in options}
    else:
        holds = actual in options
    listed = show_list(options)
    return verdict(
        spec.negate,
        holds,
        yes=f"{what} {show(actual)} is one of {listed}",
        no=f"expected one of {listed}, got {show(actual)}",
        neg_yes=f"expected {what} NOT to be one of {listed}, but it is {show(actual)}",
        neg_no=f"{what} {show(actual)} is none of {listed}",
    )


async def check_is_json(spec: AssertionSpec, output: Output, ctx: Context) -> Outcome:
    what = _subject_name(spec)
    value = _subject(spec, output)
    if not isinstance(value, str):
        desc = f"{what} is already parsed JSON (a {json_kind(value)})"
        return verdict(
            spec.negate,
            True,
            yes=desc,
            no=desc,
            neg_yes=f"expected {what} NOT to be JSON, "
            f"but it is already parsed JSON (a {json_kind(value)})",
        )
    try:
        parsed, fenced = extract_json(value)
    except CannotCheck as exc:
        reason = exc.reason.replace("output", what, 1)
        return verdict(spec.negate, False, yes="", no=reason, neg_yes="")
    where = " inside a ```json fence" if fenced else ""
    desc = f"a JSON {json_kind(parsed)}{where}"
    return verdict(
        spec.negate,
        True,
        yes=f"{what} is {desc}",
        no="",
        neg_yes=f"expected {what} NOT to be JSON, but it is {desc}",
    )


def _schema_for(spec: AssertionSpec, ctx: Context) -> Any:
    if spec.json_schema is not None:
        return spec.json_schema
    try:
        return load_schema(ctx.base_dir, spec.schema_file or "")
    except (OSError, ValueError) as exc:
        raise CannotCheck(str(exc)) from None


async def check_json_schema(spec: AssertionSpec, output: Output, ctx: Context) -> Outcome:
    what = _subject_name(spec)
    document, fenced = json_subject(_subject(spec, output), what)
    schema = _schema_for(spec, ctx)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    errors = sorted(cls(schema).iter_errors(document), key=lambda e: list(e.absolute_path))
    source = f"schema file {spec.schema_file}" if spec.schema_file else "the schema"
    where = " (in a ```json fence)" if fenced else ""
    if errors:
        first = errors[0]
        at = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path)
        message = first.message if len(first.message) <= 160 else first.message[:159] + "…"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        detail = f"at {at}: {message}{more}"
    else:
        detail = ""
    return verdict(
        spec.negate,
        not errors,
        yes=f"{what} JSON{where} matches {source}",
        no=f"{what} JSON{where} does not match {source}: {detail}",
        neg_yes=f"expected {what} JSON NOT to match {source}, but it does",
    )


async def check_json_path(spec: AssertionSpec, output: Output, ctx: Context) -> Outcome:
    """With ``value``: the JSON value at ``path`` equals it. Without: the path exists."""
    what = _subject_name(spec)
    document, _ = json_subject(_subject(spec, output), what)
    path = spec.path or ""
    try:
        found = resolve_json_path(document, parse_json_path(path))
    except PathMissing as exc:
        missing = f"{path} not found in {what} JSON: {exc}"
        return verdict(spec.negate, False, yes="", no=missing, neg_yes="")
    if "value" not in spec.model_fields_set:
        return verdict(
            spec.negate,
            True,
            yes=f"{path} exists (value {show(found)})",
            no="",
            neg_yes=f"expected {path} NOT to exist, but it does (value {show(found)})",
        )
    wanted = spec.value
    return verdict(
        spec.negate,
        json_equal(found, wanted),
        yes=f"{path} is {show(wanted)}",
        no=f"expected {path} to be {show(wanted)}, got {show(found)}",
        neg_yes=f"expected {path} NOT to be {show(wanted)}, but it is",
        neg_no=f"{path} is {show(found)}, not {show(wanted)}",
    )


async def check_length(spec: AssertionSpec, output: Output, ctx: Context) -> Outcome:
    what = _subject_name(spec)
    text = as_text(_subject(spec, output))
    unit = spec.unit or "chars"
    size = len(text.split()) if unit == "words" else len(text)
    low = int(spec.min) if spec.min is not None else None
    high = int(spec.max) if spec.max is not None else None
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
        spec.negate,
        holds,
        yes=why,
        no=why,
        neg_yes=f"expected {what} length NOT within {bounds} {unit}, but it has {size}",
    )


async def check_similar(spec: AssertionSpec, output: Output, ctx: Context) -> Outcome:
    what = _subject_name(spec)
    text = as_text(_subject(spec, output))
    threshold = 0.8 if spec.threshold is None else spec.threshold
    method = spec.method or "lexical"
    if method == "embedding":
        similarity = await _embedding_similarity(text, spec.value, spec.model, ctx)
    else:
        similarity = lexical_similarity(text, spec.value)
    holds = similarity >= threshold
    measured = f"{method} similarity to the reference is {similarity:.2f}"
    return verdict(
        spec.negate,
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


async def check_latency(spec: AssertionSpec, output: Output, ctx: Context) -> Outcome:
    limit = spec.max_ms or 0.0
    took = output.latency_ms
    return verdict(
        spec.negate,
        took <= limit,
        yes=f"latency {took:.0f} ms is within max {limit:g} ms",
        no=f"latency {took:.0f} ms exceeds max {limit:g} ms",
        neg_yes=f"expected latency above {limit:g} ms, but it took {took:.0f} ms",
    )


def _money(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return f"${text}"


async def check_cost(spec: AssertionSpec, output: Output, ctx: Context) -> Outcome:
    limit = spec.max or 0.0
    cost = output.cost
    return verdict(
        spec.negate,
        cost <= limit,
        yes=f"cost {_money(cost)} is within max {_money(limit)}",
        no=f"cost {_money(cost)} exceeds max {_money(limit)}",
        neg_yes=f"expected cost above {_money(limit)}, but it was {_money(cost)}",
    )


def _user_error(exc: BaseException, path: Path, function: str) -> str:
    """``check() raised ValueError: boom (checks.py:12)`` — the user's line, not ours."""
    where = ""
    try:
        resolved = str(path.resolve())
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == resolved]
        if frames:
            where = f" ({path.name}:{frames[-1].lineno})"
    except OSError:
        pass
    return f"{function}() raised {type(exc).__name__}: {exc}{where}"


def _interpret(result: Any, threshold: float, function: str) -> tuple[bool, float, str]:
    """bool → pass; number → score vs threshold; dict {pass, score?, reason?}."""
    name = f"{function}()"
    if isinstance(result, bool):
        return result, 1.0 if result else 0.0, f"{name} returned {result}"
    if isinstance(result, int | float):
        score = float(result)
        if math.isnan(score):
            raise CannotCheck(f"{name} returned NaN")
        clamped = min(1.0, max(0.0, score))
        cmp = ">=" if score >= threshold else "<"
        return (
            score >= threshold,
            clamped,
            f"{name} scored {score:.2f} ({cmp} threshold {threshold:.2f})",
        )
    if isinstance(result, dict):
        unknown = set(result) - {"pass", "score", "reason"}
        if unknown:
            raise CannotCheck(
                f"{name} returned a dict with unknown keys {show_list(sorted(map(str, unknown)))}"
                " (allowed: pass, score, reason)"
            )
        score_raw = result.get("score")
        if score_raw is not None and (
            isinstance(score_raw, bool)
            or not isinstance(score_raw, int | float)
            or math.isnan(score_raw)
        ):
            raise CannotCheck(f"{name} returned a non-numeric score {show(score_raw)}")
        if "pass" in result:
            if not isinstance(result["pass"], bool):
                raise CannotCheck(f"{name} returned 'pass': {show(result['pass'])}, not a bool")
            passed = result["pass"]
        elif score_raw is not None:
            passed = score_raw >= threshold
        else:
            raise CannotCheck(f"{name} returned a dict without 'pass' or 'score'")
        score = (
            min(1.0, max(0.0, float(score_raw)))
            if score_raw is not None
            else (1.0 if passed else 0.0)
        )
        reason = result.get("reason")
        text = str(reason) if reason else f"{name} returned pass={passed}"
        return passed, score, text
    if result is None:
        raise CannotCheck(
            f"{name} returned None; return a bool, a score or {{pass, score, reason}}"
        )
    raise CannotCheck(
        f"{name} returned a {type(result).__name__}; return a bool, a score or "
        "{pass, score, reason}"
    )


async def check_python(spec: AssertionSpec, output: Output, ctx: Context) -> Outcome:
    """Run the user's function. Any exception it raises fails the assertion with its text."""
    function = spec.function or "check"
    file = spec.file or ""
    try:
        func = load_function(ctx.base_dir, file, function)
    except Exception as exc:  # import errors are the user's code failing, not ours
        reason = (
            str(exc)
            if isinstance(exc, OSError | LookupError)
            else (f"cannot load {file}: {type(exc).__name__}: {exc}")
        )
        raise CannotCheck(reason) from None
    context = {
        "vars": dict(ctx.vars),
        "expected": ctx.expected,
        "answer": output.answer,
        "raw": output.raw,
        "latency_ms": output.latency_ms,
        "cost": output.cost,
    }
    text = as_text(_subject(spec, output))
    try:
        result = func(text, context)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:
        raise CannotCheck(_user_error(exc, resolve(ctx.base_dir, file), function)) from None
    threshold = 0.5 if spec.threshold is None else spec.threshold
    passed, score, reason = _interpret(result, threshold, function)
    return verdict(
        spec.negate,
        passed,
        score=score,
        yes=reason,
        no=reason,
        neg_yes=f"expected {function}() to fail, but it passed: {reason}",
        neg_no=f"{function}() failed as required: {reason}",
    )


# ---------------------------------------------------------------- llm-rubric

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


async def check_llm_rubric(spec: AssertionSpec, output: Output, ctx: Context) -> Outcome:
    if ctx.judge is None:
        raise CannotCheck("no judge backend is configured for llm-rubric")
    text = as_text(_subject(spec, output))
    try:
        reply = await ctx.judge(judge_messages(spec.value, text, ctx), spec.model)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise CannotCheck(f"judge call failed: {type(exc).__name__}: {exc}") from None
    parsed = parse_judge_reply(reply if isinstance(reply, str) else str(reply), spec.threshold)
    if parsed is None:
        raise CannotCheck(
            "could not parse the judge's reply (expected JSON with pass/score/reason "
            f"or a PASS/FAIL word): {show(reply, 120)}"
        )
    passed, score, why = parsed
    why = f": {why}" if why else ""
    said = f"judge: {'PASS' if passed else 'FAIL'} (score {score:.2f}){why}"
    return verdict(
        spec.negate,
        passed,
        score=score,
        yes=said,
        no=said,
        neg_yes=f"expected the judge to fail it, but {said}",
    )


Checker = Callable[["AssertionSpec", "Output", "Context"], Awaitable[Outcome]]

CHECKERS: dict[str, Checker] = {
    "equals": check_equals,
    "contains": check_contains,
    "icontains": check_contains,
    "regex": check_regex,
    "one-of": check_one_of,
    "is-json": check_is_json,
    "json-schema": check_json_schema,
    "json-path": check_json_path,
    "length": check_length,
    "similar": check_similar,
    "latency": check_latency,
    "cost": check_cost,
    "python": check_python,
    "llm-rubric": check_llm_rubric,
}
