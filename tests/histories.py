"""Build a suite's run history directly in a real SQLite store.

Each :class:`Version` is a prompt version with its YAML text (stored the way a run stores it,
so kinds, examples and parse specs are real) and, per case, the parsed answers of its reruns.
A rerun passes when its answer equals the case's expected answer, as the ``equals``
assertion ``expected`` adds would decide. The messages each cell sent are rendered from the
prompt text, so token ratios and the fine-tuning export see what a real run stores.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.checks.assertions import AssertionResult
from workbench.engine.plan import Plan, PlanCase, PlanVariant
from workbench.models.constraints import constraint_params
from workbench.prompts.version import content_hash, parse_version_text
from workbench.store.database import Store
from workbench.store.records import CellRecord, StepRecord

LABELS = "[billing, shipping, technical, account]"


def zero_shot(temperature: float | None = 0.7, parse: str = "label", note: str = "",
              constrain: bool = False) -> str:
    params = "" if temperature is None else f"params: {{temperature: {temperature}}}\n"
    parse_block = (f"parse:\n  type: label\n  choices: {LABELS}\n" if parse == "label" else "")
    if constrain:
        parse_block += "  constrain: true\n"
    return (f"kind: zero-shot\ndescription: zero-shot {note}\n{params}messages:\n"
            "  - role: system\n    content: You route support tickets. One word.\n"
            "  - role: user\n    content: \"Ticket: {{ ticket }}\"\n" + parse_block)


def few_shot(temperature: float | None = 0.7, note: str = "", constrain: bool = False) -> str:
    params = "" if temperature is None else f"params: {{temperature: {temperature}}}\n"
    return (f"kind: few-shot\ndescription: few-shot {note}\n{params}messages:\n"
            "  - role: system\n    content: You route support tickets. One word.\n"
            "  - role: user\n    content: \"Ticket: {{ ticket }}\"\n"
            "examples:\n"
            "  - vars: {ticket: I was charged twice for my subscription this month.}\n"
            "    output: billing\n"
            "  - vars: {ticket: My parcel says delivered but nothing arrived at all.}\n"
            "    output: shipping\n"
            f"parse:\n  type: label\n  choices: {LABELS}\n"
            + ("  constrain: true\n" if constrain else ""))


@dataclass
class Version:
    name: str
    version: int
    text: str
    answers: Mapping[str, Sequence[str | None]]  # case id → one answer per rerun
    raws: Mapping[str, Sequence[str]] = field(default_factory=dict)  # default: the answer

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass
class Case:
    id: str
    expected: Any
    ticket: str = ""

    def vars(self) -> dict[str, Any]:
        return {"ticket": self.ticket or f"ticket text for {self.id}"}


def add_run(store: Store, suite: str, cases: Sequence[Case], versions: Sequence[Version], *,
            run_id: str | None = None, model: str = "local/smollm2",
            thresholds: Mapping[str, Any] | None = None, base_dir: str = "/tmp/project"
            ) -> str:
    """Store one finished run of ``versions`` × ``cases`` and return its id."""
    run_id = run_id or f"run-{time.time_ns()}"
    reruns = max(len(a) for v in versions for a in v.answers.values())
    plan = Plan(
        suite=suite, suite_path=f"suites/{suite}.yaml", base_dir=base_dir,
        variants=[PlanVariant(v.ref, v.name, v.version, content_hash(v.text),
                              f"prompts/{v.name}/v{v.version}.yaml") for v in versions],
        models=[{"name": model, "api_base": None, "api_key_env": None, "params": {}}],
        groups=[(v.ref, model) for v in versions],
        cases=[PlanCase(c.id, c.vars(), c.expected, [], None) for c in cases],
        reruns=reruns, params={}, seed=0, concurrency=4, timeout=30.0, max_attempts=3,
        judge=None, thresholds=dict(thresholds or {}),
    )
    store.create_run(run_id, suite, plan.suite_path, plan.to_dict(), plan.total_cells)
    for v in versions:
        store.record_prompt_version(v.name, v.version, content_hash(v.text), v.text, run_id)
        prompt = parse_version_text(v.text, Path(f"prompts/{v.name}/v{v.version}.yaml"),
                                    v.name, v.version)
        for case in cases:
            messages = prompt.render(case.vars())
            for rerun, answer in enumerate(v.answers[case.id]):
                raw = (v.raws.get(case.id) or [None] * reruns)[rerun] or answer or "no idea"
                # As the runner does: a constrained parse spec becomes a request parameter.
                params = {**prompt.spec.params,
                          **constraint_params(prompt.spec.parse, model)}
                store.add_cell(_cell(run_id, v, model, case, rerun, answer, raw, messages,
                                     params))
    store.set_status(run_id, "finished")
    return run_id


def _cell(run_id: str, v: Version, model: str, case: Case, rerun: int, answer: str | None,
          raw: str, messages: list[dict[str, str]], params: Mapping[str, Any]) -> CellRecord:
    passed = answer is not None and answer == case.expected
    assertions = [] if case.expected is None else [{
        "type": "equals", "negated": False, "passed": passed, "score": float(passed),
        "weight": 1.0, "reason": f"expected {case.expected!r}, got {answer!r}"}]
    prompt_tokens = sum(len(m["content"]) for m in messages) // 4
    step = {"output": "answer", "model": model, "messages": messages,
            "params": {**params, "seed": rerun}, "raw": raw, "latency_ms": 10.0,
            "prompt_tokens": prompt_tokens, "completion_tokens": 2, "cost": 0.0, "attempts": 1}
    return CellRecord(
        run_id=run_id, variant=v.ref, model=model, case_id=case.id, rerun=rerun, status="ok",
        output=raw, answer=answer, parse_ok=answer is not None, passed=passed,
        assertions=[AssertionResult.from_dict(a) for a in assertions],
        steps=[StepRecord.from_dict(json.loads(json.dumps(step)))], latency_ms=10.0,
        prompt_tokens=prompt_tokens, completion_tokens=2, cost=0.0, error=None, attempts=1,
        seed=rerun, prompt_hash=content_hash(v.text), started=1.0, finished=2.0,
    )


def pattern(cases: Sequence[Case], right: int, n: int = 5, wrong: str = "account"
            ) -> dict[str, list[str | None]]:
    """Every case answered correctly in ``right`` of ``n`` reruns (the rest ``wrong``)."""
    return {c.id: [c.expected] * right + [wrong] * (n - right) for c in cases}


def merge(*parts: Mapping[str, Sequence[str | None]]) -> dict[str, list[str | None]]:
    out: dict[str, list[str | None]] = {}
    for part in parts:
        out.update({k: list(v) for k, v in part.items()})
    return out
