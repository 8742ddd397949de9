"""JSON paths: one grammar for the ``json`` parse spec and the ``json-path`` assertion.

A path is written the way people write them in JavaScript or JSONPath::

    $.order.items[0].sku     a.b[0].c     items[-1]     $["key with space"]['it\\'s']

``$`` (the document) is optional; a name follows ``.`` (or starts a path without ``$``, or
directly follows ``]``); ``[n]`` indexes an array, negative from the end; a quoted key may
hold any character, with ``\\`` escaping a quote or a backslash. ``$id`` is refused rather
than read as ``$.id``: it would silently miss a key that really is named ``$id``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from workbench.checks.values import json_kind, show

__all__ = ["PathMissing", "PathSyntaxError", "parse_path", "resolve_path"]

Segment = str | int

_NAME_RE = re.compile(r"[^.\[\]\s]+")
_INDEX_RE = re.compile(r"\[\s*(-?\d+)\s*\]")
_QUOTED_RE = re.compile(r"""\[\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\]""")
_ESCAPE_RE = re.compile(r"""\\([\\'"])""")


class PathSyntaxError(ValueError):
    """A path that does not follow the grammar; ``reason`` says what was expected where."""

    def __init__(self, path: str, reason: str, position: int | None = None):
        where = f" at position {position} of {path!r}" if position is not None else ""
        super().__init__(reason + where)
        self.path = path
        self.reason = reason
        self.position = position


def parse_path(path: str) -> list[Segment]:
    """``$.a.b[0]`` / ``a.b[-1]`` / ``a["x y"]`` → ``["a", "b", 0]`` (keys and indexes).

    Raises :class:`PathSyntaxError` (a ValueError) on bad syntax or an empty path.
    """
    return list(_parse(path))


@lru_cache(maxsize=512)
def _parse(path: str) -> tuple[Segment, ...]:
    text = path.strip()
    if not text:
        raise PathSyntaxError(path, "path is empty")
    rooted = text.startswith("$")
    pos = 1 if rooted else 0
    segments: list[Segment] = []
    bare_name_ok = not rooted  # a name without '.': at the start, or right after [...]
    while pos < len(text):
        if text[pos] == "[":
            match = _INDEX_RE.match(text, pos) or _QUOTED_RE.match(text, pos)
            if not match:
                raise PathSyntaxError(path, 'expected [number] or ["key"]', pos)
            if match.re is _INDEX_RE:
                segments.append(int(match.group(1)))
            else:
                quoted = match.group(1) if match.group(1) is not None else match.group(2)
                segments.append(_ESCAPE_RE.sub(r"\1", quoted))
            pos = match.end()
            bare_name_ok = True
            continue
        if text[pos] == ".":
            pos += 1
        elif not bare_name_ok:
            raise PathSyntaxError(path, "expected '.' or '['", pos)
        match = _NAME_RE.match(text, pos)
        if not match:
            raise PathSyntaxError(path, "expected a key name", pos)
        segments.append(match.group(0))
        pos = match.end()
        bare_name_ok = False
    return tuple(segments)


class PathMissing(Exception):
    """The path does not exist in the document; the message says where it stopped."""


def resolve_path(document: Any, segments: Sequence[Segment]) -> Any:
    """The value at ``segments`` in parsed JSON; raises :class:`PathMissing` saying why not.

    A number also finds an object key that is its text (``a[0]`` on ``{"0": …}``) and a
    numeric key indexes an array (``a["0"]``): JSON from models is not always typed as asked.
    """
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
