"""Fixed projects for the TUI tests and benchmarks: a small project, and stores holding runs
written directly.

Why direct writes: snapshot tests need the same screen every time (fixed run ids, fixed
answers, no clocks), and the 500-case test and ``bench/tui_results.py`` need a big run
without making 10,000 calls. The store is the real SQLite store and the plan is frozen from
the real suite, so the app reads them exactly as it reads a run made by ``workbench run``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

from workbench.checks.assertions import AssertionResult
from workbench.engine.plan import make_plan
from workbench.store.database import Store
from workbench.store.records import CellRecord
from workbench.suites.loader import load_suite

KEY_ENV = "WORKBENCH_TUI_TEST_KEY"
MODEL = "openai/fake"
RUN_ID = "20240501-120000-demo"
BIG_RUN_ID = "20240502-090000-big"
CHOICES = ["billing", "shipping", "technical", "account"]

TICKET_V1 = {
    "kind": "zero-shot",
    "description": "Route a support ticket to one team.",
    "params": {"temperature": 0.7, "max_tokens": 8},
    "messages": [
        {"role": "system", "content": "You are a support-ticket router. Answer with one word."},
        {"role": "user", "content": "Ticket: {{ ticket }}\nTeam:"},
    ],
    "parse": {"type": "label", "choices": CHOICES},
}
TICKET_V2 = {
    **TICKET_V1,
    "description": "Defines each team so the model has something to match against.",
    "messages": [
        {"role": "system", "content": "You are a support-ticket router. Answer with one word."},
        {"role": "user", "content": "Teams: billing (charges), shipping (parcels), technical "
                                    "(bugs), account (login).\nTicket: {{ ticket }}\nTeam:"},
    ],
}
FEWSHOT_V1 = {
    "kind": "few-shot",
    "description": "Two worked examples before the ticket.",
    "params": {"temperature": 0.7, "max_tokens": 8},
    "messages": [{"role": "user", "content": "Ticket: {{ ticket }}\nTeam:"}],
    "examples": [{"vars": {"ticket": "I was charged twice"}, "output": "billing"},
                 {"vars": {"ticket": "My parcel is late"}, "output": "shipping"}],
    "parse": {"type": "label", "choices": CHOICES},
}

TICKETS = [
    ("double-charge", "You charged my card twice this month.", "billing"),
    ("late-parcel", "My parcel is three days late.", "shipping"),
    ("app-crash", "The app crashes when I open settings.", "technical"),
    ("reset-password", "I cannot reset my password.", "account"),
    ("refund-wait", "Where is the refund for my returned order?", "billing"),
    ("wrong-address", "I need to change the delivery address.", "shipping"),
]

# Per (variant index, case index): the answers of the five reruns. Fixed so that some cases
# are stable and right, some stable and wrong, and some flaky; one rerun is an error.
ANSWERS: dict[tuple[int, int], list[str | None]] = {
    (0, 0): ["billing"] * 5,
    (0, 1): ["shipping", "shipping", "account", "shipping", "shipping"],
    (0, 2): ["technical", "account", "technical", "account", "technical"],
    (0, 3): ["account"] * 5,
    (0, 4): ["shipping", "billing", "shipping", "shipping", "billing"],
    (0, 5): ["shipping", "shipping", "shipping", None, "shipping"],
    (1, 0): ["billing"] * 5,
    (1, 1): ["shipping"] * 5,
    (1, 2): ["technical", "technical", "technical", "technical", "account"],
    (1, 3): ["account"] * 5,
    (1, 4): ["billing", "billing", "billing", "billing", "shipping"],
    (1, 5): ["shipping"] * 5,
}


def write_prompt(root: Path, name: str, versions: list[dict[str, Any]],
                 labels: dict[str, int] | None = None) -> None:
    folder = root / "prompts" / name
    folder.mkdir(parents=True, exist_ok=True)
    for number, spec in enumerate(versions, start=1):
        (folder / f"v{number}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False),
                                                encoding="utf-8")
    if labels:
        (folder / "labels.yaml").write_text(yaml.safe_dump(labels), encoding="utf-8")


def make_project(root: Path, *, api_base: str = "http://127.0.0.1:9/v1",
                 reruns: int = 5, cases: list[tuple[str, str, str]] | None = None,
                 suite_extra: dict[str, Any] | None = None) -> Path:
    """``root/demo`` with prompts ``ticket`` (v1, v2; production → v1), ``ticket-fewshot``
    and the suite ``suites/tickets.yaml`` comparing ticket@production with ticket@2."""
    project = root / "demo"
    write_prompt(project, "ticket", [TICKET_V1, TICKET_V2], {"production": 1})
    write_prompt(project, "ticket-fewshot", [FEWSHOT_V1], {"production": 1})
    suite = {
        "name": "tickets",
        "description": "Route support tickets; two versions of the zero-shot prompt compared.",
        "prompts": ["ticket@production", "ticket@2"],
        "models": [{"name": MODEL, "api_base": api_base, "api_key_env": KEY_ENV}],
        "reruns": reruns,
        "concurrency": 2,
        "cases": [{"id": cid, "vars": {"ticket": text}, "expected": expected}
                  for cid, text, expected in (cases or TICKETS)],
        "thresholds": {"pass_rate": 0.8, "consistency": 0.8},
        **(suite_extra or {}),
    }
    path = project / "suites" / "tickets.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return project


def _cell(run_id: str, variant: str, case_id: str, rerun: int, answer: str | None,
          expected: str, prompt_hash: str, n: int) -> CellRecord:
    error = answer is None
    output = None if error else f"{answer.capitalize()}."
    passed = not error and answer == expected
    assertions = [] if error else [{
        "type": "equals", "negated": False, "passed": passed, "score": float(passed),
        "weight": 1.0, "reason": "matches" if passed else f"expected '{expected}', "
                                                         f"got '{answer}'"}]
    start = 1714564800.0 + n
    return CellRecord(
        run_id=run_id, variant=variant, model=MODEL, case_id=case_id, rerun=rerun,
        status="error" if error else "ok", output=output,
        answer=None if error else answer, parse_ok=not error, passed=passed,
        assertions=[AssertionResult.from_dict(a) for a in assertions], steps=[],
        latency_ms=120.0, prompt_tokens=40,
        completion_tokens=2, cost=0.0, error="HTTP 500: server error (out of attempts)"
        if error else None, attempts=1, seed=rerun, prompt_hash=prompt_hash,
        started=start, finished=start + 0.12,
    )


def _record_run(store: Store, suite_path: Path, run_id: str, answers, *,
                created: float, status: str, prompts: list[str] | None = None,
                reruns: int | None = None, keep=None) -> None:
    suite = load_suite(suite_path, prompts=prompts)
    plan = make_plan(suite, reruns=reruns)
    store.create_run(run_id, plan.suite, plan.suite_path, plan.to_dict(), plan.total_cells)
    for variant in suite.variants:
        store.record_prompt_version(variant.name, variant.version, variant.hash,
                                    variant.text, run_id)
    hashes = {v.ref: v.hash for v in suite.variants}
    store.db.execute("BEGIN")
    n = 0
    for g, (variant, _model) in enumerate(plan.groups):
        for c, case in enumerate(plan.cases):
            for rerun in range(plan.reruns):
                if keep is not None and not keep(g, c, rerun):
                    continue
                store.add_cell(_cell(run_id, variant, case.id, rerun, answers(g, c, rerun),
                                     case.expected, hashes[variant], n))
                n += 1
    store.db.execute("COMMIT")
    store.db.execute("UPDATE runs SET created = ?, finished = ?, status = ? WHERE id = ?",
                     (created, created + 60, status, run_id))


def fill_store(project: Path, db: Path | None = None) -> Path:
    """The demo run (finished) and a half-done run of ticket@2 alone (interrupted)."""
    db = db or project / ".workbench" / "workbench.db"
    suite_path = project / "suites" / "tickets.yaml"
    with Store(db) as store:
        _record_run(store, suite_path, RUN_ID, lambda g, c, r: ANSWERS[(g, c)][r],
                    created=1714564800.0, status="finished")
        _record_run(store, suite_path, "20240501-130000-part",
                    lambda g, c, r: ANSWERS[(1, c)][r], created=1714568400.0,
                    status="interrupted", prompts=["ticket@2"],
                    keep=lambda g, c, r: r < 2)
    return db


def big_project(root: Path, cases: int = 500, variants: int = 4, reruns: int = 5,
                seed: int = 7) -> tuple[Path, Path]:
    """A project whose store holds one finished run of cases × variants × reruns."""
    rows = [(f"case-{i:04d}", f"ticket number {i}", CHOICES[i % 4]) for i in range(cases)]
    project = make_project(root, cases=rows, reruns=reruns)
    refs = ["ticket@1", "ticket@2", "ticket-fewshot@1"]
    write_prompt(project, "ticket-v3", [TICKET_V2])
    refs = (refs + ["ticket-v3@1"])[:variants]
    rng = random.Random(seed)
    # Each case × variant is stable-right, stable-wrong or flaky, fixed by the seed.
    kinds = {(g, c): rng.choice(["right", "right", "right", "wrong", "flaky"])
             for g in range(variants) for c in range(cases)}
    draws = {(g, c, r): rng.random() for g in range(variants) for c in range(cases)
             for r in range(reruns)}

    def answers(g: int, c: int, r: int) -> str:
        right = CHOICES[c % 4]
        kind = kinds[(g, c)]
        if kind == "right":
            return right
        if kind == "wrong":
            return CHOICES[(c + 1) % 4]
        return right if draws[(g, c, r)] < 0.6 else CHOICES[(c + 2) % 4]

    db = project / ".workbench" / "workbench.db"
    with Store(db) as store:
        _record_run(store, project / "suites" / "tickets.yaml", BIG_RUN_ID, answers,
                    created=1714640400.0, status="finished", prompts=refs)
    return project, db
