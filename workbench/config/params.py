"""Turn pydantic validation errors into located, human problems.

Pydantic reports *every* problem of a document in one pass, each with a location path;
we map each path to its YAML line and rewrite the messages users see most often
(unknown key, missing key, wrong type) into plain words with the allowed keys.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from collections.abc import Callable
from typing import Any

import pydantic
from pydantic_core import InitErrorDetails, PydanticCustomError

from workbench.config.yaml import Loc, Located
from workbench.errors import Problem
from workbench.redaction import no_credentials

# A seed reaches the provider hashed with the case and rerun (older plans: seed × 1000 +
# rerun): it must stay a safe JSON integer.
MAX_SEED = 2**53 // 1000


def _number(low: float | None, high: float | None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        ok = (isinstance(value, int | float) and not isinstance(value, bool)
              and math.isfinite(value) and (low is None or value >= low)
              and (high is None or value <= high))
        if ok:
            return None
        span = (f"from {low:g} to {high:g}" if low is not None and high is not None
                else f"of at least {low:g}" if low is not None else f"of at most {high:g}")
        return f"must be a number {span}"
    return check


def _whole(low: int, high: int | None = None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if (isinstance(value, int) and not isinstance(value, bool) and value >= low
                and (high is None or value <= high)):
            return None
        return (f"must be a whole number from {low:,} to {high:,}" if high is not None
                else f"must be a whole number of at least {low:,}")
    return check


def _stop(value: Any) -> str | None:
    if isinstance(value, str) or (isinstance(value, list)
                                  and all(isinstance(v, str) for v in value)):
        return None
    return "must be text or a list of texts"


def _not_streamed(value: Any) -> str | None:
    return "streaming is not supported: every cell stores the whole reply" if value else None


# The sampling parameters every provider shares, checked here so that `temperature: hot`
# is a validation error, not a run of stored error cells. Others pass through to the model.
SAMPLING: dict[str, Callable[[Any], str | None]] = {
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "min_p": _number(0, 1),
    "top_k": _whole(0),
    "max_tokens": _whole(1),
    "max_completion_tokens": _whole(1),
    "n": _whole(1, 128),
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "repeat_penalty": _number(0, None),
    "repetition_penalty": _number(0, None),
    "seed": _whole(-MAX_SEED, MAX_SEED),
    "stop": _stop,
    "stream": _not_streamed,
}


def located_errors(title: str, errors: list[tuple[Loc, str, Any]]) -> pydantic.ValidationError:
    """Problems at keys inside one value, as a ValidationError pydantic nests under the
    value's own location (so each message points at the line of its key)."""
    return pydantic.ValidationError.from_exception_data(title, [
        InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=value)
        for loc, message, value in errors])


def check_params(value: Any, handler: pydantic.ValidatorFunctionWrapHandler) -> Any:
    """Model parameters: a mapping; no key in it; the shared sampling ones of the right type."""
    params = no_credentials(handler(value))
    errors: list[tuple[Loc, str, Any]] = []
    for key, item in params.items():
        check = SAMPLING.get(str(key))
        problem = check(item) if check else None
        if problem:
            errors.append(((key,), f"{problem}, got {_shown(item)}", item))
    if errors:
        raise located_errors("Params", errors)
    return params


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _model_name(value: str) -> str:
    name = value.strip()
    if not name or any(c.isspace() or not c.isprintable() for c in name):
        raise ValueError(f"{value!r} is not a model name (e.g. openai/gpt-4o-mini)")
    return name


# Model parameters as written in prompt and suite files: anything litellm takes, except keys.
Params = typing.Annotated[dict[str, Any], pydantic.WrapValidator(check_params)]
# A model's name as written in a file or on the command line: not blank, no spaces.
ModelName = typing.Annotated[str, pydantic.AfterValidator(_model_name)]


def format_loc(loc: Loc) -> str:
    """``("cases", 3, "id")`` → ``cases[3].id``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _allowed_keys(model: type[pydantic.BaseModel] | None, loc: Loc) -> list[str] | None:
    """The keys the model accepts at ``loc`` (for 'unknown key' hints)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            continue
        if isinstance(current, type) and issubclass(current, pydantic.BaseModel):
            field = _find_field(current, part)
            if field is None:
                return None
            current = field.annotation
        else:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, pydantic.BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return None


def _find_field(model: type[pydantic.BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional / list / dict / Annotated / unions down to one model class if there is one."""
    for _ in range(6):
        origin = typing.get_origin(annotation)
        if origin is None:
            return annotation
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin is typing.Annotated:
            annotation = args[0]
        elif origin in (list, tuple, set, frozenset):
            annotation = args[0] if args else Any
        elif origin is dict:
            annotation = args[1] if len(args) > 1 else Any
        elif origin in (typing.Union, types.UnionType):
            models = [
                a for a in args if isinstance(a, type) and issubclass(a, pydantic.BaseModel)
            ]
            annotation = models[0] if models else (args[0] if args else Any)
        else:
            return annotation
    return annotation


def problems_from_error(
    error: pydantic.ValidationError,
    doc: Located,
    model: type[pydantic.BaseModel] | None = None,
    prefix: Loc = (),
) -> list[Problem]:
    """One :class:`Problem` per pydantic error, located in ``doc``."""
    problems: list[Problem] = []
    for err in error.errors(include_url=False):
        loc: Loc = prefix
        for part in err["loc"]:
            # A union member's name is no key, unless the document has that key there.
            if not _is_union_tag(part) or (*loc, part) in doc.lines:
                loc = (*loc, part)
        kind = err["type"]
        where = format_loc(loc)
        hint = None
        if kind == "extra_forbidden":
            key = loc[-1]
            allowed = _allowed_keys(model, loc[len(prefix):-1]) if model else None
            message = f"unknown key '{key}'"
            if where.count(".") or "[" in where:
                message = f"{format_loc(loc[:-1])}: unknown key '{key}'"
            if allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = (f"did you mean '{close[0]}'? " if close else "") + (
                    "allowed keys: " + ", ".join(allowed)
                )
        elif kind == "missing":
            message = f"{where}: required key is missing"
            hint = f"add '{loc[-1]}'"
        elif kind in ("value_error", "assertion_error"):
            text = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
            message = f"{where}: {text}" if where else text
        else:
            got = err.get("input")
            shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
            if len(shown) > 60:
                shown = shown[:57] + "..."
            message = f"{where}: {err['msg'].lower()} (got {shown})"
            if isinstance(got, bool) and kind == "string_type":
                hint = "YAML reads yes/no/on/off as true/false: put the value in quotes"
        problems.append(doc.problem(loc, message, hint))
    return problems


def _is_union_tag(part: Any) -> bool:
    """Pydantic inserts union member names (``str``, ``ModelSpec``, ``list[str]``) in paths."""
    if not isinstance(part, str):
        return False
    if part.startswith("@"):  # our own discriminator tags
        return True
    return part in {"str", "int", "float", "bool", "dict", "list"} or "[" in part or (
        part[:1].isupper() and part.isidentifier()
    )
