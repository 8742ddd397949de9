"""Suite files: what to run (variants × models × cases × reruns) and what counts as good.

Loading validates everything a run would trip over later — schema, case files, prompt
references, template variables, sandbox violations, assertion files — and reports every
problem at once, each with file and line, so one edit-and-retry fixes them all.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from workbench._validation import Params, format_loc, problems_from_error
from workbench._yaml import Located, load_yaml
from workbench.assertions import AssertionSpec, check_spec_files
from workbench.errors import InputError, Problem, display_path
from workbench.templates import PromptLibrary, PromptVersion, Ref

DEFAULT_MODEL = "local/smollm2"
LOCAL_MODELS = {"local/smollm2"}


class ModelSpec(BaseModel):
    """A litellm model. Keys come from the environment only; ``api_key_env`` names the variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    api_base: str | None = None
    api_key_env: str | None = None
    params: Params = Field(default_factory=dict)
    # litellm (any provider), or direct: straight to the OpenAI-compatible server at api_base,
    # without litellm's per-call CPU cost (see workbench/models/_direct.py).
    transport: Literal["litellm", "direct"] = "litellm"

    @model_validator(mode="after")
    def _direct_needs_api_base(self) -> ModelSpec:
        if self.transport == "direct" and not self.api_base:
            raise ValueError("transport: direct sends requests to an OpenAI-compatible "
                             "server: set its api_base (e.g. http://127.0.0.1:8000/v1)")
        if self.transport == "direct" and self.name.startswith("local/"):
            raise ValueError("the embedded model runs in-process: drop transport: direct")
        return self

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not value.replace("_", "").isalnum():
            raise ValueError(
                "api_key_env is the NAME of an environment variable (e.g. OPENAI_API_KEY), "
                "never the key itself"
            )
        return value


class CaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1)
    description: str = ""
    vars: dict[str, Any] = Field(default_factory=dict)
    expected: Any = None
    assertions: list[AssertionSpec] = Field(default_factory=list, alias="assert")
    threshold: float | None = Field(default=None, ge=0, le=1)

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class CasesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    assertions: list[AssertionSpec] = Field(default_factory=list, alias="assert")
    threshold: float | None = Field(default=None, ge=0, le=1)


class Thresholds(BaseModel):
    """Gates for CI, checked per variant × model; any miss makes ``workbench run`` exit 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pass_rate: float | None = Field(default=None, ge=0, le=1)
    consistency: float | None = Field(
        default=None, ge=0, le=1, description="mean modal share of parsed answers"
    )
    tar_answer: float | None = Field(
        default=None, ge=0, le=1, description="share of cases whose reruns all agree (TARa@N)"
    )
    pass_hat_k: float | None = Field(default=None, ge=0, le=1)
    k: int | None = Field(default=None, ge=1, description="k for pass_hat_k (default: reruns)")
    max_error_rate: float | None = Field(default=None, ge=0, le=1)


class PriceSpec(BaseModel):
    """A model's price in USD per 1,000 tokens (what providers publish, divided by 1,000)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_1k: float = Field(ge=0)
    output_per_1k: float = Field(ge=0)


class FinetuneSpec(BaseModel):
    """The fine-tuned model the escalation report prices against (all fields optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(
        default=None, min_length=1,
        description="its name in litellm's cost map, e.g. ft:gpt-4o-mini-2024-07-18",
    )
    input_per_1k: float | None = Field(default=None, ge=0)
    output_per_1k: float | None = Field(default=None, ge=0)
    training_per_1k: float | None = Field(default=None, ge=0,
                                          description="one-off training, per 1k tokens")
    epochs: int = Field(default=3, ge=1, le=100)


class EscalationSpec(BaseModel):
    """When ``workbench escalate`` recommends fine-tuning, and what it prices it against."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: float | None = Field(
        default=None, gt=0, le=1,
        description="consistency the best version must reach (default: thresholds)",
    )
    metric: Literal["modal_share", "tar_answer"] = "modal_share"
    pass_hat_k: float | None = Field(default=None, gt=0, le=1)
    k: int | None = Field(default=None, ge=1)
    plateau: int = Field(default=3, ge=2, le=50,
                         description="the last this-many versions must show no improvement")
    prices: dict[str, PriceSpec] = Field(default_factory=dict,
                                     description="per model name, overriding litellm's map")
    finetune: FinetuneSpec = Field(default_factory=FinetuneSpec)


