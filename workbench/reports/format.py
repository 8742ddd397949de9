"""Number and answer formatting shared by every report and the TUI.

Every writer shows the same numbers, so their formatting lives here once: a pass rate reads
the same in the terminal, the Markdown, the JUnit messages and the TUI.
"""

from __future__ import annotations

from workbench.analysis.stats import CaseStats, GroupStats
from workbench.text import one_line, pct

NO_ANSWER = "(no answer)"


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
