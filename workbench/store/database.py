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
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.checks.assertions import AssertionResult
from workbench.errors import InputError, Problem, display_path
from workbench.redaction import known_secrets, redact, redact_data, redact_optional
from workbench.store.migrations import MIGRATIONS, SCHEMA_VERSION
from workbench.store.records import CellRecord, RunInfo, StepRecord

DEFAULT_DB = Path(".workbench") / "workbench.db"

# The columns of ``cells`` in the order rows are read; every statement names its columns.
_CELL_COLUMNS = (
    "run_id", "variant", "model", "case_id", "rerun", "status", "output", "answer", "parse_ok",
    "passed", "assertions", "steps", "latency_ms", "prompt_tokens", "completion_tokens", "cost",
    "error", "attempts", "seed", "prompt_hash", "started", "finished",
)
_INSERT_CELL = (f"INSERT INTO cells({', '.join(_CELL_COLUMNS)}) "
                f"VALUES ({', '.join(':' + c for c in _CELL_COLUMNS)})")
_RUN_COLUMNS = ("id, suite, suite_path, created, finished, status, total_cells, plan, kind, "
                "draft_hash, draft_parent, attached_version")


class Store:
    """A connection to the workbench database (one per process or thread).

    Opening it applies any pending migrations (:mod:`workbench.store.migrations`), so a
    store written by an earlier release is upgraded in place before anything reads it.
    """

    def __init__(self, path: Path | str = DEFAULT_DB):
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(Problem("is a folder, not a store file", display_path(self.path),
                                     hint="give --db a file name"))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(Problem(f"cannot create the store's folder: {exc.strerror}",
                                     display_path(self.path))) from None
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from None
        try:
            # Checked before any pragma: a foreign database must be left exactly as it was.
            version = self._schema_version()
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode is durable against process crashes (not power loss).
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            if version < SCHEMA_VERSION:
                self._migrate()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise self._unreadable(exc) from None
        except InputError:
            self.db.close()
            raise
        self.db.row_factory = sqlite3.Row

    def _unreadable(self, exc: Exception) -> InputError:
        return InputError(
            Problem(f"cannot open the store: {exc}", display_path(self.path),
                    hint="is it a workbench database? move it aside to start a new one")
        )

    def _schema_version(self) -> int:
        """The number of migrations this store has had: 0 for a new, empty file.

        Refuses a database that is not a workbench store, and one from a newer release.
        """
        tables = {name for (name,) in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return 0
        row = (self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
               if "meta" in tables else None)
        if row is None or not str(row[0]).isdigit():
            raise InputError(Problem(
                "not a workbench store: this SQLite database holds other tables ("
                + ", ".join(sorted(tables)[:5]) + ")", display_path(self.path),
                hint="give --db a new file name (or set WORKBENCH_DB); the workbench does not "
                "add its tables to another program's database"))
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise InputError(Problem(
                f"this store was written by a newer Prompt Workbench (schema {version}; this "
                f"release reads up to {SCHEMA_VERSION})", display_path(self.path),
                hint="upgrade prompt-workbench, or use another --db"))
        return version

    def _migrate(self) -> None:
        """Apply the missing migrations, one transaction each.

        ``BEGIN IMMEDIATE`` takes the write lock before the version is read again, so two
        processes opening the same old store apply each migration once.
        """
        for index, step in enumerate(MIGRATIONS):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                row = self.db.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if row is None or int(row[0]) <= index:
                    step(self.db)
                    self.db.execute(
                        "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (str(index + 1),))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0])

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ------------------------------------------------------------------------

    def create_run(self, run_id: str, suite: str, suite_path: str, plan: dict[str, Any],
                   total_cells: int, *, draft_hash: str | None = None,
                   draft_parent: str | None = None) -> None:
        """Record a new run with its plan, which the engine has masked of secrets already
        (:mod:`workbench.engine.masking`: a resume takes them back from the suite file);
        ``draft_hash`` (and ``draft_parent``) make it a playground run."""
        kind = "suite" if draft_hash is None else "playground"
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT INTO runs(id, suite, suite_path, created, status, total_cells, plan, "
                "kind, draft_hash, draft_parent) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                (run_id, suite, suite_path, time.time(), total_cells, json.dumps(plan), kind,
                 draft_hash, draft_parent),
            )

    def set_status(self, run_id: str, status: str) -> None:
        finished = None if status == "running" else time.time()
        self.db.execute("UPDATE runs SET status = ?, finished = ? WHERE id = ?",
                        (status, finished, run_id))

    def run(self, run_id: str) -> RunInfo:
        row = self.db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?",
                              (run_id,)).fetchone()
        if row is None:
            # Part of an id (as printed) names a run when exactly one id contains it.
            matches = self.db.execute(
                "SELECT id FROM runs WHERE instr(id, ?) > 0 ORDER BY created DESC LIMIT 2",
                (run_id,),
            ).fetchall()
            if len(matches) == 1:
                return self.run(matches[0][0])
            recent = [r[0] for r in self.db.execute(
                "SELECT id FROM runs ORDER BY created DESC LIMIT 3")]
            raise InputError(
                Problem(f"no run '{run_id}' in the store", display_path(self.path),
                        hint=("recent runs: " + ", ".join(recent)) if recent else "no runs yet")
            )
        return _run_info(row)

    def runs(self, suite: str | None = None) -> list[RunInfo]:
        query = f"SELECT {_RUN_COLUMNS} FROM runs"
        params: tuple = ()
        if suite is not None:
            query += " WHERE suite = ?"
            params = (suite,)
        rows = self.db.execute(query + " ORDER BY created", params).fetchall()
        return [_run_info(r) for r in rows]

    def latest_run(self) -> RunInfo | None:
        row = self.db.execute("SELECT id FROM runs ORDER BY created DESC LIMIT 1").fetchone()
        return self.run(row[0]) if row else None

    # -- playground runs ----------------------------------------------------------------

    def draft_runs(self, draft_hash: str | None = None, *,
                   parent: str | None = None) -> list[RunInfo]:
        """Playground runs, oldest first: those made with the draft of that content hash,
        or with any draft edited from ``parent`` (``name@N``)."""
        where, value = ("draft_hash = ?", draft_hash) if draft_hash is not None else (
            "kind = 'playground' AND draft_parent = ?", parent)
        rows = self.db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE {where} ORDER BY created",
            (value,)).fetchall()
        return [_run_info(r) for r in rows]

    def attach_run(self, run_id: str, plan: dict[str, Any], draft_ref: str, version_ref: str,
                   version: int) -> None:
        """Make a playground run a run of the version its draft was saved as, in one
        transaction: its plan (as the caller rewrote it) and its cells name the version."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE runs SET plan = ?, attached_version = ? WHERE id = ?",
                            (json.dumps(plan), version, run_id))
            self.db.execute("UPDATE cells SET variant = ? WHERE run_id = ? AND variant = ?",
                            (version_ref, run_id, draft_ref))

    def add_reuse_key(self, key: str, cell: CellRecord) -> None:
        """Remember where the finished cell for ``key`` is (the first one stored stays)."""
        self.db.execute(
            "INSERT OR IGNORE INTO reuse_keys(key, run_id, model, case_id, rerun, prompt_hash) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, cell.run_id, cell.model, cell.case_id, cell.rerun, cell.prompt_hash))

    def reusable_cells(self, keys: list[str]) -> dict[str, CellRecord]:
        """The finished cells (errors excluded) stored under any of ``keys``, by key."""
        found: dict[str, CellRecord] = {}
        columns = ", ".join(f"c.{c}" for c in _CELL_COLUMNS)
        for start in range(0, len(keys), 500):  # under SQLite's limit of bound parameters
            chunk = keys[start:start + 500]
            rows = self.db.execute(
                f"SELECT k.key, {columns} FROM reuse_keys k JOIN cells c "
                "ON c.run_id = k.run_id AND c.model = k.model AND c.case_id = k.case_id "
                "AND c.rerun = k.rerun AND c.prompt_hash = k.prompt_hash "
                f"WHERE k.key IN ({', '.join('?' * len(chunk))}) AND c.status = 'ok'", chunk)
            for row in rows:
                found.setdefault(row["key"], _cell_record(row))
        return found

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
            (name, version, hash_, redact(text), run_id),  # the hash is of the file itself
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
        self.db.execute(_INSERT_CELL, _cell_row(cell, known_secrets()))

    def add_cells(self, cells: list[CellRecord]) -> None:
        """Insert several cells in one transaction (a playground run's reused cells)."""
        keys = known_secrets()
        with self.db:
            self.db.execute("BEGIN")
            for cell in cells:
                self.db.execute(_INSERT_CELL, _cell_row(cell, keys))

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
            f"SELECT {', '.join(_CELL_COLUMNS)} FROM cells WHERE run_id = ? "
            "ORDER BY variant, model, case_id, rerun",
            (run_id,),
        )
        for row in rows:
            yield _cell_record(row)

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _cell_row(cell: CellRecord, keys: list[str]) -> dict[str, Any]:
    """A cell as the ``cells`` row it is stored in, every text redacted."""
    return {
        "run_id": cell.run_id, "variant": cell.variant, "model": cell.model,
        "case_id": cell.case_id, "rerun": cell.rerun, "status": cell.status,
        "output": redact_optional(cell.output, keys),
        "answer": redact(json.dumps(cell.answer), keys) if cell.parse_ok else None,
        "parse_ok": int(cell.parse_ok), "passed": int(cell.passed),
        "assertions": redact(json.dumps([a.to_dict() for a in cell.assertions]), keys),
        "steps": json.dumps(redact_data([s.to_dict() for s in cell.steps], keys)),
        "latency_ms": cell.latency_ms, "prompt_tokens": cell.prompt_tokens,
        "completion_tokens": cell.completion_tokens, "cost": cell.cost,
        "error": redact_optional(cell.error, keys), "attempts": cell.attempts,
        "seed": cell.seed, "prompt_hash": cell.prompt_hash, "started": cell.started,
        "finished": cell.finished,
    }


