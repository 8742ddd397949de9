"""The run engine over real HTTP: retries, Retry-After, adaptive concurrency, seeds, resume.

Why: the run engine promises (README.md, "How it works") that every cell ends as a result
or a stored error, that retries follow the provider's rules, that reruns are independent
requests, and that Ctrl-C, a crash or SIGKILL never loses a stored cell and ``--resume``
runs exactly the missing ones. These tests drive the real Runner, Gateway, both transports
(litellm and direct) and SQLite against ``workbench/testing/fakeserver.py``
(in-thread for library tests, a subprocess for the CLI kill tests) and assert on values:
server-side attempt counts and timestamps, stored rows, exit codes and messages.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from workbench.engine.plan import Plan, cell_seed, load_plan_variants, make_plan
from workbench.engine.runner import Runner
from workbench.engine.session import record_run
from workbench.errors import InputError
from workbench.models import Gateway, litellm_module
from workbench.prompts.library import PromptLibrary
from workbench.store.database import Store
from workbench.store.records import CellRecord
from workbench.suites.loader import Suite, load_suite
from workbench.testing.fakeserver import FakeServer, FakeServerProcess

KEY_ENV = "FAKE_KEY"
MODEL = "openai/fake"
ECHO_PROMPT: dict[str, Any] = {
    "kind": "zero-shot",
    "messages": [{"role": "user", "content": "{{ q }}"}],
}
CHAIN_PROMPT: dict[str, Any] = {
    "kind": "chain",
    "steps": [
        {"output": "facts", "messages": [{"role": "user", "content": "{{ q1 }}"}]},
        {"output": "answer",
         "messages": [{"role": "user", "content": "Facts: {{ facts }} {{ q2 }}"}]},
    ],
}


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite names FAKE_KEY; the gateway refuses to call without it."""
    monkeypatch.setenv(KEY_ENV, "test-key")


# --------------------------------------------------------------------------- helpers


def write_project(root: Path, base_url: str, cases: list[dict[str, Any]], *,
                  prompts: dict[str, dict[str, Any]] | None = None,
                  transport: str = "litellm", **settings: Any) -> Path:
    """Write ``prompts/<name>/v1.yaml`` and ``suites/t.yaml`` under root; return the suite path.

    ``transport`` is the model's: through litellm, or ``direct`` to the (fake) server."""
    prompts = prompts or {"echo": ECHO_PROMPT}
    for name, spec in prompts.items():
        folder = root / "prompts" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "v1.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    suite = {
        "name": "t",
        "prompts": list(prompts),
        "models": [{"name": MODEL, "api_base": base_url, "api_key_env": KEY_ENV,
                    **({"transport": transport} if transport != "litellm" else {})}],
        "reruns": 1,
        "concurrency": 4,
        **settings,
        "cases": cases,
    }
    path = root / "suites" / "t.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path


def make_suite(root: Path, base_url: str, cases: list[dict[str, Any]], **kw: Any) -> Suite:
    """A tiny project in ``root`` (prompts/ + suites/), loaded and validated."""
    return load_suite(write_project(root, base_url, cases, **kw))


def case(case_id: str, q: str, expected: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": case_id, "vars": {"q": q}}
    if expected is not None:
        out["expected"] = expected
    return out


def new_runner(suite: Suite, store: Store, *, gateway: Gateway | None = None,
               **plan_kw: Any) -> Runner:
    """Freeze the suite into a plan, record a run, and return its Runner."""
    plan = make_plan(suite, **plan_kw)
    run_id = record_run(suite, store, plan)
    return Runner(plan, {v.ref: v for v in suite.variants}, store, run_id, gateway=gateway)


def cells_by_key(store: Store, run_id: str) -> dict[tuple[str, int], CellRecord]:
    return {(c.case_id, c.rerun): c for c in store.cells(run_id)}


def server_key(text: str, seed: int) -> str:
    """How the fake server keys a request: last user message + its seed."""
    return f"{text}#seed={seed}"


@pytest.fixture(params=["litellm", "direct"])
def transport(request: pytest.FixtureRequest) -> str:
    """Both ways to a server: litellm (any provider) and the direct OpenAI-compatible one.
    Retries, errors and records must not depend on which one a model uses."""
    return request.param


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "wb.db") as s:
        yield s


