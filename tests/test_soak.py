"""Fault-injection soak: 1,000 cells against a server that fails one request in three.

Why: the run engine promises (README.md, "How it works") that every cell ends as a result or a
stored error — never dropped, never duplicated, never counted as a pass — whatever mix of rate
limits, server errors, timeouts, dropped connections and garbled bodies the provider returns.
Single-fault tests (test_runner.py) show each path works; this shows they hold together under
load, and reconciles the store exactly against the server's own log of every request it saw."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_runner import KEY_ENV, case, make_suite, new_runner, server_key
from workbench.models.gateway import Gateway
from workbench.store.database import Store
from workbench.testing.fakeserver import FakeServerProcess

FAULTS = {"429": 0.20, "500": 0.05, "timeout": 0.02, "drop": 0.01, "malformed": 0.01}
CASES, RERUNS = 200, 5  # 1,000 cells
MAX_ATTEMPTS = 4
TIMEOUT = 0.5  # the client gives up on a hung request after this many seconds

# What a cell's stored error says, by the fault its last attempt met, per transport (litellm's
# wording, or the direct transport's own).
ERROR_TEXT = {
    "litellm": {
        "429": ("RateLimitError (HTTP 429)", "Rate limit reached for fake"),
        "500": ("InternalServerError (HTTP 500)", "fakeserver scripted 500"),
        "timeout": ("Timeout (HTTP 408)", "Timeout"),
        "drop": ("InternalServerError (HTTP 500)", "Connection error"),
        "malformed": ("InternalServerError (HTTP 500)", "Unterminated string"),
    },
    "direct": {
        "429": ("RateLimitError (HTTP 429)", "Rate limit reached for fake"),
        "500": ("InternalServerError (HTTP 500)", "fakeserver scripted 500"),
        "timeout": ("APITimeoutError", f"within {TIMEOUT:g} s"),
        "drop": ("ServerDisconnectedError", "Server disconnected"),
        "malformed": ("MalformedResponseError", "not a chat completion (JSONDecodeError)"),
    },
}


@pytest.fixture
def faulty_server() -> Iterator[FakeServerProcess]:
    """The server in its own process (its own core), failing ~29% of requests at random."""
    with FakeServerProcess(faults=FAULTS, retry_after=0.05, hang=3.0, seed=7) as srv:
        yield srv


@pytest.mark.parametrize("transport", ["litellm", "direct"])
async def test_soak_every_cell_is_a_result_or_a_stored_error(
    tmp_path: Path, faulty_server: FakeServerProcess, monkeypatch: pytest.MonkeyPatch,
    transport: str
) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key")
    cases = [case(f"c{i:03d}", f"q{i} [[reply:ok]]", expected="ok") for i in range(CASES)]
    suite = make_suite(tmp_path, faulty_server.base_url, cases, reruns=RERUNS,
                       concurrency=32, timeout=TIMEOUT, max_attempts=MAX_ATTEMPTS,
                       transport=transport)
    with Store(tmp_path / "wb.db") as store:
        # Backoff is scaled down (the policy itself is tested in test_runner.py); Retry-After
        # (0.05 s from the server) is honoured as in production.
        gateway = Gateway(timeout=TIMEOUT, max_attempts=MAX_ATTEMPTS, concurrency=32,
                          base_delay=0.05, max_delay=0.5)
        runner = new_runner(suite, store, gateway=gateway)
        started, cpu = time.monotonic(), time.process_time()
        ran = await asyncio.wait_for(runner.run(), timeout=120)
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
        cells = list(store.cells(runner.run_id))
        assert store.integrity_ok()

    total = CASES * RERUNS
    log = faulty_server.requests()
    stats = faulty_server.stats()

    # None lost, none duplicated: exactly the plan's cells, each once.
    assert ran == total == len(cells)
    assert {c.key for c in cells} == set(runner.plan.cells())

    # The server saw exactly the attempts the cells report, and nothing else.
    assert stats["total"] == len(log) == sum(c.attempts for c in cells)
    by_key: dict[str, list[dict]] = defaultdict(list)
    for entry in log:
        by_key[entry["key"]].append(entry)
    assert len(by_key) == total  # every cell reached the server under its own key (seed)

    outcomes: Counter[str] = Counter()
    for cell in cells:
        msg = f"q{int(cell.case_id[1:])} [[reply:ok]]"
        seen = sorted(by_key[server_key(msg, cell.seed or 0)], key=lambda e: e["attempt"])
        assert [e["attempt"] for e in seen] == list(range(1, cell.attempts + 1)), cell.key
        assert cell.steps[0].attempts == cell.attempts
        kinds = [e["outcome"] for e in seen]
        if cell.status == "ok":
            # A result means the last attempt got a 200 and every earlier one a fault.
            assert kinds[-1] == "ok" and "ok" not in kinds[:-1], (cell.key, kinds)
            assert (cell.output, cell.passed, cell.error) == ("ok", True, None)
            outcomes["result"] += 1
        else:
            # A stored error means every attempt met a fault, and the error names the last.
            assert len(kinds) == MAX_ATTEMPTS and "ok" not in kinds, (cell.key, kinds)
            assert cell.output is None and not cell.passed
            for text in ERROR_TEXT[transport][kinds[-1]]:
                assert text in (cell.error or ""), (kinds[-1], cell.error)
            outcomes["error"] += 1
        outcomes.update(f"fault:{k}" for k in kinds if k != "ok")

    # Counts reconcile: one 200 per result, every fault the server injected is accounted for.
    assert outcomes["result"] + outcomes["error"] == total
    assert stats["outcomes"].get("ok", 0) == outcomes["result"]
    for kind in FAULTS:
        assert stats["outcomes"].get(kind, 0) == outcomes[f"fault:{kind}"], kind
    # The mix really was hostile: every fault kind occurred, and some cells ran out of tries.
    assert all(outcomes[f"fault:{kind}"] > 0 for kind in FAULTS), outcomes
    assert 0.2 < sum(outcomes[f"fault:{k}"] for k in FAULTS) / len(log) < 0.4
    assert outcomes["error"] > 0
    print(f"\nsoak ({transport}): {total} cells in {elapsed:.1f} s ({cpu:.1f} s CPU), "
          f"{len(log)} requests, "
          f"{dict(outcomes)}")
