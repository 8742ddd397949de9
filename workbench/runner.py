"""The run matrix — variant × model × case × rerun — executed concurrently.

A *plan* is everything needed to run (or resume) a run, stored as JSON with the run, so
``--resume`` repeats exactly the same matrix even if the suite file changed since. Cells
are pulled by a fixed pool of workers (memory stays flat however many cells there are),
each rerun is an independent request with its own seed, and each finished cell is
committed before the next is taken.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from workbench.assertions import AssertionSpec, Context, Output, cell_passed, evaluate
from workbench.assertions import expected_assertion as make_expected_assertion
from workbench.errors import InputError, Problem, display_path
from workbench.models.gateway import CallFailed, Gateway
from workbench.parsing import parse_output
from workbench.store import CellRecord, Store, new_run_id
from workbench.suites import Suite
from workbench.templates import PromptLibrary, PromptVersion

CellKey = tuple[str, str, str, int]  # variant ref, model name, case id, rerun


@dataclass
class PlanCase:
    id: str
    vars: dict[str, Any]
    expected: Any
    assertions: list[dict[str, Any]]
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
    if reruns is not None and reruns < 1:
        raise InputError("--reruns must be at least 1")
    if concurrency is not None and concurrency < 1:
        raise InputError("--concurrency must be at least 1")
    spec = suite.spec
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
            [a.model_dump(mode="json", exclude_defaults=True) | {"type": a.type}
             for a in c.assertions],
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


@dataclass
class Progress:
    """Counters a progress display reads after each cell."""

    total: int
    done: int = 0  # stored cells, including those stored before a resume
    ran: int = 0  # cells finished since this Progress started
    calls: int = 0  # model requests made since then, retries included
    passed: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def add(self, cell: CellRecord, *, stored: bool = False) -> None:
        """Count a finished cell; ``stored=True`` for one stored before this Progress
        started: it counts toward the totals but not the rates (``ran``, ``calls``)."""
        self.done += 1
        if not stored:
            self.ran += 1
            self.calls += cell.attempts
        self.passed += cell.passed
        self.errors += cell.status == "error"
        self.prompt_tokens += cell.prompt_tokens
        self.completion_tokens += cell.completion_tokens
        self.cost += cell.cost

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def cells_per_second(self) -> float:
        elapsed = self.elapsed
        return self.ran / elapsed if elapsed > 0 else 0.0

    @property
    def calls_per_second(self) -> float:
        elapsed = self.elapsed
        return self.calls / elapsed if elapsed > 0 else 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Runner:
    """Executes the missing cells of one stored run."""

    def __init__(self, plan: Plan, variants: dict[str, PromptVersion], store: Store,
                 run_id: str, gateway: Gateway | None = None):
        self.plan = plan
        self.variants = variants
        self.store = store
        self.run_id = run_id
        self.gateway = gateway or Gateway(
            timeout=plan.timeout, max_attempts=plan.max_attempts, concurrency=plan.concurrency
        )
        self.models = {m["name"]: m for m in plan.models}
        self.cases = {c.id: c for c in plan.cases}
        self.specs = {
            c.id: [AssertionSpec.model_validate(a) for a in c.assertions]
            + ([make_expected_assertion(c.expected)] if c.expected is not None else [])
            for c in plan.cases
        }
        self.base_dir = Path(plan.base_dir)

    def pending(self) -> Iterator[CellKey]:
        """The cells not stored yet, in plan order, streamed from the plan.

        Why not a list or a set of keys: a run of many cells must not hold every key in
        memory. What was stored already is marked in a bitmap of one byte per cell, filled
        by streaming the store, and only on a resume.
        """
        done: bytearray | None = None
        if self.store.count_cells(self.run_id):
            done = bytearray(self.plan.total_cells)
            for key in self.store.iter_done_keys(self.run_id):
                index = self.plan.index(key)
                if index is not None:
                    done[index] = 1
        for index, key in enumerate(self.plan.cells()):
            if done is None or not done[index]:
                yield key

    async def run(self, on_cell: Callable[[CellRecord], None] | None = None,
                  stop: asyncio.Event | None = None) -> int:
        """Run every pending cell; returns how many ran. Cancellation keeps finished cells."""
        pending = self.pending()
        ran = 0

        async def worker() -> None:
            nonlocal ran
            for key in pending:  # a shared iterator: no await between next() calls
                if stop is not None and stop.is_set():
                    return
                record = await self.run_cell(key)
                self.store.add_cell(record)
                ran += 1
                if on_cell is not None:
                    on_cell(record)

        workers = [asyncio.create_task(worker()) for _ in range(self.plan.concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self.gateway.aclose()
        return ran

    def _seed(self, params: dict[str, Any], rerun: int) -> int:
        base = params.get("seed", self.plan.seed)
        return int(base) * 1000 + rerun if isinstance(base, int) else rerun

    async def run_cell(self, key: CellKey) -> CellRecord:
        variant_ref, model_name, case_id, rerun = key
        prompt = self.variants[variant_ref]
        model = self.models[model_name]
        case = self.cases[case_id]
        started = time.time()
        steps: list[dict[str, Any]] = []
        outputs: dict[str, Any] = {}
        attempts = 0
        seed: int | None = None
        error: str | None = None
        raw: str | None = None
        try:
            for index in range(prompt.step_count()):
                step = prompt.render_step(index, case.vars, outputs)
                params = {**prompt.spec.params, **step.params, **self.plan.params,
                          **model.get("params", {})}
                seed = self._seed(params, rerun)
                params["seed"] = seed
                step_model = step.model or model_name
                record: dict[str, Any] = {
                    "output": step.output, "model": step_model, "messages": step.messages,
                    "params": params,
                }
                steps.append(record)
                # A step naming another model is reached through litellm's defaults.
                reply = await self.gateway.complete(
                    step_model, step.messages, params,
                    **_routing(model if step_model == model_name else {}))
                attempts += reply.attempts
                text = reply.text.strip()
                record.update(raw=reply.text, latency_ms=reply.latency_ms,
                              prompt_tokens=reply.prompt_tokens,
                              completion_tokens=reply.completion_tokens, cost=reply.cost,
                              attempts=reply.attempts)
                value: Any = text
                if step.parse is not None:
                    parsed_step = parse_output(step.parse, text)
                    record.update(answer=parsed_step.answer, parse_ok=parsed_step.ok)
                    if parsed_step.ok:
                        value = parsed_step.answer
                outputs[step.output] = value
                raw = text
        except CallFailed as exc:
            attempts += exc.attempts
            error = str(exc)
            if steps:
                steps[-1].update(error=error, attempts=exc.attempts)
        except InputError as exc:  # a template that fails only for this case's values
            error = f"render error: {exc}"

        latency = sum(s.get("latency_ms", 0.0) for s in steps)
        cost = sum(s.get("cost", 0.0) for s in steps)
        prompt_tokens = sum(s.get("prompt_tokens", 0) for s in steps)
        completion_tokens = sum(s.get("completion_tokens", 0) for s in steps)
        if error is None and raw is not None:
            parsed = parse_output(prompt.spec.parse, raw)
            output = Output(raw=raw, answer=parsed.answer if parsed.ok else None,
                            parse_ok=parsed.ok, latency_ms=latency, cost=cost)
        else:
            parsed = None
            output = Output(raw=None, answer=None, parse_ok=False, latency_ms=latency,
                            cost=cost, error=error or "no output")
        context = Context(vars=case.vars, expected=case.expected, base_dir=self.base_dir,
                          judge=self._judge(model_name))
        results = await evaluate(self.specs[case_id], output, context)
        passed = error is None and cell_passed(results, case.threshold)
        return CellRecord(
            run_id=self.run_id, variant=variant_ref, model=model_name, case_id=case_id,
            rerun=rerun, status="error" if error else "ok", output=raw if not error else None,
            answer=parsed.answer if parsed and parsed.ok else None,
            parse_ok=bool(parsed and parsed.ok), passed=passed,
            assertions=[r.to_dict() for r in results], steps=steps, latency_ms=latency,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost=cost,
            error=error, attempts=attempts, seed=seed, prompt_hash=prompt.hash,
            started=started, finished=time.time(),
        )

    def _judge(self, cell_model: str):
        """llm-rubric's judge: the assertion's model, else the suite's judge, else the cell's.

        A judge that is one of the suite's models is reached the way that model is (its
        ``api_base`` and ``api_key_env``), e.g. a self-hosted model grading its own output.
        """

        async def judge(messages: list[dict[str, str]], model: str | None) -> str:
            name = model or self.plan.judge or cell_model
            reply = await self.gateway.complete(name, messages,
                                                {"temperature": 0, "max_tokens": 256},
                                                **_routing(self.models.get(name, {})))
            return reply.text

        return judge


def _routing(model: dict[str, Any]) -> dict[str, Any]:
    """How the gateway reaches a suite model: its ``api_base``, ``api_key_env`` and
    ``transport`` (``{}``: litellm's defaults)."""
    return {"api_base": model.get("api_base"), "api_key_env": model.get("api_key_env"),
            "transport": model.get("transport", "litellm")}


def start_run(suite: Suite, store: Store, plan: Plan) -> str:
    """Record a new run and the prompt versions it uses; returns the run id."""
    for variant in suite.variants:
        store.check_prompt_version(variant.name, variant.version, variant.hash,
                                   display_path(variant.path))
    run_id = new_run_id()
    store.create_run(run_id, plan.suite, plan.suite_path, plan.to_dict(), plan.total_cells)
    for variant in suite.variants:
        store.record_prompt_version(variant.name, variant.version, variant.hash, variant.text,
                                    run_id)
    return run_id
