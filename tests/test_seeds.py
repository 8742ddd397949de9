"""Rerun seeds: each case × rerun has its own, every prompt version uses the same ones.

With one seed per rerun index shared by every case, a sampler draws the same random numbers
for rerun r of every case: on short answers the cases' reruns then agree or disagree
together, the cases stop being independent, and consistency swings with the base seed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.test_runner import (  # noqa: F401 - store is a fixture
    ECHO_PROMPT,
    KEY_ENV,
    case,
    make_suite,
    new_runner,
    store,
)
from workbench.engine.plan import SEED_SCHEME, Plan, cell_seed, make_plan
from workbench.store.database import Store
from workbench.testing.fakeserver import FakeServer


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key")


def test_no_two_cases_share_a_seed_and_each_seed_is_fixed() -> None:
    cases = [f"case-{i}" for i in range(500)]
    for rerun in range(5):
        seeds = [cell_seed(0, c, rerun) for c in cases]
        assert len(set(seeds)) == len(seeds)
    assert cell_seed(7, "a", 3) == cell_seed(7, "a", 3)
    assert len({cell_seed(0, "a", r) for r in range(50)}) == 50
    assert cell_seed(0, "a", 0) != cell_seed(1, "a", 0)
    assert all(0 <= cell_seed(b, c, r) < 2**31 for b in (0, -5, 10**12) for c in cases[:20]
               for r in range(3))


def test_plans_stored_before_the_scheme_keep_their_seeds() -> None:
    """A run planned with the old scheme resumes with the seeds it started with."""
    assert cell_seed(3, "any", 4, scheme=1) == 3004
    assert cell_seed(None, "any", 4, scheme=1) == 4


async def test_a_run_sends_each_case_its_own_seeds_the_same_for_every_version(
        tmp_path: Path, fake_server: FakeServer, store: Store) -> None:  # noqa: F811
    prompts = {"echo": ECHO_PROMPT,
               "other": {"kind": "zero-shot", "messages": [
                   {"role": "system", "content": "Answer briefly."},
                   {"role": "user", "content": "{{ q }}"}]}}
    cases = [case(c, f"[[reply:x]] {c}") for c in ("a", "b", "c")]
    suite = make_suite(tmp_path, fake_server.base_url, cases, prompts=prompts, reruns=3,
                       seed=11)
    runner = new_runner(suite, store)
    assert runner.plan.seed_scheme == SEED_SCHEME
    assert await runner.run() == 18
    cells = list(store.cells(runner.run_id))
    assert {c.status for c in cells} == {"ok"}
    for cell in cells:
        assert cell.seed == cell_seed(11, cell.case_id, cell.rerun)
    by_variant = Counter((c.case_id, c.rerun, c.seed) for c in cells)
    assert set(by_variant.values()) == {2}  # both versions: the same seed per case × rerun
    assert len({(c.case_id, c.rerun) for c in cells}) == len({c.seed for c in cells}) == 9
    sent = sorted(entry["seed"] for entry in fake_server.requests())
    assert sent == sorted(c.seed for c in cells)


def test_a_stored_plan_without_a_scheme_reads_as_the_old_one(tmp_path: Path,
                                                             fake_server: FakeServer) -> None:
    suite = make_suite(tmp_path, fake_server.base_url, [case("a", "[[reply:x]]")])
    stored = make_plan(suite).to_dict()
    del stored["seed_scheme"]
    assert Plan.from_dict(stored).seed_scheme == 1
