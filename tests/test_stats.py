"""Tests for workbench.analysis.stats: hand-computed fixtures plus independent implementations.

Independent references (test-only dependencies): statsmodels (Wilson, OLS ANOVA for ICC),
the ``krippendorff`` package, scipy (t quantiles, entropy, binomial coefficients).
"""

from __future__ import annotations

import json
import math
import random

import krippendorff
import numpy as np
import pytest
import scipy.special
import scipy.stats
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint

from workbench.analysis.stats import (
    VERDICT_BETTER,
    VERDICT_NO_DIFF,
    VERDICT_NOT_ENOUGH,
    VERDICT_WORSE,
    Rerun,
    case_stats,
    compare,
    group_stats,
    icc1,
    krippendorff_alpha_nominal,
    normalized_entropy,
    pass_at_k,
    pass_hat_k,
    student_t_cdf,
    student_t_ppf,
    wilson_interval,
)

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def ok(answer: str | None, passed: bool = True, raw: str | None = None) -> Rerun:
    """A non-error rerun; raw defaults to a text derived from the answer."""
    return Rerun(
        passed=passed, raw=raw if raw is not None else f"The answer is {answer}", answer=answer
    )


ERR = Rerun(passed=False, raw=None, answer=None, error=True)


def pf(passes: int, n: int) -> list[Rerun]:
    """n reruns of which the first `passes` pass (answers 'y' for pass, 'n' for fail)."""
    return [ok("y" if i < passes else "n", passed=i < passes) for i in range(n)]


def random_group(rng: random.Random, n_cases: int, n: int, alphabet: str = "ABC") -> dict:
    cases = {}
    for i in range(n_cases):
        bias = rng.random()
        rr = []
        for _ in range(n):
            u = rng.random()
            if u < 0.05:
                rr.append(ERR)
            elif u < 0.12:
                rr.append(ok(None, passed=False, raw="garbled"))
            else:
                a = alphabet[0] if rng.random() < bias else rng.choice(alphabet)
                rr.append(ok(a, passed=a == alphabet[0]))
        cases[f"c{i:03d}"] = rr
    return cases


# ---------------------------------------------------------------------------------------------
# Wilson
# ---------------------------------------------------------------------------------------------


