"""Suite files: what to run (variants × models × cases × reruns) and what counts as good.

Loading validates everything a run would trip over later — schema, case files, prompt
references, template variables, sandbox violations, assertion files — and reports every
problem at once, each with file and line, so one edit-and-retry fixes them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import (
    ValidationError,
)

from workbench.checks.assertions import check_spec_files
from workbench.config.params import problems_from_error
from workbench.config.paths import find_project_root
from workbench.config.yaml import Located, load_yaml
from workbench.errors import InputError, Problem, display_path
from workbench.prompts.library import PromptLibrary, Ref, UnknownRef
from workbench.prompts.version import PromptVersion, RenderRefused
from workbench.suites.cases import Case, _cases
from workbench.suites.spec import DEFAULT_MODEL, ModelSpec, SuiteSpec, is_local_model


@dataclass
class Suite:
    """A validated suite: resolved prompt versions, models and cases, ready to run."""

    spec: SuiteSpec
    path: Path
    variants: list[PromptVersion]
    models: list[ModelSpec]
    cases: list[Case]
    pairs: list[tuple[PromptVersion, ModelSpec]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.pairs:
            self.pairs = [(v, m) for v in self.variants for m in self.models]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def call_count(self, reruns: int | None = None) -> int:
        """Cells in the run matrix; chains make one call per step."""
        n = reruns or self.spec.reruns
        steps = sum(v.step_count() for v, _ in self.pairs)
        return steps * len(self.cases) * n


def load_suite(
    path: Path,
    library: PromptLibrary | None = None,
    *,
    prompts: list[str] | None = None,
    models: list[str | ModelSpec] | None = None,
    check_render: bool = True,
) -> Suite:
    """Load and validate a suite; raise one :class:`InputError` listing every problem.

    ``prompts`` and ``models`` override the suite's own lists (the CLI's --prompt/--model,
    the TUI's picks; a picked :class:`ModelSpec` keeps its ``api_base`` and key variable).
    """
    path = Path(path)
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise InputError(doc.problem((), "a suite must be a mapping with name, prompts and cases"))
    try:
        spec = SuiteSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(problems_from_error(exc, doc, SuiteSpec)) from None

    if library is None:
        library = PromptLibrary(find_project_root(path.resolve().parent) / "prompts")
    problems: list[Problem] = []

    variants = _resolve_variants(prompts or spec.prompts, doc, library, problems, prompts is None)
    pairs: list[tuple[PromptVersion, ModelSpec]] = []
    if models or spec.models:
        model_specs = _models(models or spec.models or [], doc, problems, models is None)
    else:
        # No models named: each variant runs on the model its prompt was written for.
        own = [ModelSpec(name=v.spec.model or DEFAULT_MODEL) for v in variants]
        model_specs = list({m.name: m for m in own}.values())
        pairs = list(zip(variants, own, strict=True))
    cases = _cases(spec, doc, path, problems)

    for i, assertion in enumerate(spec.defaults.assertions):
        for message in check_spec_files(assertion, path.parent):
            problems.append(doc.problem(("defaults", "assert", i), message))

    if check_render and variants and cases:
        problems.extend(_check_rendering(variants, cases))
    if problems:
        raise InputError(problems)
    return Suite(spec, path, variants, model_specs, cases, pairs)


def _resolve_variants(
    refs: list[str], doc: Located, library: PromptLibrary, problems: list[Problem], from_file: bool
) -> list[PromptVersion]:
    variants: list[PromptVersion] = []
    seen: dict[tuple[str, int], str] = {}
    for i, ref in enumerate(refs):
        try:
            Ref.parse(ref)
            version = library.resolve(ref)
        except (InputError, ValueError) as exc:
            problems_here = exc.problems if isinstance(exc, InputError) else [Problem(str(exc))]
            about_ref = isinstance(exc, UnknownRef | ValueError)
            for problem in problems_here:
                if not about_ref and problem.file and problem.file != doc.file:
                    problems.append(problem)  # the prompt file itself is broken: point there
                elif from_file:
                    problems.append(
                        doc.problem(("prompts", i), f"prompts[{i}]: {problem.message}",
                                    problem.hint)
                    )
                else:
                    problems.append(Problem(f"--prompt {ref}: {problem.message}",
                                            hint=problem.hint))
            continue
        key = (version.name, version.version)
        if key in seen:
            problems.append(
                doc.problem(("prompts", i), f"'{ref}' is the same version as '{seen[key]}'",
                            "list each variant once")
                if from_file else Problem(f"'{ref}' is the same version as '{seen[key]}'")
            )
            continue
        seen[key] = ref
        variants.append(version)
    return variants


def _models(
    entries: list[str | ModelSpec], doc: Located, problems: list[Problem], from_file: bool
) -> list[ModelSpec]:
    out: list[ModelSpec] = []
    for i, entry in enumerate(entries):
        try:
            model = ModelSpec(name=entry) if isinstance(entry, str) else entry
        except ValidationError as exc:  # a --model flag (a file's entries are checked before)
            for err in exc.errors(include_url=False):
                text = err["msg"].removeprefix("Value error, ")
                problems.append(Problem(f"--model {entry!r}: {text}"))
            continue
        if model.name.startswith("local/") and not is_local_model(model.name):
            message = f"unknown local model '{model.name}'"
            hint = "the embedded model is local/smollm2"
            problems.append(doc.problem(("models", i), f"models[{i}]: {message}", hint)
                            if from_file else Problem(message, hint=hint))
            continue
        out.append(model)
    names = [m.name for m in out]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(f"model '{name}' is listed twice", doc.file,
                                doc.line(("models",)), "list each model once"))
    return out


def _check_rendering(variants: list[PromptVersion], cases: list[Case]) -> list[Problem]:
    """Render every variant for every case now, so a run never fails on a template."""
    refused: set[str] = set()
    problems: list[Problem] = []
    seen: set[str] = set()
    for variant in variants:
        needed = variant.variables()
        reported: set[tuple[str, str]] = set()
        for case in cases:
            if variant.ref in refused:
                break  # one refusal says it; rendering the rest would only take time
            missing = sorted(needed - set(case.vars))
            if missing:
                for name in missing:
                    if (name, variant.ref) not in reported:
                        reported.add((name, variant.ref))
                        file, _, line = case.source.rpartition(":")
                        problems.append(
                            Problem(
                                f"case '{case.id}' has no var '{name}', which prompt "
                                f"{variant.ref} uses",
                                file,
                                int(line) if line.isdigit() else None,
                                f"add vars.{name} to the case",
                            )
                        )
                continue
            try:
                if variant.spec.steps:
                    outputs: dict[str, str] = {}
                    for index, step in enumerate(variant.spec.steps):
                        variant.render_step(index, case.vars, outputs)
                        outputs[step.output] = f"<{step.output}>"
                else:
                    variant.render(case.vars)
            except InputError as exc:
                if isinstance(exc, RenderRefused):
                    refused.add(variant.ref)
                for problem in exc.problems:
                    if str(problem) not in seen:
                        seen.add(str(problem))
                        problems.append(problem)
    return problems


def summary_line(suite: Suite, reruns: int | None = None) -> str:
    n = reruns or suite.spec.reruns
    return (
        f"{display_path(suite.path)}: OK — {len(suite.pairs)} variant × model pair(s) × "
        f"{len(suite.cases)} case(s) × {n} rerun(s) = {suite.call_count(n)} call(s)"
    )


