"""The SQLite store: every finished cell is committed the moment it finishes.

WAL mode with one commit per cell means Ctrl-C, a crash or SIGKILL loses at most the
cells that were in flight; ``--resume`` then runs exactly the missing ones. The primary
key (run, variant, model, case, rerun) makes a duplicate cell impossible, not just unlikely.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.errors import InputError, Problem, display_path
from workbench.redaction import known_secrets, redact, redact_optional
from workbench.store.records import CellRecord, RunInfo

DEFAULT_DB = Path(".workbench") / "workbench.db"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id          TEXT PRIMARY KEY,
    suite       TEXT NOT NULL,
    suite_path  TEXT NOT NULL,
    created     REAL NOT NULL,
    finished    REAL,
    status      TEXT NOT NULL,      -- running | finished | interrupted
    total_cells INTEGER NOT NULL,
    plan        TEXT NOT NULL       -- JSON: everything needed to resume exactly this run
);
CREATE TABLE IF NOT EXISTS prompt_versions (
    name     TEXT NOT NULL,
    version  INTEGER NOT NULL,
    hash     TEXT NOT NULL,
    text     TEXT NOT NULL,
    first_run TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS cells (
    run_id            TEXT NOT NULL REFERENCES runs(id),
    variant           TEXT NOT NULL,
    model             TEXT NOT NULL,
    case_id           TEXT NOT NULL,
    rerun             INTEGER NOT NULL,
    status            TEXT NOT NULL,   -- ok | error
    output            TEXT,
    answer            TEXT,            -- JSON of the parsed answer, NULL on parse failure
    parse_ok          INTEGER NOT NULL,
    passed            INTEGER NOT NULL,
    assertions        TEXT NOT NULL,   -- JSON list of assertion results
    steps             TEXT NOT NULL,   -- JSON list: per step messages, params, output, usage
    latency_ms        REAL NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost              REAL NOT NULL,
    error             TEXT,
    attempts          INTEGER NOT NULL,
    seed              INTEGER,
    prompt_hash       TEXT NOT NULL,
    started           REAL NOT NULL,
    finished          REAL NOT NULL,
    PRIMARY KEY (run_id, variant, model, case_id, rerun)
);
"""


