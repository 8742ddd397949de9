"""``workbench optimize`` against known truth: a simulated model whose answers depend on the
prompt (right only with few-shot examples, or only with a format instruction, or never
better), over real HTTP to the fake server, through the real runner and store.

The search must find the lever within the budget, confirm it on the held-out split, stop at
a plateau when no lever helps, never make more requests than its budget, and continue an
interrupted search without repeating a finished candidate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from workbench.escalation import PLATEAU_REACHED, PlateauCheck, assess_suite
from workbench.optimize import (
    STOP_BUDGET,
    STOP_PERFECT,
    STOP_PLATEAU,
    SearchSettings,
    run_search,
    split_cases,
)
from workbench.optimize.state import load_state, state_path
from workbench.prompts.library import PromptLibrary
from workbench.store.database import Store
from workbench.testing.fakeserver import FakeServer
from workbench.testing.simulated import SimRequest, SimulatedModel

LABELS = ["billing", "shipping", "technical", "account"]
SAFE_GENERATORS = ("few-shot-similar", "few-shot-random", "format-instruction",
                   "format-constrained", "temperature-0")


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "test-key")


def truth(case: str) -> str:
    return LABELS[int(case[1:]) % len(LABELS)]


def wrong(case: str) -> str:
    return LABELS[(int(case[1:]) + 1) % len(LABELS)]


def project(tmp_path: Path, server: FakeServer, policy: Callable[[SimRequest], Any], *,
            cases: int = 20, reruns: int = 3) -> Path:
    """A project with a zero-shot prompt p@1 and a suite of ``cases`` on the simulator."""
    server.simulate(SimulatedModel(policy))
    folder = tmp_path / "prompts" / "p"
    folder.mkdir(parents=True)
    (folder / "v1.yaml").write_text(yaml.safe_dump({
        "kind": "zero-shot", "description": "route a ticket",
        "params": {"temperature": 0.7, "max_tokens": 8},
        "messages": [{"role": "system", "content": "You route support tickets."},
                     {"role": "user", "content": "Ticket: {{ ticket }}"}],
        "parse": {"type": "label", "choices": LABELS},
    }, sort_keys=False))
    suite = {
        "name": "sim", "prompts": ["p@1"],
        "models": [{"name": "openai/fake", "api_base": server.base_url,
                    "api_key_env": "FAKE_KEY", "transport": "direct"}],
        "reruns": reruns, "concurrency": 4,
        "cases": [{"id": f"c{i:02d}", "vars": {"ticket": f"case c{i:02d}: help"},
                   "expected": truth(f"c{i:02d}")} for i in range(cases)],
    }
    path = tmp_path / "suites" / "sim.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def needs_examples(req: SimRequest) -> dict[str, float]:
    """Right only when the request carries worked examples; a coin flip otherwise."""
    if req.few_shot:
        return {truth(req.case): 1.0}
    return {truth(req.case): 0.4, wrong(req.case): 0.6}


def nothing_helps(req: SimRequest) -> dict[str, float]:
    """Right on even cases, wrong on odd ones, whatever the prompt does."""
    return {truth(req.case) if int(req.case[1:]) % 2 == 0 else wrong(req.case): 1.0}


def needs_format(req: SimRequest) -> dict[str, float]:
    """Right only when told the answer's format (or held to it); chatty otherwise."""
    if req.format_instruction:
        return {truth(req.case): 1.0}
    return {truth(req.case): 0.3, "Let me look into this for you.": 0.7}


def requests(server: FakeServer) -> int:
    return int(server.stats()["total"])


def test_split_is_seeded_stratified_and_disjoint() -> None:
    class C:
        def __init__(self, i: int) -> None:
            self.id, self.expected = f"c{i:02d}", truth(f"c{i:02d}")

    cases = [C(i) for i in range(40)]
    a, b = split_cases(cases, 0.25, seed=3), split_cases(cases, 0.25, seed=3)
    assert a == b
    assert len(a.held_out) == 10 and set(a.search).isdisjoint(a.held_out)
    assert set(a.search) | set(a.held_out) == {c.id for c in cases}
    per_label = {label: sum(truth(c) == label for c in a.held_out) for label in LABELS}
    assert set(per_label.values()) <= {2, 3}, per_label
    assert split_cases(cases, 0.25, seed=4) != a


