"""The plan: a validated suite frozen into the run matrix (variant × model × case × rerun).

A plan is stored as JSON with its run, so ``--resume`` repeats exactly the same matrix even
if the suite file changed since.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from workbench.errors import InputError, Problem, display_path
from workbench.prompts.library import PromptLibrary
from workbench.prompts.version import PromptVersion
from workbench.store.database import Store
from workbench.store.records import CellKey
from workbench.suites.loader import Suite
from workbench.suites.spec import MAX_CONCURRENCY, MAX_RERUNS

SEED_SCHEME = 2  # the scheme new plans use


def cell_seed(base: object, case_id: str, rerun: int, scheme: int = SEED_SCHEME) -> int:
    """The seed rerun ``rerun`` of a case asks the model for.

    Scheme 2: a hash of (base seed, case id, rerun), so no two cases share a random stream.
    With one seed per rerun index for every case (scheme 1: ``base × 1000 + rerun``), a
    sampler draws the same random numbers for rerun r of every case, and on short answers
    the cases' reruns agree or disagree together: cases stop being independent, which every
    interval over cases assumes, and consistency swings with the base seed. Scheme 1 stays
    for plans stored with it, so a resumed run repeats its own seeds. Either way a case's
    seeds are the same for every prompt version, so paired comparisons share them.
    """
    if scheme == 1:
        return int(base) * 1000 + rerun if isinstance(base, int) else rerun
    text = f"{base}\x1f{case_id}\x1f{rerun}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=4).digest(), "big") % 2**31


@dataclass
class PlanCase:
    id: str
    vars: dict[str, Any]
    expected: Any
    assertions: list[dict[str, Any]]  # each Assertion.to_dict(); parse_assertion reads it back
    threshold: float | None


@dataclass
class PlanVariant:
    ref: str
    name: str
    version: int
    hash: str
    path: str


@dataclass
class Plan:
    """The resolved run matrix and settings; stored with the run as JSON."""

    suite: str
    suite_path: str
    base_dir: str
    variants: list[PlanVariant]
    models: list[dict[str, Any]]
    groups: list[tuple[str, str]]  # (variant ref, model name) pairs that run
    cases: list[PlanCase]
    reruns: int
    params: dict[str, Any]
    seed: int
    concurrency: int
    timeout: float
    max_attempts: int
    judge: str | None
    thresholds: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    # How rerun seeds are derived (see cell_seed); plans stored before scheme 2 read as 1.
    seed_scheme: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        data = dict(data)
        data["variants"] = [PlanVariant(**v) for v in data["variants"]]
        data["cases"] = [PlanCase(**c) for c in data["cases"]]
        data["groups"] = [tuple(g) for g in data["groups"]]
        return cls(**data)

    def cells(self) -> Iterator[CellKey]:
        """Every cell, rerun-major, so a partial run has balanced reruns across cases."""
        for rerun in range(self.reruns):
            for variant, model in self.groups:
                for case in self.cases:
                    yield (variant, model, case.id, rerun)

    def index(self, key: CellKey) -> int | None:
        """A cell's position in :meth:`cells` order (None if the plan has no such cell)."""
        variant, model, case_id, rerun = key
        group = self._group_index.get((variant, model))
        case = self._case_index.get(case_id)
        if group is None or case is None or not 0 <= rerun < self.reruns:
            return None
        return (rerun * len(self.groups) + group) * len(self.cases) + case

    @cached_property
    def _group_index(self) -> dict[tuple[str, str], int]:
        return {tuple(g): i for i, g in enumerate(self.groups)}

    @cached_property
    def _case_index(self) -> dict[str, int]:
        return {c.id: i for i, c in enumerate(self.cases)}

    @property
    def total_cells(self) -> int:
        return self.reruns * len(self.groups) * len(self.cases)


def make_plan(suite: Suite, *, reruns: int | None = None, concurrency: int | None = None) -> Plan:
    """Freeze a validated suite (plus CLI overrides) into a plan."""
    if reruns is not None and not 1 <= reruns <= MAX_RERUNS:
        raise InputError(f"--reruns must be from 1 to {MAX_RERUNS:,} (got {reruns:,})")
    if concurrency is not None and not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InputError(f"--concurrency must be from 1 to {MAX_CONCURRENCY:,} "
                         f"(got {concurrency:,})")
    spec = suite.spec
    k = spec.thresholds.k
    if reruns is not None and k is not None and k > reruns:
        raise InputError(f"--reruns {reruns} is below the suite's thresholds.k ({k}): "
                         "pass^k needs k <= reruns")
    variants = [
        PlanVariant(v.ref, v.name, v.version, v.hash, display_path(v.path))
        for v in suite.variants
    ]
    models = [m.model_dump() for m in suite.models]
    groups = [(v.ref, m.name) for v, m in suite.pairs]
    cases = [
        PlanCase(
            c.id,
            c.vars,
            c.expected,
            [a.to_dict() for a in c.assertions],
            c.threshold,
        )
        for c in suite.cases
    ]
    return Plan(
        suite=spec.name,
        suite_path=display_path(suite.path),
        base_dir=str(suite.base_dir.resolve()),
        variants=variants,
        models=models,
        groups=groups,
        cases=cases,
        reruns=reruns or spec.reruns,
        params=dict(spec.params),
        seed=spec.seed,
        concurrency=concurrency or spec.concurrency,
        timeout=spec.timeout,
        max_attempts=spec.max_attempts,
        judge=spec.judge,
        thresholds=spec.thresholds.model_dump(exclude_none=True),
        seed_scheme=SEED_SCHEME,
    )


def load_plan_variants(
    plan: Plan, library: PromptLibrary, store: Store
) -> dict[str, PromptVersion]:
    """Load each variant's file and refuse any whose content changed since it was used."""
    loaded: dict[str, PromptVersion] = {}
    problems: list[Problem] = []
    for v in plan.variants:
        try:
            prompt = library.load(v.name, v.version)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if prompt.hash != v.hash:
            problems.append(
                Problem(
                    f"{v.ref} changed since this run started; resuming would mix two texts",
                    display_path(prompt.path),
                    hint=f"restore the file, or save the edit as a new version with "
                    f"'workbench prompts save {v.name} FILE' and start a new run",
                )
            )
            continue
        try:
            store.check_prompt_version(v.name, v.version, prompt.hash, display_path(prompt.path))
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        loaded[v.ref] = prompt
    if problems:
        raise InputError(problems)
    return loaded