# --------------------------------------------------------------------------- 1. faults


FAULT_CASES: dict[str, tuple[str, str, int]] = {
    # id: (message, final status, attempts the server must see per cell)
    "ok": ("[[reply:yes]]", "ok", 1),
    "rate-limited": ("[[fail:429x2]][[retry-after:0.1]][[reply:yes]]", "ok", 3),
    "server-error": ("[[fail:500x1]][[reply:yes]]", "ok", 2),
    "timeout": ("[[fail:timeoutx1]][[reply:yes]]", "ok", 2),
    "dropped": ("[[fail:dropx1]][[reply:yes]]", "ok", 2),
    "malformed": ("[[fail:malformedx1]][[reply:yes]]", "ok", 2),
    "bad-request": ("[[fail:400]]", "error", 1),
    "bad-key": ("[[fail:401]]", "error", 1),
    "overloaded": ("[[fail:503]][[retry-after:0.05]]", "error", 3),  # out of attempts
}


async def test_every_cell_ends_as_result_or_stored_error(
    tmp_path: Path, fake_server: FakeServer, store: Store, transport: str
) -> None:
    # A 'timeout' attempt hangs 4 s; the suite gives up at 1.5 (long enough for a healthy
    # reply on a busy machine, where 18 requests at once through litellm take a while).
    fake_server.configure(hang=4.0)
    cases = [case(cid, msg, expected="yes") for cid, (msg, _, _) in FAULT_CASES.items()]
    suite = make_suite(tmp_path, fake_server.base_url, cases, reruns=2, concurrency=18,
                       timeout=1.5, max_attempts=3, transport=transport)
    runner = new_runner(suite, store)

    ran = await runner.run()

    assert ran == 2 * len(FAULT_CASES) == store.count_cells(runner.run_id)
    cells = cells_by_key(store, runner.run_id)
    keys = fake_server.stats()["keys"]
    for cid, (msg, status, attempts) in FAULT_CASES.items():
        for rerun in range(2):
            cell = cells[(cid, rerun)]
            assert cell.status == status, (cid, cell.error)
            assert cell.attempts == attempts, cid
            assert keys[server_key(msg, cell.seed or 0)] == attempts, cid
            if status == "ok":
                assert (cell.output, cell.passed, cell.error) == ("yes", True, None), cid
                assert cell.steps[0].attempts == attempts
            else:
                assert cell.output is None and cell.passed is False, cid
                assert cell.error
    errors = {cid: str(cells[(cid, 1)].error) for cid in ("bad-request", "bad-key", "overloaded")}
    assert "HTTP 400" in errors["bad-request"]
    assert "Invalid request (fakeserver scripted 400)" in errors["bad-request"]
    assert "HTTP 401" in errors["bad-key"]
    assert "HTTP 503" in errors["overloaded"]
    # the failing step keeps its messages and the error, so the report can show both
    step = cells[("bad-request", 0)].steps[0]
    assert step.messages[0]["content"] == "[[fail:400]]"
    assert "HTTP 400" in step.error and step.attempts == 1


