"""The playground's library: drafts, picks, draft runs with reuse, attaching on save.

Runs go through the real engine and SQLite store against the fake OpenAI-compatible server.
The project is the TUI tests' demo; its cases script the server: "charge" always answers
billing, "parcel" alternates shipping and account (flaky), so ticket@2 is flaky on parcel.
The drafts below pin parcel to shipping with a directive of their own.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from workbench.analysis.results import load_results
from workbench.engine.session import resume_run
from workbench.errors import InputError
from workbench.escalation.history import load_history
from workbench.playground import session
from workbench.playground.board import Board
from workbench.playground.draft import Draft, DraftBook, file_text
from workbench.playground.picks import Picks, default_picks, resolve, suites_using
from workbench.prompts.library import PromptLibrary
from workbench.store.database import Store
from workbench.testing.fakeserver import FakeServer
from workbench.testing.projects import KEY_ENV, make_project

CASES = [("charge", "[[reply:billing]] charged twice", "billing"),
         ("parcel", "[[replies:shipping|account]] parcel late", "shipping"),
         ("crash", "[[reply:technical]] app crashes", "technical")]
FIX = '{% if "parcel" in ticket %} [[reply:shipping]]{% endif %}'


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key")


@pytest.fixture
def project(tmp_path: Path, fake_server: FakeServer) -> Path:
    return make_project(tmp_path, api_base=fake_server.base_url, reruns=4, cases=CASES,
                        suite_extra={"concurrency": 1})


def edited(project: Path, extra: str = FIX) -> Draft:
    """ticket@2 with ``extra`` appended to its user message."""
    text = (project / "prompts/ticket/v2.yaml").read_text()
    return Draft("ticket", 2, text.replace("Team:", "Team:" + extra, 1))


def run_draft(project: Path, draft: Draft, picks: Picks, *, stop_after: int | None = None
              ) -> tuple[session.DraftRun, list, str]:
    """Prepare, run (optionally stopping after ``stop_after`` new cells) and close."""
    library = PromptLibrary(project / "prompts")
    parent = library.load(draft.name, draft.parent)
    workload = resolve(project, library, parent, picks)
    book = DraftBook(project)
    with Store(project / ".workbench/workbench.db") as store:
        prepared = session.prepare(store, project, draft, book.path(draft.name, draft.parent),
                                   parent, workload)
        seen: list = []

        async def main() -> None:
            stop = asyncio.Event()

            def on_cell(cell) -> None:
                seen.append(cell)
                if stop_after is not None and len(seen) >= stop_after:
                    stop.set()

            await session.run(store, prepared, on_cell=on_cell, stop=stop)

        asyncio.run(main())
        status = session.close(store, prepared)
    return prepared, seen, status


def picks(**kw) -> Picks:
    return Picks(**{"suite": "suites/tickets.yaml", "cases": ["charge", "parcel"],
                    "models": [], "reruns": 4, **kw})


# --------------------------------------------------------------------------- drafts


def test_a_draft_is_known_by_the_hash_its_saved_version_will_have(project: Path) -> None:
    draft = edited(project)
    assert not draft.text.endswith("\n") or draft.text == file_text(draft.text)
    version = PromptLibrary(project / "prompts").save("ticket", draft.text.rstrip("\n"))
    assert version.hash == Draft("ticket", 2, draft.text.rstrip("\n")).hash == draft.hash
    assert draft.ref == f"ticket@draft:{draft.hash[:12]}"


def test_drafts_and_picks_survive_in_the_project(project: Path) -> None:
    book = DraftBook(project)
    assert book.load("ticket", 2) is None
    draft = edited(project)
    path = book.save(draft)
    assert path == project / ".workbench/drafts/ticket@2.yaml"
    assert path.read_text() == draft.text  # as typed: it opens in any editor
    assert DraftBook(project).load("ticket", 2) == draft
    assert DraftBook(project).load("ticket", 1) is None
    chosen = picks(typed=[{"ticket": "where is my refund?"}], reruns=7)
    book.save_picks("ticket", chosen.to_dict())
    assert Picks.from_dict(DraftBook(project).load_picks("ticket")) == chosen
    book.discard("ticket", 2)
    assert book.load("ticket", 2) is None
    # A hand-broken picks file gives usable picks, not an exception.
    book.picks_path("ticket").write_text('{"reruns": -3, "cases": "x", "typed": [1, {}]}')
    assert Picks.from_dict(book.load_picks("ticket")) == Picks(typed=[{}])


# --------------------------------------------------------------------------- picks


def test_picks_default_to_a_few_cases_of_a_suite_that_uses_the_prompt(project: Path) -> None:
    (project / "suites/other.yaml").write_text("name: other\nprompts: [ticket-fewshot]\n"
                                               "cases: [{id: a, vars: {ticket: x}}]\n")
    assert [p.name for p in suites_using(project, "ticket")] == ["tickets.yaml"]
    assert [p.name for p in suites_using(project, "ticket-fewshot")] == ["other.yaml"]
    library = PromptLibrary(project / "prompts")
    chosen = default_picks(project, library, "ticket")
    assert chosen == Picks("suites/tickets.yaml", ["charge", "parcel", "crash"], [],
                           ["openai/fake"], 4)
    assert default_picks(project, library, "unused") == Picks()


def test_picks_resolve_to_cases_models_and_the_suites_settings(project: Path) -> None:
    library = PromptLibrary(project / "prompts")
    parent = library.load("ticket", 2)
    work = resolve(project, library, parent, picks(cases=["parcel", "charge"],
                                                     typed=[{"ticket": "refund?"}]))
    # The suite's order, then the typed case; expected answers and assertions come along.
    assert [(c.id, c.expected) for c in work.cases] == [
        ("charge", "billing"), ("parcel", "shipping"), ("vars-1", None)]
    assert work.cases[2].vars == {"ticket": "refund?"}
    assert [m.name for m in work.models] == ["openai/fake"]
    assert work.models[0].api_base and work.models[0].api_key_env == KEY_ENV
    assert not work.from_suite and work.name == "(playground)"  # typed cases: not the suite's
    assert resolve(project, library, parent, picks()).name == "tickets"
    typed_only = resolve(project, library, parent, Picks(typed=[{"ticket": "hi"}]))
    assert [m.name for m in typed_only.models] == ["local/smollm2"]  # the prompt names none
    with pytest.raises(InputError) as exc:
        resolve(project, library, parent, Picks(reruns=0, models=["local/llama"]))
    assert [p.message for p in exc.value.problems] == [
        "N must be between 1 and 100 (got 0)", "no cases picked",
        "unknown local model 'local/llama'"]


# --------------------------------------------------------------------------- runs


def test_a_draft_runs_beside_its_parent_as_a_real_run(project: Path,
                                                      fake_server: FakeServer) -> None:
    draft = edited(project)
    prepared, seen, status = run_draft(project, draft, picks())
    assert status == "finished" and not prepared.resumed and prepared.reused == 0
    assert len(seen) == 2 * 2 * 4 == fake_server.stats()["total"]
    with Store(project / ".workbench/workbench.db") as store:
        info = store.run(prepared.run_id)
        assert (info.kind, info.draft_hash, info.draft_parent, info.is_draft) == (
            "playground", draft.hash, "ticket@2", True)
        assert info.suite == "tickets"
        assert store.stored_prompt_text("ticket", 2) is not None  # the parent, as any run
        results = load_results(store, prepared.run_id)
    by_variant = {g.variant: g for g in results.groups}
    assert set(by_variant) == {draft.ref, "ticket@2"}
    assert by_variant[draft.ref].stats.mean_pass_rate == 1.0
    parcel = next(c for c in by_variant["ticket@2"].cases if c.case_id == "parcel")
    assert parcel.stats.passes == 2 and parcel.stats.modal_share == 0.5
    # The board sees what the reports see, and the draft beats its parent on parcel.
    board = Board(prepared.plan, prepared.draft_ref, prepared.parent_ref)
    for cell in seen:
        board.add(cell)
    case = prepared.plan.cases[1]
    mine = board.outputs(draft.ref, "openai/fake", case)
    theirs = board.outputs("ticket@2", "openai/fake", case)
    assert mine.complete and mine.stats.answers == (("shipping", 4),)
    assert theirs.stats.answers == (("shipping", 2), ("account", 2))
    assert mine.reference == "shipping" and theirs.reference in {"shipping", "account"}
    # The counts are the reports' (the raw-text similarity aside), case by case.
    for group in results.groups:
        for case_result in group.cases:
            shown = board.outputs(group.variant, "openai/fake", next(
                c for c in prepared.plan.cases if c.id == case_result.case_id)).stats
            full = case_result.stats
            assert (shown.passes, shown.answers, shown.modal_share, shown.parse_rate,
                    shown.errors, shown.tar_answer, shown.entropy) == (
                full.passes, full.answers, full.modal_share, full.parse_rate, full.errors,
                full.tar_answer, full.entropy)
    comparison = board.comparison("openai/fake")
    assert comparison is board.comparison("openai/fake")  # not redone without a new case
    assert comparison.n_shared == 2
    assert comparison.pass_rate.mean_diff == pytest.approx(0.25)  # (0 + 0.5) / 2
    assert comparison.consistency.mean_diff == pytest.approx(0.25)
    assert [(a, b) for a, b, _ in results.comparisons] == [
        ("ticket@2 · openai/fake", f"{draft.ref} · openai/fake")]
    assert comparison == results.comparisons[0][2]  # what Results shows for the run


def test_rerunning_the_same_draft_reuses_what_finished(project: Path,
                                                       fake_server: FakeServer) -> None:
    draft = edited(project)
    # Stopped part-way: the finished cells are kept, the run is interrupted.
    first, seen, status = run_draft(project, draft, picks(), stop_after=3)
    assert status == "interrupted" and len(seen) == 3
    # The same draft and picks again: the same run continues with only the missing cells.
    again, seen, status = run_draft(project, draft, picks())
    assert (again.run_id, again.resumed, status) == (first.run_id, True, "finished")
    assert len(seen) == 16 - 3
    assert fake_server.stats()["total"] == 16
    # Once more: nothing left to run.
    _, seen, _ = run_draft(project, draft, picks())
    assert seen == [] and fake_server.stats()["total"] == 16
    # A larger N: a new run whose first four reruns are copies; only the new ones are called.
    bigger, seen, _ = run_draft(project, draft, picks(reruns=6))
    assert bigger.run_id != first.run_id and bigger.reused == 16
    assert sorted({c.rerun for c in seen}) == [4, 5] and len(seen) == 8
    assert fake_server.stats()["total"] == 24
    # Another draft: its own cells run, the parent's all carry over.
    other = edited(project, FIX + " ")
    moved, seen, _ = run_draft(project, other, picks(reruns=6))
    assert moved.reused == 12 and {c.variant for c in seen} == {other.ref}
    with Store(project / ".workbench/workbench.db") as store:
        copies = [c for c in store.cells(moved.run_id) if c.variant == "ticket@2"]
        originals = {c.key: c for c in store.cells(bigger.run_id)}
    assert len(copies) == 12
    assert all(c.output == originals[c.key].output and c.seed == originals[c.key].seed
               for c in copies)


def test_errors_are_not_reused(project: Path, fake_server: FakeServer) -> None:
    draft = edited(project, FIX + '{% if "charge" in ticket %} [[fail:400]]{% endif %}')
    first, _, _ = run_draft(project, draft, picks(reruns=2))
    with Store(project / ".workbench/workbench.db") as store:
        errors = [c for c in store.cells(first.run_id) if c.status == "error"]
    assert len(errors) == 2
    again, seen, _ = run_draft(project, draft, picks(reruns=3))
    # Six draft cells of the first run: two errors rerun, two parcel cells copied, plus
    # everything of the parent; then rerun 2 of every case and variant.
    assert again.reused == 2 + 4
    assert sorted((c.variant == draft.ref, c.case_id, c.rerun) for c in seen) == sorted(
        [(True, "charge", r) for r in range(3)] + [(True, "parcel", 2), (False, "charge", 2),
                                                   (False, "parcel", 2)])


def test_the_reuse_key_follows_what_determines_a_cell(project: Path) -> None:
    library = PromptLibrary(project / "prompts")
    parent = library.load("ticket", 2)
    work = resolve(project, library, parent, picks())
    draft = edited(project)
    variant = session.PlanVariant(draft.ref, "ticket", 0, draft.hash, "x")
    plan = session.draft_plan(project, work, draft, variant, None)
    case, model = plan.cases[0], plan.models[0]
    key = session.reuse_key(plan, variant, model, case, 0)
    assert key == session.reuse_key(plan, variant, model, session.PlanCase(
        "renamed", case.vars, case.expected, case.assertions, case.threshold), 0)
    changed = [session.reuse_key(plan, variant, model, case, 1),
               session.reuse_key(plan, variant, {**model, "params": {"top_p": 0.5}}, case, 0),
               session.reuse_key(plan, variant, model, session.PlanCase(
                   case.id, {"ticket": "other"}, case.expected, case.assertions, None), 0),
               session.reuse_key(plan, variant, model, session.PlanCase(
                   case.id, case.vars, "shipping", case.assertions, None), 0)]
    plan.seed = 7
    changed.append(session.reuse_key(plan, variant, model, case, 0))
    assert key not in changed and len(set(changed)) == len(changed)


def test_a_draft_that_does_not_fit_its_cases_is_refused_before_anything_runs(
        project: Path, fake_server: FakeServer) -> None:
    draft = edited(project, " {{ language }}")
    with pytest.raises(InputError) as exc:
        run_draft(project, draft, picks())
    assert [p.message for p in exc.value.problems] == [
        "case 'charge' has no var 'language', which the draft uses",
        "case 'parcel' has no var 'language', which the draft uses"]
    broken = Draft("ticket", 2, "kind: zero-shot\nmessages: []\nkind: chain\n")
    with pytest.raises(InputError, match=r"drafts/ticket@2.yaml:3: duplicate key .kind."):
        run_draft(project, broken, picks())
    assert fake_server.stats()["total"] == 0
    assert not (project / ".workbench/workbench.db").exists() or \
        Store(project / ".workbench/workbench.db").runs() == []


def test_an_unchanged_draft_runs_alone(project: Path, fake_server: FakeServer) -> None:
    draft = Draft("ticket", 2, (project / "prompts/ticket/v2.yaml").read_text())
    prepared, seen, _ = run_draft(project, draft, picks(reruns=2))
    assert prepared.parent_ref is None and len(seen) == 4
    assert {g[0] for g in prepared.plan.groups} == {draft.ref}


def test_a_draft_run_cannot_be_resumed_as_a_suite_run(project: Path) -> None:
    prepared, _, _ = run_draft(project, edited(project), picks(reruns=1), stop_after=1)
    with Store(project / ".workbench/workbench.db") as store, \
            pytest.raises(InputError, match="playground run of a draft of ticket@2"):
        resume_run(store, prepared.run_id)


# --------------------------------------------------------------------------- saving


def test_saving_the_draft_attaches_its_runs_to_the_new_version(project: Path) -> None:
    draft = edited(project)
    older = edited(project, FIX + "  ")  # an earlier text of the same draft
    kept, _, _ = run_draft(project, older, picks(reruns=2))
    first, _, _ = run_draft(project, draft, picks(reruns=2))
    second, _, _ = run_draft(project, draft, picks(reruns=3))
    library = PromptLibrary(project / "prompts")
    db = project / ".workbench/workbench.db"
    with Store(db) as store:
        saved = session.save(library, store, draft)
        assert saved.version.ref == "ticket@3" and saved.version.hash == draft.hash
        assert saved.attached == [first.run_id, second.run_id] and saved.left == 1
        for run_id in saved.attached:
            info = store.run(run_id)
            assert (info.attached_version, info.is_draft, info.kind) == (3, False, "playground")
            assert {c.variant for c in store.cells(run_id)} == {"ticket@3", "ticket@2"}
            assert [v["ref"] for v in info.plan["variants"]] == ["ticket@2", "ticket@3"]
            assert {tuple(g)[0] for g in info.plan["groups"]} == {"ticket@3", "ticket@2"}
        assert store.run(kept.run_id).is_draft  # another text: it stays a draft run
        assert store.stored_prompt_text("ticket", 3) == saved.version.text
        results = load_results(store, second.run_id)
        assert [g.variant for g in results.groups] == ["ticket@2", "ticket@3"]
        assert [(a, b) for a, b, _ in results.comparisons] == [
            ("ticket@2 · openai/fake", "ticket@3 · openai/fake")]
        # Saved runs are measurements of ticket@3 for the suite's history.
        history = load_history(store, "tickets")
        assert [(p.ref, p.run_id) for p in history.points] == [
            ("ticket@2", second.run_id), ("ticket@3", second.run_id)]
    # The attached run resumes as any run of ticket@3 would.
    with Store(db) as store:
        assert resume_run(store, second.run_id).remaining == 0


def test_the_history_prefers_a_suite_run_and_leaves_drafts_out(
        project: Path, fake_server: FakeServer) -> None:
    from workbench.engine.session import run_suite

    db = project / ".workbench/workbench.db"
    draft = edited(project)
    never_saved = edited(project, FIX + "   ")
    with Store(db) as store:
        suite_run = run_suite(store, project / "suites/tickets.yaml",
                              prompts=["ticket@2"], reruns=2)
    run_draft(project, never_saved, picks(reruns=2))
    playground, _, _ = run_draft(project, draft, picks(reruns=2))
    with Store(db) as store:
        history = load_history(store, "tickets")
        assert [(p.ref, p.run_id) for p in history.points] == [("ticket@2", suite_run)]
        session.save(PromptLibrary(project / "prompts"), store, draft)
        history = load_history(store, "tickets")
    # ticket@2 is still measured by the suite run (all three cases), though the playground
    # run came later; ticket@3 exists only in the playground; the unsaved draft not at all.
    assert [(p.ref, p.run_id, len(p.reruns)) for p in history.points] == [
        ("ticket@2", suite_run, 3), ("ticket@3", playground.run_id, 2)]
    assert history.runs == [suite_run, playground.run_id]


def test_saving_with_no_store_or_an_invalid_text(project: Path) -> None:
    library = PromptLibrary(project / "prompts")
    saved = session.save(library, None, edited(project))
    assert (saved.version.version, saved.attached, saved.left) == (3, [], 0)
    with pytest.raises(InputError):
        session.save(library, None, Draft("ticket", 3, "kind: [\n"))
    assert library.versions("ticket") == [1, 2, 3]


def test_picks_json_round_trip_is_plain_json(project: Path) -> None:
    chosen = picks(typed=[{"ticket": "a", "n": 2}])
    assert json.loads(json.dumps(chosen.to_dict())) == chosen.to_dict()
