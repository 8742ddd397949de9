"""Dependency-free lexical similarity between two model outputs.

Used for the per-case "mean pairwise similarity of raw outputs" (README.md, the statistics
table) and by the ``similar`` assertion, so it must stay standard-library only and fast.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["lcs_length", "lexical_similarity", "tokenize"]

# Words (letters/digits/underscore runs) and single punctuation marks; whitespace is dropped.
_TOKEN_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@lru_cache(maxsize=4096)
def tokenize(text: str) -> tuple[str, ...]:
    """Lowercased word and punctuation tokens of ``text`` (cached: pairwise use re-tokenises)."""
    return tuple(_TOKEN_RE.findall(text.lower()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences.

    Bit-parallel algorithm (Hyyrö 2004, "Bit-parallel LCS-length computation revisited"):
    one Python big-int update per token of ``a``, so ~O(|a|·|b|/64) machine work instead of
    the O(|a|·|b|) interpreted DP table.
    """
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return 0
    masks: dict[str, int] = {}
    for j, tok in enumerate(b):
        masks[tok] = masks.get(tok, 0) | (1 << j)
    full = (1 << m) - 1
    v = full
    for tok in a:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return m - v.bit_count()


def lexical_similarity(a: str, b: str) -> float:
    """Return a similarity in [0, 1] between ``a`` and ``b`` (1.0 when identical or both empty).

    The measure is 2·LCS/(|a| + |b|) over lowercased word/punctuation tokens, i.e. the
    ROUGE-L F1 score (Lin 2004). Why tokens: character-level ratios rate unrelated English
    texts as fairly similar (shared letters) and ignore that one changed word is one change.
    Why LCS rather than difflib's SequenceMatcher: its greedy Ratcliff/Obershelp matching can
    badly undercount shared, in-order tokens (e.g. a text with every other word replaced can
    score ~0.01), and its ``autojunk`` heuristic drops frequent words in texts over 200
    tokens. LCS is exact, symmetric, order-sensitive (unlike bag-of-words Jaccard), and fast
    via the bit-parallel algorithm.
    """
    if a == b:
        return 1.0
    ta, tb = tokenize(a), tokenize(b)
    if ta == tb:
        return 1.0
    if not ta or not tb:
        return 0.0
    return 2.0 * lcs_length(ta, tb) / (len(ta) + len(tb))
