"""Checks for keys that several assertion types share, so their messages are one text.

Each function looks at one key of a raw item, if present, adds a located problem when its
value is wrong, and may normalise it in place (numbers to text, dates to ISO text).
"""

from __future__ import annotations

from typing import Any

from workbench.checks.assertions._base import Problems, got, is_number
from workbench.checks.values import plain


def check_bool(data: dict[str, Any], key: str, problems: Problems) -> None:
    if key in data and not isinstance(data[key], bool):
        problems.add(key, f"'{key}' must be true or false, got {got(data[key])}")


def check_json_value(data: dict[str, Any], problems: Problems) -> None:
    """``value`` is any JSON-like value (an expected answer, a JSON value to compare)."""
    if "value" not in data:
        return
    try:
        data["value"] = plain(data["value"])
    except TypeError as exc:
        problems.add(
            "value",
            "'value' must be JSON-like data (text, number, true/false, "
            f"null, list, mapping): {exc}",
        )


def check_text_value(
    kind: str, what: str, data: dict[str, Any], problems: Problems, *, numbers: bool = True
) -> None:
    """``value`` is non-blank text (``what`` names it); a number becomes its text if allowed."""
    if "value" not in data:
        return
    value = data["value"]
    if numbers and is_number(value):
        value = data["value"] = str(value)
    if not isinstance(value, str) or not value.strip():
        problems.add("value", f"'value' of '{kind}' must be {what}, got {got(value)}")


def check_threshold(data: dict[str, Any], problems: Problems) -> None:
    if "threshold" in data:
        threshold = data["threshold"]
        if not is_number(threshold) or not 0 <= threshold <= 1:
            problems.add(
                "threshold", f"'threshold' must be a number from 0 to 1, got {got(threshold)}"
            )


def model_name_ok(data: dict[str, Any], problems: Problems) -> bool:
    """Whether ``model``, if present, names a model (a problem is added when it does not)."""
    if "model" in data and (not isinstance(data["model"], str) or not data["model"].strip()):
        problems.add("model", f"'model' must be a model name, got {got(data['model'])}")
        return False
    return True
