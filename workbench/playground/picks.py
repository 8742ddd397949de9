"""What a draft runs on: the user's picks (cases, models, N), and those picks resolved.

Cases come from any suite that uses the prompt (a few of its cases, with their expected
answers and assertions) or are typed in as variables; a suite's cases bring its settings
(parameters, seed, concurrency, timeouts) so a draft is measured the way its suite measures
the saved versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.config.yaml import load_yaml
from workbench.engine.plan import PlanCase
from workbench.errors import InputError, Problem, display_path
from workbench.prompts.library import PromptLibrary, Ref
from workbench.prompts.version import PromptVersion
from workbench.suites.loader import Suite, load_suite
from workbench.suites.spec import DEFAULT_MODEL, ModelSpec, is_local_model

MAX_RERUNS = 100
DEFAULT_CASES = 3  # picked from the suite when the user has not picked yet


@dataclass
class Picks:
    """The playground's choices for one prompt, as saved between sessions."""

    suite: str | None = None  # the suite file, relative to the project, whose cases are picked
    cases: list[str] = field(default_factory=list)  # ids of the picked cases of that suite
    typed: list[dict[str, Any]] = field(default_factory=list)  # typed vars, one case each
    models: list[str] = field(default_factory=list)  # empty: the suite's first model
    reruns: int = 5  # N

    def to_dict(self) -> dict[str, Any]:
        return {"suite": self.suite, "cases": list(self.cases), "typed": list(self.typed),
                "models": list(self.models), "reruns": self.reruns}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Picks:
        """Tolerant of a hand-edited or older file: what does not fit is left out."""
        def strings(value: Any) -> list[str]:
            return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

        suite = data.get("suite")
        reruns = data.get("reruns")
        typed = data.get("typed")
        return cls(
            suite=suite if isinstance(suite, str) else None,
            cases=strings(data.get("cases")),
            typed=[t for t in typed if isinstance(t, dict)] if isinstance(typed, list) else [],
            models=strings(data.get("models")),
            reruns=reruns if isinstance(reruns, int) and 1 <= reruns <= MAX_RERUNS else 5,
        )


@dataclass
class Workload:
    """Picks resolved: the cases as a plan holds them, the models, and the settings."""

    suite: Suite | None
    cases: list[PlanCase]
    models: list[ModelSpec]
    reruns: int
    from_suite: bool  # every case is one of the suite's: the runs belong to its history

    @property
    def name(self) -> str:
        """The suite a run of this workload is recorded under."""
        return self.suite.name if self.suite is not None and self.from_suite else "(playground)"


def suites_using(project: Path, name: str) -> list[Path]:
    """The suite files under ``suites/`` whose variants include a version of prompt ``name``
    (read lightly: a suite with problems elsewhere still counts)."""
    folder = Path(project) / "suites"
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in {".yaml", ".yml"} or not path.is_file():
            continue
        try:
            data = load_yaml(path).data
        except InputError:
            continue
        prompts = data.get("prompts") if isinstance(data, dict) else None
        if isinstance(prompts, list) and any(_names(p, name) for p in prompts):
            found.append(path)
    return found


def _names(ref: Any, name: str) -> bool:
    try:
        return isinstance(ref, str) and Ref.parse(ref).name == name
    except ValueError:
        return False


def default_picks(project: Path, library: PromptLibrary, name: str) -> Picks:
    """The first few cases of the first suite that uses the prompt, its first model, its N."""
    for path in suites_using(project, name):
        try:
            suite = load_suite(path, library, check_render=False)
        except InputError:
            continue
        return Picks(suite=_relative(project, path), cases=[c.id for c in
                                                             suite.cases[:DEFAULT_CASES]],
                     models=[suite.models[0].name] if suite.models else [],
                     reruns=min(suite.spec.reruns, 10))
    return Picks()


def _relative(project: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path(project).resolve()))
    except ValueError:
        return str(path)


def resolve(project: Path, library: PromptLibrary, parent: PromptVersion,
            picks: Picks) -> Workload:
    """The workload the picks describe, validated the way a suite is (raises ``InputError``
    listing every problem). The suite is loaded with ``parent`` as its only variant."""
    problems: list[Problem] = []
    if not 1 <= picks.reruns <= MAX_RERUNS:
        problems.append(Problem(f"N must be between 1 and {MAX_RERUNS} (got {picks.reruns})"))
    suite: Suite | None = None
    cases: list[PlanCase] = []
    if picks.suite:
        suite = load_suite(Path(project) / picks.suite, library, prompts=[parent.ref])
        wanted = set(picks.cases)
        cases = [_plan_case(c.id, c.vars, c.expected, c.assertions, c.threshold)
                 for c in suite.cases if c.id in wanted]
    defaults = suite.spec.defaults if suite is not None else None
    taken = {c.id for c in cases}
    for i, variables in enumerate(picks.typed, start=1):
        case_id = f"vars-{i}"
        while case_id in taken:
            case_id += "'"
        taken.add(case_id)
        cases.append(_plan_case(case_id, dict(variables), None,
                                defaults.assertions if defaults else [],
                                defaults.threshold if defaults else None))
    if not cases:
        problems.append(Problem("no cases picked", hint="pick a suite's cases or type vars "
                                "(f2)"))
    models = _models(picks.models, suite, parent, problems)
    if problems:
        raise InputError(problems)
    return Workload(suite, cases, models, picks.reruns,
                    from_suite=suite is not None and not picks.typed)


def _plan_case(case_id: str, variables: dict[str, Any], expected: Any, assertions: list,
               threshold: float | None) -> PlanCase:
    return PlanCase(case_id, variables, expected, [a.to_dict() for a in assertions], threshold)


def _models(names: list[str], suite: Suite | None, parent: PromptVersion,
            problems: list[Problem]) -> list[ModelSpec]:
    known = {m.name: m for m in suite.models} if suite is not None else {}
    if not names:
        if known:
            return [next(iter(known.values()))]
        names = [parent.spec.model or DEFAULT_MODEL]
    models = []
    for name in dict.fromkeys(names):
        if name in known:
            models.append(known[name])
        elif name.startswith("local/") and not is_local_model(name):
            problems.append(Problem(f"unknown local model '{name}'",
                                    hint="the embedded model is local/smollm2"))
        else:
            models.append(ModelSpec(name=name))
    return models


def model_choices(suite: Suite | None, parent: PromptVersion) -> list[ModelSpec]:
    """The models a picker offers: the suite's, the prompt's own and the embedded one."""
    choices = {m.name: m for m in suite.models} if suite is not None else {}
    for name in (parent.spec.model, DEFAULT_MODEL):
        if name and name not in choices:
            choices[name] = ModelSpec(name=name)
    return list(choices.values())


def describe(workload: Workload, picks: Picks) -> str:
    """``3 cases of tickets · openai/fake · N=5`` for the playground's header."""
    parts = []
    suite_cases = len(workload.cases) - len(picks.typed)
    if workload.suite is not None and suite_cases:
        parts.append(f"{suite_cases} case{'s' * (suite_cases != 1)} of "
                     f"{workload.suite.name} ({display_path(workload.suite.path)})")
    if picks.typed:
        parts.append(f"{len(picks.typed)} typed")
    return " + ".join(parts) + " · " + ", ".join(m.name for m in workload.models) + \
        f" · N={workload.reruns}"