def _case_kind(value: Any) -> str:
    """``{file: ...}`` entries load cases from a file; anything else is an inline case."""
    return "@file" if isinstance(value, dict) and "file" in value else "@case"


def _model_entry(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


CaseEntry = Annotated[
    Annotated[CaseSpec, Tag("@case")] | Annotated[CasesFile, Tag("@file")],
    Discriminator(_case_kind),
]


class SuiteSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    prompts: list[str] = Field(min_length=1)
    models: list[ModelSpec] | None = Field(
        default=None, min_length=1,
        description="default: each variant's own `model`, else local/smollm2",
    )
    reruns: int = Field(default=5, ge=1, le=1000)
    params: Params = Field(default_factory=dict)
    concurrency: int = Field(default=4, ge=1, le=1024)
    timeout: float = Field(default=120.0, gt=0, description="seconds per request")
    max_attempts: int = Field(default=6, ge=1, le=50)
    seed: int = 0
    judge: str | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    cases: list[CaseEntry] = Field(min_length=1)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    escalation: EscalationSpec = Field(default_factory=EscalationSpec)

    @field_validator("models", mode="before")
    @classmethod
    def _model_names(cls, value: Any) -> Any:
        return [_model_entry(v) for v in value] if isinstance(value, list) else value


@dataclass(frozen=True)
class Case:
    """A validated case with the assertions that apply to it (defaults first)."""

    id: str
    vars: dict[str, Any]
    expected: Any
    assertions: list[AssertionSpec]
    threshold: float | None
    source: str  # "file:line", for messages


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


def find_project_root(start: Path) -> Path:
    """The folder holding ``prompts/`` (the suite's parent's parent by convention)."""
    for folder in [start, *start.parents]:
        if (folder / "prompts").is_dir():
            return folder
    return start


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
            for problem in problems_here:
                if problem.line and problem.file and problem.file != doc.file:
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
        model = ModelSpec(name=entry) if isinstance(entry, str) else entry
        if model.name.startswith("local/") and model.name not in LOCAL_MODELS:
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


def _cases(spec: SuiteSpec, doc: Located, path: Path, problems: list[Problem]) -> list[Case]:
    cases: list[Case] = []
    first_seen: dict[str, str] = {}
    for i, entry in enumerate(spec.cases):
        if isinstance(entry, CasesFile):
            loaded = _load_case_file(path.parent / entry.file, doc, ("cases", i), problems)
        else:
            loaded = [(entry, f"{doc.file}:{doc.line(('cases', i))}", doc, ("cases", i))]
        for case, source, case_doc, loc in loaded:
            if case.id in first_seen:
                problems.append(
                    case_doc.problem(
                        (*loc, "id") if loc else (),
                        f"duplicate case id '{case.id}' (first at {first_seen[case.id]})",
                        "case ids must be unique; rename one",
                    )
                )
                continue
            first_seen[case.id] = source
            for j, assertion in enumerate(case.assertions):
                for message in check_spec_files(assertion, path.parent):
                    problems.append(case_doc.problem((*loc, "assert", j), message))
            cases.append(
                Case(
                    id=case.id,
                    vars=dict(case.vars),
                    expected=case.expected,
                    assertions=[*spec.defaults.assertions, *case.assertions],
                    threshold=case.threshold
                    if case.threshold is not None
                    else spec.defaults.threshold,
                    source=source,
                )
            )
    return cases


def _load_case_file(
    file: Path, doc: Located, loc: tuple, problems: list[Problem]
) -> list[tuple[CaseSpec, str, Located, tuple]]:
    """Cases from ``.jsonl`` (one JSON object per line) or ``.csv`` (header row)."""
    shown = display_path(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(doc.problem((*loc, "file"), f"cases file not found: {shown}",
                                    "paths are relative to the suite file"))
        return []
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(f"cannot read cases file: {exc}", shown))
        return []
    if file.suffix == ".jsonl":
        return _jsonl_cases(text, shown, problems)
    if file.suffix == ".csv":
        return _csv_cases(text, shown, problems)
    problems.append(doc.problem((*loc, "file"), f"cases file must be .jsonl or .csv: {shown}"))
    return []


def _validated_case(
    data: Any, shown: str, line: int, problems: list[Problem]
) -> tuple[CaseSpec, str, Located, tuple] | None:
    row_doc = Located(data, shown, {(): line})
    if not isinstance(data, dict):
        problems.append(Problem("each case must be a JSON object", shown, line))
        return None
    try:
        case = CaseSpec.model_validate(data)
    except ValidationError as exc:
        problems.extend(problems_from_error(exc, row_doc, CaseSpec))
        return None
    return case, f"{shown}:{line}", row_doc, ()


def _jsonl_cases(text: str, shown: str, problems: list[Problem]) -> list:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(f"invalid JSON: {exc.msg} (column {exc.colno})", shown, number,
                                    "each line must be one JSON object"))
            continue
        row = _validated_case(data, shown, number, problems)
        if row:
            out.append(row)
    if not out and not any(p.file == shown for p in problems):
        problems.append(Problem("cases file has no cases", shown))
    return out


