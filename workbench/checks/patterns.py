"""Regular expressions from suites and prompt files, matched under a time budget.

A pattern is the file author's code running on every model output. Python's ``re`` can
backtrack for years on a pattern such as ``(a|aa)+$`` against a long reply, and nothing can
interrupt it. So patterns are matched with the ``regex`` package (``re``-compatible in its
default mode, and it handles nested quantifiers such as ``(\\w+\\s?)+$`` without blowing up),
whose matcher checks a timeout: a match that takes longer than :data:`REGEX_SECONDS` fails
the check that asked for it instead of stalling the run.

Patterns are still compiled with ``re`` first, so a typo is reported with ``re``'s message
and a pattern means what Python users expect.
"""

from __future__ import annotations

import re
from functools import lru_cache

import regex

REGEX_SECONDS = 1.0  # wall time of one match

FLAG_BITS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL, "x": regex.VERBOSE}


class PatternTimeout(Exception):
    """A match took longer than the budget: the pattern backtracks on this text."""

    def __init__(self, pattern: str):
        super().__init__(f"pattern {pattern!r} took longer than {REGEX_SECONDS:g} s on this "
                         "text (it backtracks too much; simplify nested repeats such as (a+)+)")


@lru_cache(maxsize=512)
def compile_pattern(pattern: str, flags: str = "") -> regex.Pattern[str]:
    """Compile with the letters of ``imsx``; raises ``re.error`` for an invalid pattern."""
    bits = 0
    for letter in flags:
        bits |= FLAG_BITS[letter]
    re.compile(pattern, bits)  # re's message, and only what re accepts
    try:
        return regex.compile(pattern, bits)
    except regex.error as exc:
        raise re.error(str(exc)) from None


def search(pattern: str, text: str, flags: str = "") -> regex.Match[str] | None:
    """``re.search`` under the time budget; raises PatternTimeout."""
    try:
        return compile_pattern(pattern, flags).search(text, timeout=REGEX_SECONDS)
    except TimeoutError:
        raise PatternTimeout(pattern) from None