def test_wilson_hand_computed() -> None:
    # z = 1.959963984540054, z² = 3.841458820694124, n + z² = 8.841458820694124
    # (0,5): center = (0 + 1.920729)/8.841459 = 0.217241; half = z/8.841459·√(0 + 0.960365)
    #        = 0.221679·0.979982 = 0.217241 → (0, 0.434482)
    assert wilson_interval(0, 5) == (0.0, pytest.approx(0.434482, abs=1e-6))
    # (3,5): center = (3 + 1.920729)/8.841459 = 0.556551;
    #        half = 0.221679·√(3·2/5 + 0.960365) = 0.221679·1.469818 = 0.325828
    #        → (0.230724, 0.882379)
    lo, hi = wilson_interval(3, 5)
    assert lo == pytest.approx(0.230724, abs=1e-6)
    assert hi == pytest.approx(0.882379, abs=1e-6)
    # (5,5): mirror of (0,5) → (1 − 0.434482, 1)
    assert wilson_interval(5, 5) == (pytest.approx(0.565518, abs=1e-6), 1.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_wilson_matches_statsmodels(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        n = rng.randint(1, 200)
        c = rng.choice([0, n, rng.randint(0, n)])
        ref = proportion_confint(c, n, alpha=0.05, method="wilson")
        got = wilson_interval(c, n)
        assert got[0] == pytest.approx(ref[0], abs=1e-12)
        assert got[1] == pytest.approx(ref[1], abs=1e-12)


def test_wilson_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        wilson_interval(0, 0)
    with pytest.raises(ValueError):
        wilson_interval(6, 5)


# ---------------------------------------------------------------------------------------------
# pass@k / pass^k
# ---------------------------------------------------------------------------------------------


def test_pass_at_k_and_hat_hand_computed() -> None:
    # N=5, c=2. C(5,k) = 5,10,10,5,1; C(3,k) = 3,3,1,0,0; C(2,k) = 2,1,0,0,0
    # pass@k = 1 − C(3,k)/C(5,k) = 1−3/5, 1−3/10, 1−1/10, 1, 1
    assert [pass_at_k(5, 2, k) for k in range(1, 6)] == pytest.approx(
        [0.4, 0.7, 0.9, 1.0, 1.0], abs=1e-12
    )
    # pass^k = C(2,k)/C(5,k) = 2/5, 1/10, 0, 0, 0
    assert [pass_hat_k(5, 2, k) for k in range(1, 6)] == pytest.approx(
        [0.4, 0.1, 0.0, 0.0, 0.0], abs=1e-12
    )
    cs = case_stats("x", pf(2, 5))
    assert cs.pass_at_k == pytest.approx((0.4, 0.7, 0.9, 1.0, 1.0), abs=1e-12)
    assert cs.pass_hat_k == pytest.approx((0.4, 0.1, 0.0, 0.0, 0.0), abs=1e-12)


def test_pass_at_k_matches_scipy_comb_and_chen_product() -> None:
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(1, 40)
        c = rng.randint(0, n)
        k = rng.randint(1, n)
        ref = 1.0 - scipy.special.comb(n - c, k, exact=True) / scipy.special.comb(n, k, exact=True)
        # Chen et al. 2021 numerically stable form: 1 − Π_{i=n−c+1}^{n} (1 − k/i)
        chen = 1.0 if n - c < k else 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
        assert pass_at_k(n, c, k) == pytest.approx(ref, abs=1e-12)
        assert pass_at_k(n, c, k) == pytest.approx(chen, abs=1e-9)
        ref_hat = scipy.special.comb(c, k, exact=True) / scipy.special.comb(n, k, exact=True)
        assert pass_hat_k(n, c, k) == pytest.approx(ref_hat, abs=1e-12)


def test_pass_at_k_limits() -> None:
    with pytest.raises(ValueError):
        pass_at_k(5, 2, 0)
    with pytest.raises(ValueError):
        pass_hat_k(5, 2, 6)
    # pass@1 and pass^1 are both the pass rate
    assert pass_at_k(7, 3, 1) == pytest.approx(3 / 7)
    assert pass_hat_k(7, 3, 1) == pytest.approx(3 / 7)


# ---------------------------------------------------------------------------------------------
# Entropy, modal share, answers, TAR
# ---------------------------------------------------------------------------------------------


def test_entropy_hand_computed() -> None:
    # [A,A,B,None,A], N=5 → outcomes A:3, B:1, fail:1 → p = .6, .2, .2
    # H = −(.6 ln .6 + 2·.2 ln .2) = .3064954 + .6437752 = .9502706; / ln 5 (1.6094379) = .5904363
    assert normalized_entropy(["A", "A", "B", None, "A"]) == pytest.approx(0.5904363, abs=1e-7)
    # two failures are two distinct outcomes: [A,A,A,None,None] → p = .6,.2,.2 as well
    assert normalized_entropy(["A", "A", "A", None, None]) == pytest.approx(0.5904363, abs=1e-7)
    # whereas two identical B answers: p = .6,.4 → H = .673012 / 1.609438 = .418165
    assert normalized_entropy(["A", "A", "A", "B", "B"]) == pytest.approx(0.418165, abs=1e-6)
    assert normalized_entropy(["A"] * 4) == 0.0
    assert normalized_entropy(["A", "B", "C", "D"]) == pytest.approx(1.0)
    assert normalized_entropy([None]) == 0.0  # N = 1


def test_entropy_matches_scipy() -> None:
    rng = random.Random(11)
    for n in (2, 3, 5, 10, 25):
        for _ in range(20):
            answers = [rng.choice(["A", "B", "C", None]) for _ in range(n)]
            counts = [answers.count(x) for x in ("A", "B", "C")] + [1] * answers.count(None)
            p = np.array([c for c in counts if c > 0], dtype=float) / n
            ref = scipy.stats.entropy(p) / math.log(n)
            assert normalized_entropy(answers) == pytest.approx(ref, abs=1e-12)
            # In a case, a parse failure (None from a rerun that replied) is one outcome,
            # "no answer", however often it happens (workbench.run/2).
            one = [answers.count(x) for x in ("A", "B", "C", None)]
            p_case = np.array([c for c in one if c > 0], dtype=float) / n
            ref_case = scipy.stats.entropy(p_case) / math.log(n)
            assert case_stats("c", [ok(a, passed=a == "A") for a in answers]).entropy == (
                pytest.approx(ref_case, abs=1e-12)
            )


def test_case_answers_modal_share_parse_rate() -> None:
    cs = case_stats("q1", [ok("A"), ok("A"), ok("B", False), ok(None, False), ok("A")])
    assert cs.answers == (("A", 3), ("B", 1))  # None is not an answer value
    assert cs.modal_share == pytest.approx(3 / 5)  # failure stays in the denominator
    assert cs.parse_rate == pytest.approx(4 / 5)
    assert cs.entropy == pytest.approx(0.5904363, abs=1e-7)
    assert (cs.n, cs.passes, cs.errors, cs.unstable) == (5, 3, 0, True)
    assert cs.pass_rate == pytest.approx(0.6)
    assert cs.wilson == pytest.approx(wilson_interval(3, 5))


def test_answer_ties_broken_by_first_appearance() -> None:
    cs = case_stats("t", [ok("B"), ok("A"), ok("A"), ok("B"), ok("C")])
    assert cs.answers == (("B", 2), ("A", 2), ("C", 1))


def test_modal_share_when_nothing_parsed_and_errors_not_answers() -> None:
    cs = case_stats("z", [ok(None, False), ERR, ERR])
    assert cs.answers == ()
    # workbench.run/2: the parse failure is the outcome "no answer" (1 of 3); each error is
    # its own outcome. (workbench.run/1 said 0.0: failures counted as no outcome at all.)
    assert cs.modal_share == pytest.approx(1 / 3)
    assert case_stats("z2", [ok(None, False)] * 3).modal_share == 1.0
    assert case_stats("z3", [ERR] * 3).modal_share == 0.0
    assert cs.parse_rate == 0.0
    assert cs.errors == 2
    assert cs.passes == 0
    # 3 distinct failure outcomes out of 3 → maximal entropy
    assert cs.entropy == pytest.approx(1.0)


def test_tar_raw_and_answer() -> None:
    same = [ok("4", raw="It is 4")] * 3
    cs = case_stats("a", same)
    assert (cs.tar_raw, cs.tar_answer) == (True, True)
    # raw differs (case only), parsed answer identical → TARr 0, TARa 1
    cs = case_stats("b", [ok("4", raw="It is 4"), ok("4", raw="it is 4"), ok("4", raw="It is 4")])
    assert (cs.tar_raw, cs.tar_answer) == (False, True)
    # identical raw that never parses: TARr 1, and since workbench.run/2 "no answer" is one
    # outcome, TARa 1 too (it was 0 when each failure was a disagreement); the parse rate
    # (0 here) tells this apart from agreement on an answer
    cs = case_stats("c", [ok(None, False, raw="???")] * 3)
    assert (cs.tar_raw, cs.tar_answer, cs.parse_rate) == (True, True, 0.0)
    # a single parse failure among agreeing answers → TARa 0
    cs = case_stats("d", [ok("4", raw="x"), ok("4", raw="x"), ok(None, False, raw="x")])
    assert (cs.tar_raw, cs.tar_answer) == (True, False)
    # an error → both 0
    cs = case_stats("e", [ok("4", raw="x"), ok("4", raw="x"), ERR])
    assert (cs.tar_raw, cs.tar_answer) == (False, False)
    # an error that still carries identical raw text is not agreement either
    odd_err = Rerun(passed=False, raw="x", answer=None, error=True)
    assert case_stats("e2", [ok("4", raw="x"), odd_err]).tar_raw is False
    # N = 1
    assert (case_stats("f", [ok("4")]).tar_raw, case_stats("f", [ok("4")]).tar_answer) == (
        True,
        True,
    )
    assert (case_stats("g", [ERR]).tar_raw, case_stats("g", [ERR]).tar_answer) == (False, False)


def test_error_is_never_a_pass() -> None:
    bogus = Rerun(passed=True, raw=None, answer=None, error=True)
    cs = case_stats("e", [ok("y"), bogus])
    assert cs.passes == 1
    assert cs.errors == 1


def test_case_similarity() -> None:
    assert case_stats("s", [ok("A", raw="same text")] * 4).similarity == 1.0
    assert case_stats("s", [ok("A"), ERR, ERR]).similarity == 1.0  # < 2 non-error outputs
    # pairs among non-error outputs only: "a b c d" vs "a b c e" → 2·3/8 = 0.75
    cs = case_stats("s", [ok("A", raw="a b c d"), ok("A", raw="a b c e"), ERR])
    assert cs.similarity == pytest.approx(0.75)
    # three outputs: pairs (x,x)=1, (x,y)=.75, (x,y)=.75 → mean 2.5/3
    cs = case_stats("s", [ok("A", raw="a b c d"), ok("A", raw="a b c d"), ok("A", raw="a b c e")])
    assert cs.similarity == pytest.approx(2.5 / 3)


def test_case_ks_caps_curve_and_rejects_empty() -> None:
    cs = case_stats("k", pf(2, 5), ks=3)
    assert len(cs.pass_at_k) == 3
    assert len(case_stats("k", pf(2, 5), ks=99).pass_hat_k) == 5
    with pytest.raises(ValueError):
        case_stats("empty", [])


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha
# ---------------------------------------------------------------------------------------------


def test_alpha_hand_computed() -> None:
    # units: [A,A,A], [A,B,None], [B,B,B]; None missing → m = 3, 2, 3; n = 8; totals A:4, B:4
    # D_o = (1/8)·[(9−9)/2 + (4−2)/1 + (9−9)/2] = 2/8 = 0.25
    # D_e = (64 − 16 − 16)/(8·7) = 32/56 = 0.571429
    # α = 1 − 0.25/0.571429 = 1 − 0.4375 = 0.5625
    units = [["A", "A", "A"], ["A", "B", None], ["B", "B", "B"]]
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.5625, abs=1e-12)
    # a unit with a single value is not pairable and must not change α
    assert krippendorff_alpha_nominal([*units, ["C", None, None]]) == pytest.approx(0.5625)


def _kripp_reference(units: list[list[str | None]]) -> float | None:
    codes: dict[str, int] = {}
    n_coders = max(len(u) for u in units)
    data = np.full((n_coders, len(units)), np.nan)
    for j, unit in enumerate(units):
        for i, v in enumerate(unit):
            if v is not None:
                data[i, j] = codes.setdefault(v, len(codes))
    try:
        with np.errstate(invalid="ignore"):  # the package divides 0/0 → nan (undefined α)
            val = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    except ValueError:
        return None
    return None if math.isnan(val) else float(val)


@pytest.mark.parametrize(
    ("n_units", "n_coders", "alphabet"),
    [(3, 2, "AB"), (10, 5, "ABC"), (40, 3, "ABCDE"), (25, 10, "AB")],
)
def test_alpha_matches_krippendorff_package(n_units: int, n_coders: int, alphabet: str) -> None:
    rng = random.Random(n_units * 100 + n_coders)
    for _ in range(15):
        units = []
        for _ in range(n_units):
            mode = rng.choice(alphabet)
            units.append(
                [
                    None
                    if rng.random() < 0.15
                    else (mode if rng.random() < 0.7 else rng.choice(alphabet))
                    for _ in range(n_coders)
                ]
            )
        ref = _kripp_reference(units)
        got = krippendorff_alpha_nominal(units)
        if ref is None:
            assert got is None
        else:
            assert got == pytest.approx(ref, abs=1e-9)


def test_alpha_undefined_cases_follow_package() -> None:
    all_same = [["A", "A"], ["A", "A", "A"]]
    assert _kripp_reference(all_same) is None  # package: domain of one value → error
    assert krippendorff_alpha_nominal(all_same) is None
    # pairable values all "A"; the lone "B" is unpairable → package returns nan
    lone = [["A", "A"], ["B", None]]
    assert _kripp_reference(lone) is None
    assert krippendorff_alpha_nominal(lone) is None
    assert krippendorff_alpha_nominal([["A"], ["B"]]) is None  # nothing pairable
    assert krippendorff_alpha_nominal([]) is None
    # perfect agreement with variation between units → α = 1 (both)
    perfect = [["A", "A"], ["B", "B"]]
    assert krippendorff_alpha_nominal(perfect) == pytest.approx(1.0)
    assert _kripp_reference(perfect) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# ICC
# ---------------------------------------------------------------------------------------------


def test_icc_hand_computed() -> None:
    # cases [1,1], [1,0], [0,0]: means 1, .5, 0; grand .5; k = 2
    # SSB = 2·(.25 + 0 + .25) = 1 → MSB = 1/2;  SSW = .25 + .25 = .5 → MSW = .5/(6−3) = 1/6
    # ICC = (1/2 − 1/6)/(1/2 + 1·1/6) = (1/3)/(2/3) = 0.5
    # σ²_b = (1/2 − 1/6)/2 = 1/6; σ²_w = 1/6
    r = icc1([[1, 1], [1, 0], [0, 0]])
    assert r.msb == pytest.approx(0.5)
    assert r.msw == pytest.approx(1 / 6)
    assert r.icc == pytest.approx(0.5)
    assert r.var_between == pytest.approx(1 / 6)
    assert r.var_within == pytest.approx(1 / 6)
    assert r.k == pytest.approx(2.0)


def _icc_statsmodels(table: np.ndarray) -> tuple[float, float, float]:
    """MSB/MSW from an OLS one-way ANOVA (intercept + case dummies) in statsmodels."""
    a, k = table.shape
    y = table.reshape(-1)
    groups = np.repeat(np.arange(a), k)
    x = np.column_stack([np.ones_like(y)] + [(groups == g).astype(float) for g in range(1, a)])
    fit = sm.OLS(y, x).fit()
    msb = fit.ess / fit.df_model
    msw = fit.ssr / fit.df_resid
    return msb, msw, (msb - msw) / (msb + (k - 1) * msw)


@pytest.mark.parametrize(("a", "k"), [(3, 2), (8, 5), (30, 10), (50, 3)])
def test_icc_matches_statsmodels_anova(a: int, k: int) -> None:
    rng = np.random.default_rng(a * 31 + k)
    for _ in range(5):
        p = rng.uniform(0, 1, size=a)
        table = (rng.uniform(size=(a, k)) < p[:, None]).astype(float)
        if table.std() == 0 or np.all(table.std(axis=1) == 0):
            continue
        msb, msw, ref = _icc_statsmodels(table)
        r = icc1(table.tolist())
        assert r.msb == pytest.approx(msb, abs=1e-10)
        assert r.msw == pytest.approx(msw, abs=1e-10)
        assert r.icc == pytest.approx(ref, abs=1e-10)


def test_icc_degenerate() -> None:
    r = icc1([[1, 1, 1], [1, 1, 1]])
    assert r.icc is None
    assert (r.msb, r.msw) == (0.0, 0.0)
    assert icc1([[1, 0, 1]]).icc is None  # one case: MSB undefined
    assert icc1([[1], [0], [1]]).icc is None  # N = 1: MSW undefined


# ---------------------------------------------------------------------------------------------
# Student t
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 10, 29, 100, 1000, 0.7, 3.5])
def test_t_ppf_matches_scipy(df: float) -> None:
    for p in (1e-6, 0.001, 0.025, 0.1, 0.3, 0.5, 0.6, 0.9, 0.975, 0.995, 0.999999):
        assert student_t_ppf(p, df) == pytest.approx(scipy.stats.t.ppf(p, df), rel=1e-6, abs=1e-6)


