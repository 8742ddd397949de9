"""Finding JSON in model output: one function, for the ``json`` parse spec and the checks.

The two callers want different strictness from the same search. A format check (``is-json``,
``json-schema``, ``json-path`` on raw output) must notice chatty output, so by default only
the whole output or one fenced block that *is* the whole output counts, as strict JSON.
The ``json`` parse spec wants the answer however a small model wrapped it, so
``lenient=True`` also takes the first fenced block anywhere, then the first ``{…}`` or
``[…]`` embedded in prose, and reads Python's JSON extensions (``NaN``, ``Infinity``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["FoundJson", "NoJson", "extract_json"]

# The whole (stripped) text is one fence, tagged json or not tagged.
_WHOLE_FENCE_RE = re.compile(
    r"\A```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\r?\n(.*?)\r?\n?[ \t]*```\Z", re.S
)
# Any fence, anywhere (lenient).
_ANY_FENCE_RE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)


@dataclass(frozen=True)
class FoundJson:
    """Parsed JSON and where it was: the whole output, a fenced block, or inside prose."""

    value: Any
    where: Literal["whole", "fence", "prose"]

    @property
    def fenced(self) -> bool:
        return self.where == "fence"


class NoJson(ValueError):
    """No JSON was found; ``reason`` says why, about "output" (callers may rename it)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str, lenient: bool) -> Any:
    return json.loads(text) if lenient else json.loads(text, parse_constant=_reject_constant)


def extract_json(text: str, *, lenient: bool = False) -> FoundJson:
    """The JSON in ``text`` (see the module note for what each mode accepts).

    Raises :class:`NoJson`: strict mode explains why (``output is not valid JSON (…)``, or
    the ```json fenced block is not valid JSON (…)``).
    """
    stripped = text.strip()
    if not stripped:
        raise NoJson("output is empty, not JSON")
    try:
        return FoundJson(_loads(stripped, lenient), "whole")
    except ValueError as exc:
        whole_error = exc
    if lenient:
        found = _first_fenced(stripped) or _first_embedded(stripped)
        if found is not None:
            return found
    else:
        match = _WHOLE_FENCE_RE.match(stripped)
        if match and match.group(1).lower() in ("", "json"):
            try:
                return FoundJson(_loads(match.group(2), lenient), "fence")
            except ValueError as exc:
                raise NoJson(f"the ```json fenced block is not valid JSON ({exc})") from None
    raise NoJson(f"output is not valid JSON ({whole_error})")


def _first_fenced(text: str) -> FoundJson | None:
    match = _ANY_FENCE_RE.search(text)
    if match:
        try:
            return FoundJson(_loads(match.group(1).strip(), True), "fence")
        except ValueError:
            pass
    return None


def _first_embedded(text: str) -> FoundJson | None:
    decoder = json.JSONDecoder()
    for i, char in enumerate(text):
        if char in "{[":
            try:
                value, _ = decoder.raw_decode(text, i)
            except ValueError:
                continue
            return FoundJson(value, "prose")
    return None
