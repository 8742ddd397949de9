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

from workbench.checks.jsonpath import PathMissing, PathSyntaxError, parse_path, resolve_path
from workbench.checks.jsontext import NoJson, extract_json
from workbench.checks.patterns import PatternTimeout, compile_pattern, search

ParseType = Literal["raw", "label", "regex", "json", "number"]
CONSTRAINABLE = ("label", "number", "json")
# The one property of the JSON object a hosted model is held to when a label or number spec
# is constrained through ``response_format`` (workbench.models.constraints).
CONSTRAINED_KEY = "answer"


class ParseSpec(BaseModel):
    """How to find the answer in a model's output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ParseType = "raw"
    choices: list[str] | None = Field(default=None, description="label: the allowed labels")
    pattern: str | None = Field(default=None, description="regex: the pattern")
    group: int | str = Field(default=1, description="regex: group number or name")
    path: str | None = Field(
        default=None, description="json: a path such as $.label, a.b[0] or a[-1]"
    )
    ignore_case: bool = True
    constrain: bool = Field(
        default=False,
        description="hold the model to this answer's shape when it supports it (a grammar "
        "for the embedded model, a JSON schema through response_format for others): label, "
        "number and json specs",
    )
    json_schema: dict[str, Any] | None = Field(
        default=None, description="json: the JSON schema a constrained output must follow"
    )

    @model_validator(mode="after")
    def _check(self) -> ParseSpec:
        if self.constrain and self.type not in CONSTRAINABLE:
            raise ValueError(
                f"'constrain' works with the types {', '.join(CONSTRAINABLE)}, not "
                f"'{self.type}': it needs to know the answer's shape"
            )
        if self.json_schema is not None and self.type != "json":
            raise ValueError("'json_schema' belongs to type 'json'")
        if self.type == "label":
            if not self.choices:
                raise ValueError("type 'label' needs 'choices': the list of labels")
            if len({c.lower() for c in self.choices}) != len(self.choices):
                raise ValueError("'choices' must be distinct (ignoring case)")
        if self.type == "regex":
            if not self.pattern:
                raise ValueError("type 'regex' needs 'pattern'")
            try:
                compiled = compile_pattern(self.pattern)
            except re.error as exc:
                raise ValueError(f"'pattern' is not a valid regex: {exc}") from None
            if isinstance(self.group, int) and self.group > compiled.groups:
                raise ValueError(
                    f"group {self.group} does not exist: the pattern has "
                    f"{compiled.groups} group(s)"
                )
            if isinstance(self.group, str) and self.group not in compiled.groupindex:
                raise ValueError(f"group '{self.group}' is not a named group of the pattern")
        if self.path is not None and self.path.strip():  # blank: the whole JSON value
            try:
                parse_path(self.path)
            except PathSyntaxError as exc:
                at = f" at position {exc.position}" if exc.position is not None else ""
                raise ValueError(
                    f"'path': cannot read {self.path!r}{at}: {exc.reason} "
                    "(use a.b[0], a[-1], a[\"odd key\"] or $.a.b[0])"
                ) from None
        return self


@dataclass(frozen=True)
class Parsed:
    """The outcome of parsing: ``ok`` False means the output had no recognisable answer."""

    ok: bool
    answer: Any = None
    error: str | None = None


_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")


def parse_output(spec: ParseSpec, text: str) -> Parsed:
    """Apply ``spec`` to one output."""
    stripped = _unwrap_constrained(spec, text.strip())
    if spec.type == "raw":
        return Parsed(True, stripped) if stripped else Parsed(False, error="empty output")
    if spec.type == "label":
        return _parse_label(spec, stripped)
    if spec.type == "regex":
        try:
            match = search(spec.pattern or "", stripped, "im" if spec.ignore_case else "m")
        except PatternTimeout as exc:
            return Parsed(False, error=str(exc))
        if not match or match.group(spec.group) is None:
            return Parsed(False, error=f"pattern {spec.pattern!r} not found")
        return Parsed(True, match.group(spec.group).strip())
    if spec.type == "number":
        match = _NUMBER.search(stripped)
        if not match:
            return Parsed(False, error="no number found")
        value = float(match.group(0).replace(",", ""))
        return Parsed(True, int(value) if value.is_integer() and abs(value) < 2**53 else value)
    try:
        value = extract_json(stripped, lenient=True).value
    except NoJson:
        return Parsed(False, error="no JSON found")
    if spec.path and spec.path.strip():
        try:
            value = resolve_path(value, parse_path(spec.path))
        except PathMissing:
            return Parsed(False, error=f"path {spec.path} not found in JSON")
    return Parsed(True, value)


def _unwrap_constrained(spec: ParseSpec, text: str) -> str:
    """The answer inside ``{"answer": ...}``, the object a hosted model returns when a label or
    number spec is constrained (a label that happens to be the key must not win); other
    text as it is."""
    if not (spec.constrain and spec.type in ("label", "number") and text.startswith("{")):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, dict) and isinstance(value.get(CONSTRAINED_KEY), (str, int, float)):
        return str(value[CONSTRAINED_KEY])
    return text


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