def test_t_cdf_matches_scipy() -> None:
    for df in (1, 2, 5, 30):
        for t in (-8.0, -2.0, -0.3, 0.0, 0.4, 1.5, 12.7):
            assert student_t_cdf(t, df) == pytest.approx(scipy.stats.t.cdf(t, df), abs=1e-12)


def test_t_known_values_and_errors() -> None:
    assert student_t_ppf(0.975, 1) == pytest.approx(12.706204736, abs=1e-8)  # tables
    assert student_t_ppf(0.975, 10) == pytest.approx(2.228138852, abs=1e-8)
    with pytest.raises(ValueError):
        student_t_ppf(1.0, 5)
    with pytest.raises(ValueError):
        student_t_ppf(0.5, 0)


# ---------------------------------------------------------------------------------------------
# Group
# ---------------------------------------------------------------------------------------------


def test_group_clustered_se_three_cases() -> None:
    # pass rates .75, .5, .25 (N=4): mean .5; sd(ddof=1) = √((.0625+0+.0625)/2) = .25
    # SE = .25/√3 = .1443376; CI = .5 ± t(.975, 2)·SE = .5 ± 4.302653·.1443376 = .5 ± .6210345
    # → clipped to (0, 1). (Before the t quantile: .5 ± 1.959964·SE = (.2171036, .7828964);
    # three cases cannot support that much confidence.)
    g = group_stats({"a": pf(3, 4), "b": pf(2, 4), "c": pf(1, 4)})
    assert g.mean_pass_rate == pytest.approx(0.5)
    assert g.se == pytest.approx(0.1443376, abs=1e-7)
    assert g.ci == (0.0, 1.0)
    assert g.se == pytest.approx(np.std([0.75, 0.5, 0.25], ddof=1) / math.sqrt(3), abs=1e-12)


