"""Crash safety: SIGKILL a headless run at random points, then resume it.

Why: the run engine promises (README.md, "How it works") that a crash loses nothing that was
stored and that ``--resume RUN`` runs exactly the missing cells. SIGKILL gives the process no
chance to clean up, so this is the hardest case: the kill lands at a random point of the cell
stream (and, for the second seed, hits the resume too). Afterwards the store must pass SQLite's
integrity check, every cell stored before the kill must be untouched, and the resume must send
exactly one request for each missing cell and none for the others."""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_runner import (
    case,
    cli,
    db_query,
    server_key,
    start_cli,
    stored,
    wait_for,
    write_project,
)
from workbench.engine.plan import cell_seed
from workbench.testing.fakeserver import FakeServerProcess

CASES, RERUNS, SEED, CONCURRENCY = 30, 4, 3, 6
TOTAL = CASES * RERUNS


@pytest.fixture
def server() -> Iterator[FakeServerProcess]:
    """Latency with jitter, so completions arrive in a shuffled, uneven stream."""
    with FakeServerProcess(latency=0.03, jitter=0.02, seed=11) as srv:
        yield srv


def rows(db: Path) -> dict[tuple, tuple]:
    """Every stored cell, keyed (variant, model, case, rerun), with its whole row."""
    return {r[1:5]: r for r in db_query(db, "SELECT * FROM cells ORDER BY rowid")}


def kill_at_random_point(project: Path, db: Path, args: list[str], rng: random.Random,
                         target: int, server: FakeServerProcess) -> None:
    """Start ``workbench run ARGS``, wait until ``target`` cells are stored, SIGKILL it."""
    before = stored(db)
    server.reset()
    proc = start_cli(project, "run", *args)
    wait_for(lambda: stored(db) >= target, proc, timeout=60)
    time.sleep(rng.uniform(0, 0.05))  # land between commits, not just after one
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert db_query(db, "PRAGMA integrity_check") == [("ok",)]
    # Every stored cell was one request; at most CONCURRENCY in-flight ones were lost.
    new = stored(db) - before
    assert new <= server.stats()["total"] <= new + CONCURRENCY
    # Nothing marked the run finished or interrupted: it died.
    assert db_query(db, "SELECT status FROM runs") == [("running",)]


@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_at_random_points_then_resume_runs_exactly_the_missing_cells(
    tmp_path: Path, server: FakeServerProcess, seed: int
) -> None:
    rng = random.Random(seed)
    cases = [case(f"c{i:02d}", f"q{i} [[reply:ok]]", "ok") for i in range(CASES)]
    write_project(tmp_path, server.base_url, cases, reruns=RERUNS, concurrency=CONCURRENCY,
                  seed=SEED)
    db = tmp_path / "wb.db"
    base = ["suites/t.yaml", "--db", str(db), "--quiet"]

    kill_at_random_point(tmp_path, db, base, rng, target=rng.randrange(1, TOTAL - 20),
                         server=server)
    [(run_id,)] = db_query(db, "SELECT id FROM runs")
    if seed == 2:  # crash the resume as well, at a later random point
        kill_at_random_point(tmp_path, db, [*base, "--resume", run_id], rng,
                             target=rng.randrange(stored(db), TOTAL - 10), server=server)

    before = rows(db)
    keys = {(v, m, c, rr) for v in ["echo@1"] for m in ["openai/fake"]
            for c in (x["id"] for x in cases) for rr in range(RERUNS)}
    assert set(before) < keys  # something is stored, something is missing
    missing = keys - set(before)
    server.reset()

    resumed = cli(tmp_path, "run", *base, "--resume", run_id)

    assert resumed.returncode == 0, resumed.stderr
    assert db_query(db, "PRAGMA integrity_check") == [("ok",)]
    after = rows(db)
    # The full set, each cell once (the primary key would refuse a duplicate; count anyway).
    assert set(after) == keys
    assert db_query(db, "SELECT COUNT(*) FROM cells") == [(TOTAL,)]
    # Cells stored before the crash are untouched: same output, seed, timestamps.
    assert all(after[k] == row for k, row in before.items())
    # The resume asked the server for exactly the missing cells, once each.
    text = {c["id"]: c["vars"]["q"] for c in cases}
    expected = Counter(server_key(text[c], cell_seed(SEED, c, rr)) for _, _, c, rr in missing)
    sent = Counter(entry["key"] for entry in server.requests())
    assert sent == expected
    assert {r[5] for r in after.values()} == {"ok"}  # status: no error cells
    assert db_query(db, "SELECT status FROM runs") == [("finished",)]