async def test_missing_api_key_is_a_stored_error_not_a_crash(
    tmp_path: Path, fake_server: FakeServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    suite = make_suite(tmp_path, fake_server.base_url, [case("a", "[[reply:yes]]", "yes")],
                       reruns=3)
    runner = new_runner(suite, store)
    assert await runner.run() == 3
    cells = list(store.cells(runner.run_id))
    assert [c.status for c in cells] == ["error"] * 3
    assert all(c.error == f"environment variable {KEY_ENV} is not set" for c in cells)
    assert all(c.attempts == 0 and not c.passed for c in cells)
    assert fake_server.stats()["total"] == 0


# --------------------------------------------------------------------------- 2-3. retries


async def test_retry_after_is_honoured(
    tmp_path: Path, fake_server: FakeServer, store: Store, transport: str
) -> None:
    msg = "[[fail:429x1]][[retry-after:0.5]][[reply:fine]]"
    suite = make_suite(tmp_path, fake_server.base_url, [case("a", msg, "fine")],
                       transport=transport)
    # Backoff alone would wait at most 10 ms: only the header can explain a 0.5 s gap.
    gateway = Gateway(timeout=5, max_attempts=3, concurrency=4, base_delay=0.01, max_delay=0.01)
    runner = new_runner(suite, store, gateway=gateway)

    assert await runner.run() == 1

    key = server_key(msg, cell_seed(0, "a", 0))
    log = [r for r in fake_server.requests() if r["key"] == key]
    assert [(r["attempt"], r["outcome"]) for r in log] == [(1, "429"), (2, "ok")]
    gap = log[1]["t"] - log[0]["t"]
    assert 0.5 <= gap < 1.5, gap
    cell = next(store.cells(runner.run_id))
    assert (cell.status, cell.output, cell.attempts, cell.passed) == ("ok", "fine", 2, True)


@pytest.mark.parametrize("status", ["400", "401"])
async def test_non_retryable_4xx_is_sent_once(
    tmp_path: Path, fake_server: FakeServer, store: Store, status: str, transport: str
) -> None:
    msg = f"[[fail:{status}]]"
    suite = make_suite(tmp_path, fake_server.base_url, [case("a", msg)], max_attempts=6,
                       transport=transport)
    runner = new_runner(suite, store)
    assert await runner.run() == 1
    assert fake_server.stats()["keys"] == {server_key(msg, cell_seed(0, "a", 0)): 1}
    cell = next(store.cells(runner.run_id))
    assert (cell.status, cell.attempts) == ("error", 1)
    assert f"HTTP {status}" in (cell.error or "")


# --------------------------------------------------------------------------- 4. AIMD


async def test_adaptive_concurrency_backs_off_and_recovers(
    tmp_path: Path, fake_server: FakeServer, store: Store, transport: str
) -> None:
    concurrency = 8
    # A burst where every request is rate limited: the limit halves once per second.
    fake_server.configure(latency=0.02, retry_after=0.05, faults={"429": 1.0})
    cases = [case(f"c{i}", f"q{i} [[reply:ok]]", "ok") for i in range(30)]
    suite = make_suite(tmp_path, fake_server.base_url, cases, reruns=4,
                       concurrency=concurrency, max_attempts=50, transport=transport)
    runner = new_runner(suite, store)
    limit = runner.gateway.limit_for(MODEL)
    seen: list[int] = []

    async def watch() -> None:
        while True:
            seen.append(limit.limit)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    task = asyncio.create_task(runner.run())
    deadline = time.monotonic() + 10
    while limit.limit > 2 and time.monotonic() < deadline:  # two cuts: 8 → 4 → 2
        await asyncio.sleep(0.005)
    lowest = limit.limit
    fake_server.configure(faults={})  # the burst is over
    ran = await task
    watcher.cancel()

    assert seen[0] == concurrency
    assert lowest == 2 == min(seen)
    assert limit.limit == concurrency  # additive increase brought it all the way back
    assert ran == 120 == store.count_cells(runner.run_id)
    assert {c.status for c in store.cells(runner.run_id)} == {"ok"}
    stats = fake_server.stats()
    assert stats["outcomes"]["429"] >= 20
    assert stats["max_in_flight"] <= concurrency


# --------------------------------------------------------------------------- 5. seeds, no cache


async def test_reruns_send_distinct_seeds_and_reach_the_server(
    tmp_path: Path, fake_server: FakeServer, store: Store, transport: str
) -> None:
    cases = [case("a", "alpha [[replies:A|B]]"), case("b", "beta [[reply:x]]")]
    suite = make_suite(tmp_path, fake_server.base_url, cases, reruns=5, seed=7,
                       transport=transport)
    runner = new_runner(suite, store)
    assert await runner.run() == 10

    log = fake_server.requests()
    assert len(log) == 10
    for cid, text in (("a", "alpha [[replies:A|B]]"), ("b", "beta [[reply:x]]")):
        seeds = [r["seed"] for r in log if r["key"].startswith(text + "#")]
        assert sorted(seeds) == sorted(cell_seed(7, cid, r) for r in range(5))
        assert len(set(seeds)) == 5
    cells = cells_by_key(store, runner.run_id)
    assert [cells[("a", r)].seed for r in range(5)] == [cell_seed(7, "a", r) for r in range(5)]
    # every rerun was a real request: the cycling replies came back in both flavours
    assert Counter(cells[("a", r)].output for r in range(5)) == {"A": 3, "B": 2}


async def test_identical_requests_are_never_served_from_a_cache(
    fake_server: FakeServer, transport: str
) -> None:
    gateway = Gateway(timeout=5, max_attempts=1, concurrency=1)
    messages = [{"role": "user", "content": "same [[replies:one|two|three]]"}]
    texts = [
        (await gateway.complete(MODEL, messages, {"seed": 1, "temperature": 0},
                                api_base=fake_server.base_url, api_key_env=KEY_ENV,
                                transport=transport)).text
        for _ in range(4)
    ]
    await gateway.aclose()
    assert texts == ["one", "two", "three", "one"]
    assert fake_server.stats()["total"] == 4


# --------------------------------------------------------------------------- 6. resume


async def test_resume_runs_exactly_the_missing_cells(
    tmp_path: Path, fake_server: FakeServer, store: Store, transport: str
) -> None:
    fake_server.configure(latency=0.02)
    cases = [case(f"c{i}", f"q{i} [[reply:ok]]", "ok") for i in range(3)]
    suite = make_suite(tmp_path, fake_server.base_url, cases, reruns=4, concurrency=3,
                       transport=transport)
    first = new_runner(suite, store)
    total = first.plan.total_cells
    stop = asyncio.Event()

    def on_cell(cell: CellRecord) -> None:
        if store.count_cells(first.run_id) >= 5:
            stop.set()

    ran = await first.run(on_cell=on_cell, stop=stop)
    stored = store.count_cells(first.run_id)
    assert 5 <= ran == stored <= 5 + 2  # in-flight cells finish and are kept
    assert fake_server.stats()["total"] == stored

    # A new process would rebuild everything from the store: do the same.
    fake_server.reset()
    info = store.run(first.run_id)
    plan = Plan.from_dict(info.plan)
    assert list(plan.cells()) == list(first.plan.cells())
    variants = load_plan_variants(plan, PromptLibrary(tmp_path / "prompts"), store)
    second = Runner(plan, variants, store, info.id)
    missing = set(second.pending())
    assert len(missing) == total - stored
    assert missing.isdisjoint(store.done_keys(info.id))

    assert await second.run() == total - stored
    assert fake_server.stats()["total"] == total - stored
    assert store.count_cells(info.id) == total
    assert store.done_keys(info.id) == set(plan.cells())

    fake_server.reset()
    third = Runner(plan, variants, store, info.id)
    assert await third.run() == 0
    assert fake_server.stats()["total"] == 0

    with pytest.raises(sqlite3.IntegrityError):
        store.add_cell(next(store.cells(info.id)))
    assert store.count_cells(info.id) == total


# --------------------------------------------------------------------------- 7. chains


async def test_chain_steps_are_stored_and_a_failing_step_keeps_the_first(
    tmp_path: Path, fake_server: FakeServer, store: Store, transport: str
) -> None:
    cases = [
        {"id": "good", "vars": {"q1": "[[reply:FACT-42]]", "q2": "[[reply:final]]"},
         "expected": "final"},
        {"id": "bad", "vars": {"q1": "[[reply:FACT-7]]", "q2": "[[fail:400]]"},
         "expected": "final"},
    ]
    suite = make_suite(tmp_path, fake_server.base_url, cases, prompts={"qa": CHAIN_PROMPT},
                       transport=transport)
    runner = new_runner(suite, store)
    assert await runner.run() == 2
    cells = cells_by_key(store, runner.run_id)

    good = cells[("good", 0)]
    assert (good.status, good.output, good.passed, good.attempts) == ("ok", "final", True, 2)
    assert [s.output for s in good.steps] == ["facts", "answer"]
    assert good.steps[0].messages == [{"role": "user", "content": "[[reply:FACT-42]]"}]
    assert good.steps[0].raw == "FACT-42"
    assert good.steps[1].messages == [
        {"role": "user", "content": "Facts: FACT-42 [[reply:final]]"}]
    assert good.steps[1].raw == "final"
    # step 2's request really carried step 1's output
    sent = [r["body"]["messages"][-1]["content"] for r in fake_server.requests()]
    assert "Facts: FACT-42 [[reply:final]]" in sent

    bad = cells[("bad", 0)]
    assert (bad.status, bad.output, bad.passed) == ("error", None, False)
    assert len(bad.steps) == 2
    assert bad.steps[0].raw == "FACT-7" and bad.steps[0].error is None
    assert bad.steps[1].messages[0]["content"] == "Facts: FACT-7 [[fail:400]]"
    assert "HTTP 400" in bad.steps[1].error and "HTTP 400" in (bad.error or "")
    assert bad.attempts == 2  # one for each step; the 400 is not retried


async def test_judge_defaults_to_the_cell_model_at_its_own_endpoint(
    tmp_path: Path, fake_server: FakeServer, store: Store
) -> None:
    # The rubric text lands in the judge's last user message, so it scripts the judge's reply.
    cases = [{"id": "a", "vars": {"q": "hello"},
              "assert": [{"type": "llm-rubric", "value": "[[reply:PASS looks right]]"}]}]
    suite = make_suite(tmp_path, fake_server.base_url, cases)
    runner = new_runner(suite, store)
    assert await runner.run() == 1

    cell = next(store.cells(runner.run_id))
    assert (cell.status, cell.output, cell.passed) == ("ok", "echo: hello", True)
    assert cell.assertions[0].reason == "judge: PASS (score 1.00): looks right"
    judge_call = fake_server.requests()[-1]
    assert judge_call["key"].startswith("Rubric:\n[[reply:PASS looks right]]")
    assert (judge_call["model"], judge_call["temperature"]) == ("fake", 0)


# --------------------------------------------------------------------------- 10. hand edits


async def test_hand_edited_prompt_version_is_refused(
    tmp_path: Path, fake_server: FakeServer, store: Store
) -> None:
    suite = make_suite(tmp_path, fake_server.base_url, [case("a", "[[reply:x]]", "x")])
    runner = new_runner(suite, store)
    assert await runner.run() == 1
    prompt_file = tmp_path / "prompts" / "echo" / "v1.yaml"
    prompt_file.write_text(prompt_file.read_text() + "description: tweaked in place\n")

    edited = load_suite(tmp_path / "suites" / "t.yaml")  # the file itself is still valid
    with pytest.raises(InputError) as new_run:
        record_run(edited, store, make_plan(edited))
    assert "echo@1 was edited after run" in str(new_run.value)
    assert "save your edit as a new version" in str(new_run.value)
    assert new_run.value.problems[0].file is not None
    assert new_run.value.problems[0].file.endswith("v1.yaml")
    assert len(store.runs()) == 1  # nothing was recorded

    plan = Plan.from_dict(store.run(runner.run_id).plan)
    with pytest.raises(InputError, match="changed since this run started"):
        load_plan_variants(plan, PromptLibrary(tmp_path / "prompts"), store)


async def test_cli_refuses_a_hand_edited_prompt_with_exit_2(
    tmp_path: Path, fake_server: FakeServer
) -> None:
    suite = make_suite(tmp_path, fake_server.base_url, [case("a", "[[reply:x]]", "x")])
    db = tmp_path / "wb.db"
    with Store(db) as first_store:
        assert await new_runner(suite, first_store).run() == 1
    prompt_file = tmp_path / "prompts" / "echo" / "v1.yaml"
    prompt_file.write_text(prompt_file.read_text() + "description: tweaked in place\n")

    second = cli(tmp_path, "run", "suites/t.yaml", "--db", str(db), "--quiet")
    assert second.returncode == 2
    assert "prompts/echo/v1.yaml" in second.stderr
    assert "save your edit as a new version" in second.stderr
    assert "Traceback" not in second.stderr
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)
        assert con.execute("SELECT COUNT(*) FROM cells").fetchone() == (1,)


