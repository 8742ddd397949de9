"""Few-shot examples from the search split: chosen by similarity to the failing cases, and
at random as a control (if random examples help as much, similarity is not what helped).

Examples are the suite's own cases with their expected answers, rendered as the prompt kind
expects: a zero-shot prompt becomes a few-shot one whose examples are the cases' ``vars``
(rendered through its own user message), a few-shot prompt gets them added. The example
cases are not scored for this candidate: a case shown with its answer would flatter it.
Chains are left alone (their steps have no examples).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from workbench.checks.similarity import lexical_similarity
from workbench.optimize.generators.base import Context, Proposal, answer_text, case_text
from workbench.optimize.splits import stratum
from workbench.suites.cases import Case

MAX_FAILING = 50  # failing cases compared against (bounds the similarity work)
MIN_SCORED = 2  # search cases that must stay scored (a paired interval needs two)


def _eligible(ctx: Context) -> list[Case]:
    shown = {str(e.get("vars")) for e in ctx.data().get("examples") or []}
    return [c for c in ctx.cases if c.expected is not None and str(c.vars) not in shown]


def _with_examples(ctx: Context, chosen: Sequence[Case]) -> dict[str, Any]:
    data = ctx.data()
    parse = ctx.prompt.spec.parse
    examples = list(data.get("examples") or [])
    examples += [{"vars": dict(c.vars), "output": answer_text(c.expected, parse)}
                 for c in chosen]
    data["kind"] = "few-shot"
    data["examples"] = examples
    return data


def _diverse(ranked: Sequence[Case], k: int) -> list[Case]:
    """The top of ``ranked``, one case per expected answer first, then the rest in order."""
    chosen: list[Case] = []
    labels: set[str] = set()
    for case in ranked:
        if len(chosen) < k and stratum(case.expected) not in labels:
            chosen.append(case)
            labels.add(stratum(case.expected))
    for case in ranked:
        if len(chosen) < k and case not in chosen:
            chosen.append(case)
    return chosen


def _applicable(ctx: Context) -> bool:
    """Not a chain, fewer examples than k so far (a search adds them once), and enough
    cases that some are left to score once k are shown."""
    return (ctx.prompt.spec.kind != "chain"
            and len(ctx.prompt.spec.examples or []) < ctx.examples
            and _k(ctx) >= 1)


def _k(ctx: Context) -> int:
    return min(ctx.examples, len(ctx.cases) - MIN_SCORED)


def similar(ctx: Context) -> list[Proposal]:
    """k examples most like the cases the best version fails (one per answer first)."""
    failing = [ctx.case(c) for c in ctx.failing[:MAX_FAILING]]
    pool = _eligible(ctx)
    if not _applicable(ctx) or not pool or not failing:
        return []
    texts = [(f.id, case_text(f)) for f in failing]
    ids = {f.id for f in failing}

    def closeness(case: Case) -> float:
        mine = case_text(case)
        return max((lexical_similarity(mine, t) for fid, t in texts if fid != case.id),
                   default=0.0)

    # Cases the best version passes come first: the failing ones stay scored (they are
    # what the examples should fix) unless too few others could be shown.
    ranked = sorted(pool, key=lambda c: (c.id in ids, -closeness(c), c.id))
    chosen = _diverse(ranked, _k(ctx))
    return [Proposal("few-shot-similar", _with_examples(ctx, chosen),
                     f"{len(chosen)} examples like the failing cases: "
                     + ", ".join(c.id for c in chosen), tuple(c.id for c in chosen))]


def random_examples(ctx: Context) -> list[Proposal]:
    """k examples drawn at random (seeded): the control for :func:`similar`."""
    pool = _eligible(ctx)
    if not _applicable(ctx) or not pool:
        return []
    rng = random.Random(f"{ctx.seed}:few-shot-random:{ctx.prompt.hash}")
    shuffled = list(pool)
    rng.shuffle(shuffled)
    chosen = _diverse(shuffled, _k(ctx))
    return [Proposal("few-shot-random", _with_examples(ctx, chosen),
                     f"{len(chosen)} random examples (the control): "
                     + ", ".join(c.id for c in chosen), tuple(c.id for c in chosen))]