class Store:
    """A connection to the workbench database (one per process or thread)."""

    def __init__(self, path: Path | str = DEFAULT_DB):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode is durable against process crashes (not power loss).
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(_SCHEMA)
            self.db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        except sqlite3.DatabaseError as exc:
            raise InputError(
                Problem(f"cannot open the store: {exc}", display_path(self.path),
                        hint="is it a workbench database? move it aside to start a new one")
            ) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ------------------------------------------------------------------------

    def create_run(self, run_id: str, suite: str, suite_path: str, plan: dict[str, Any],
                   total_cells: int) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT INTO runs(id, suite, suite_path, created, status, total_cells, plan) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?)",
                (run_id, suite, suite_path, time.time(), total_cells, json.dumps(plan)),
            )

    def set_status(self, run_id: str, status: str) -> None:
        finished = None if status == "running" else time.time()
        self.db.execute("UPDATE runs SET status = ?, finished = ? WHERE id = ?",
                        (status, finished, run_id))

    def run(self, run_id: str) -> RunInfo:
        row = self.db.execute(
            "SELECT id, suite, suite_path, created, finished, status, total_cells, plan "
            "FROM runs WHERE id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            matches = self.db.execute(
                "SELECT id FROM runs WHERE id LIKE ? ORDER BY created DESC LIMIT 2",
                (f"%{run_id}%",),
            ).fetchall()
            if len(matches) == 1:
                return self.run(matches[0][0])
            recent = [r[0] for r in self.db.execute(
                "SELECT id FROM runs ORDER BY created DESC LIMIT 3")]
            raise InputError(
                Problem(f"no run '{run_id}' in the store", display_path(self.path),
                        hint=("recent runs: " + ", ".join(recent)) if recent else "no runs yet")
            )
        *head, plan = row
        return RunInfo(*head, plan=json.loads(plan))

    def runs(self, suite: str | None = None) -> list[RunInfo]:
        query = ("SELECT id, suite, suite_path, created, finished, status, total_cells, plan "
                 "FROM runs")
        params: tuple = ()
        if suite is not None:
            query += " WHERE suite = ?"
            params = (suite,)
        rows = self.db.execute(query + " ORDER BY created", params).fetchall()
        return [RunInfo(*r[:-1], plan=json.loads(r[-1])) for r in rows]

    def latest_run(self) -> RunInfo | None:
        row = self.db.execute("SELECT id FROM runs ORDER BY created DESC LIMIT 1").fetchone()
        return self.run(row[0]) if row else None

    # -- prompt versions ---------------------------------------------------------------

    def check_prompt_version(self, name: str, version: int, hash_: str, path: str) -> None:
        """Refuse a version whose file changed since a stored run used it."""
        row = self.db.execute(
            "SELECT hash, first_run FROM prompt_versions WHERE name = ? AND version = ?",
            (name, version),
        ).fetchone()
        if row and row[0] != hash_:
            raise InputError(
                Problem(
                    f"{name}@{version} was edited after run {row[1]} used it; "
                    "stored results would no longer match the file",
                    path,
                    hint=f"save your edit as a new version (workbench prompts save {name} FILE) "
                    f"and restore v{version}; its stored text: workbench prompts show "
                    f"{name}@{version} --stored",
                )
            )

    def record_prompt_version(self, name: str, version: int, hash_: str, text: str,
                              run_id: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO prompt_versions(name, version, hash, text, first_run) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, version, hash_, text, run_id),
        )

    def stored_prompt_text(self, name: str, version: int) -> str | None:
        row = self.db.execute(
            "SELECT text FROM prompt_versions WHERE name = ? AND version = ?", (name, version)
        ).fetchone()
        return row[0] if row else None

    # -- cells -------------------------------------------------------------------------

    def add_cell(self, cell: CellRecord) -> None:
        """Insert and commit one cell; a duplicate key raises (a cell never runs twice).

        Every text is redacted on the way in: an API key echoed back by a provider (in its
        reply, an error, a judge's reasoning, a python assertion's message) never lands on disk.
        """
        keys = known_secrets()
        self.db.execute(
            "INSERT INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?)",
            (
                cell.run_id, cell.variant, cell.model, cell.case_id, cell.rerun, cell.status,
                redact_optional(cell.output, keys),
                None if not cell.parse_ok else redact(json.dumps(cell.answer), keys),
                int(cell.parse_ok), int(cell.passed),
                redact(json.dumps(cell.assertions), keys), redact(json.dumps(cell.steps), keys),
                cell.latency_ms, cell.prompt_tokens, cell.completion_tokens, cell.cost,
                redact_optional(cell.error, keys), cell.attempts, cell.seed, cell.prompt_hash,
                cell.started, cell.finished,
            ),
        )

    def iter_done_keys(self, run_id: str) -> Iterator[tuple[str, str, str, int]]:
        """The keys of the stored cells, streamed (a resume of a big run holds no set)."""
        # A cursor of its own: the caller may write cells while this one is being read.
        rows = self.db.cursor().execute(
            "SELECT variant, model, case_id, rerun FROM cells WHERE run_id = ?", (run_id,)
        )
        for v, m, c, r in rows:
            yield (v, m, c, int(r))

    def done_keys(self, run_id: str) -> set[tuple[str, str, str, int]]:
        return set(self.iter_done_keys(run_id))

    def count_cells(self, run_id: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM cells WHERE run_id = ?",
                               (run_id,)).fetchone()[0]

    def cell_counts(self) -> dict[str, int]:
        """Stored cells per run, in one query (for run pickers)."""
        return dict(self.db.execute("SELECT run_id, COUNT(*) FROM cells GROUP BY run_id"))

    def cells(self, run_id: str) -> Iterator[CellRecord]:
        rows = self.db.execute(
            "SELECT * FROM cells WHERE run_id = ? ORDER BY variant, model, case_id, rerun",
            (run_id,),
        )
        for row in rows:
            (run, variant, model, case_id, rerun, status, output, answer, parse_ok, passed,
             assertions, steps, latency, ptok, ctok, cost, error, attempts, seed, phash,
             started, finished) = row
            yield CellRecord(
                run, variant, model, case_id, rerun, status, output,
                json.loads(answer) if answer is not None else None,
                bool(parse_ok), bool(passed), json.loads(assertions), json.loads(steps),
                latency, ptok, ctok, cost, error, attempts, seed, phash, started, finished,
            )

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def default_db_path(project: Path) -> Path:
    env = os.environ.get("WORKBENCH_DB")
    return Path(env) if env else project / DEFAULT_DB
