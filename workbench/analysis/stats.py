"""Variance statistics over reruns (README.md, "What the numbers mean"). Standard library only.

Terminology: a *case* is one test case, run N times (its *reruns*); a *group* is every case of
one variant × model. All result dataclasses are frozen and have ``to_dict()`` returning plain
JSON-ready data (:func:`workbench.jsonable.jsonable`: tuples → lists, non-finite floats →
None) for the versioned report.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from workbench.checks.similarity import lexical_similarity
from workbench.jsonable import jsonable

__all__ = [
    "Z95",
    "NO_ANSWER",
    "VERDICT_BETTER",
    "VERDICT_WORSE",
    "VERDICT_NO_DIFF",
    "VERDICT_NOT_ENOUGH",
    "Rerun",
    "CaseStats",
    "GroupStats",
    "MetricDiff",
    "Comparison",
    "wilson_interval",
    "pass_at_k",
    "pass_hat_k",
    "normalized_entropy",
    "krippendorff_alpha_nominal",
    "icc1",
    "IccResult",
    "student_t_cdf",
    "student_t_ppf",
    "case_stats",
    "outcomes",
    "clustered_mean_ci",
    "modal_share_ci",
    "pass_hat_k_ci",
    "group_stats",
    "compare",
    "paired_diff",
]

Z95 = 1.959963984540054  # Φ⁻¹(0.975)

VERDICT_BETTER = "better"
VERDICT_WORSE = "worse"
VERDICT_NO_DIFF = "no detectable difference"
VERDICT_NOT_ENOUGH = "not enough shared cases"


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rerun:
    """One execution of one case."""

    passed: bool  # False for errored cells (an error is never a pass)
    raw: str | None  # raw model output, None when the cell errored
    answer: str | None  # parsed answer as a string; None = parse failure or error
    error: bool = False


class _NoAnswer:
    """The one outcome of every rerun that replied without a readable answer.

    Its own type, so it never equals an answer (answers are strings): five identical,
    unparseable outputs agree with each other, but never with a parsed "no answer".
    """

    def __repr__(self) -> str:
        return "NO_ANSWER"


NO_ANSWER = _NoAnswer()


def outcomes(reruns: Sequence[Rerun]) -> list[Hashable | None]:
    """Each rerun's outcome as the consistency measures count it: its parsed answer;
    :data:`NO_ANSWER` when it replied but no answer could be read (one outcome for all of
    them: "cannot read the answer" is not "answers differently"); None for an error, which
    is no reply at all (distinct from everything, so an error never looks like agreement).
    """
    return [None if r.error else (NO_ANSWER if r.answer is None else r.answer)
            for r in reruns]


# --------------------------------------------------------------------------------------------
# Elementary formulas
# --------------------------------------------------------------------------------------------


def wilson_interval(c: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for c successes out of n (Wilson 1927, JASA 22:209).

    Chosen over the Wald interval because it stays inside [0, 1] and is not degenerate at
    c = 0 or c = n, which are the common cases for a handful of reruns. Endpoints are pinned to
    exactly 0 / 1 at c = 0 / c = n (algebraically exact; avoids float dust).
    """
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= c <= n:
        raise ValueError("c must be in [0, n]")
    z2 = z * z
    denom = n + z2
    center = (c + z2 / 2.0) / denom
    half = z / denom * math.sqrt(c * (n - c) / n + z2 / 4.0)
    lo = 0.0 if c == 0 else max(0.0, center - half)
    hi = 1.0 if c == n else min(1.0, center + half)
    return (lo, hi)


