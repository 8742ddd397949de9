"""Extract the answer that is compared across reruns and against ``expected``.

Raw model text varies in ways that do not matter (casing, a trailing period, chatter
around a label). A prompt's ``parse`` spec says which part of the output *is* the answer,
so consistency is measured on answers, not on incidental wording.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ParseType = Literal["raw", "label", "regex", "json", "number"]


class ParseSpec(BaseModel):
    """How to find the answer in a model's output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ParseType = "raw"
    choices: list[str] | None = Field(default=None, description="label: the allowed labels")
    pattern: str | None = Field(default=None, description="regex: the pattern")
    group: int | str = Field(default=1, description="regex: group number or name")
    path: str | None = Field(default=None, description="json: a path such as $.label or a.b[0]")
    ignore_case: bool = True

    @model_validator(mode="after")
    def _check(self) -> ParseSpec:
        if self.type == "label":
            if not self.choices:
                raise ValueError("type 'label' needs 'choices': the list of labels")
            if len({c.lower() for c in self.choices}) != len(self.choices):
                raise ValueError("'choices' must be distinct (ignoring case)")
        if self.type == "regex":
            if not self.pattern:
                raise ValueError("type 'regex' needs 'pattern'")
            try:
                compiled = re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"'pattern' is not a valid regex: {exc}") from None
            if isinstance(self.group, int) and self.group > compiled.groups:
                raise ValueError(
                    f"group {self.group} does not exist: the pattern has "
                    f"{compiled.groups} group(s)"
                )
            if isinstance(self.group, str) and self.group not in compiled.groupindex:
                raise ValueError(f"group '{self.group}' is not a named group of the pattern")
        if self.path is not None:
            try:
                split_path(self.path)
            except ValueError as exc:
                raise ValueError(f"'path': {exc}") from None
        return self


@dataclass(frozen=True)
class Parsed:
    """The outcome of parsing: ``ok`` False means the output had no recognisable answer."""

    ok: bool
    answer: Any = None
    error: str | None = None


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_PATH_PART = re.compile(r"\.?([A-Za-z_][\w-]*)|\[(\d+)\]|\[['\"]([^'\"]+)['\"]\]")


def split_path(path: str) -> list[str | int]:
    """``$.a.b[0]`` / ``a.b[0]`` / ``a["x y"]`` → ``["a", "b", 0]``."""
    rest = path.strip()
    if rest.startswith("$"):
        rest = rest[1:]
    parts: list[str | int] = []
    pos = 0
    while pos < len(rest):
        match = _PATH_PART.match(rest, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot read '{path}' at '{rest[pos:]}' (use a.b[0] or $.a.b[0])")
        name, index, quoted = match.groups()
        parts.append(int(index) if index is not None else (name or quoted))
        pos = match.end()
    return parts


def follow_path(data: Any, parts: list[str | int]) -> tuple[bool, Any]:
    """Walk ``parts`` into parsed JSON; ``(False, None)`` when the path is absent."""
    current = data
    for part in parts:
        if isinstance(part, int) and isinstance(current, list) and -len(current) <= part < len(
            current
        ) or isinstance(part, str) and isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return False, None
    return True, current


def extract_json(text: str) -> tuple[bool, Any, str]:
    """Find JSON in model output: the whole text, a fenced block, or the first {...}/[...].

    Returns ``(ok, value, where)``; small models often wrap JSON in prose or fences.
    """
    stripped = text.strip()
    try:
        return True, json.loads(stripped), "whole output"
    except ValueError:
        pass
    fence = _FENCE.search(text)
    if fence:
        try:
            return True, json.loads(fence.group(1).strip()), "fenced block"
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                value, _ = decoder.raw_decode(text, i)
                return True, value, "embedded in text"
            except ValueError:
                continue
    return False, None, ""


def parse_output(spec: ParseSpec, text: str) -> Parsed:
    """Apply ``spec`` to one output."""
    stripped = text.strip()
    if spec.type == "raw":
        return Parsed(True, stripped) if stripped else Parsed(False, error="empty output")
    if spec.type == "label":
        return _parse_label(spec, stripped)
    if spec.type == "regex":
        flags = re.IGNORECASE if spec.ignore_case else 0
        match = re.search(spec.pattern or "", stripped, flags | re.MULTILINE)
        if not match or match.group(spec.group) is None:
            return Parsed(False, error=f"pattern {spec.pattern!r} not found")
        return Parsed(True, match.group(spec.group).strip())
    if spec.type == "number":
        match = _NUMBER.search(stripped)
        if not match:
            return Parsed(False, error="no number found")
        value = float(match.group(0).replace(",", ""))
        return Parsed(True, int(value) if value.is_integer() and abs(value) < 2**53 else value)
    ok, value, _ = extract_json(stripped)
    if not ok:
        return Parsed(False, error="no JSON found")
    if spec.path:
        found, value = follow_path(value, split_path(spec.path))
        if not found:
            return Parsed(False, error=f"path {spec.path} not found in JSON")
    return Parsed(True, value)


def _parse_label(spec: ParseSpec, text: str) -> Parsed:
    """The choice that appears first in the text (whole words, case-insensitive)."""
    best: tuple[int, int, str] | None = None
    for choice in spec.choices or []:
        flags = re.IGNORECASE if spec.ignore_case else 0
        pattern = r"(?<![\w-])" + re.escape(choice) + r"(?![\w-])"
        match = re.search(pattern, text, flags)
        if match:
            # Earliest position wins; at the same position the longer label wins.
            key = (match.start(), -len(choice), choice)
            if best is None or key < best:
                best = key
    if best is None:
        return Parsed(False, error="none of the labels found: " + ", ".join(spec.choices or []))
    return Parsed(True, best[2])


def answer_key(answer: Any) -> str:
    """A canonical string for comparing answers across reruns (JSON values sorted)."""
    if isinstance(answer, str):
        return answer
    return json.dumps(answer, sort_keys=True, ensure_ascii=False)