def test_group_se_single_case_and_clipping() -> None:
    g = group_stats({"only": pf(2, 4)})
    assert g.se == 0.0
    # One case: no between-case spread to measure, so the pooled Wilson interval of 2/4.
    assert g.ci == pytest.approx(wilson_interval(2, 4))
    # rates 1, 1, 0: mean 2/3, SE = .57735/√3 = .3333; CI would exceed 1 → clipped
    g = group_stats({"a": pf(4, 4), "b": pf(4, 4), "c": pf(0, 4)})
    assert g.ci[1] == 1.0
    # 2/3 − t(.975, 2)/3 = 2/3 − 1.434218 < 0: clipped too (it was 2/3 − 1.959964/3 = .0133)
    assert g.ci[0] == 0.0


def test_group_clustered_ci_uses_students_t() -> None:
    # 10 cases: 6 at 4/4, 2 at 2/4, 2 at 0/4 → mean .7; deviations .3 (×6), −.2 (×2), −.7 (×2)
    # sd² = (6·.09 + 2·.04 + 2·.49)/9 = 1.6/9 = .1777778, sd = .4216370, SE = .1333333
    # t(.975, 9) = 2.262157 → .7 ± .3016210 = (.3983790, 1.0016210) → (.3983790, 1)
    cases = {f"c{i}": pf(4 if i < 6 else 2 if i < 8 else 0, 4) for i in range(10)}
    g = group_stats(cases)
    assert (g.mean_pass_rate, g.se) == (pytest.approx(0.7), pytest.approx(0.1333333, abs=1e-7))
    assert g.ci == pytest.approx((0.3983790, 1.0), abs=1e-7)
    rates = [cs.pass_rate for cs in g.cases.values()]
    lo, _ = scipy.stats.t.interval(0.95, 9, loc=np.mean(rates), scale=scipy.stats.sem(rates))
    assert g.ci[0] == pytest.approx(lo, abs=1e-12)


