"""``workbench import promptfoo``: a promptfooconfig becomes prompt versions and a suite.

The import is planned in full first (:func:`plan_import`): every file it would write, and
the table of what was imported, converted and unsupported. The plan is validated the way
``workbench validate`` validates a suite, on a staged copy, before anything is written; then
:func:`write_plan` writes it without ever replacing a file: a prompt that already exists
gets its next version (or reuses the latest when identical), and a suite or check folder
that exists is refused.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.config.files import FileRefused, check_regular
from workbench.config.yaml import dump_yaml
from workbench.errors import InputError, Problem, display_path
from workbench.importers.promptfoo.assertions import AssertionMapper
from workbench.importers.promptfoo.cases import TestReader
from workbench.importers.promptfoo.checks import CheckFiles
from workbench.importers.promptfoo.files import MAX_BYTES, Folder, Spot, spot
from workbench.importers.promptfoo.outcome import Outcome
from workbench.importers.promptfoo.prompts import PromptDraft, read_prompts
from workbench.importers.promptfoo.providers import read_providers
from workbench.prompts.library import NAME_RE, PromptLibrary
from workbench.prompts.version import content_hash
from workbench.suites.loader import Suite, load_suite

CONFIG_KEYS = {"description", "prompts", "providers", "targets", "tests", "defaultTest",
               "evaluateOptions", "scenarios", "env", "$schema"}


@dataclass
class PlannedFile:
    """One file the import writes, relative to the project folder."""

    path: str
    text: str
    reuses: bool = False  # an identical latest prompt version: nothing is written


@dataclass
class ImportPlan:
    """Everything the import would write, and the table of what became of the config."""

    name: str
    suite_path: str
    files: list[PlannedFile] = field(default_factory=list)
    outcome: Outcome = field(default_factory=Outcome)
    problems: list[Problem] = field(default_factory=list)  # validation of the result


def default_name(config: Path) -> str:
    """The suite name: the config's folder for ``promptfooconfig.*``, else the file's stem."""
    stem = config.stem
    base = config.resolve().parent.name if stem.startswith("promptfooconfig") else stem
    return _slug(base) or "imported"


def plan_import(config: Path, project: Path, name: str | None = None) -> ImportPlan:
    """Read the config and everything it refers to; raise :class:`InputError` for bad input."""
    config = Path(config)
    if config.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise InputError(Problem("a promptfoo config is a .yaml, .yml or .json file",
                                 display_path(config)))
    if name is not None and not NAME_RE.match(name):
        raise InputError(f"--name {name!r}: use lower-case letters, digits, '-', '_' and '.'")
    name = name or default_name(config)
    try:
        check_regular(config, MAX_BYTES)
    except FileNotFoundError:
        raise InputError(Problem("file not found", display_path(config))) from None
    except FileRefused as exc:
        raise InputError(exc.problem(display_path(config))) from None
    folder = Folder(config.resolve().parent)
    doc = folder.load_doc(config.resolve())
    if not isinstance(doc.data, dict):
        raise InputError(doc.problem((), "a promptfoo config must be a mapping with prompts, "
                                         "providers and tests"))
    outcome = Outcome()
    for key in sorted(set(doc.data) - CONFIG_KEYS, key=str):
        where = str(spot(doc, (key,)))
        if key in ("outputPath", "sharing"):
            outcome.converted(f"config key {key}", where, "not needed: reports are written "
                              "by workbench run --json/--html/--md F, and never shared")
        else:
            outcome.unsupported(f"config key {key}", where, "no workbench equivalent")
    if "env" in doc.data:
        outcome.unsupported("config key env", str(spot(doc, ("env",))),
                            "set environment variables in the shell; none are stored")
    drafts = read_prompts(doc, folder, outcome)
    if not drafts:
        raise spot(doc, ("prompts",)).problem("no prompt could be imported",
                                              "see the table for why")
    models = read_providers(doc, folder, outcome)
    checks = CheckFiles(f"{name}-checks")
    cases = TestReader(folder, outcome, AssertionMapper(folder, outcome, checks)).read(doc)
    _fill_missing_vars(drafts, cases.cases, outcome)
    library = PromptLibrary(project / "prompts")
    plan = ImportPlan(name, f"suites/{name}.yaml", outcome=outcome)
    refs = _prompt_files(plan, drafts, name, library, config)
    suite: dict[str, Any] = {"name": name}
    if isinstance(doc.data.get("description"), str):
        suite["description"] = doc.data["description"]
    suite["prompts"] = refs
    if models:
        suite["models"] = [m.spec for m in models]
    else:
        outcome.unsupported("providers", str(spot(doc, ("providers",))),
                            "no provider could be mapped; the suite uses each prompt's "
                            "default model (local/smollm2)")
    _evaluate_options(doc, suite, outcome)
    if cases.judge:
        suite["judge"] = cases.judge
    defaults: dict[str, Any] = {}
    if cases.default_assert:
        defaults["assert"] = cases.default_assert
    if cases.default_threshold is not None:
        defaults["threshold"] = cases.default_threshold
    if defaults:
        suite["defaults"] = defaults
    suite["cases"] = cases.cases
    header = (f"# Imported by `workbench import promptfoo` from {display_path(config)}.\n"
              "# What was converted or left out: run the import again with --dry-run.\n")
    plan.files.append(PlannedFile(plan.suite_path, header + dump_yaml(_unshared(suite))))
    for file_name, text in checks.files.items():
        plan.files.append(PlannedFile(f"suites/{checks.folder_name}/{file_name}", text))
    outcome.relative_to(folder.root)
    _refuse_existing(plan, project, checks.folder_name)
    plan.problems = validate_plan(plan, project)
    return plan


def _prompt_files(plan: ImportPlan, drafts: list[PromptDraft], name: str,
                  library: PromptLibrary, config: Path) -> list[str]:
    """One prompt per draft; the next version when the prompt exists (or the same one)."""
    refs: list[str] = []
    used: set[str] = set()
    for i, draft in enumerate(drafts, start=1):
        if len(drafts) == 1:
            prompt = name
        else:
            prompt = f"{name}-{_slug(draft.label or '') or f'p{i}'}"[:80].rstrip("-.")
        base, n = prompt, 2
        while prompt in used:
            prompt = f"{base}-{n}"
            n += 1
        used.add(prompt)
        source = f"{config.resolve().parent.name}/{config.name}"
        description = f"Imported from {source} ({draft.origin})."
        text = dump_yaml(_unshared(draft.spec(description)))
        versions = library.versions(prompt)
        if versions:
            latest = library.path_of(prompt, versions[-1]).read_text(encoding="utf-8")
            if content_hash(latest) == content_hash(text):
                plan.files.append(PlannedFile(f"prompts/{prompt}/v{versions[-1]}.yaml", text,
                                              reuses=True))
                refs.append(f"{prompt}@{versions[-1]}")
                continue
        version = versions[-1] + 1 if versions else 1
        plan.files.append(PlannedFile(f"prompts/{prompt}/v{version}.yaml", text))
        refs.append(f"{prompt}@{version}")
    return refs


def _fill_missing_vars(drafts: list[PromptDraft], cases: list[dict[str, Any]],
                       outcome: Outcome) -> None:
    """Nunjucks renders a var a test does not set as empty; Jinja2 (strict) would refuse.
    Each such var is set to '' in the case, and reported."""
    needed: dict[str, list[PromptDraft]] = {}
    for draft in drafts:
        for name in draft.variables():
            needed.setdefault(name, []).append(draft)
    for case in cases:
        missing = sorted(name for name in needed if name not in case["vars"])
        for name in missing:
            case["vars"][name] = ""
        if missing:
            listed = ", ".join(missing)
            outcome.converted(f"case {case['id']} vars", str(case.pop("_where")),
                              f"{listed} not set: '' (promptfoo renders a missing var as empty)")
        else:
            case.pop("_where", None)


def _evaluate_options(doc: Any, suite: dict[str, Any], outcome: Outcome) -> None:
    options = doc.data.get("evaluateOptions")
    if not isinstance(options, dict):
        outcome.converted("evaluateOptions.repeat", str(spot(doc, ())),
                          "not set: promptfoo ran each test once; the suite reruns each case "
                          "5 times (the workbench default) to measure variance")
        return
    for key, value in options.items():
        where = str(spot(doc, ("evaluateOptions", key)))
        if key == "repeat" and isinstance(value, int) and value >= 1:
            suite["reruns"] = value
            outcome.converted("evaluateOptions.repeat", where, f"→ reruns: {value}")
        elif key == "maxConcurrency" and isinstance(value, int) and value >= 1:
            suite["concurrency"] = value
            outcome.converted("evaluateOptions.maxConcurrency", where, f"→ concurrency: {value}")
        elif key in ("cache", "showProgressBar"):
            outcome.converted(f"evaluateOptions.{key}", where,
                              "not needed: the workbench never caches responses")
        else:
            outcome.unsupported(f"evaluateOptions.{key}", where, "no workbench equivalent")


def _refuse_existing(plan: ImportPlan, project: Path, checks_folder: str) -> None:
    suite = project / plan.suite_path
    if suite.exists():
        raise InputError(Problem(f"{display_path(suite)} already exists; an import never "
                                 "overwrites a suite",
                                 hint="choose another name with --name, or remove it"))
    checks = project / "suites" / checks_folder
    if checks.exists() and any(f.path.startswith(f"suites/{checks_folder}/")
                               for f in plan.files):
        raise InputError(Problem(f"{display_path(checks)} already exists",
                                 hint="choose another name with --name, or remove it"))


def validate_plan(plan: ImportPlan, project: Path) -> list[Problem]:
    """Validate the planned suite as ``workbench validate`` would, on a staged copy.

    Problems are reported with the project paths the files will have.
    """
    staging = Path(tempfile.mkdtemp(prefix="workbench-import-"))
    try:
        for file in plan.files:
            target = staging / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(file.text, encoding="utf-8")
        try:
            load_suite(staging / plan.suite_path, PromptLibrary(staging / "prompts"))
        except InputError as exc:
            return [_relocated(p, staging, project) for p in exc.problems]
        return []
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _relocated(problem: Problem, staging: Path, project: Path) -> Problem:
    if not problem.file:
        return problem
    staged = Path(problem.file)
    try:
        rel = staged.resolve().relative_to(staging.resolve())
    except ValueError:
        return problem
    return Problem(problem.message, display_path(project / rel), problem.line, problem.hint)


def write_plan(plan: ImportPlan, project: Path) -> list[str]:
    """Write every planned file that is new; never replaces one. Returns what was written."""
    written: list[str] = []
    for file in plan.files:
        if file.reuses:
            continue
        path = project / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: a file that appeared since planning is refused, never replaced
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise InputError(Problem(f"{display_path(path)} appeared while importing; "
                                     "nothing after it was written")) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(file.text)
        written.append(file.path)
    return written


def load_imported(plan: ImportPlan, project: Path) -> Suite:
    """The written suite, loaded and validated (for callers that go on to run it)."""
    return load_suite(project / plan.suite_path, PromptLibrary(project / "prompts"))


def _unshared(value: Any) -> Any:
    """A copy in which no list or mapping appears twice (YAML would write &anchors)."""
    if isinstance(value, dict):
        return {key: _unshared(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unshared(item) for item in value]
    return value


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")


__all__ = ["ImportPlan", "PlannedFile", "Spot", "default_name", "load_imported",
           "plan_import", "validate_plan", "write_plan"]