def pass_at_k(n: int, c: int, k: int) -> float:
    """pass@k = 1 − C(n−c, k)/C(n, k): chance ≥ 1 of k draws passes (Chen et al. 2021, Codex)."""
    if not 1 <= k <= n:
        raise ValueError("k must be in [1, n]")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k = C(c, k)/C(n, k): chance all k draws pass (Yao et al. 2024, τ-bench)."""
    if not 1 <= k <= n:
        raise ValueError("k must be in [1, n]")
    return math.comb(c, k) / math.comb(n, k)


def _outcome_counts(answers: Sequence[Hashable | None]) -> list[int]:
    """Counts of each outcome, plus a count of 1 per None (each its own outcome)."""
    counts = Counter(a for a in answers if a is not None)
    return list(counts.values()) + [1] * sum(1 for a in answers if a is None)


def normalized_entropy(answers: Sequence[Hashable | None]) -> float:
    """Shannon entropy of the outcome distribution divided by log N (so 0 = always the same
    outcome, 1 = every rerun different). Each None (an error: no reply) is a distinct outcome,
    so errors raise entropy instead of being ignored; equal values (e.g. :data:`NO_ANSWER`)
    are one outcome. 0.0 when N ≤ 1 (log N = 0).
    """
    n = len(answers)
    if n <= 1:
        return 0.0
    h = -sum((k / n) * math.log(k / n) for k in _outcome_counts(answers))
    return max(0.0, min(1.0, h / math.log(n)))


def krippendorff_alpha_nominal(units: Sequence[Sequence[Hashable | None]]) -> float | None:
    """Nominal Krippendorff's α with units = cases and coders = reruns (Krippendorff 2011,
    "Computing Krippendorff's Alpha-Reliability", coincidence-matrix form).

    None values are treated as *missing data*, the standard handling in α (the statistics
    pass errors as None and parse failures as the value :data:`NO_ANSWER`), and units with
    fewer than 2 values are not pairable and are dropped.
    α = 1 − D_o/D_e with D_o = (1/n)·Σ_u (m_u² − Σ_c n_uc²)/(m_u − 1) and
    D_e = (n² − Σ_c n_c²)/(n(n − 1)). Returns None when α is undefined: no pairable unit, or
    D_e = 0 (all pairable values identical). This matches the ``krippendorff`` package, which
    raises or returns nan in exactly those situations.
    """
    n_total = 0
    do_sum = 0.0
    totals: Counter[Hashable] = Counter()
    for unit in units:
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        do_sum += (m * m - sum(v * v for v in counts.values())) / (m - 1)
        totals.update(counts)
        n_total += m
    if n_total < 2:
        return None
    d_e = (n_total * n_total - sum(v * v for v in totals.values())) / (n_total * (n_total - 1))
    if d_e <= 0.0:
        return None
    d_o = do_sum / n_total
    return 1.0 - d_o / d_e


@dataclass(frozen=True)
class IccResult:
    """One-way random-effects ANOVA decomposition of binary pass outcomes."""

    icc: float | None  # ICC(1); None when undefined
    msb: float | None  # between-case mean square
    msw: float | None  # within-case mean square
    k: float  # (effective) reruns per case; k0 of Searle/Shrout-Fleiss if unbalanced
    var_between: float | None  # σ²_b = max(0, (MSB − MSW)/k)
    var_within: float | None  # σ²_w = MSW

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


def icc1(groups: Sequence[Sequence[float]]) -> IccResult:
    """ICC(1) = (MSB − MSW)/(MSB + (k − 1)·MSW) from a one-way ANOVA (Shrout & Fleiss 1979).

    Cases are the groups and reruns the members. For unequal group sizes k is replaced by
    k0 = (Σn − Σn²/Σn)/(a − 1) (Searle 1971), which equals N when balanced. Mean squares that
    need ≥ 2 cases (MSB) or ≥ 2 reruns somewhere (MSW) are None otherwise; ICC is None when
    either is missing or the denominator is 0 (no variance at all).
    """
    groups = [list(g) for g in groups if len(g) > 0]
    a = len(groups)
    sizes = [len(g) for g in groups]
    total = sum(sizes)
    if a == 0:
        return IccResult(None, None, None, 0.0, None, None)
    grand = sum(sum(g) for g in groups) / total
    means = [sum(g) / len(g) for g in groups]
    ssb = sum(n_i * (m - grand) ** 2 for n_i, m in zip(sizes, means, strict=True))
    ssw = sum((y - m) ** 2 for g, m in zip(groups, means, strict=True) for y in g)
    k = (total - sum(s * s for s in sizes) / total) / (a - 1) if a > 1 else float(sizes[0])
    msb = ssb / (a - 1) if a > 1 else None
    msw = ssw / (total - a) if total > a else None
    icc: float | None = None
    var_b: float | None = None
    if msb is not None and msw is not None:
        denom = msb + (k - 1.0) * msw
        if denom > 0.0:
            icc = (msb - msw) / denom
        var_b = max(0.0, (msb - msw) / k)
    return IccResult(icc, msb, msw, k, var_b, msw)


def _precision_advice(icc: IccResult, n_cases: int, reruns: int) -> str:
    """Which of cases or reruns shrinks Var(suite mean) = σ²_b/n + σ²_w/(n·N) the most."""
    if icc.msb is not None and icc.msw is not None and icc.msb == 0.0 and icc.msw == 0.0:
        return "no variance observed: every rerun of every case had the same outcome"
    if icc.msw is None:
        return "add reruns: with N=1 the within-case (rerun) noise cannot be measured"
    if icc.msb is None:
        return "add cases: with one case the between-case spread cannot be measured"
    var_b = icc.var_between or 0.0
    within = icc.msw / reruns
    if within > var_b:
        return (
            f"add reruns: within-case noise σ²_w/N = {within:.4f} exceeds "
            f"between-case variance σ²_b = {var_b:.4f}"
        )
    return (
        f"add cases: between-case variance σ²_b = {var_b:.4f} is at least "
        f"within-case noise σ²_w/N = {within:.4f}"
    )


# --------------------------------------------------------------------------------------------
# Student t distribution (stdlib): regularized incomplete beta by continued fraction
# --------------------------------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for I_x(a, b) by modified Lentz (Numerical Recipes §6.4, betacf)."""
    tiny = 1e-300
    eps = 1e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < tiny:
        d = tiny
    d = 1.0 / d
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def _betai(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) (Numerical Recipes §6.4, betai)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_bt = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    bt = math.exp(log_bt)
    if x < (a + 1.0) / (a + b + 2.0):
        return bt * _betacf(a, b, x) / a
    return 1.0 - bt * _betacf(b, a, 1.0 - x) / b


