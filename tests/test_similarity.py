"""Tests for workbench.checks.similarity.lexical_similarity."""

from __future__ import annotations

import random
import time

import pytest

from workbench.checks.similarity import lcs_length, lexical_similarity, tokenize


def _lcs_dp(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """Textbook O(n·m) dynamic-programming LCS, the reference for the bit-parallel version."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def test_identity_and_empty() -> None:
    assert lexical_similarity("Paris", "Paris") == 1.0
    assert lexical_similarity("", "") == 1.0
    assert lexical_similarity("   ", "") == 1.0  # no tokens on either side
    assert lexical_similarity("Paris", "") == 0.0
    assert lexical_similarity("", "Paris") == 0.0


def test_case_and_whitespace_insensitive() -> None:
    assert lexical_similarity("The  Answer is\n4", "the answer IS 4") == 1.0


def test_hand_computed_ratios() -> None:
    # tokens [the, cat, sat] vs [the, cat, sat, down]: M = 3, T = 7 → 6/7
    assert lexical_similarity("the cat sat", "the cat sat down") == pytest.approx(6 / 7)
    # punctuation is its own token: [paris, .] vs [paris] → 2·1/3
    assert lexical_similarity("Paris.", "paris") == pytest.approx(2 / 3)
    # disjoint vocabularies → 0
    assert lexical_similarity("alpha beta", "gamma delta") == 0.0
    # order matters (unlike bag-of-words): [a, b] vs [b, a] → M = 1 → 2/4
    assert lexical_similarity("a b", "b a") == pytest.approx(0.5)


def test_tokenize() -> None:
    assert tokenize("Hello, World!  x_1") == ("hello", ",", "world", "!", "x_1")


def test_lcs_matches_dynamic_programming() -> None:
    rng = random.Random(0)
    for _ in range(2000):
        a = tuple(rng.choice("abcd") for _ in range(rng.randint(0, 14)))
        b = tuple(rng.choice("abcde") for _ in range(rng.randint(0, 14)))
        assert lcs_length(a, b) == _lcs_dp(a, b)


def test_range_symmetry_and_reference() -> None:
    rng = random.Random(0)
    vocab = ["the", "a", "answer", "is", "4", "5", ".", "yes", "no", "maybe"]
    for _ in range(300):
        a = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12)))
        b = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12)))
        s = lexical_similarity(a, b)
        assert 0.0 <= s <= 1.0
        assert s == lexical_similarity(b, a)
        ta, tb = tokenize(a), tokenize(b)
        if ta or tb:
            ref = 2 * _lcs_dp(ta, tb) / (len(ta) + len(tb))
            assert s == pytest.approx(ref, abs=1e-12)


def test_alternating_replacement_scores_half() -> None:
    # every other token replaced: LCS = 1000 of 2000 → 2·1000/4000 = 0.5
    # (difflib's greedy Ratcliff/Obershelp scores this kind of input near 0)
    rng = random.Random(2)
    words = ["the", "of", "and"] * 30 + [f"w{i}" for i in range(200)]
    ta = [rng.choice(words) for _ in range(2000)]
    tb = [f"x{i}" if i % 2 == 0 else t for i, t in enumerate(ta)]
    assert lexical_similarity(" ".join(ta), " ".join(tb)) == pytest.approx(0.5)


def test_long_texts_are_fast() -> None:
    rng = random.Random(1)
    words = ["the", "of", "and"] + [f"w{i}" for i in range(200)]
    a = " ".join(rng.choice(words) for _ in range(5000))
    b = " ".join(rng.choice(words) for _ in range(5000))
    t0 = time.perf_counter()
    for _ in range(10):
        lexical_similarity(a, b + " x")
    assert time.perf_counter() - t0 < 1.0