def test_cli_refuses_an_unset_api_key_before_storing_anything(
    tmp_path: Path, fake_server: FakeServer
) -> None:
    write_project(tmp_path, fake_server.base_url, [case("a", "[[reply:x]]", "x")])
    db = tmp_path / "wb.db"
    env = {k: v for k, v in cli_env().items() if k != KEY_ENV}
    result = cli(tmp_path, "run", "suites/t.yaml", "--db", str(db), "--quiet", env=env)
    assert result.returncode == 2, result.stderr
    assert f"environment variable {KEY_ENV} is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert not db.exists()  # refused before the store is opened: not even an empty one
    assert fake_server.stats()["total"] == 0


# --------------------------------------------------------------------------- CLI: kill, Ctrl-C


def cli_env() -> dict[str, str]:
    return {**os.environ, KEY_ENV: "test-key", "PYTHONUNBUFFERED": "1"}


def cli(project: Path, *args: str, timeout: float = 60,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m workbench ARGS`` in the project folder and wait for it."""
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=project,
                          env=env or cli_env(), capture_output=True, text=True,
                          timeout=timeout)


def start_cli(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "workbench", *args], cwd=project,
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def db_query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read the store the way a second process would, without writing to it."""
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        con.close()


def stored(db: Path) -> int:
    rows = db_query(db, "SELECT COUNT(*) FROM cells")
    return rows[0][0] if rows else 0


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str],
             timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"workbench exited early ({proc.returncode}): "
                                 f"{proc.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("timed out waiting for the run to store cells")
        time.sleep(0.01)