def _t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for t ≥ 0: ½·I_{df/(df+t²)}(df/2, ½) (Abramowitz & Stegun 26.7.1)."""
    return 0.5 * _betai(df / 2.0, 0.5, df / (df + t * t))


def student_t_cdf(t: float, df: float) -> float:
    """CDF of Student's t with ``df`` > 0 degrees of freedom."""
    if df <= 0:
        raise ValueError("df must be positive")
    q = _t_upper_tail(abs(t), df)
    return 1.0 - q if t >= 0 else q


def student_t_ppf(p: float, df: float) -> float:
    """Inverse CDF of Student's t by bisection on the upper tail (monotone, so it cannot
    diverge); the tail form keeps relative accuracy for p near 0 or 1.
    """
    if df <= 0:
        raise ValueError("df must be positive")
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -student_t_ppf(1.0 - p, df)
    q = 1.0 - p
    lo, hi = 0.0, 1.0
    while _t_upper_tail(hi, df) > q:
        lo, hi = hi, hi * 2.0
        if hi > 1e300:
            return math.inf
    for _ in range(400):
        mid = 0.5 * (lo + hi)
        if _t_upper_tail(mid, df) > q:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-14 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# --------------------------------------------------------------------------------------------
# Per case
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseStats:
    """Variance statistics of one case over its N reruns."""

    case_id: str
    n: int
    passes: int
    pass_rate: float
    wilson: tuple[float, float]
    answers: tuple[tuple[str, int], ...]  # (answer, count), most common first
    modal_share: float
    tar_raw: bool
    tar_answer: bool
    entropy: float
    pass_at_k: tuple[float, ...]  # index k-1
    pass_hat_k: tuple[float, ...]  # index k-1
    parse_rate: float
    similarity: float
    unstable: bool
    errors: int

    def to_dict(self) -> dict[str, Any]:
        d = jsonable(self)
        d["answers"] = [{"answer": a, "count": c} for a, c in self.answers]
        return d