def test_group_unstable_order_and_shares() -> None:
    cases = {
        "z_half": pf(2, 4),  # .5 → flakiest
        "a_quarter": pf(1, 4),  # .25, distance .25
        "b_three_q": pf(3, 4),  # .75, distance .25 → after a_quarter by id
        "solid": pf(4, 4),
        "dead": pf(0, 4),
    }
    g = group_stats(cases)
    assert g.unstable == ("z_half", "a_quarter", "b_three_q")
    assert g.unstable_share == pytest.approx(3 / 5)
    assert g.n_cases == 5
    assert g.reruns == 4
    # every case has identical raw text per answer? no: y/n answers differ within unstable cases
    assert g.tar_answer_at_n == pytest.approx(2 / 5)
    assert g.tar_raw_at_n == pytest.approx(2 / 5)
    # pass@1 curve point = mean pass rate; pass^4 = share of always-passing cases
    assert g.pass_at_k[0] == pytest.approx(g.mean_pass_rate)
    assert g.pass_hat_k[3] == pytest.approx(1 / 5)
    assert g.pass_at_k[3] == pytest.approx(4 / 5)


def test_group_means_and_alpha_icc_wired() -> None:
    cases = random_group(random.Random(5), 12, 6)
    g = group_stats(cases)
    per = [case_stats(cid, rr) for cid, rr in cases.items()]
    assert g.mean_modal_share == pytest.approx(np.mean([c.modal_share for c in per]))
    assert g.mean_entropy == pytest.approx(np.mean([c.entropy for c in per]))
    assert g.mean_parse_rate == pytest.approx(np.mean([c.parse_rate for c in per]))
    assert g.mean_similarity == pytest.approx(np.mean([c.similarity for c in per]))
    # Errors are missing values; parse failures are the one value "no answer" (run/2).
    ref_alpha = _kripp_reference([[None if r.error else (r.answer or "<no answer>")
                                   for r in rr] for rr in cases.values()])
    assert g.krippendorff_alpha == pytest.approx(ref_alpha, abs=1e-9)
    table = np.array([[float(r.passed) for r in rr] for rr in cases.values()])
    _, _, ref_icc = _icc_statsmodels(table)
    assert g.icc == pytest.approx(ref_icc, abs=1e-10)
    for k in range(6):
        assert g.pass_hat_k[k] == pytest.approx(np.mean([c.pass_hat_k[k] for c in per]))