@pytest.fixture
def slow_server() -> Iterator[FakeServerProcess]:
    """A fake server in its own process with 0.1 s latency: a run takes a few seconds."""
    with FakeServerProcess(latency=0.1) as srv:
        yield srv


def test_ctrl_c_exits_130_and_keeps_stored_cells(
    tmp_path: Path, slow_server: FakeServerProcess
) -> None:
    cases = [case(f"c{i}", f"q{i} [[reply:ok]]", "ok") for i in range(40)]
    write_project(tmp_path, slow_server.base_url, cases, reruns=5, concurrency=4)
    db = tmp_path / "wb.db"
    proc = start_cli(tmp_path, "run", "suites/t.yaml", "--db", str(db), "--quiet")
    wait_for(lambda: stored(db) >= 10, proc)
    at_signal = stored(db)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, err
    run_id = db_query(db, "SELECT id FROM runs")[0][0]
    kept = stored(db)
    assert at_signal <= kept < 200
    assert f"interrupted: {kept} of 200 cells are stored" in err
    assert f"workbench run suites/t.yaml --resume {run_id}" in err
    assert "Traceback" not in err
    assert db_query(db, "PRAGMA integrity_check") == [("ok",)]
    assert db_query(db, "SELECT status FROM runs") == [("interrupted",)]
    assert db_query(db, "SELECT DISTINCT status, passed FROM cells") == [("ok", 1)]


