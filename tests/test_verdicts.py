"""The escalation rule against known truth: histories run on a simulated model.

Each test writes real prompt versions, runs them through the real runner over HTTP against
the fake server's simulated model (:mod:`workbench.testing.simulated`), whose answer
distribution per case is set by the test as a function of what the prompt does (few-shot
examples, a format instruction, temperature, a format constraint), and asserts the verdict
that the simulated truth makes correct.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from workbench.engine.session import run_suite
from workbench.escalation import (
    VERDICT_COLLECT,
    VERDICT_FINE_TUNE,
    VERDICT_FIX_FORMAT,
    VERDICT_INCONCLUSIVE,
    VERDICT_KEEP_ITERATING,
    VERDICT_MEETS_TARGET,
    VERDICT_SERVING,
    Assessment,
    assess_suite,
)
from workbench.store.database import Store
from workbench.testing.fakeserver import FakeServer
from workbench.testing.simulated import SimRequest, SimulatedModel

LABELS = ["billing", "shipping", "technical", "account"]
UNREADABLE = "Let me look into this ticket for you."
FORMAT = "Answer with one of: billing, shipping, technical, account."


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "test-key")


def truth(case: str) -> str:
    return LABELS[int(case[1:]) % len(LABELS)]


def wrong(case: str) -> str:
    return LABELS[(int(case[1:]) + 1) % len(LABELS)]


def sampled(case: str, right: float, unreadable: float = 0.0) -> dict[str, float]:
    """Right with chance ``right``, unreadable with ``unreadable``, else a wrong label."""
    return {truth(case): right, UNREADABLE: unreadable,
            wrong(case): max(0.0, 1.0 - right - unreadable)}


def greedy(case: str, easy: Callable[[int], bool]) -> dict[str, float]:
    """Temperature 0 on a deterministic stack: one answer per case, right on the easy ones."""
    return {truth(case) if easy(int(case[1:])) else wrong(case): 1.0}


def prompt(*, few_shot: bool = False, format_instruction: bool = False,
           temperature: float = 0.7, constrain: bool = False, note: str = "") -> dict[str, Any]:
    system = "You route support tickets." + (f" {FORMAT}" if format_instruction else "")
    spec: dict[str, Any] = {
        "kind": "few-shot" if few_shot else "zero-shot",
        "description": note or "a version",
        "params": {"temperature": temperature, "max_tokens": 8},
        "messages": [{"role": "system", "content": system},
                     {"role": "user", "content": "Ticket: {{ ticket }}" + note}],
        "parse": {"type": "label", "choices": LABELS, **({"constrain": True} if constrain
                                                         else {})},
    }
    if few_shot:
        spec["examples"] = [{"input": "I was charged twice.", "output": "billing"},
                            {"input": "My parcel never came.", "output": "shipping"}]
    return spec


def run_history(tmp_path: Path, server: FakeServer, policy: Callable[[SimRequest], Any],
                versions: list[dict[str, Any]], *, cases: int = 30,
                escalation: dict[str, Any] | None = None,
                thresholds: dict[str, Any] | None = None, seed: int = 0) -> Assessment:
    """Write the versions as p@1..p@N, run them all on the simulated model (5 reruns) and
    return the escalation assessment of the suite's history."""
    server.simulate(SimulatedModel(policy, seed=seed))
    folder = tmp_path / "prompts" / "p"
    folder.mkdir(parents=True, exist_ok=True)
    existing = len(list(folder.glob("v*.yaml")))
    for number, spec in enumerate(versions, start=existing + 1):
        (folder / f"v{number}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    suite = {
        "name": "sim", "prompts": [f"p@{n}" for n in range(existing + 1,
                                                          existing + len(versions) + 1)],
        "models": [{"name": "openai/fake", "api_base": server.base_url,
                    "api_key_env": "FAKE_KEY", "transport": "direct"}],
        "reruns": 5, "concurrency": 8, "seed": seed,
        "cases": [{"id": f"c{i:02d}", "vars": {"ticket": f"case c{i:02d}: help"},
                   "expected": truth(f"c{i:02d}")} for i in range(cases)],
        **({"escalation": escalation} if escalation else {}),
        **({"thresholds": thresholds} if thresholds else {}),
    }
    path = tmp_path / "suites" / "sim.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    db = tmp_path / "wb.db"
    with Store(db) as store:
        run_suite(store, path)
    (assessment,) = assess_suite(db, path).assessments
    return assessment


# The sampled histories run under two seeds (of the simulation and of the suite): a verdict
# that held for one draw only would be luck, not the rule.
SEEDS = pytest.mark.parametrize("seed", [0, 1])


@SEEDS
def test_meets_target(tmp_path: Path, fake_server: FakeServer, seed: int) -> None:
    a = run_history(tmp_path, fake_server, lambda r: sampled(r.case, 0.97),
                    [prompt(few_shot=True, format_instruction=True)],
                    escalation={"target": 0.8, "pass_hat_k": 0.5}, seed=seed)
    assert a.verdict == VERDICT_MEETS_TARGET
    assert a.checks[0].ok and a.checks[1].outcome == "met"
    assert a.trend[0].parse_rate == 1.0 and a.trend[0].pass_rate.value > 0.9


