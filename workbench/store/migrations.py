"""Schema migrations: one function per change, applied in order when a store is opened.

A store records the number of migrations applied in ``meta.schema_version``. Opening a store
applies the missing ones, each in its own transaction, so a store written by any earlier
release opens with this one, and two processes opening the same old store at once migrate it
once. A store written by a newer release (a higher version than this code knows) is refused
rather than half-understood, and so is a SQLite file that is not a workbench store: adding our
tables to someone else's database would be a side effect they never asked for.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register ``fn`` as the next migration (their order in this file is their order)."""
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    """The first release's schema: runs, the prompt texts they used, and their cells."""
    db.execute("""
        CREATE TABLE runs (
            id          TEXT PRIMARY KEY,
            suite       TEXT NOT NULL,
            suite_path  TEXT NOT NULL,
            created     REAL NOT NULL,
            finished    REAL,
            status      TEXT NOT NULL,      -- running | finished | interrupted
            total_cells INTEGER NOT NULL,
            plan        TEXT NOT NULL       -- JSON: everything needed to resume exactly this run
        )""")
    db.execute("""
        CREATE TABLE prompt_versions (
            name      TEXT NOT NULL,
            version   INTEGER NOT NULL,
            hash      TEXT NOT NULL,
            text      TEXT NOT NULL,
            first_run TEXT NOT NULL,
            PRIMARY KEY (name, version)
        )""")
    db.execute("""
        CREATE TABLE cells (
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
            steps             TEXT NOT NULL,   -- JSON list: per step messages, params, output
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
        )""")


@migration
def m002_runs_by_suite(db: sqlite3.Connection) -> None:
    """Escalation and the run pickers read a suite's runs in order: index them."""
    db.execute("CREATE INDEX IF NOT EXISTS runs_by_suite ON runs(suite, created)")


@migration
def m003_playground_runs(db: sqlite3.Connection) -> None:
    """Playground runs: a draft's runs, and the index that lets a rerun reuse finished cells.

    A playground run measures a draft, a prompt text without a version number yet: ``kind``
    tells it from a suite run, ``draft_hash`` is the draft's content hash and
    ``draft_parent`` the ``name@N`` it was edited from; ``attached_version`` is set when the
    draft is saved as that version with the same text (the run then reads as a run of it).
    ``reuse_keys`` maps what determines a finished cell (prompt text, model, case, settings,
    rerun) to that cell, so running the same draft on the same cases again only fills what
    is missing.
    """
    db.execute("ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'suite'")
    db.execute("ALTER TABLE runs ADD COLUMN draft_hash TEXT")
    db.execute("ALTER TABLE runs ADD COLUMN draft_parent TEXT")
    db.execute("ALTER TABLE runs ADD COLUMN attached_version INTEGER")
    db.execute("CREATE INDEX IF NOT EXISTS runs_by_draft ON runs(draft_hash)")
    db.execute("""
        CREATE TABLE reuse_keys (
            key         TEXT PRIMARY KEY,   -- sha256 of what determines the cell (see playground)
            run_id      TEXT NOT NULL REFERENCES runs(id),
            model       TEXT NOT NULL,
            case_id     TEXT NOT NULL,
            rerun       INTEGER NOT NULL,
            prompt_hash TEXT NOT NULL       -- with the above, finds the cell whatever its variant
        )""")


SCHEMA_VERSION = len(MIGRATIONS)