def test_plan_index_is_the_position_in_cell_order(tmp_path: Path) -> None:
    """``Runner.pending`` marks stored cells by this index instead of holding their keys."""
    prompts = {"a": ECHO_PROMPT, "b": ECHO_PROMPT}
    suite = make_suite(tmp_path, "http://127.0.0.1:9/v1", [case(f"c{i}", "q") for i in range(3)],
                       prompts=prompts, reruns=4)
    plan = Plan.from_dict(make_plan(suite).to_dict())  # as a resume rebuilds it
    cells = list(plan.cells())
    assert len(cells) == plan.total_cells == 24
    assert [plan.index(key) for key in cells] == list(range(24))
    assert plan.index(("a@1", MODEL, "c9", 0)) is None
    assert plan.index(("a@1", MODEL, "c0", 4)) is None
    assert plan.index(("z@1", MODEL, "c0", 0)) is None


async def test_unknown_models_cost_zero_and_known_models_keep_their_price(
    fake_server: FakeServer,
) -> None:
    """Unpriced models get an explicit zero price (cheaper calls); priced ones are untouched."""
    gateway = Gateway(timeout=5, max_attempts=1, concurrency=1)
    messages = [{"role": "user", "content": "hello there [[reply:one two three]]"}]
    costs = {}
    for model in ("openai/fake-unpriced", "openai/gpt-4o-mini", "openai/fake-unpriced"):
        reply = await gateway.complete(model, messages, {}, api_base=fake_server.base_url,
                                       api_key_env=KEY_ENV)
        assert (reply.text, reply.completion_tokens) == ("one two three", 3)
        costs.setdefault(model, []).append(reply.cost)
    assert costs["openai/fake-unpriced"] == [0.0, 0.0]
    # gpt-4o-mini from litellm's own map: 5 prompt + 3 completion tokens at its list price
    litellm = litellm_module()
    info = litellm.get_model_info("openai/gpt-4o-mini")
    expected = 5 * info["input_cost_per_token"] + 3 * info["output_cost_per_token"]
    assert costs["openai/gpt-4o-mini"] == [pytest.approx(expected)]
    assert "openai/fake-unpriced" in litellm.model_cost