def _csv_cases(text: str, shown: str, problems: list[Problem]) -> list:
    """Columns: ``id`` (optional), ``expected`` (optional), every other column is a var."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        problems.append(Problem("CSV file is empty", shown, 1, "add a header row of var names"))
        return []
    except csv.Error as exc:
        problems.append(Problem(f"invalid CSV: {exc}", shown, 1))
        return []
    header = [h.strip() for h in header]
    bad = [h for h in header if not h]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if bad or dupes:
        what = "empty column name" if bad else f"repeated column '{dupes[0]}'"
        problems.append(Problem(f"CSV header has an {what}" if bad else f"CSV header has a {what}",
                                shown, 1, "each column needs a distinct name"))
        return []
    out = []
    stem = Path(shown).stem
    try:
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                problems.append(
                    Problem(
                        f"row has {len(row)} fields but the header has {len(header)}",
                        shown,
                        number,
                        "quote fields that contain commas",
                    )
                )
                continue
            values = dict(zip(header, row, strict=True))
            data: dict[str, Any] = {"id": values.pop("id", None) or f"{stem}-{number}"}
            if "expected" in values:
                data["expected"] = values.pop("expected")
            data["vars"] = values
            case = _validated_case(data, shown, number, problems)
            if case:
                out.append(case)
    except csv.Error as exc:
        problems.append(Problem(f"invalid CSV: {exc}", shown, reader.line_num))
    return out


def _check_rendering(variants: list[PromptVersion], cases: list[Case]) -> list[Problem]:
    """Render every variant for every case now, so a run never fails on a template."""
    problems: list[Problem] = []
    for variant in variants:
        needed = variant.variables()
        reported: set[tuple[str, str]] = set()
        for case in cases:
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
                    outputs = {s.output: f"<{s.output}>" for s in variant.spec.steps}
                    for index in range(variant.step_count()):
                        variant.render_step(index, case.vars, outputs)
                else:
                    variant.render(case.vars)
            except InputError as exc:
                for problem in exc.problems:
                    if str(problem) not in {str(p) for p in problems}:
                        problems.append(problem)
    return problems


def summary_line(suite: Suite, reruns: int | None = None) -> str:
    n = reruns or suite.spec.reruns
    return (
        f"{display_path(suite.path)}: OK — {len(suite.pairs)} variant × model pair(s) × "
        f"{len(suite.cases)} case(s) × {n} rerun(s) = {suite.call_count(n)} call(s)"
    )


__all__ = [
    "Case",
    "CaseSpec",
    "EscalationSpec",
    "FinetuneSpec",
    "ModelSpec",
    "PriceSpec",
    "Suite",
    "SuiteSpec",
    "Thresholds",
    "format_loc",
    "load_suite",
]