def case_stats(case_id: str, reruns: Sequence[Rerun], ks: int | None = None) -> CaseStats:
    """Compute :class:`CaseStats` for one case.

    ``ks`` caps the pass@k / pass^k curves at k = 1..min(ks, N); default N. TARr/TARa follow
    Atil et al. 2024, "LLM Stability" (total agreement rate over raw / parsed outputs).
    Modal share, TARa and entropy count :func:`outcomes`: every unreadable reply is the one
    outcome "no answer", so a format problem shows in the parse rate, not as inconsistency.
    """
    n = len(reruns)
    if n == 0:
        raise ValueError(f"case {case_id!r} has no reruns")
    c = sum(1 for r in reruns if r.passed and not r.error)
    errors = sum(1 for r in reruns if r.error)
    answers_seq = [None if r.error else r.answer for r in reruns]
    seen = outcomes(reruns)

    counts = Counter(a for a in answers_seq if a is not None)
    first_seen = {a: i for i, a in reversed(list(enumerate(answers_seq))) if a is not None}
    answers = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], first_seen[kv[0]])))
    outcome_counts = Counter(o for o in seen if o is not None)
    modal_share = max(outcome_counts.values()) / n if outcome_counts else 0.0

    raws = [r.raw for r in reruns]
    tar_raw = errors == 0 and all(x is not None for x in raws) and len(set(raws)) == 1
    tar_answer = errors == 0 and len(set(seen)) == 1

    kmax = n if ks is None else max(0, min(ks, n))
    texts = [r.raw for r in reruns if not r.error and r.raw is not None]
    if len(texts) < 2:
        similarity = 1.0
    else:
        sims = [lexical_similarity(x, y) for x, y in combinations(texts, 2)]
        similarity = math.fsum(sims) / len(sims)

    return CaseStats(
        case_id=case_id,
        n=n,
        passes=c,
        pass_rate=c / n,
        wilson=wilson_interval(c, n),
        answers=answers,
        modal_share=modal_share,
        tar_raw=tar_raw,
        tar_answer=tar_answer,
        entropy=normalized_entropy(seen),
        pass_at_k=tuple(pass_at_k(n, c, k) for k in range(1, kmax + 1)),
        pass_hat_k=tuple(pass_hat_k(n, c, k) for k in range(1, kmax + 1)),
        parse_rate=sum(1 for a in answers_seq if a is not None) / n,
        similarity=similarity,
        unstable=0 < c < n,
        errors=errors,
    )


# --------------------------------------------------------------------------------------------
# Per group
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupStats:
    """Suite-level statistics for one variant × model."""

    n_cases: int
    reruns: int  # N; the minimum over cases if they differ (curves use this)
    reruns_max: int  # equals ``reruns`` unless cases have different N
    mean_pass_rate: float
    se: float  # case-clustered standard error of the mean pass rate
    ci: tuple[float, float]  # mean ± t_{0.975, n−1}·SE clipped to [0, 1]
    tar_raw_at_n: float
    tar_answer_at_n: float
    mean_modal_share: float
    mean_entropy: float
    mean_parse_rate: float
    mean_similarity: float
    unstable_share: float
    unstable: tuple[str, ...]  # flakiest (pass rate nearest 0.5) first, then id
    pass_at_k: tuple[float, ...]  # index k-1, k = 1..reruns
    pass_hat_k: tuple[float, ...]
    krippendorff_alpha: float | None
    icc: float | None
    var_between: float | None
    var_within: float | None
    precision_advice: str
    cases: dict[str, CaseStats]

    def to_dict(self) -> dict[str, Any]:
        d = jsonable(self)
        d["cases"] = {cid: cs.to_dict() for cid, cs in self.cases.items()}
        return d


