"""Every row of the hostile-input corpus (``tests/hostile_inputs.py``) through the CLI.

Rows marked ``process`` run as a real ``python -P -m workbench`` subprocess, a few at a time:
what a user runs, and the only place where a hang in C code (a regex, a YAML bomb, a FIFO)
can be stopped: the subprocess is killed at the row's time bound and the row fails. The
others call ``main()`` in this process under a timer (a quarter of a second instead of a
few seconds of interpreter start each), while the subprocesses run; both ways a traceback
or an "internal error" fails the row.

For bad input (exit 2) every file in the project is compared byte for byte before and after,
and the store by its SQL dump: nothing may be written, created or changed.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.bad_inputs import ECHO_V1, SUITE
from tests.cli_inprocess import call_main
from tests.hostile_inputs import (
    ALL_ROWS,
    RUN_ID,
    Dir,
    Fifo,
    ForeignDb,
    Link,
    Row,
    Sparse,
)
from workbench.checks.assertions import AssertionResult
from workbench.engine.plan import make_plan
from workbench.store.database import Store
from workbench.store.records import CellRecord
from workbench.suites.loader import load_suite
from workbench.testing.fakeserver import FakeServer

REPO = Path(__file__).resolve().parents[1]
WORKERS = 3
STORE = Path(".workbench") / "workbench.db"


@dataclass
class Outcome:
    """What one row did."""

    code: int | None
    out: str
    err: str
    seconds: float
    changed: list[str] = field(default_factory=list)


def write_file(path: Path, content: object, base_url: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, Dir):
        path.mkdir()
    elif isinstance(content, Fifo):
        os.mkfifo(path)
    elif isinstance(content, Link):
        path.symlink_to(content.target)
    elif isinstance(content, Sparse):
        with open(path, "wb") as handle:
            handle.truncate(content.size)
    elif isinstance(content, ForeignDb):
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE contacts (name TEXT)")
            con.execute("INSERT INTO contacts VALUES ('Ada')")
        con.close()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(str(content).replace("@BASE@", base_url), encoding="utf-8")


def seed_store(root: Path) -> None:
    """A store holding one finished run of suites/s.yaml (the base project's suite)."""
    suite = load_suite(root / "suites" / "s.yaml")
    plan = make_plan(suite)
    with Store(root / STORE) as store:
        store.create_run(RUN_ID, "s", "suites/s.yaml", plan.to_dict(), plan.total_cells)
        variant = suite.variants[0]
        store.record_prompt_version(variant.name, variant.version, variant.hash,
                                    variant.text, RUN_ID)
        store.add_cell(CellRecord(
            run_id=RUN_ID, variant=variant.ref, model=plan.groups[0][1], case_id="a",
            rerun=0, status="ok", output="billing", answer="billing", parse_ok=True,
            passed=True, assertions=[AssertionResult("equals", False, True, 1.0, 1.0,
                                                     "answer equals 'billing'")],
            steps=[], latency_ms=1.0, prompt_tokens=1, completion_tokens=1, cost=0.0,
            error=None, attempts=1, seed=0, prompt_hash=variant.hash, started=1.0,
            finished=2.0))
        store.set_status(RUN_ID, "finished")
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def make_project(root: Path, row: Row, base_url: str) -> None:
    (root / "prompts" / "echo").mkdir(parents=True)
    (root / "suites").mkdir()
    (root / "prompts" / "echo" / "v1.yaml").write_text(ECHO_V1)
    (root / "suites" / "s.yaml").write_text(SUITE)
    if row.seeded:
        seed_store(root)
    for name, content in row.files.items():
        target = root / name
        if target.is_file() and not target.is_symlink():
            target.unlink()
        write_file(target, content, base_url)


def snapshot(root: Path) -> dict[str, object]:
    """Every file by content (a FIFO, link or device by kind), and the store by its dump."""
    seen: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        info = path.lstat()
        if name.startswith(str(STORE)):
            continue  # the store is compared by its content below (WAL files come and go)
        if stat.S_ISLNK(info.st_mode):
            seen[name] = ("link", os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            seen[name] = "folder"
        elif not stat.S_ISREG(info.st_mode):
            seen[name] = ("special", stat.S_IFMT(info.st_mode))
        elif info.st_size > 1024 * 1024:
            seen[name] = ("large", info.st_size, info.st_mtime_ns)
        else:
            seen[name] = path.read_bytes()
    db = root / STORE
    if db.exists():
        con = sqlite3.connect(db)
        try:
            seen[str(STORE)] = list(con.iterdump())
        finally:
            con.close()
    return seen


def prepare(row: Row, base_url: str, scratch: Path) -> Path:
    root = Path(tempfile.mkdtemp(prefix=row.id + "-", dir=scratch))
    make_project(root, row, base_url)
    return root


def run_row(row: Row, root: Path) -> Outcome:
    """Run one row in its prepared project; compare every file before and after."""
    before = snapshot(root)
    started = time.monotonic()
    if row.process:
        code, out, err = run_process(row, root)
    else:
        code, out, err = call_main(row.argv, root, stdin=row.stdin or b"",
                                   seconds=row.seconds)
    seconds = time.monotonic() - started
    after = snapshot(root)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return Outcome(code, out, err, seconds, changed)


def run_process(row: Row, root: Path) -> tuple[int | None, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_DB", "WORKBENCH_DEBUG")}
    env.update(PYTHONPATH=str(REPO), NO_COLOR="1", COLUMNS="100", PYTHONUNBUFFERED="1")
    try:
        proc = subprocess.run(
            [sys.executable, "-P", "-m", "workbench", *row.argv], cwd=root, env=env,
            input=row.stdin if row.stdin is not None else b"", capture_output=True,
            timeout=row.seconds)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, out, err = None, exc.stdout or b"", exc.stderr or b""
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Run every row against one fake server: subprocesses a few at a time in the
    background, in-process rows meanwhile in this thread (timers need it); keyed by row id."""
    scratch = tmp_path_factory.mktemp("hostile")
    done: dict[str, Outcome] = {}
    with FakeServer() as server, ThreadPoolExecutor(WORKERS) as pool:
        futures = {row.id: pool.submit(lambda r: run_row(r, prepare(r, server.base_url,
                                                                     scratch)), row)
                   for row in ALL_ROWS if row.process}
        for row in ALL_ROWS:
            if not row.process:
                done[row.id] = run_row(row, prepare(row, server.base_url, scratch))
        done.update({rid: future.result() for rid, future in futures.items()})
    yield done


def test_the_corpus_is_large_and_every_row_is_distinct() -> None:
    assert len(ALL_ROWS) >= 100
    assert len({row.id for row in ALL_ROWS}) == len(ALL_ROWS)
    assert sum(row.code == 2 for row in ALL_ROWS) >= 100


@pytest.mark.parametrize("row", ALL_ROWS, ids=[row.id for row in ALL_ROWS])
def test_hostile_input(row: Row, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[row.id]
    assert outcome.code is not None, f"no answer within {row.seconds:g} s: {outcome.err}"
    assert "Traceback" not in outcome.err + outcome.out
    assert "internal error" not in outcome.err
    if row.or_err is not None and outcome.err == row.or_err:
        assert outcome.code == row.code
    else:
        assert (outcome.code, outcome.err) == (row.code, row.err), outcome.out
    if row.out is not None:
        assert row.out in outcome.out
    if row.unchanged:
        assert outcome.changed == [], "a refused command changed files or the store"
    assert outcome.seconds <= row.seconds