def test_group_precision_advice() -> None:
    # hand-computed ICC table: σ²_b = 1/6, σ²_w/N = (1/6)/2 = 1/12 < σ²_b → add cases
    g = group_stats({"a": pf(2, 2), "b": pf(1, 2), "c": pf(0, 2)})
    assert g.icc == pytest.approx(0.5)
    assert g.var_between == pytest.approx(1 / 6)
    assert g.var_within == pytest.approx(1 / 6)
    assert g.precision_advice.startswith("add cases")
    # every case flaky at 1/2: MSB = 0, σ²_b = 0, MSW > 0 → add reruns
    g = group_stats({"a": pf(2, 4), "b": pf(2, 4), "c": pf(2, 4)})
    assert g.var_between == 0.0
    assert g.precision_advice.startswith("add reruns")
    # no variance at all
    g = group_stats({"a": pf(3, 3), "b": pf(3, 3)})
    assert g.icc is None
    assert g.precision_advice.startswith("no variance observed")
    assert g.krippendorff_alpha is None  # every answer "y"
    assert group_stats({"a": pf(1, 1), "b": pf(0, 1)}).precision_advice.startswith("add reruns")


def test_group_ragged_reruns_do_not_crash() -> None:
    g = group_stats({"a": pf(2, 5), "b": pf(1, 3)})
    assert (g.reruns, g.reruns_max) == (3, 5)
    assert len(g.pass_at_k) == 3
    assert g.cases["a"].n == 5
    assert len(g.cases["a"].pass_at_k) == 5
    # pass@3 of a: 1 − C(3,3)/C(5,3) = .9; of b: 1 − 0 = 1 → .95
    assert g.pass_at_k[2] == pytest.approx(0.95)
    with pytest.raises(ValueError):
        group_stats({})


