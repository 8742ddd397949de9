"""The reference output of a case: the text its N outputs are compared with, word by word.

One rule for every view, so the HTML report and the TUI's case detail highlight the
differences against the same text: the most common output when some output repeats (the
first seen wins a tie); when every output differs, the first one that gave the most common
answer, so the reference is a typical rerun rather than an arbitrary one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from workbench.analysis.results import CaseResult
from workbench.checks.parsing import answer_key
from workbench.store.records import CellRecord


def reference_text(texts: Sequence[str | None],
                   answers: Sequence[str | None] | None = None) -> str | None:
    """The reference among one text per rerun (None: no text, e.g. an error), given each
    rerun's answer key (None: none parsed); None when no rerun has a text."""
    present = [t for t in texts if t is not None]
    if not present:
        return None
    counts = Counter(present)
    best = max(counts.values())
    if best > 1 or not answers:
        return next(t for t in present if counts[t] == best)
    votes = Counter(a for a in answers if a is not None)
    if votes:
        modal = votes.most_common(1)[0][0]
        for text, answer in zip(texts, answers, strict=False):
            if text is not None and answer == modal:
                return text
    return present[0]


def rerun_answers(cells: Sequence[CellRecord]) -> list[str | None]:
    """Each rerun's answer as the statistics count it (:func:`answer_key`), None if unparsed."""
    return [answer_key(c.answer) if c.parse_ok else None for c in cells]


def reference_output(case: CaseResult) -> str | None:
    """The reference among a case's final outputs (an errored rerun has none)."""
    texts = [None if c.status == "error" else c.output for c in case.cells]
    return reference_text(texts, rerun_answers(case.cells))