def test_finds_few_shot_and_confirms_it_held_out(tmp_path: Path,
                                                 fake_server: FakeServer) -> None:
    suite = project(tmp_path, fake_server, needs_examples)
    settings = SearchSettings(suite, budget=1000, generators=SAFE_GENERATORS)
    with Store(tmp_path / "wb.db") as store:
        state = run_search(settings, store)
    best = state.best_candidate()
    assert best is not None and best.generator.startswith("few-shot")
    assert best.better and best.vs_parent and best.vs_parent["ci"][0] > 0
    assert state.stopped == STOP_PERFECT  # pass^k reached 1: nothing left to improve
    conf = state.confirmation
    assert conf and conf["done"] and conf["confirmed"]
    assert conf["cases"] == len(state.held_out_cases) == 6
    assert conf["best_score"]["value"] == 1.0
    assert requests(fake_server) == state.spent_calls <= 1000
    # Every candidate is a version with its origin; the winner carries its scores.
    library = PromptLibrary(tmp_path / "prompts")
    version = library.resolve(best.version or "")
    origin = version.spec.origin
    assert origin is not None and origin.parent == "p@1" and origin.generator == best.generator
    assert origin.scores is not None
    assert origin.scores.value == pytest.approx(best.score["value"], abs=1e-4)
    assert len(library.versions("p")) == 1 + sum(c.status == "measured"
                                                 for c in state.candidates)


def test_finds_the_format_lever(tmp_path: Path, fake_server: FakeServer) -> None:
    suite = project(tmp_path, fake_server, needs_format, cases=24)
    settings = SearchSettings(suite, budget=1000, generators=SAFE_GENERATORS, seed=1)
    with Store(tmp_path / "wb.db") as store:
        state = run_search(settings, store)
    best = state.best_candidate()
    assert best is not None and best.generator.startswith("format-"), best.generator
    assert state.confirmation and state.confirmation["confirmed"]
    assert requests(fake_server) == state.spent_calls <= 1000


def test_few_shot_examples_are_the_cases_most_like_the_failing_ones(tmp_path: Path) -> None:
    from workbench.optimize.generators import Context
    from workbench.optimize.generators.fewshot import random_examples, similar
    from workbench.prompts.version import parse_version_text
    from workbench.suites.cases import Case

    text = (tmp_path / "v.yaml")
    text.write_text(yaml.safe_dump({
        "kind": "zero-shot", "messages": [{"role": "user", "content": "T: {{ t }}"}],
        "parse": {"type": "label", "choices": ["billing", "shipping"]}}))
    prompt = parse_version_text(text.read_text(), text, "p", 1)
    words = {"r1": "refund for my broken blender please", "r2": "refund the blender charge",
             "r3": "where is my refund for the blender", "s1": "parcel tracking lost",
             "s2": "parcel late again", "s3": "the courier lost my parcel"}
    cases = [Case(cid, {"t": t}, "billing" if cid[0] == "r" else "shipping", [], None, "x:1")
             for cid, t in words.items()]
    ctx = Context(prompt=prompt, cases=cases, failing=["r3", "s3"], examples=2)
    (proposal,) = similar(ctx)
    assert proposal.data["kind"] == "few-shot"
    # r2 shares "refund the blender" with the failing r3 (the closest billing case); the
    # shipping cases tie, and the tie goes to the first id.
    assert proposal.example_cases == ("r2", "s1")
    shown = [e["vars"]["t"] for e in proposal.data["examples"]]
    assert {e["output"] for e in proposal.data["examples"]} == {"billing", "shipping"}
    assert all(t not in (words["r3"], words["s3"]) for t in shown)  # failing stay scored
    (control,) = random_examples(ctx)
    assert control.generator == "few-shot-random" and len(control.example_cases) == 2
    assert random_examples(ctx)[0].example_cases == control.example_cases  # seeded


def test_plateau_when_no_lever_helps_and_escalation_sees_it(tmp_path: Path,
                                                            fake_server: FakeServer) -> None:
    suite = project(tmp_path, fake_server, nothing_helps)
    settings = SearchSettings(suite, budget=2000, generators=SAFE_GENERATORS)
    with Store(tmp_path / "wb.db") as store:
        state = run_search(settings, store)
    assert state.stopped == STOP_PLATEAU
    assert state.best == state.baseline.key  # type: ignore[union-attr]
    assert state.confirmation is None  # nothing to confirm
    assert len(state.rounds) == 1 and all(not c.better for c in state.candidates)
    assert requests(fake_server) == state.spent_calls <= 2000
    (assessment,) = assess_suite(tmp_path / "wb.db", suite).assessments
    plateau = next(c for c in assessment.checks if isinstance(c, PlateauCheck))
    assert plateau.state == PLATEAU_REACHED
    refs = {i.ref for i in plateau.improvements}
    versions = {c.version for c in state.candidates}
    assert refs and refs <= versions  # the plateau rests on the search's candidates
    # The search's scores are the numbers the escalation report shows for the same cells
    # (a few-shot candidate is scored without the cases it shows as examples).
    trend = {t.ref: t for t in assessment.trend}
    for c in [c for c in state.all() if not c.example_cases]:
        shown, score = trend[c.version or ""], c.score or {}
        assert shown.n_cases == score["cases"]
        assert shown.pass_hat_k.value == pytest.approx(score["value"])
        assert list(shown.pass_hat_k.ci) == pytest.approx(score["ci"])
        assert shown.pass_rate.value == pytest.approx(score["pass_rate"])