def test_to_dict_is_json_and_lists() -> None:
    cases = random_group(random.Random(9), 4, 3)
    g = group_stats(cases)
    d = g.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert isinstance(back["ci"], list)
    assert isinstance(back["pass_at_k"], list)
    assert set(back["cases"]) == set(cases)
    one = back["cases"]["c000"]
    assert isinstance(one["wilson"], list)
    assert all(set(a) == {"answer", "count"} for a in one["answers"])
    assert isinstance(one["pass_rate"], float)
    comp = compare(cases, cases, resamples=50).to_dict()
    assert json.loads(json.dumps(comp, allow_nan=False))["pass_rate"]["verdict"] == VERDICT_NO_DIFF


# ---------------------------------------------------------------------------------------------
# Compare
# ---------------------------------------------------------------------------------------------


def test_compare_identical_is_no_difference() -> None:
    cases = random_group(random.Random(3), 10, 5)
    c = compare(cases, cases, resamples=200)
    assert c.n_shared == 10
    assert c.pass_rate.mean_diff == 0.0
    assert c.pass_rate.t_ci == (0.0, 0.0)
    assert c.pass_rate.bootstrap_ci == (0.0, 0.0)
    assert c.pass_rate.verdict == VERDICT_NO_DIFF
    assert c.consistency.verdict == VERDICT_NO_DIFF


