"""Cleaning text that came from a model or a user file before anyone displays it.

Standard library only, so light front ends (the TUI's first paint) can use it without
importing the statistics or report modules.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Literal

# C0/C1 control characters other than tab, newline and carriage return: terminal bells,
# escape sequences and the like, which no report should pass through; and the Unicode bidi
# overrides and isolates, which reorder what a reader sees ("Trojan Source").
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Whole terminal escape sequences (CSI ``ESC [ ... final``, OSC ``ESC ] ... BEL/ST``, and
# two-character ``ESC x``), so no parameter debris such as ``[31m`` is left behind.
_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC
    r"|\x1b[@-Z\\-_]"  # two-character sequences
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def strip_control(text: str) -> str:
    """Drop control characters (keeps tab/newline/CR) so output cannot ring bells or inject ANSI."""
    return _CONTROL.sub("", text)


def strip_terminal(text: str) -> str:
    """Remove escape sequences whole, then any other control character; tabs become spaces."""
    return strip_control(_ESCAPE.sub("", text)).replace("\r\n", "\n").replace(
        "\r", "\n").expandtabs(4)


def truncate(text: str, limit: int) -> str:
    """Shorten to at most ``limit`` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…"


def terminal_line(text: str) -> str:
    """Text safe to print on one terminal line: no escape sequences, no CR overprinting."""
    return " ".join(strip_control(text).split())


def one_line(text: str, limit: int) -> str:
    """Cleaned, whitespace-collapsed and truncated: for excerpts of model output."""
    return truncate(terminal_line(text), limit)


def pct(x: float | None, digits: int = 0) -> str:
    """0.6667 → ``67%``; None (undefined statistic) → ``–``."""
    if x is None:
        return "–"
    return f"{x * 100:.{digits}f}%"


def tokens(text: str) -> list[str]:
    """Words, runs of whitespace and single punctuation marks, in order (they rejoin to text).

    The unit of :func:`word_diff`."""
    return _TOKEN.findall(text)


DiffOp = Literal["equal", "delete", "insert"]


def word_diff(a: str, b: str) -> list[tuple[DiffOp, str]]:
    """``a`` against ``b`` as ``(op, text)`` segments in reading order: ``equal`` text both
    have, ``delete`` text only ``a`` has, ``insert`` text only ``b`` has (a changed stretch
    is its ``delete`` then its ``insert``). The ``equal`` and ``delete`` texts rejoin to
    ``a``; the ``equal`` and ``insert`` texts rejoin to ``b``.

    Compared token by token (:func:`tokens`), so a change covers whole words. One algorithm
    for every view: the HTML report renders the segments as markup, the TUI as styled text,
    so both mark the same words.
    """
    left, right = tokens(a), tokens(b)
    segments: list[tuple[DiffOp, str]] = []
    matcher = SequenceMatcher(None, left, right, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(("equal", "".join(right[j1:j2])))
            continue
        if i2 > i1:
            segments.append(("delete", "".join(left[i1:i2])))
        if j2 > j1:
            segments.append(("insert", "".join(right[j1:j2])))
    return segments


# json.dumps escapes C0 controls but writes DEL, the C1 controls (0x9b is an 8-bit CSI) and
# bidi overrides raw; `cat report.json` must not drive a terminal, so those become \uXXXX.
_RAW_JSON_CONTROLS = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def escape_json_controls(json_text: str) -> str:
    """JSON text from ``json`` (``ensure_ascii=False``) with the terminal-driving characters it
    leaves raw written as ``\\uXXXX`` escapes: same JSON value, safe to ``cat``.

    Those characters can only occur inside JSON strings, so any piece of the text that does
    not split a character (e.g. one chunk of ``iterencode``) can be escaped on its own.
    """
    return _RAW_JSON_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)