def _mean(xs: Sequence[float]) -> float:
    return math.fsum(xs) / len(xs)


def clustered_mean_ci(
    values: Sequence[float], pooled: tuple[int, int] | None = None
) -> tuple[float, float, tuple[float, float]]:
    """Mean of per-case values with its case-clustered SE and 95% interval, clipped to [0, 1].

    SE = sd(values, ddof=1)/√n (Miller 2024), because reruns of one case are not independent;
    the interval is mean ± t_{0.975, n−1}·SE. Student's t rather than 1.96 because suites have
    tens of cases, not thousands: with 12–24 cases the normal interval covered the true mean
    only 90.9–93.8% of the time in simulation, the t interval 93.3–95.0% (README, "How far to
    trust the numbers"). When the SE is 0 (one case, or every case at the same value, e.g. all
    5/5) a ±0 interval would overstate certainty, so the interval falls back to Wilson over
    ``pooled`` (successes, trials), which still reflects how many observations there were;
    without ``pooled`` it stays the point.
    """
    if not values:
        raise ValueError("clustered_mean_ci needs at least one value")
    n = len(values)
    mean = _mean(values)
    se = statistics.stdev(values) / math.sqrt(n) if n > 1 else 0.0
    if se > 0:
        half = student_t_ppf(0.975, n - 1) * se
        return mean, se, (max(0.0, mean - half), min(1.0, mean + half))
    if pooled is not None and pooled[1] > 0:
        return mean, se, wilson_interval(*pooled)
    return mean, se, (mean, mean)


def modal_share_ci(cases: Iterable[CaseStats]) -> tuple[float, float, tuple[float, float]]:
    """Mean modal share over cases (consistency) with its case-clustered SE and 95% interval.

    As :func:`clustered_mean_ci`; when the SE is 0 (every case equally consistent) the
    interval is Wilson over the pooled reruns that gave their case's modal answer.
    """
    stats = list(cases)
    return clustered_mean_ci(
        [c.modal_share for c in stats],
        pooled=(sum(round(c.modal_share * c.n) for c in stats), sum(c.n for c in stats)))


def pass_hat_k_ci(cases: Iterable[CaseStats], k: int
                  ) -> tuple[float, tuple[float, float]]:
    """Mean pass^k over cases with its 95% interval.

    Case-clustered (:func:`clustered_mean_ci`), except when every case's pass^k is 0 or 1 —
    always so at k = N: each case then passed all k reruns or not, pass^k is the share of
    cases that did, a binomial share of independent cases, and Wilson's interval over the
    cases keeps its coverage where the clustered one (then a Wald interval) does not.
    """
    hats = [pass_hat_k(c.n, c.passes, k) for c in cases]
    mean, _, ci = clustered_mean_ci(hats)
    if all(h in (0.0, 1.0) for h in hats):
        ci = wilson_interval(round(sum(hats)), len(hats))
    return mean, ci