def test_compare_better_worse_and_t_interval_vs_scipy() -> None:
    rng = random.Random(4)
    a, b = {}, {}
    for i in range(20):
        pa = rng.randint(0, 3)
        a[f"c{i}"] = pf(pa, 5)
        b[f"c{i}"] = pf(min(5, pa + rng.randint(0, 3)), 5)
    c = compare(a, b, seed=1, resamples=2000)
    diffs = np.array([case_stats(k, b[k]).pass_rate - case_stats(k, a[k]).pass_rate for k in a])
    ref = scipy.stats.t.interval(
        0.95, len(diffs) - 1, loc=diffs.mean(), scale=scipy.stats.sem(diffs)
    )
    assert c.pass_rate.t_ci == pytest.approx(ref, abs=1e-9)
    assert c.pass_rate.mean_diff == pytest.approx(diffs.mean())
    assert c.pass_rate.verdict == VERDICT_BETTER
    lo, hi = c.pass_rate.bootstrap_ci
    assert lo < diffs.mean() < hi
    # the bootstrap percentile interval should be close to the t interval at n = 20
    assert lo == pytest.approx(ref[0], abs=0.05)
    assert hi == pytest.approx(ref[1], abs=0.05)
    assert compare(b, a, seed=1, resamples=2000).pass_rate.verdict == VERDICT_WORSE


def test_compare_consistency_metric() -> None:
    # a: answers split 3/2 in every case (modal .6); b: unanimous (modal 1.0) → better
    a = {f"c{i}": [ok("A")] * 3 + [ok("B", False)] * 2 for i in range(5)}
    b = {f"c{i}": [ok("A")] * 5 for i in range(5)}
    c = compare(a, b, resamples=100)
    assert c.consistency.mean_a == pytest.approx(0.6)
    assert c.consistency.mean_b == pytest.approx(1.0)
    assert c.consistency.mean_diff == pytest.approx(0.4)
    assert c.consistency.verdict == VERDICT_BETTER


def test_compare_bootstrap_deterministic() -> None:
    rng = random.Random(8)
    a = {f"c{i}": pf(rng.randint(0, 5), 5) for i in range(15)}
    b = {f"c{i}": pf(rng.randint(0, 5), 5) for i in range(15)}
    c1 = compare(a, b, seed=42, resamples=500)
    c2 = compare(a, b, seed=42, resamples=500)
    c3 = compare(a, b, seed=43, resamples=500)
    assert c1 == c2
    assert c1.pass_rate.bootstrap_ci != c3.pass_rate.bootstrap_ci


def test_compare_shared_ids_and_not_enough() -> None:
    a = {"x": pf(1, 3), "y": pf(2, 3)}
    b = {"y": pf(3, 3), "z": pf(0, 3)}
    c = compare(a, b)
    assert c.n_shared == 1
    assert c.shared == ("y",)
    assert c.only_a == ("x",)
    assert c.only_b == ("z",)
    assert c.pass_rate.mean_diff == pytest.approx(1 / 3)
    assert c.pass_rate.t_ci is None
    assert c.pass_rate.bootstrap_ci is None
    assert c.pass_rate.verdict == VERDICT_NOT_ENOUGH
    none = compare({"x": pf(1, 3)}, {"z": pf(1, 3)})
    assert none.n_shared == 0
    assert none.pass_rate.mean_diff is None
    assert none.consistency.verdict == VERDICT_NOT_ENOUGH


def test_group_ci_falls_back_to_pooled_wilson_when_clustered_se_is_zero():
    # Two cases, both 3/3: clustered SE = 0; pooled Wilson over 6/6 reruns instead.
    r = Rerun(passed=True, raw="x", answer="x")
    g = group_stats({"a": [r, r, r], "b": [r, r, r]})
    assert g.se == 0.0
    assert g.ci == pytest.approx(wilson_interval(6, 6))
    assert g.ci[0] < 1.0
