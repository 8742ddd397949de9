"""Helpers shared by the report writers: formatting, text cleaning and atomic writes.

Every writer formats the same numbers, so the formatting lives here once: a pass rate reads
the same in the terminal, the Markdown and the JUnit messages.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from workbench._text import (  # noqa: F401 (re-exported)
    one_line,
    pct,
    strip_control,
    terminal_line,
    truncate,
)
from workbench.results import CaseResult, GroupResult, RunResults
from workbench.stats import CaseStats, GroupStats

NO_ANSWER = "(no answer)"
# json.dumps escapes C0 controls but writes DEL, the C1 controls (0x9b is an 8-bit CSI) and
# bidi overrides raw; `cat report.json` must not drive a terminal, so those become \uXXXX.
_RAW_JSON_CONTROLS = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


class Paint:
    """Wraps text in ANSI SGR codes only when colour is on (terminal output, never CI logs)."""

    def __init__(self, color: bool):
        self.color = color

    def __call__(self, text: str, *styles: str) -> str:
        if not self.color or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


def iso_utc(ts: float | None) -> str | None:
    """A Unix timestamp as ISO-8601 UTC (``2024-05-01T12:00:00.123Z``); None stays None."""
    if ts is None:
        return None
    stamp = datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def signed(x: float | None, digits: int = 2) -> str:
    """A difference with its sign always shown; None → ``–``."""
    return "–" if x is None else f"{x:+.{digits}f}"


def interval(ci: tuple[float, float] | list[float] | None, digits: int = 2) -> str:
    """``[-0.26, +0.70]``, or ``–`` when the interval is undefined."""
    if ci is None:
        return "–"
    return f"[{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}]"


def diff_ci(diff: float | None, ci: tuple[float, float] | list[float] | None,
            digits: int = 2) -> str:
    """A paired difference and its interval, ``+0.22 [-0.26, +0.70]``; the interval is left
    out when undefined (``+0.50`` for one shared case, ``–`` for none)."""
    return signed(diff, digits) + ("" if ci is None else " " + interval(ci, digits))


def escape_json_controls(json_text: str) -> str:
    """JSON text from ``json`` (``ensure_ascii=False``) with the terminal-driving characters it
    leaves raw written as ``\\uXXXX`` escapes: same JSON value, safe to ``cat``.

    Those characters can only occur inside JSON strings, so any piece of the text that does
    not split a character (e.g. one chunk of ``iterencode``) can be escaped on its own.
    """
    return _RAW_JSON_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def pass_rate_ci(stats: GroupStats) -> str:
    """``67% (95% CI 34–100%)``: the headline number and its case-clustered interval."""
    lo, hi = stats.ci
    return f"{pct(stats.mean_pass_rate)} (95% CI {pct(lo)}–{pct(hi)})"


def answer_counts(stats: CaseStats) -> list[tuple[str, int]]:
    """The answer distribution, with parse failures and errors folded into one bucket.

    Why the extra bucket: ``CaseStats.answers`` only counts parsed answers, so ``billing×2``
    alone would hide that the third rerun produced nothing usable.
    """
    counts = list(stats.answers)
    missing = stats.n - sum(c for _, c in counts)
    if missing > 0:
        counts.append((NO_ANSWER, missing))
    return counts


def answer_distribution(stats: CaseStats, sep: str = " · ", limit: int = 40) -> str:
    """``billing×3 · shipping×2`` (each answer shortened to ``limit`` characters)."""
    return sep.join(f"{one_line(a, limit)}×{c}" for a, c in answer_counts(stats))


def lowest_tar_step(group: GroupResult) -> tuple[str, GroupStats] | None:
    """The chain step whose answers agree least (lowest TARa@N; earliest step on a tie)."""
    if not group.step_stats:
        return None
    return min(group.step_stats.items(), key=lambda kv: kv[1].tar_answer_at_n)


def first_varying_step(group: GroupResult) -> tuple[str, GroupStats] | None:
    """The first chain step whose reruns disagree somewhere: where the variance comes in."""
    for name, stats in group.step_stats.items():
        if stats.tar_answer_at_n < 1.0:
            return name, stats
    return None


def unstable_cases(group: GroupResult) -> list[CaseResult]:
    """The group's unstable cases, flakiest first (the order ``load_results`` gives)."""
    return [c for c in group.cases if c.stats.unstable]


def resume_command(results: RunResults) -> str:
    """The exact command that finishes a partial run."""
    return f"workbench run {results.run.suite_path} --resume {results.run.id}"


def done_cells(results: RunResults) -> int:
    return max(0, results.plan.total_cells - results.missing)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """A UTF-8 text file written via a temp file in the same folder and ``os.replace``.

    Why: a CI job (or a second ``workbench`` process) reading the report never sees a
    half-written file, and a crash mid-write leaves the previous report intact.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # errors="replace": a lone surrogate in model output must not abort the report.
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="\n") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; a report is meant to be read by others (CI, web servers).
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically (see :func:`atomic_writer`); returns the path."""
    with atomic_writer(path) as fh:
        fh.write(text)
    return Path(path)