def group_stats(cases: Mapping[str, Sequence[Rerun]]) -> GroupStats:
    """Aggregate per-case statistics for one variant × model.

    The standard error is clustered on cases: SE = sd(per-case pass rates, ddof=1)/√n_cases
    (Miller 2024, "Adding Error Bars to Evals"), because reruns of one case are not
    independent draws. Each case uses its own N for its own metrics; curves use the minimum N.
    """
    if not cases:
        raise ValueError("group_stats needs at least one case")
    per_case = {cid: case_stats(cid, rr) for cid, rr in cases.items()}
    stats = list(per_case.values())
    n_cases = len(stats)
    n_min = min(cs.n for cs in stats)
    n_max = max(cs.n for cs in stats)

    rates = [cs.pass_rate for cs in stats]
    mean_rate, se, ci = clustered_mean_ci(
        rates, pooled=(sum(cs.passes for cs in stats), sum(cs.n for cs in stats))
    )

    unstable = sorted(
        (cs for cs in stats if cs.unstable), key=lambda cs: (abs(cs.pass_rate - 0.5), cs.case_id)
    )

    alpha = krippendorff_alpha_nominal([outcomes(rr) for rr in cases.values()])
    icc = icc1([[1.0 if (r.passed and not r.error) else 0.0 for r in rr] for rr in cases.values()])

    return GroupStats(
        n_cases=n_cases,
        reruns=n_min,
        reruns_max=n_max,
        mean_pass_rate=mean_rate,
        se=se,
        ci=ci,
        tar_raw_at_n=sum(cs.tar_raw for cs in stats) / n_cases,
        tar_answer_at_n=sum(cs.tar_answer for cs in stats) / n_cases,
        mean_modal_share=_mean([cs.modal_share for cs in stats]),
        mean_entropy=_mean([cs.entropy for cs in stats]),
        mean_parse_rate=_mean([cs.parse_rate for cs in stats]),
        mean_similarity=_mean([cs.similarity for cs in stats]),
        unstable_share=len(unstable) / n_cases,
        unstable=tuple(cs.case_id for cs in unstable),
        pass_at_k=tuple(_mean([cs.pass_at_k[k] for cs in stats]) for k in range(n_min)),
        pass_hat_k=tuple(_mean([cs.pass_hat_k[k] for cs in stats]) for k in range(n_min)),
        krippendorff_alpha=alpha,
        icc=icc.icc,
        var_between=icc.var_between,
        var_within=icc.var_within,
        precision_advice=_precision_advice(icc, n_cases, n_min),
        cases=per_case,
    )


# --------------------------------------------------------------------------------------------
# Comparison of two variants
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricDiff:
    """Paired difference (b − a) of one per-case metric over the shared cases."""

    metric: str
    mean_a: float | None
    mean_b: float | None
    mean_diff: float | None
    bootstrap_ci: tuple[float, float] | None  # percentile interval, paired over cases
    t_ci: tuple[float, float] | None  # paired t interval (used for the verdict)
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


