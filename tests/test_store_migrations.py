"""Stores written by earlier releases open, read the same and resume; foreign files are refused.

``tests/data/store_v1/`` was written by the first release (schema 1): ``workbench.sql`` is a
dump of its store after one finished run and one run stopped part-way (status still
``running``, as after a crash) of ``suites/mood.yaml`` against the fake server, made in a
project at ``/tmp/v1proj``; ``cells.json`` is what that release's ``Store.cells`` returned.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from workbench.analysis.results import load_results
from workbench.engine.session import close_run, execute, resume_run
from workbench.errors import InputError
from workbench.prompts.library import PromptLibrary
from workbench.store.database import Store
from workbench.store.migrations import SCHEMA_VERSION
from workbench.testing.fakeserver import FakeServer

DATA = Path(__file__).parent / "data" / "store_v1"
OLD_ROOT = "/tmp/v1proj"
FINISHED, PARTIAL = "20261203-092318-9cad", "20261203-092319-2da8"


def v1_project(root: Path, base_url: str = "http://127.0.0.1:9/v1") -> Path:
    """The first release's project and store, moved to ``root``; returns the store path."""
    for sub in ("prompts", "suites"):
        for src in (DATA / sub).rglob("*"):
            if src.is_file():
                dest = root / sub / src.relative_to(DATA / sub)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(src.read_text().replace("FAKE_URL", base_url))
    db = root / ".workbench" / "workbench.db"
    db.parent.mkdir(parents=True)
    dump = (DATA / "workbench.sql").read_text().replace(OLD_ROOT, str(root))
    dump = dump.replace("http://127.0.0.1:44437/v1", base_url)  # the server it ran against
    with sqlite3.connect(db) as raw:
        raw.executescript(dump)
    raw.close()
    return db


def test_a_v1_store_is_migrated_and_reads_the_same(tmp_path: Path) -> None:
    db = v1_project(tmp_path)
    expected = json.loads((DATA / "cells.json").read_text())
    with Store(db) as store:
        assert store.schema_version == SCHEMA_VERSION > 1
        assert [(r.id, r.status, r.total_cells) for r in store.runs("mood")] == [
            (r["id"], r["status"], r["total_cells"]) for r in expected["runs"]]
        cells = [c.to_dict() for run in (FINISHED, PARTIAL) for c in store.cells(run)]
        assert cells == expected["cells"]
        for name, version, text in expected["prompt_versions"]:
            assert store.stored_prompt_text(name, version) == text
        # the migration's index is there, and reading a suite's runs uses it
        plan = " ".join(str(row[-1]) for row in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM runs WHERE suite = 'mood' ORDER BY created"))
        assert "runs_by_suite" in plan
        results = load_results(store, FINISHED)
    by_variant = {g.variant: g for g in results.groups}
    # greet@1: 'sunny' passes 2 of 3, 'broken' errors 3 of 3, 'number' never passes
    assert by_variant["greet@1"].stats.mean_pass_rate == pytest.approx(2 / 9)
    assert by_variant["greet@1"].errors == 3
    assert by_variant["qa-chain@1"].step_stats.keys() == {"facts", "answer"}


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    db = v1_project(tmp_path)
    with Store(db) as store:
        first = store.db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    with Store(db) as store:
        assert store.db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == first
        assert store.schema_version == SCHEMA_VERSION


def test_a_run_interrupted_under_v1_resumes_under_this_release(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    monkeypatch.setenv("FAKE_KEY", "test-key")
    with FakeServer() as server:
        db = v1_project(tmp_path, server.base_url)
        with Store(db) as store:
            before = {c.key: c.to_dict() for c in store.cells(PARTIAL)}
            assert len(before) == 6
            prepared = resume_run(store, PARTIAL,
                                  library=PromptLibrary(tmp_path / "prompts"))
            asyncio.run(execute(store, prepared))
            assert close_run(store, prepared) == "finished"
            after = {c.key: c.to_dict() for c in store.cells(PARTIAL)}
    assert len(after) == 18
    assert all(after[key] == cell for key, cell in before.items())  # stored cells untouched
    # the resumed cells ran through this release's engine against the same script
    assert after[("greet@1", "openai/fake", "number", 2)]["answer"] == "sad"


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "notes.db"
    with sqlite3.connect(db) as raw:
        raw.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        raw.execute("INSERT INTO notes(body) VALUES ('keep me')")
    raw.close()
    before = db.read_bytes()
    with pytest.raises(InputError) as exc:
        Store(db)
    assert str(exc.value).startswith(
        f"{db}: not a workbench store: this SQLite database holds other tables (notes)")
    assert db.read_bytes() == before
    assert not Path(str(db) + "-wal").exists()


def test_a_store_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "wb.db"
    Store(db).close()
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                    (str(SCHEMA_VERSION + 1),))
    raw.close()
    with pytest.raises(InputError, match=r"written by a newer Prompt Workbench"):
        Store(db)


def test_a_v1_store_gains_the_playground_columns(tmp_path: Path) -> None:
    """Runs written before the playground read as suite runs; the reuse index starts empty."""
    db = v1_project(tmp_path)
    with Store(db) as store:
        runs = store.runs("mood")
        assert [(r.kind, r.draft_hash, r.attached_version, r.is_draft) for r in runs] == [
            ("suite", None, None, False)] * 2
        assert store.draft_runs(parent="greet@1") == []
        assert store.reusable_cells(["0" * 64]) == {}