def _run_info(row: sqlite3.Row) -> RunInfo:
    return RunInfo(id=row["id"], suite=row["suite"], suite_path=row["suite_path"],
                   created=row["created"], finished=row["finished"], status=row["status"],
                   total_cells=row["total_cells"], plan=json.loads(row["plan"]),
                   kind=row["kind"], draft_hash=row["draft_hash"],
                   draft_parent=row["draft_parent"], attached_version=row["attached_version"])


def _cell_record(row: sqlite3.Row) -> CellRecord:
    return CellRecord(
        run_id=row["run_id"], variant=row["variant"], model=row["model"],
        case_id=row["case_id"], rerun=row["rerun"], status=row["status"], output=row["output"],
        answer=json.loads(row["answer"]) if row["answer"] is not None else None,
        parse_ok=bool(row["parse_ok"]), passed=bool(row["passed"]),
        assertions=[AssertionResult.from_dict(a) for a in json.loads(row["assertions"])],
        steps=[StepRecord.from_dict(s) for s in json.loads(row["steps"])],
        latency_ms=row["latency_ms"], prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"], cost=row["cost"], error=row["error"],
        attempts=row["attempts"], seed=row["seed"], prompt_hash=row["prompt_hash"],
        started=row["started"], finished=row["finished"],
    )


def default_db_path(project: Path) -> Path:
    env = os.environ.get("WORKBENCH_DB")
    return Path(env) if env else project / DEFAULT_DB


@contextmanager
def existing_store(path: Path | str) -> Iterator[Store | None]:
    """The store at ``path`` if there is one, else None: commands that only read (escalate,
    export-finetune, the TUI's reports) must never create an empty store as a side effect."""
    if not Path(path).exists():
        yield None
        return
    with Store(path) as store:
        yield store