@dataclass(frozen=True)
class Comparison:
    """Variant b versus variant a on the cases both ran."""

    n_shared: int
    shared: tuple[str, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    pass_rate: MetricDiff
    consistency: MetricDiff  # per-case modal share
    seed: int
    resamples: int

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


def _quantile(sorted_xs: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default, Hyndman & Fan type 7)."""
    pos = (len(sorted_xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def _t_interval(diffs: Sequence[float]) -> tuple[float, float]:
    """Paired t 95% interval: mean ± t_{0.975, n−1}·sd/√n (Student 1908)."""
    n = len(diffs)
    m = _mean(diffs)
    half = student_t_ppf(0.975, n - 1) * statistics.stdev(diffs) / math.sqrt(n)
    return (m - half, m + half)


def _verdict(interval: tuple[float, float] | None) -> str:
    if interval is None:
        return VERDICT_NOT_ENOUGH
    if interval[0] > 0.0:
        return VERDICT_BETTER
    if interval[1] < 0.0:
        return VERDICT_WORSE
    return VERDICT_NO_DIFF


def _paired_bootstrap_cis(
    diff_lists: Sequence[Sequence[float]], seed: int, resamples: int
) -> list[tuple[float, float]]:
    """Percentile 95% intervals of the mean of each list, resampling case indices jointly."""
    n = len(diff_lists[0])
    rng = random.Random(seed)
    population = range(n)
    boots: list[list[float]] = [[] for _ in diff_lists]
    for _ in range(resamples):
        idx = rng.choices(population, k=n)
        for diffs, out in zip(diff_lists, boots, strict=True):
            out.append(sum([diffs[i] for i in idx]) / n)
    cis = []
    for out in boots:
        out.sort()
        cis.append((_quantile(out, 0.025), _quantile(out, 0.975)))
    return cis


def _metric_diff(
    name: str, xa: list[float], xb: list[float], boot_ci: tuple[float, float] | None
) -> MetricDiff:
    n = len(xa)
    if n == 0:
        return MetricDiff(name, None, None, None, None, None, VERDICT_NOT_ENOUGH)
    diffs = [b - a for a, b in zip(xa, xb, strict=True)]
    mean_diff = _mean(diffs)
    if n < 2:
        return MetricDiff(name, _mean(xa), _mean(xb), mean_diff, None, None, VERDICT_NOT_ENOUGH)
    t_ci = _t_interval(diffs)
    return MetricDiff(name, _mean(xa), _mean(xb), mean_diff, boot_ci, t_ci, _verdict(t_ci))


def paired_diff(
    name: str,
    a: Mapping[str, float],
    b: Mapping[str, float],
    *,
    seed: int = 0,
    resamples: int = 10000,
) -> MetricDiff:
    """Paired difference b − a of any per-case metric (case id → value) on the shared cases,
    with the same bootstrap and t interval as :func:`compare` (the verdict uses the t
    interval). Why: a search ranks prompts by pass^k as well, which ``compare`` does not
    carry, and a second implementation of the interval would drift from the reports'."""
    if resamples < 1:
        raise ValueError("resamples must be ≥ 1")
    shared = sorted(set(a) & set(b))
    xa = [a[c] for c in shared]
    xb = [b[c] for c in shared]
    boot = None
    if len(shared) >= 2:
        diffs = [y - x for x, y in zip(xa, xb, strict=True)]
        boot = _paired_bootstrap_cis([diffs], seed, resamples)[0]
    return _metric_diff(name, xa, xb, boot)


def compare(
    a: Mapping[str, Sequence[Rerun]],
    b: Mapping[str, Sequence[Rerun]],
    *,
    seed: int = 0,
    resamples: int = 10000,
) -> Comparison:
    """Paired comparison of variant b against a on their shared case ids.

    Differences are b − a of per-case pass rate and of per-case modal share (consistency).
    Both a paired bootstrap (cases resampled jointly for both metrics, ``random.Random(seed)``,
    percentile interval; Efron & Tibshirani 1993) and a paired t interval are reported; the
    verdict uses the t interval, and needs at least 2 shared cases.
    """
    if resamples < 1:
        raise ValueError("resamples must be ≥ 1")
    shared = tuple(sorted(set(a) & set(b)))
    only_a = tuple(sorted(set(a) - set(b)))
    only_b = tuple(sorted(set(b) - set(a)))
    n = len(shared)
    sa = {cid: case_stats(cid, a[cid]) for cid in shared}
    sb = {cid: case_stats(cid, b[cid]) for cid in shared}

    pr_a = [sa[c].pass_rate for c in shared]
    pr_b = [sb[c].pass_rate for c in shared]
    ms_a = [sa[c].modal_share for c in shared]
    ms_b = [sb[c].modal_share for c in shared]
    boot: list[tuple[float, float] | None] = [None, None]
    if n >= 2:
        pr_d = [y - x for x, y in zip(pr_a, pr_b, strict=True)]
        ms_d = [y - x for x, y in zip(ms_a, ms_b, strict=True)]
        boot = list(_paired_bootstrap_cis([pr_d, ms_d], seed, resamples))
    pass_rate = _metric_diff("pass_rate", pr_a, pr_b, boot[0])
    consistency = _metric_diff("modal_share", ms_a, ms_b, boot[1])
    return Comparison(
        n_shared=n,
        shared=shared,
        only_a=only_a,
        only_b=only_b,
        pass_rate=pass_rate,
        consistency=consistency,
        seed=seed,
        resamples=resamples,
    )
