"""JSON-like values as the checks compare and show them.

Model answers, expected values from YAML/CSV and parsed JSON meet here; one set of rules
for "the same value" and for "how a value reads in a reason" keeps every check consistent.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time
from typing import Any

__all__ = ["as_text", "canonical", "json_equal", "json_kind", "plain", "show", "show_list"]


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
    """The JSON name of a parsed value's type (object, array, string, …) for reasons."""
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
