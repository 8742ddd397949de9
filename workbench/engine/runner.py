"""The run matrix — variant × model × case × rerun — executed concurrently.

A *plan* is everything needed to run (or resume) a run, stored as JSON with the run, so
``--resume`` repeats exactly the same matrix even if the suite file changed since. Cells
are pulled by a fixed pool of workers (memory stays flat however many cells there are),
each rerun is an independent request with its own seed, and each finished cell is
committed on its own.

A model whose transport completes several seeds of one request at once (the embedded model:
one prompt evaluation, one batch) gets the pending reruns of a case together, as one unit of
work: its reruns run back to back instead of rerun-major, and a resumed case runs only its
missing reruns, each with its own seed, so its outputs are those a full run gives.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.checks.assertions import (
    Context,
    Output,
    cell_passed,
    evaluate,
    expected_assertion,
    parse_assertion,
)
from workbench.checks.parsing import ParseSpec, parse_output
from workbench.engine.plan import Plan, PlanCase, cell_seed
from workbench.errors import InputError
from workbench.models.constraints import constraint_params
from workbench.models.errors import ModelError
from workbench.models.gateway import Gateway
from workbench.prompts.version import PromptVersion
from workbench.redaction import remember_in
from workbench.store.database import Store
from workbench.store.records import CellKey, CellRecord, StepRecord

# Cases per block when a model gets a case's reruns together (see Runner.units).
CASE_BLOCK = 10


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
        # Keys written into a suite (an api_base's password, extra_headers.Authorization)
        # are masked wherever a provider echoes them back, like keys from the environment.
        remember_in([plan.models, plan.params])
        self.cases = {c.id: c for c in plan.cases}
        self.specs = {
            c.id: [parse_assertion(a) for a in c.assertions]
            + ([expected_assertion(c.expected)] if c.expected is not None else [])
            for c in plan.cases
        }
        self.base_dir = Path(plan.base_dir)

    def pending(self) -> Iterator[CellKey]:
        """The cells not stored yet, in plan order, streamed from the plan.

        Why not a list or a set of keys: a run of many cells must not hold every key in
        memory. What was stored already is marked in a bitmap of one byte per cell, filled
        by streaming the store, and only on a resume.
        """
        done = self._done()
        for index, key in enumerate(self.plan.cells()):
            if done is None or not done[index]:
                yield key

    def _done(self) -> bytearray | None:
        """One byte per cell of the plan, 1 where the cell is stored; ``None`` if none is."""
        if not self.store.count_cells(self.run_id):
            return None
        done = bytearray(self.plan.total_cells)
        for key in self.store.iter_done_keys(self.run_id):
            index = self.plan.index(key)
            if index is not None:
                done[index] = 1
        return done

    def units(self) -> Iterator[list[CellKey]]:
        """The pending cells as units of work, each a list of cells of one case.

        A model that completes several seeds at once gets every pending rerun of a case in
        one unit, a block of :data:`CASE_BLOCK` cases at a time: each variant runs the block's
        cases back to back (consecutive prompts of a variant share its prefix, which the
        embedded model then evaluates once), and every variant runs a block before the next
        block starts (so an interrupted run can still compare variants on the cases it
        finished). Any other model gets one cell per unit, in plan order. The two kinds
        alternate.
        """
        grouped = {name for name, m in self.models.items()
                   if self.gateway.groups_seeds(name, m.get("transport", "litellm"),
                                                m.get("api_base"))}
        if not grouped:
            yield from ([key] for key in self.pending())
            return
        done = self._done()

        def pending(key: CellKey) -> bool:
            index = self.plan.index(key)
            return done is None or index is None or not done[index]

        def single() -> Iterator[list[CellKey]]:
            for key in self.plan.cells():
                if key[1] not in grouped and pending(key):
                    yield [key]

        def together() -> Iterator[list[CellKey]]:
            cases = self.plan.cases
            for first in range(0, len(cases), CASE_BLOCK):
                for variant, model in self.plan.groups:
                    if model not in grouped:
                        continue
                    for case in cases[first:first + CASE_BLOCK]:
                        keys = [(variant, model, case.id, rerun)
                                for rerun in range(self.plan.reruns)]
                        unit = [key for key in keys if pending(key)]
                        if unit:
                            yield unit

        streams = [single(), together()]
        while streams:
            for stream in list(streams):
                unit = next(stream, None)
                if unit is None:
                    streams.remove(stream)
                else:
                    yield unit

    async def run(self, on_cell: Callable[[CellRecord], None] | None = None,
                  stop: asyncio.Event | None = None) -> int:
        """Run every pending cell; returns how many ran. Cancellation keeps finished cells."""
        units = self.units()
        ran = 0

        async def worker() -> None:
            nonlocal ran
            for keys in units:  # a shared iterator: no await between next() calls
                if stop is not None and stop.is_set():
                    return
                for record in await self.run_cells(keys):
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

    def _seed(self, params: dict[str, Any], case_id: str, rerun: int) -> int:
        return cell_seed(params.get("seed", self.plan.seed), case_id, rerun,
                         self.plan.seed_scheme)

    async def run_cell(self, key: CellKey) -> CellRecord:
        """Run one cell (render, call, parse, assert); the caller stores it."""
        (record,) = await self.run_cells([key])
        return record

    async def run_cells(self, keys: list[CellKey]) -> list[CellRecord]:
        """Run reruns of one variant × model × case, step by step; the caller stores them.

        At each step the reruns whose requests are the same but for the seed are sent as one
        group (:meth:`Gateway.complete_seeds`): the embedded model evaluates their prompt once.
        A step's groups are sent at once.
        """
        variant_ref, model_name, case_id, _ = keys[0]
        prompt = self.variants[variant_ref]
        model = self.models[model_name]
        case = self.cases[case_id]
        cells = [_Cell(rerun=key[3], started=time.time()) for key in keys]
        last = prompt.step_count() - 1
        for index in range(last + 1):
            groups: dict[str, list[tuple[_Cell, StepRecord, ParseSpec | None]]] = {}
            for cell in cells:
                if cell.error is not None:
                    continue
                try:  # a template that fails only for this case's values
                    step = prompt.render_step(index, case.vars, cell.outputs)
                except InputError as exc:
                    cell.error = f"render error: {exc}"
                    continue
                step_model = step.model or model_name
                params = {**prompt.spec.params, **step.params, **self.plan.params,
                          **model.get("params", {})}
                cell.seed = self._seed(params, case_id, cell.rerun)
                params["seed"] = cell.seed
                # A parse spec with constrain: true, as this model's request parameter (a
                # parameter the user set wins); stored with the step, so the history sees it.
                shape = step.parse if step.parse is not None and step.parse.constrain \
                    else prompt.spec.parse if index == last else None
                for name, value in constraint_params(shape, step_model).items():
                    params.setdefault(name, value)
                record = StepRecord(output=step.output, model=step_model,
                                    messages=step.messages, params=params)
                cell.steps.append(record)
                groups.setdefault(_same_request(record), []).append((cell, record, step.parse))
            # Concurrently: the embedded model decodes a step's distinct prompts (a chain's
            # second step, one per rerun) together; a provider gets them in parallel.
            await asyncio.gather(*(self._call_step(model_name, model, group)
                                   for group in groups.values()))
        return [await self._finish(keys[0], prompt, case, cell) for cell in cells]

    async def _call_step(self, model_name: str, model: dict[str, Any],
                         group: list[tuple[_Cell, StepRecord, ParseSpec | None]]) -> None:
        """Send one step's identical requests (but for their seeds) and record each reply."""
        first = group[0][1]
        params = {k: v for k, v in first.params.items() if k != "seed"}
        # A step naming another model is reached the default way for its name.
        replies = await self.gateway.complete_seeds(
            first.model, first.messages, params, [cell.seed for cell, _, _ in group],
            **_routing(model if first.model == model_name else {}))
        for (cell, record, parse), reply in zip(group, replies, strict=True):
            if isinstance(reply, ModelError):
                cell.attempts += reply.attempts
                cell.error = str(reply)
                record.error, record.attempts = cell.error, reply.attempts
                continue
            cell.attempts += reply.attempts
            text = reply.text.strip()
            record.raw = reply.text
            record.latency_ms = reply.latency_ms
            record.prompt_tokens = reply.prompt_tokens
            record.completion_tokens = reply.completion_tokens
            record.cost = reply.cost
            record.attempts = reply.attempts
            value: Any = text
            if parse is not None:
                parsed_step = parse_output(parse, text)
                record.answer, record.parse_ok = parsed_step.answer, parsed_step.ok
                if parsed_step.ok:
                    value = parsed_step.answer
            cell.outputs[record.output] = value
            cell.raw = text

    async def _finish(self, key: CellKey, prompt: PromptVersion, case: PlanCase,
                      cell: _Cell) -> CellRecord:
        """Parse the final output, evaluate the case's assertions, build the record."""
        variant_ref, model_name, case_id, _ = key
        steps, error, raw = cell.steps, cell.error, cell.raw
        latency = sum(s.latency_ms for s in steps)
        cost = sum(s.cost for s in steps)
        prompt_tokens = sum(s.prompt_tokens for s in steps)
        completion_tokens = sum(s.completion_tokens for s in steps)
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
            rerun=cell.rerun, status="error" if error else "ok",
            output=raw if not error else None,
            answer=parsed.answer if parsed and parsed.ok else None,
            parse_ok=bool(parsed and parsed.ok), passed=passed,
            assertions=results, steps=steps, latency_ms=latency,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost=cost,
            error=error, attempts=cell.attempts, seed=cell.seed, prompt_hash=prompt.hash,
            started=cell.started, finished=time.time(),
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


@dataclass
class _Cell:
    """One rerun in progress: its steps so far, their outputs by name, and how it ended."""

    rerun: int
    started: float
    steps: list[StepRecord] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    attempts: int = 0
    error: str | None = None
    raw: str | None = None


def _same_request(step: StepRecord) -> str:
    """A key equal for two steps whose requests differ at most in their seed."""
    params = {k: v for k, v in step.params.items() if k != "seed"}
    return json.dumps([step.model, step.messages, params], sort_keys=True, default=str)


def _routing(model: dict[str, Any]) -> dict[str, Any]:
    """How the gateway reaches a suite model: its ``api_base``, ``api_key_env`` and
    ``transport`` (``{}``: the default for the model's name, see ``Gateway.complete``)."""
    return {"api_base": model.get("api_base"), "api_key_env": model.get("api_key_env"),
            "transport": model.get("transport", "litellm")}