@SEEDS
def test_format_failure_then_the_constraint_fixes_it(tmp_path: Path, fake_server: FakeServer,
                                                     seed: int) -> None:
    """A model that often answers in prose: the verdict is the format, not inconsistency;
    once a version holds it to the labels (response_format with an enum), the format check
    passes and the rule moves on."""

    def policy(r: SimRequest) -> dict[str, float]:
        if r.constrained:  # the mass that went to prose now has to pick a label
            return sampled(r.case, 0.8)
        return sampled(r.case, 0.65 if r.format_instruction else 0.5, unreadable=0.3)

    a = run_history(tmp_path, fake_server, policy,
                    [prompt(), prompt(format_instruction=True)],
                    escalation={"target": 0.9}, seed=seed)
    assert a.verdict == VERDICT_FIX_FORMAT and a.best == "p@2"
    fmt = a.checks[0]
    assert not fmt.ok and 0.6 < fmt.parse_rate < 0.8 and fmt.constrained_by == ()
    assert a.trend[1].parse_rate == pytest.approx(fmt.parse_rate)

    a = run_history(tmp_path, fake_server, policy,
                    [prompt(format_instruction=True, constrain=True)],
                    escalation={"target": 0.9}, seed=seed)
    assert a.best == "p@3" and a.checks[0].ok and a.checks[0].parse_rate == 1.0
    assert a.checks[0].constrained_by == ("p@3",) and a.verdict != VERDICT_FIX_FORMAT


@SEEDS
def test_serving_nondeterminism_at_temperature_zero(tmp_path: Path, fake_server: FakeServer,
                                                    seed: int) -> None:
    def policy(r: SimRequest) -> dict[str, float]:
        if r.temperature == 0:  # a stack that still varies at temperature 0
            return sampled(r.case, 0.85)
        return sampled(r.case, 0.7 if r.few_shot else 0.6)

    a = run_history(tmp_path, fake_server, policy, [
        prompt(), prompt(few_shot=True, format_instruction=True),
        prompt(few_shot=True, format_instruction=True, temperature=0, constrain=True),
    ], escalation={"target": 0.95}, seed=seed)
    assert a.verdict == VERDICT_SERVING and a.best == "p@3"
    assert a.checks[1].ok and not a.checks[2].ok  # a real shortfall, then serving
    assert a.trend[2].temperature == 0 and a.trend[2].tar_raw < 1.0


@SEEDS
def test_still_improving(tmp_path: Path, fake_server: FakeServer, seed: int) -> None:
    def policy(r: SimRequest) -> dict[str, float]:
        return sampled(r.case, 0.85 if r.few_shot else 0.6 if r.format_instruction else 0.35)

    a = run_history(tmp_path, fake_server, policy, [
        prompt(), prompt(format_instruction=True),
        prompt(few_shot=True, format_instruction=True),
    ], escalation={"target": 0.95, "pass_hat_k": 0.9}, seed=seed)
    assert a.verdict == VERDICT_KEEP_ITERATING and a.best == "p@3"
    assert a.checks[1].ok and a.checks[2].ok and not a.checks[3].ok
    assert [i.improved for i in a.improvements] == [True, True]


def _plateau_policy(easy: Callable[[int], bool]) -> Callable[[SimRequest], dict[str, float]]:
    def policy(r: SimRequest) -> dict[str, float]:
        if r.temperature == 0:
            return greedy(r.case, easy)
        return sampled(r.case, 0.6 if r.few_shot else 0.5)

    return policy


PLATEAU = [prompt(), prompt(few_shot=True, format_instruction=True),
           *[prompt(few_shot=True, format_instruction=True, temperature=0, constrain=True,
                    note=note) for note in ("", " (reworded)", " (reworded again)")]]


def test_plateau_with_every_lever_tried_is_fine_tune(tmp_path: Path,
                                                     fake_server: FakeServer) -> None:
    a = run_history(tmp_path, fake_server, _plateau_policy(lambda i: i % 5 >= 2), PLATEAU,
                    escalation={"target": 0.9, "pass_hat_k": 0.9},
                    thresholds={"pass_rate": 0.9})
    assert a.verdict == VERDICT_FINE_TUNE and a.best == "p@3"
    assert all(c.ok for c in a.checks)
    best = a.trend[2]
    assert best.pass_hat_k.value == pytest.approx(0.6) and best.tar_raw == 1.0
    assert [lv.tried for lv in a.levers[:3]] == [True, True, True]


def test_too_few_examples(tmp_path: Path, fake_server: FakeServer) -> None:
    a = run_history(tmp_path, fake_server, _plateau_policy(lambda i: i < 5), PLATEAU,
                    cases=8, escalation={"target": 0.9, "pass_hat_k": 0.9},
                    thresholds={"pass_rate": 0.9})
    assert a.verdict == VERDICT_COLLECT
    assert [c.ok for c in a.checks] == [True, True, True, True, True, False]
    assert a.examples.usable == 8


def test_inconclusive_when_the_interval_reaches_the_target(tmp_path: Path,
                                                          fake_server: FakeServer) -> None:
    a = run_history(tmp_path, fake_server, _plateau_policy(lambda i: i < 17),
                    PLATEAU[2:3], cases=20, escalation={"target": 0.8, "pass_hat_k": 0.9})
    assert a.verdict == VERDICT_INCONCLUSIVE
    gate = a.checks[1].gates[1]
    assert gate.value == pytest.approx(0.85) and gate.ci[0] < 0.85 < 0.9 <= gate.ci[1]