@pytest.mark.parametrize("budget", [60, 150, 250])
def test_never_more_requests_than_the_budget(tmp_path: Path, fake_server: FakeServer,
                                             budget: int) -> None:
    suite = project(tmp_path, fake_server, needs_examples)
    settings = SearchSettings(suite, budget=budget, generators=SAFE_GENERATORS)
    with Store(tmp_path / "wb.db") as store:
        state = run_search(settings, store)
    assert requests(fake_server) == state.spent_calls <= budget
    assert state.stopped == STOP_BUDGET
    assert state.budget_note and f"of --budget {budget} are left" in state.budget_note


def test_interrupted_search_continues_without_repeating(tmp_path: Path,
                                                        fake_server: FakeServer) -> None:
    suite = project(tmp_path, fake_server, needs_examples)
    settings = SearchSettings(suite, budget=1000, generators=SAFE_GENERATORS)
    seen: list[str] = []

    def interrupt(event: Any) -> None:
        if event.kind == "measured":
            seen.append(event.candidate.generator)
            if len(seen) == 3:
                raise KeyboardInterrupt

    with Store(tmp_path / "wb.db") as store, pytest.raises(KeyboardInterrupt):
        run_search(settings, store, on_event=interrupt)
    first = requests(fake_server)
    with Store(tmp_path / "wb.db") as store:
        saved = load_state(state_path(tmp_path, _only_state(tmp_path)))
        assert saved is not None
        finished = [c.key for c in saved.all() if c.status == "measured"]
        assert len(finished) == 3
        fake_server.reset()
        state = run_search(settings, store)
    again = requests(fake_server)
    # The three finished measurements (42 calls each) were not made again.
    assert again == state.spent_calls - first
    assert state.stopped == STOP_PERFECT and state.confirmation["confirmed"]
    assert len(PromptLibrary(tmp_path / "prompts").versions("p")) == 1 + sum(
        c.status == "measured" for c in state.candidates)


def _only_state(root: Path) -> str:
    (path,) = (root / ".workbench" / "optimize").glob("*.json")
    return path.stem


def test_origin_block_is_validated_with_its_line(tmp_path: Path) -> None:
    from workbench.errors import InputError
    from workbench.prompts.version import parse_version_text

    text = ("kind: zero-shot\nmessages:\n  - role: user\n    content: hi\n"
            "origin:\n  parent: p\n  generator: format-instruction\n  search: abc\n"
            "  scores:\n    objective: pass_hat_k\n    cases: 3\n    value: 1.5\n")
    with pytest.raises(InputError) as err:
        parse_version_text(text, tmp_path / "v2.yaml", "p", 2)
    problems = {(p.line, p.message.split(":")[0]) for p in err.value.problems}
    lines = {line for line, _ in problems}
    assert 6 in lines and 12 in lines, err.value.problems  # origin.parent, scores.value
    good = text.replace("parent: p\n", "parent: p@1\n").replace("value: 1.5", "value: 0.5")
    version = parse_version_text(good, tmp_path / "v2.yaml", "p", 2)
    assert version.spec.origin and version.spec.origin.scores.value == 0.5


def test_a_version_is_never_overwritten(tmp_path: Path) -> None:
    from workbench.atomic import atomic_create_text

    path = atomic_create_text(tmp_path / "v1.yaml", "first\n")
    with pytest.raises(FileExistsError):
        atomic_create_text(path, "second\n")
    assert path.read_text() == "first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["v1.yaml"]  # no temporary left behind


def test_cli_names_match_the_library() -> None:
    from workbench.cli.optimize import GENERATOR_NAMES, OBJECTIVE_CHOICES
    from workbench.optimize.generators import GENERATORS
    from workbench.optimize.objective import OBJECTIVES

    assert tuple(GENERATORS) == GENERATOR_NAMES
    assert OBJECTIVE_CHOICES == OBJECTIVES


