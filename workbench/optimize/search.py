"""The search loop: measure the starting version, propose, measure, keep the best, stop.

Each round asks every generator for candidates from the current best version, measures each
on the search split (cases × reruns, one call per chain step), and keeps the candidate with
the highest objective among those whose paired interval against the best excludes zero
(ties: the cheaper per call). A round where none does is a plateau, and the search stops.
Only the final choice is then run on the held-out split, beside the starting version, and
confirmed (or not) by the paired comparison there.

Budget: every measurement is counted before it is spent — its missing cells × steps, plus
the held-out confirmation reserved from the start — and refused when it would not fit in
``budget`` calls (or, once a cost per call has been observed, in ``max_cost``). A retried
request costs a call as well: it is charged after the fact, so the next measurement sees
it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.analysis.stats import MetricDiff
from workbench.atomic import atomic_write_text
from workbench.config.paths import find_project_root
from workbench.errors import InputError, Problem
from workbench.escalation.history import NoHistoryError, load_history
from workbench.escalation.rule import best_point, vote_passes
from workbench.escalation.settings import settings_from_suite
from workbench.models.errors import ModelError
from workbench.optimize.generators import GENERATORS, REWRITES, Context, Proposal
from workbench.optimize.generators.sampling import nondeterminism_note
from workbench.optimize.measure import (
    Measured,
    Member,
    Tally,
    build_plan,
    copy_cells,
    draft_path,
    execute_run,
    planned_calls,
    read,
    record,
)
from workbench.optimize.measure import attach as attach_run
from workbench.optimize.objective import OBJECTIVES, Objective, ObjectiveName, is_better
from workbench.optimize.proposer import model_proposer
from workbench.optimize.provenance import (
    draft_version,
    identity,
    origin,
    save_version,
    version_text,
)
from workbench.optimize.splits import split_cases
from workbench.optimize.state import (
    STATE_DIR,
    Candidate,
    Round,
    SearchState,
    load_state,
    save_state,
    search_id,
    state_path,
)
from workbench.prompts.library import PromptLibrary, label_problem
from workbench.prompts.version import PromptVersion
from workbench.store.database import Store
from workbench.suites.loader import Suite, load_suite
from workbench.suites.spec import ModelSpec

STOP_PLATEAU = "plateau"
STOP_BUDGET = "budget"
STOP_MAX_COST = "max-cost"
STOP_ROUNDS = "rounds"
STOP_PERFECT = "perfect"
STOP_STOPPED = "stopped"
MAX_ROUNDS = 50
FORMAT_FIRST_BELOW = 0.95  # parse rate under which a round tries the format levers first


@dataclass(frozen=True)
class SearchSettings:
    """What ``workbench optimize`` was asked to do."""

    suite_path: Path
    prompt: str | None = None  # default: the best version measured, else the last listed
    model: str | None = None  # default: the suite's first model
    budget: int = 600  # calls, the held-out confirmation and proposer calls included
    max_cost: float | None = None  # USD
    rounds: int = 3
    objective: ObjectiveName = "pass_hat_k"
    held_out: float = 0.3
    seed: int = 0
    examples: int = 4
    generators: tuple[str, ...] = tuple(GENERATORS)
    proposer: str | None = None  # a model name; default the suite's model
    label: str | None = None  # label the confirmed best version with this

    def check(self) -> None:
        problems = []
        if self.budget < 1:
            problems.append(Problem(f"--budget must be at least 1 call (got {self.budget})"))
        if self.max_cost is not None and self.max_cost <= 0:
            problems.append(Problem(f"--max-cost must be above 0 USD (got {self.max_cost})"))
        if not 1 <= self.rounds <= MAX_ROUNDS:
            problems.append(Problem(f"--rounds must be from 1 to {MAX_ROUNDS} "
                                    f"(got {self.rounds})"))
        if self.objective not in OBJECTIVES:
            problems.append(Problem(f"--objective must be one of {', '.join(OBJECTIVES)}"))
        if not 1 <= self.examples <= 50:
            problems.append(Problem(f"--examples must be from 1 to 50 (got {self.examples})"))
        unknown = [g for g in self.generators if g not in GENERATORS]
        if unknown or not self.generators:
            problems.append(Problem(f"unknown generator(s): {', '.join(unknown) or 'none'}",
                                    hint=f"choose from: {', '.join(GENERATORS)}"))
        if self.label and label_problem(self.label):
            problems.append(Problem(f"--label: {label_problem(self.label)}"))
        if problems:
            raise InputError(problems)


@dataclass(frozen=True)
class Event:
    """What a front end is told as the search goes: ``kind`` is start, measured (a
    candidate), round (a round ended; ``candidate`` is its winner, if any), confirmed or
    stopped."""

    kind: str
    state: SearchState
    candidate: Candidate | None = None
    message: str = ""
    round: int = 0


@dataclass
class _Search:
    """One search in progress (the loop's working state)."""

    settings: SearchSettings
    store: Store
    suite: Suite
    library: PromptLibrary
    model: ModelSpec
    start: PromptVersion
    objective: Objective
    state: SearchState
    path: Path
    root: Path
    on_event: Callable[[Event], None]
    stop: Callable[[], bool]
    measured: dict[str, Measured] = field(default_factory=dict)
    propose: Callable[[list[dict[str, str]]], str] | None = None

    # -- budget ----------------------------------------------------------------------

    def reserve(self) -> int:
        """Calls kept back for the held-out confirmation (starting version and best)."""
        held = len(self.state.held_out_cases)
        return held * self.suite.spec.reruns * 2 * self.start.step_count()

    def affordable(self, calls: int, *, reserve: bool = True) -> str | None:
        """Why ``calls`` more cannot be spent (a stop reason), or None."""
        s = self.state
        if s.spent_calls + calls + (self.reserve() if reserve else 0) > self.settings.budget:
            return STOP_BUDGET
        cap = self.settings.max_cost
        if cap is not None:
            per_call = s.spent_cost / s.spent_calls if s.spent_calls else 0.0
            if s.spent_cost >= cap or s.spent_cost + calls * per_call > cap:
                return STOP_MAX_COST
        return None

    def save(self) -> None:
        save_state(self.path, self.state)

    # -- measuring --------------------------------------------------------------------

    def member(self, c: Candidate) -> Member:
        if c.version:
            return Member(self.library.resolve(c.version), c.version)
        path = draft_path(self.root / STATE_DIR, self.state.id, c.draft_hash)
        if not path.exists():
            atomic_write_text(path, c.text)
        return Member(draft_version(self.start.name, c.text, path), c.ref)

    def measure(self, c: Candidate) -> str | None:
        """Measure ``c`` on the search split (reusing its run when resuming) and save it as
        a version; returns a stop reason when it cannot be afforded."""
        if c.status == "measured":
            return None
        member = self.member(c)
        cases = [x for x in self.suite.cases if x.id in set(self.state.search_cases)]
        extra = {"optimize": {"search": self.state.id, "split": "search",
                              "generator": c.generator}}
        plan = build_plan(self.suite, [member], self.model, cases, extra)
        if c.run_id is not None and not self._run_exists(c.run_id):
            c.run_id = None  # the store was replaced: measure again
        done = self.store.count_cells(c.run_id) if c.run_id else 0
        need = planned_calls(plan, [member], done)
        why = self.affordable(need)
        if why:
            left = self.settings.budget - self.state.spent_calls
            note = (f"measuring {c.version or c.generator} needs {need} calls, with "
                    f"{self.reserve()} kept for the held-out check; {left} of --budget "
                    f"{self.settings.budget} are left" if why == STOP_BUDGET else
                    f"measuring {c.version or c.generator} (about {need} calls) would pass "
                    f"--max-cost {self.settings.max_cost:g}")
            self.state.budget_note = note
            return why
        if c.run_id is None:
            c.run_id = record(self.store, plan, [member], draft=(member.prompt.hash, c.parent))
            self.save()
        tally = Tally()
        try:
            execute_run(self.store, c.run_id, plan, [member], tally)
        finally:
            c.calls += tally.calls
            c.cost += tally.cost
            self.state.spent_calls += tally.calls
            self.state.spent_cost += tally.cost
            self.save()
        got = read(self.store, c.run_id, c.ref)
        self.measured[c.key] = got
        self.score(c, got)
        if c.version is None:
            self.save_as_version(c, plan, member)
        elif self.store.run(c.run_id).attached_version is None:
            attach_run(self.store, c.run_id, plan, c.ref, member.prompt)  # the start version
        c.status = "measured"
        self.save()
        self.on_event(Event("measured", self.state, c))
        return None

    def _run_exists(self, run_id: str) -> bool:
        try:
            return self.store.run(run_id).id == run_id
        except InputError:
            return False

    def score(self, c: Candidate, got: Measured) -> None:
        exclude = set(c.example_cases)
        if len(set(got.reruns) - exclude) < 2:
            exclude = set()  # nothing left to score without them: say so, score them all
            c.notes.append("scored on every search case, its examples included: too few "
                           "cases were left without them")
        c.score = dataclasses.asdict(self.objective.score(got.reruns, exclude))
        c.cost_per_call, c.tokens_per_call = got.cost_per_call, got.tokens_per_call
        if c is not self.state.baseline:
            parent = self.state.by_key(self._parent_key(c))
            if parent is not None:
                base = self.reruns(parent)
                diff = self.objective.compare(
                    base, got.reruns, exclude=exclude | set(parent.example_cases))
                c.vs_parent = _diff_dict(diff)
                c.better = is_better(diff)
        if c.generator == "temperature-0":
            note = nondeterminism_note(got.tar_raw)
            if note and note not in c.notes:
                c.notes.append(note)

    def _parent_key(self, c: Candidate) -> str:
        return next(r.best for r in self.state.rounds if c.key in r.proposals)

    def reruns(self, c: Candidate) -> dict[str, Any]:
        if c.key not in self.measured:
            assert c.run_id is not None
            self.measured[c.key] = read(self.store, c.run_id, c.ref)
        return self.measured[c.key].reruns

    def save_as_version(self, c: Candidate, plan: Any, member: Member) -> None:
        score = c.score or {}
        scores = {"objective": score.get("objective"), "k": score.get("k"),
                  "split": "search", "cases": score.get("cases"),
                  "value": _round(score.get("value")), "ci": _round(score.get("ci")),
                  "vs_parent": _round((c.vs_parent or {}).get("diff")),
                  "vs_parent_ci": _round((c.vs_parent or {}).get("ci")),
                  "calls": c.calls, "cost": round(c.cost, 6)}
        data = {k: v for k, v in member.prompt.doc.data.items() if k != "origin"}
        text = version_text(data, origin(c.parent, c.generator, self.state.id, c.round, c.note,
                                         scores))
        version = save_version(self.library, self.start.name, text)
        attach_run(self.store, c.run_id or "", plan, c.ref, version)
        c.version = version.ref
        self.save()

    # -- proposing ----------------------------------------------------------------------

    def context(self, best: Candidate) -> Context:
        if best.key not in self.measured:
            self.measured[best.key] = read(self.store, best.run_id or "", best.ref)
        got = self.measured[best.key]
        per_case = self.objective.per_case(got.reruns)
        failing = sorted((cid for cid, v in per_case.items() if v < 1.0),
                         key=lambda cid: (per_case[cid], cid))
        cases = [x for x in self.suite.cases if x.id in set(self.state.search_cases)]
        history = sorted(((self._instruction(c), (c.score or {}).get("value", 0.0))
                          for c in self.state.all() if c.status == "measured"),
                         key=lambda t: t[1])
        return Context(prompt=self.member(best).prompt, cases=cases, failing=failing,
                       outputs=got.outputs, history=history[-8:], seed=self.settings.seed,
                       examples=self.settings.examples, propose=self._propose_counted)

    def _instruction(self, c: Candidate) -> str:
        prompt = self.member(c).prompt
        return next((m.content for m in prompt.spec.messages or [] if m.role == "system"), "")

    def _propose_counted(self, messages: list[dict[str, str]]) -> str:
        if self.propose is None:
            raise ModelError("no proposer")
        if self.affordable(1):
            raise _NoBudget
        self.state.spent_calls += 1
        return self.propose(messages)

    def proposals(self, number: int, best: Candidate) -> Round:
        """The round's candidates: the saved ones when resuming, else newly proposed."""
        for r in self.state.rounds:
            if r.number == number and r.best == best.key:
                return r
        self.state.rounds = [r for r in self.state.rounds if r.number < number]
        rnd = Round(number, best.key)
        self.state.rounds.append(rnd)
        ctx = self.context(best)
        known = {c.key for c in self.state.all()}
        for name in self.order(best):
            if name in REWRITES and self.propose is None:
                continue
            try:
                made = GENERATORS[name](ctx)
            except _NoBudget:
                self.state.notes.append(f"round {number}: no budget left for {name}")
                continue
            except ModelError as exc:
                self.state.notes.append(f"round {number}: {name}'s proposer failed: {exc}")
                continue
            for proposal in made:
                c = self.candidate(proposal, number, best)
                if c is None or c.key in known:
                    continue
                known.add(c.key)
                self.state.candidates.append(c)
                rnd.proposals.append(c.key)
        self.save()
        return rnd

    def order(self, best: Candidate) -> list[str]:
        """The generators in the order the round measures them: the format levers first
        when the best version's answers are often unreadable (as the escalation rule says:
        fix the format first — until then every other score measures the format)."""
        names = list(self.settings.generators)
        got = self.measured.get(best.key)
        if got is not None and got.parse_rate < FORMAT_FIRST_BELOW:
            names.sort(key=lambda n: not n.startswith("format-"))
        return names

    def candidate(self, p: Proposal, number: int, best: Candidate) -> Candidate | None:
        parent = best.version or self.start.ref
        text = version_text(p.data, origin(parent, p.generator, self.state.id, number, p.note))
        from workbench.prompts.version import content_hash

        draft_hash = content_hash(text)
        c = Candidate(key=identity(p.data), generator=p.generator, note=p.note, round=number,
                      parent=parent, draft_hash=draft_hash, text=text,
                      example_cases=sorted(set(best.example_cases) | set(p.example_cases)),
                      proposer_calls=p.proposer_calls)
        try:
            self.member(c)
        except InputError as exc:
            self.state.notes.append(f"round {number}: {p.generator} proposed an invalid "
                                    f"version ({exc.problems[0].message}); skipped")
            return None
        return c

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> SearchState:
        s = self.state
        s.stopped = None
        s.budget_note = None
        self.on_event(Event("start", s))
        if s.baseline is None:
            data = {k: v for k, v in self.start.doc.data.items() if k != "origin"}
            s.baseline = Candidate(key=identity(data), generator="start",
                                   note="the starting version", round=0, parent=self.start.ref,
                                   draft_hash=self.start.hash, text=self.start.text,
                                   version=self.start.ref)
            self.save()
        why = self.measure(s.baseline)
        if why:
            return self.finish(why)
        self.on_event(Event("round", s, s.baseline, "the starting version", 0))
        # Rounds are replayed from the start: finished ones are read back from the state
        # (their candidates are measured), so a resumed search decides exactly as before.
        s.best = s.baseline.key
        for number in range(1, self.settings.rounds + 1):
            best = s.best_candidate()
            assert best is not None
            if (best.score or {}).get("value", 0.0) >= 1.0:
                return self.finish(STOP_PERFECT)
            rnd = self.proposals(number, best)
            for key in rnd.proposals:
                c = s.by_key(key)
                if c is None or c.status in ("measured", "invalid"):
                    continue
                if self.stop():
                    return self.finish(STOP_STOPPED)
                why = self.measure(c)
                if why:
                    c.status = "unaffordable"
                    return self.finish(why)
            winners = [s.by_key(k) for k in rnd.proposals]
            better = [c for c in winners if c is not None and c.better]
            if not better:
                rnd.improved = None
                self.on_event(Event("round", s, None, f"round {number}: no candidate beat "
                                    f"{best.version or best.ref}", number))
                return self.finish(STOP_PLATEAU)
            top = max(better, key=lambda c: ((c.score or {}).get("value", 0.0),
                                             -c.cost_per_call, -c.tokens_per_call))
            rnd.improved = top.key
            s.best = top.key
            self.save()
            self.on_event(Event("round", s, top, f"round {number}: {top.ref} is the new best",
                                number))
        return self.finish(STOP_ROUNDS)

    def finish(self, why: str) -> SearchState:
        s = self.state
        s.stopped = why
        self.save()
        best = s.best_candidate()
        if best is not None and best.status == "measured":
            self.vote(best)
            if best is not s.baseline and s.held_out_cases:
                self.confirm(best)
        self.save()
        self.on_event(Event("stopped", s))
        return s

    def vote(self, best: Candidate) -> None:
        """Majority vote over the best version's N reruns on the search split, measured on
        the same samples: its pass rate against one sample's, at N times the calls."""
        reruns = self.reruns(best)
        cases = [cid for cid in reruns if cid not in set(best.example_cases)]
        if not cases:
            return
        n = min(len(reruns[c]) for c in cases)
        voted = sum(vote_passes(reruns[c]) for c in cases) / len(cases)
        single = sum(sum(r.passed for r in reruns[c]) / len(reruns[c]) for c in cases) / len(cases)
        self.state.vote = {"ref": best.ref, "samples": n, "cost_multiplier": n,
                           "pass_rate": single, "vote_pass_rate": voted, "cases": len(cases)}

    def confirm(self, best: Candidate) -> None:
        """The held-out check: the starting version and the best on the held-out cases."""
        s = self.state
        base = s.baseline
        assert base is not None
        prior = s.confirmation or {}
        if prior.get("best") == best.ref and prior.get("done"):
            return
        members = [self.member(base), self.member(best)]
        plan = build_plan(self.suite, members, self.model, self.suite.cases,
                          {"optimize": {"search": s.id, "split": "held-out"}})
        run_id = prior.get("run_id") if prior.get("best") == best.ref else None
        if run_id is None:
            run_id = record(self.store, plan, members)
            search = set(s.search_cases)
            for c in (base, best):
                copy_cells(self.store, run_id, c.run_id or "", c.ref, search)
            s.confirmation = {"run_id": run_id, "best": best.ref, "start": base.ref,
                              "done": False}
            self.save()
        need = planned_calls(plan, members, self.store.count_cells(run_id))
        if self.affordable(need, reserve=False):
            s.budget_note = (f"the held-out confirmation needs {need} calls and the budget "
                             "has not got them: raise --budget and run again")
            return
        tally = Tally()
        try:
            execute_run(self.store, run_id, plan, members, tally)
        finally:
            s.spent_calls += tally.calls
            s.spent_cost += tally.cost
            self.save()
        held = set(s.held_out_cases)
        a, b = read(self.store, run_id, base.ref), read(self.store, run_id, best.ref)
        diff = self.objective.compare(a.reruns, b.reruns, cases=held)
        s.confirmation = {
            "run_id": run_id, "best": best.ref, "start": base.ref, "done": True,
            "cases": len(held), "calls": tally.calls, "cost": tally.cost,
            "start_score": dataclasses.asdict(self.objective.score(
                {c: r for c, r in a.reruns.items() if c in held})),
            "best_score": dataclasses.asdict(self.objective.score(
                {c: r for c, r in b.reruns.items() if c in held})),
            "diff": _diff_dict(diff), "confirmed": is_better(diff),
        }
        self.on_event(Event("confirmed", s, best))
        if self.settings.label and is_better(diff) and best.version:
            name, _, number = best.version.partition("@")
            self.library.set_label(name, self.settings.label, int(number))
            s.label = f"{name}@{self.settings.label}"


class _NoBudget(Exception):
    """The proposer call would not fit in the budget."""


def _round(value: Any) -> Any:
    """Scores as written in a version file: four decimals, clipped to [-1, 1]."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [_round(v) for v in value] or None
    return round(max(-1.0, min(1.0, float(value))), 4)


def _diff_dict(diff: MetricDiff) -> dict[str, Any]:
    return {"metric": diff.metric, "a": diff.mean_a, "b": diff.mean_b,
            "diff": diff.mean_diff, "ci": list(diff.t_ci) if diff.t_ci else None,
            "bootstrap_ci": list(diff.bootstrap_ci) if diff.bootstrap_ci else None,
            "verdict": diff.verdict}


def _start_version(suite: Suite, model: ModelSpec, store: Store, chosen: str | None
                   ) -> PromptVersion:
    """``--prompt``, else the best version the suite's history measured on the model, else
    the suite's last listed prompt."""
    if chosen:
        return suite.variants[0]
    try:
        history = load_history(store, suite.name)
        point = best_point(history, settings_from_suite(suite.spec), model.name)
        for v in suite.variants:
            if (v.name, v.version) == (point.prompt, point.version):
                return v
    except (NoHistoryError, InputError):
        pass
    return suite.variants[-1]


def prepare_search(settings: SearchSettings, store: Store,
                   on_event: Callable[[Event], None] | None = None,
                   stop: Callable[[], bool] | None = None,
                   propose: Callable[[list[dict[str, str]]], str] | None = None) -> _Search:
    """Validate everything and load (or create) the search's state; nothing runs yet."""
    settings.check()
    path = Path(settings.suite_path)
    prompts = [settings.prompt] if settings.prompt else None
    suite = load_suite(path, prompts=prompts)
    # A model the suite lists keeps its api_base and key variable; another is named alone.
    if settings.model and settings.model not in {m.name for m in suite.models}:
        suite = load_suite(path, prompts=prompts, models=[settings.model])
    model = next((m for m in suite.models if m.name == settings.model), suite.models[0])
    start = _start_version(suite, model, store, settings.prompt)
    if start.spec.kind == "chain" and set(settings.generators) <= set(REWRITES) | {
            "few-shot-similar", "few-shot-random"}:
        raise InputError(f"{start.ref} is a chain: choose generators that apply to chains "
                         "(format-instruction, format-constrained, temperature-0)")
    root = find_project_root(path.resolve().parent)
    library = PromptLibrary(root / "prompts")
    reruns = suite.spec.reruns
    k = suite.spec.thresholds.k or suite.spec.escalation.k or reruns
    k = max(1, min(k, reruns))
    split = split_cases(suite.cases, settings.held_out, settings.seed)
    sid = search_id(suite=suite.name, path=str(path.resolve()), start=start.ref,
                    hash=start.hash, model=model.name, objective=settings.objective, k=k,
                    held_out=settings.held_out, seed=settings.seed,
                    examples=settings.examples, generators=list(settings.generators),
                    proposer=settings.proposer, reruns=reruns)
    spath = state_path(root, sid)
    state = load_state(spath) or SearchState(
        id=sid, suite=suite.name, suite_path=str(path), start=start.ref, model=model.name,
        objective=settings.objective, k=k, search_cases=list(split.search),
        held_out_cases=list(split.held_out))
    if propose is None and any(g in REWRITES for g in settings.generators):
        proposer = ModelSpec(name=settings.proposer) if settings.proposer and (
            settings.proposer != model.name) else model
        propose = model_proposer(proposer, timeout=suite.spec.timeout, seed=settings.seed)
    return _Search(settings, store, suite, library, model, start,
                   Objective(settings.objective, k), state, spath, root,
                   on_event or (lambda e: None), stop or (lambda: False), propose=propose)


def run_search(settings: SearchSettings, store: Store,
               on_event: Callable[[Event], None] | None = None,
               stop: Callable[[], bool] | None = None,
               propose: Callable[[list[dict[str, str]]], str] | None = None) -> SearchState:
    """Run (or continue) a search; returns its state. Interrupting it keeps every finished
    candidate, and running the same search again continues it."""
    return prepare_search(settings, store, on_event, stop, propose).run()


def candidates_table(state: SearchState) -> Sequence[Candidate]:
    """Every candidate in the order measured, the starting version first."""
    return state.all()