def test_cli_end_to_end_with_reports_and_label(tmp_path: Path, fake_server: FakeServer) -> None:
    import json

    from tests.cli_inprocess import call_main

    suite = project(tmp_path, fake_server, needs_examples)
    argv = ["optimize", str(suite), "--budget", "1000", "--label", "optimized",
            "--generators", ",".join(SAFE_GENERATORS), "--md", "out/s.md", "--html",
            "out/s.html", "--json", "out/s.json", "--db", str(tmp_path / "wb.db")]
    code, out, err = call_main(argv, tmp_path, seconds=120)
    assert code == 0, err
    assert "starting version" in out and "round 1" in out and "★" in out
    assert "held-out split (6 cases)" in out and "confirmed" in out
    data = json.loads((tmp_path / "out" / "s.json").read_text())
    assert data["confirmation"]["confirmed"] is True
    assert data["best_version"] and data["label"] == "p@optimized"
    library = PromptLibrary(tmp_path / "prompts")
    assert library.resolve("p@optimized").ref == data["best_version"]
    assert "Prompt search" in (tmp_path / "out" / "s.md").read_text()
    assert "<table" in (tmp_path / "out" / "s.html").read_text()
    # Bad input: one clear message, exit 2, no traceback.
    code, out, err = call_main(["optimize", str(suite), "--budget", "0"], tmp_path)
    assert code == 2 and "--budget" in err and "Traceback" not in err
    code, out, err = call_main(["optimize", str(suite), "--generators", "magic"], tmp_path)
    assert code == 2 and "unknown generator(s): magic" in err


def test_a_proposer_rewrite_is_measured_and_its_calls_counted(tmp_path: Path,
                                                              fake_server: FakeServer) -> None:
    suite = project(tmp_path, fake_server, needs_format)
    asked: list[str] = []

    def proposer(messages: list[dict[str, str]]) -> str:
        asked.append(messages[-1]["content"])
        return "<INS>Route the ticket. Answer with one of: billing, shipping, technical, " \
               "account. {{ not a template }}</INS>"

    settings = SearchSettings(suite, budget=1000, generators=("rewrite-opro", "rewrite-ape"))
    with Store(tmp_path / "wb.db") as store:
        state = run_search(settings, store, propose=proposer)
    opro, ape = asked[0], asked[1]
    assert "score: " in opro and "the model said:" in opro and "expected:" in opro
    assert "Input: " in ape and "Output: " in ape
    best = state.best_candidate()
    assert best is not None and best.generator == "rewrite-opro" and best.better
    version = version_of(tmp_path, best.version)
    assert "{ { not a template } }" in version.spec.messages[0].content  # made inert
    # The two proposer calls of each round are charged on top of the requests.
    assert state.spent_calls == requests(fake_server) + len(asked)
    assert state.spent_calls <= 1000


def version_of(root: Path, ref: str | None) -> Any:
    return PromptLibrary(root / "prompts").resolve(ref or "")


def test_max_cost_stops_before_the_observed_cost_would_pass_it(
        tmp_path: Path, fake_server: FakeServer) -> None:
    from workbench.optimize import STOP_MAX_COST, prepare_search

    suite = project(tmp_path, fake_server, needs_examples)
    with Store(tmp_path / "wb.db") as store:
        search = prepare_search(SearchSettings(suite, budget=1000, max_cost=1.5), store)
        assert search.affordable(100) is None  # no cost observed yet: nothing to go on
        search.state.spent_calls, search.state.spent_cost = 10, 1.0  # $0.10 a call so far
        assert search.affordable(4) is None  # $1.40
        assert search.affordable(6) == STOP_MAX_COST  # $1.60
        search.state.spent_cost = 1.5
        assert search.affordable(0) == STOP_MAX_COST  # the cap is reached
        assert search.affordable(10_000) == STOP_BUDGET


@pytest.mark.parametrize(("argv", "says"), [
    (["--holdout", "1"], "--holdout"),
    (["--rounds", "0"], "--rounds"),
    (["--label", "v2"], "--label"),
    (["--prompt", "nope@1"], "nope"),
    (["--max-cost", "-1"], "--max-cost"),
])
def test_bad_flags_exit_2_with_one_message(tmp_path: Path, fake_server: FakeServer,
                                          argv: list[str], says: str) -> None:
    from tests.cli_inprocess import call_main

    suite = project(tmp_path, fake_server, needs_examples)
    code, out, err = call_main(["optimize", str(suite), *argv], tmp_path)
    assert code == 2 and says in err and "Traceback" not in err, err
    assert requests(fake_server) == 0


def test_format_levers_first_when_answers_are_unreadable(tmp_path: Path,
                                                         fake_server: FakeServer) -> None:
    suite = project(tmp_path, fake_server, needs_format)
    settings = SearchSettings(suite, budget=1000, generators=SAFE_GENERATORS)
    with Store(tmp_path / "wb.db") as store:
        state = run_search(settings, store)
    (first,) = state.rounds[:1]
    order = [state.by_key(k).generator for k in first.proposals]  # type: ignore[union-attr]
    assert order[:2] == ["format-instruction", "format-constrained"], order


def test_the_parser_imports_no_search() -> None:
    """``workbench --help`` stays instant: registering optimize imports none of its layers."""
    import subprocess
    import sys

    code = ("import sys; from workbench.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.startswith(('workbench.optimize', "
            "'workbench.analysis', 'workbench.engine'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent).stdout
    assert out.strip() == "[]"
