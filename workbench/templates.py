"""Prompt files, their immutable versions, labels, references and rendering.

A prompt lives in ``prompts/<name>/`` as ``v1.yaml``, ``v2.yaml``, … plus ``labels.yaml``.
Versions are never rewritten: an edit is saved as the next version, so every stored run
can name exactly the text it used (its content hash is stored with the run).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.meta
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workbench._sandbox import PromptSandbox, TemplateLimitError, render_limited
from workbench._validation import Params, problems_from_error
from workbench._yaml import Loc, Located, dump_yaml, load_yaml
from workbench.errors import InputError, Problem, display_path
from workbench.parsing import ParseSpec

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
VERSION_FILE_RE = re.compile(r"^v([1-9][0-9]*)\.yaml$")
Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    content: str


class Example(BaseModel):
    """A few-shot example: literal ``input`` text, or ``vars`` rendered through the prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: str | None = None
    vars: dict[str, Any] | None = None
    output: str

    @model_validator(mode="after")
    def _one_input(self) -> Example:
        if (self.input is None) == (self.vars is None):
            raise ValueError("an example needs exactly one of 'input' (text) or 'vars'")
        return self


class Step(BaseModel):
    """One step of a chain; its output is available to later steps under ``output``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: str
    messages: list[Message] = Field(min_length=1)
    model: str | None = None
    params: Params = Field(default_factory=dict)
    parse: ParseSpec | None = None


class PromptSpec(BaseModel):
    """The content of one version file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["zero-shot", "few-shot", "chain"]
    description: str = ""
    model: str | None = None
    params: Params = Field(default_factory=dict)
    messages: list[Message] | None = None
    examples: list[Example] | None = None
    steps: list[Step] | None = None
    parse: ParseSpec = Field(default_factory=ParseSpec)

    @model_validator(mode="after")
    def _kind_fields(self) -> PromptSpec:
        if self.kind == "chain":
            if not self.steps:
                raise ValueError("a chain needs 'steps' (a list of steps, each with messages)")
            if self.messages:
                raise ValueError("a chain has 'steps', not top-level 'messages'")
            names = [s.output for s in self.steps]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"step outputs must be unique; repeated: {', '.join(dupes)}")
        else:
            if not self.messages:
                raise ValueError(f"a {self.kind} prompt needs 'messages'")
            if self.steps:
                raise ValueError(f"only a chain has 'steps' (this is {self.kind})")
            if not any(m.role == "user" for m in self.messages):
                raise ValueError("'messages' needs at least one user message")
        if self.kind == "few-shot" and not self.examples:
            raise ValueError("a few-shot prompt needs 'examples' (input/output pairs)")
        if self.kind != "few-shot" and self.examples:
            raise ValueError(f"'examples' belong to few-shot prompts (this is {self.kind})")
        return self


@dataclass(frozen=True)
class RenderedStep:
    """What one step sends: the model's messages plus step overrides."""

    output: str
    messages: list[dict[str, str]]
    model: str | None
    params: dict[str, Any]
    parse: ParseSpec | None


_ENV = PromptSandbox(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
)


@dataclass
class PromptVersion:
    """One immutable version of a prompt, loaded and validated."""

    name: str
    version: int
    path: Path
    text: str
    spec: PromptSpec
    doc: Located = field(repr=False)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @cached_property
    def hash(self) -> str:
        """Content hash stored with every run, to detect hand edits of a used version."""
        return content_hash(self.text)

    # -- rendering -------------------------------------------------------------

    def step_count(self) -> int:
        return len(self.spec.steps) if self.spec.steps else 1

    def variables(self) -> set[str]:
        """Variables a case must provide (chain outputs and ``examples`` excluded)."""
        needed: set[str] = set()
        for loc, source in self._templates():
            needed |= self._compile(loc, source)[1]
        outputs = {s.output for s in self.spec.steps or []}
        return needed - outputs - {"examples"}

    def render_step(
        self, index: int, variables: Mapping[str, Any], outputs: Mapping[str, Any] | None = None
    ) -> RenderedStep:
        """Render step ``index`` (0 for single-step prompts) given earlier step outputs."""
        context = {**variables, **(outputs or {})}
        if self.spec.steps:
            step = self.spec.steps[index]
            base: Loc = ("steps", index, "messages")
            messages = [
                self._render_message((*base, i), m, context) for i, m in enumerate(step.messages)
            ]
            return RenderedStep(step.output, messages, step.model, dict(step.params), step.parse)
        messages = self._render_single(context)
        return RenderedStep("answer", messages, None, {}, None)

    def render(self, variables: Mapping[str, Any]) -> list[dict[str, str]]:
        """Render a single-step prompt, or a chain's first step (for previews)."""
        return self.render_step(0, variables).messages

    def render_without_examples(self, variables: Mapping[str, Any]) -> list[dict[str, str]]:
        """A single-step prompt with its few-shot examples left out: the input a fine-tuned
        model gets, since it has learned what the examples taught. A template that loops over
        ``examples`` itself sees an empty list.
        """
        if self.spec.steps:
            raise ValueError("a chain has no single prompt; render its steps")
        return self._render_single(dict(variables), with_examples=False)

    def _render_single(
        self, context: dict[str, Any], with_examples: bool = True
    ) -> list[dict[str, str]]:
        messages = list(self.spec.messages or [])
        examples = (self.spec.examples or []) if with_examples else []
        uses_var = any(
            "examples" in self._compile(loc, src)[1] for loc, src in self._templates()
        )
        ctx = dict(context)
        if not with_examples:
            ctx["examples"] = []
        elif examples:
            ctx["examples"] = [
                {"input": self._example_input(i, ex, messages), "output": ex.output}
                for i, ex in enumerate(examples)
            ]
        rendered = [self._render_message(("messages", i), m, ctx) for i, m in enumerate(messages)]
        if examples and not uses_var:
            # Examples become user/assistant turns just before the final user message.
            last_user = max(i for i, m in enumerate(messages) if m.role == "user")
            turns: list[dict[str, str]] = []
            for example in ctx["examples"]:
                turns.append({"role": "user", "content": example["input"]})
                turns.append({"role": "assistant", "content": example["output"]})
            rendered = rendered[:last_user] + turns + rendered[last_user:]
        return rendered

    def _example_input(self, index: int, example: Example, messages: list[Message]) -> str:
        if example.input is not None:
            return example.input
        last_user = max(i for i, m in enumerate(messages) if m.role == "user")
        return self._render_text(
            ("messages", last_user, "content"),
            messages[last_user].content,
            example.vars or {},
            example_loc=("examples", index, "vars"),
        )

    def _render_message(self, loc: Loc, message: Message, ctx: Mapping[str, Any]) -> dict[str, str]:
        content = self._render_text((*loc, "content"), message.content, ctx)
        return {"role": message.role, "content": content}

    def _templates(self) -> list[tuple[Loc, str]]:
        if self.spec.steps:
            return [
                (("steps", s, "messages", i, "content"), m.content)
                for s, step in enumerate(self.spec.steps)
                for i, m in enumerate(step.messages)
            ]
        messages = self.spec.messages or []
        return [(("messages", i, "content"), m.content) for i, m in enumerate(messages)]

    def _compile(self, loc: Loc, source: str) -> tuple[jinja2.Template, set[str]]:
        cache = self.__dict__.setdefault("_compiled", {})
        if loc not in cache:
            try:
                ast = _ENV.parse(source)
                cache[loc] = (_ENV.from_string(source), jinja2.meta.find_undeclared_variables(ast))
            except TemplateSyntaxError as exc:
                raise InputError(
                    Problem(
                        f"template syntax error: {exc.message}",
                        self.doc.file,
                        self.doc.text_line(loc, exc.lineno or 1),
                        "fix the Jinja2 syntax, e.g. balance {{ }} and {% %}",
                    )
                ) from None
        return cache[loc]

    def _render_text(
        self,
        loc: Loc,
        source: str,
        ctx: Mapping[str, Any],
        example_loc: Loc | None = None,
    ) -> str:
        template, _ = self._compile(loc, source)
        try:
            return render_limited(template, ctx).strip()
        except UndefinedError as exc:
            name = _undefined_name(str(exc))
            line = _first_line_of(source, name) if name else 1
            where = f" (rendering example {example_loc[1]})" if example_loc else ""
            raise InputError(
                Problem(
                    f"template variable '{name or exc}' is undefined{where}",
                    self.doc.file,
                    self.doc.text_line(loc, line),
                    "give the case a var of that name or fix the template",
                )
            ) from None
        except (TemplateLimitError, MemoryError, RecursionError) as exc:
            what = {MemoryError: "it ran out of memory",
                    RecursionError: "it recurses too deeply"}.get(type(exc), str(exc))
            raise self._failure(loc, exc, f"template refused: {what}",
                                "a template may not build huge values or loop without end; "
                                "pass large text in as a variable instead") from None
        except SecurityError as exc:
            raise self._failure(loc, exc, f"unsafe template: {exc}",
                                "templates may only use variables, filters and tests; "
                                "underscore attributes and methods that change data are "
                                "blocked") from None
        except jinja2.TemplateError as exc:
            raise self._failure(loc, exc, f"template error: {exc}") from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise self._failure(loc, exc,
                                f"template error: {type(exc).__name__}: {exc}") from None

    def _failure(self, loc: Loc, exc: BaseException, message: str,
                 hint: str | None = None) -> InputError:
        """A rendering failure, located at the template line Jinja's traceback points to."""
        return InputError(Problem(message, self.doc.file,
                                  self.doc.text_line(loc, _template_error_line(exc)), hint))


def _undefined_name(message: str) -> str | None:
    match = re.search(r"'([^']+)' is undefined", message) or re.search(
        r"has no attribute '([^']+)'", message
    )
    return match.group(1) if match else None


def _first_line_of(source: str, name: str) -> int:
    pattern = re.compile(r"\b" + re.escape(name) + r"\b")
    for number, text in enumerate(source.splitlines(), start=1):
        if pattern.search(text):
            return number
    return 1


def _template_error_line(exc: BaseException) -> int:
    """Jinja rewrites tracebacks so template frames carry the template's own line."""
    tb = exc.__traceback__
    line = 1
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_version_text(text: str, path: Path, name: str, version: int) -> PromptVersion:
    """Validate a version file's text; every problem is reported at once."""
    doc = load_yaml(path, text)
    if not isinstance(doc.data, dict):
        raise InputError(
            doc.problem((), "a prompt version must be a mapping with 'kind' and 'messages'")
        )
    try:
        spec = PromptSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(problems_from_error(exc, doc, PromptSpec)) from None
    prompt = PromptVersion(name, version, path, text, spec, doc)
    for loc, source in prompt._templates():
        prompt._compile(loc, source)  # syntax errors surface at load time
    return prompt


# -- the library -------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    name: str
    selector: str | None  # None = latest, digits = version, else a label

    @classmethod
    def parse(cls, text: str) -> Ref:
        name, _, selector = text.strip().partition("@")
        if not NAME_RE.match(name):
            raise ValueError(
                f"'{text}' is not a prompt reference (use name, name@3 or name@label; "
                "names are lower-case letters, digits, '-', '_' and '.')"
            )
        if selector.startswith("v") and selector[1:].isdigit():
            selector = selector[1:]
        return cls(name, selector or None)


class PromptLibrary:
    """The folder of prompts: list, resolve, save new versions, label, diff."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name)
        )

    def folder(self, name: str) -> Path:
        return self.root / name

    def versions(self, name: str) -> list[int]:
        folder = self.folder(name)
        if not folder.is_dir():
            return []
        found = []
        for p in folder.iterdir():
            match = VERSION_FILE_RE.match(p.name)
            if match:
                found.append(int(match.group(1)))
        return sorted(found)

    def labels(self, name: str) -> dict[str, int]:
        path = self.folder(name) / "labels.yaml"
        if not path.exists():
            return {}
        doc = load_yaml(path)
        if doc.data is None:
            return {}
        problems = []
        if not isinstance(doc.data, dict):
            raise InputError(doc.problem((), "labels.yaml must map labels to versions"))
        known = set(self.versions(name))
        for label, version in doc.data.items():
            if not isinstance(label, str) or label.isdigit() or not NAME_RE.match(label):
                problems.append(doc.problem((label,), f"'{label}' is not a valid label name"))
            elif not isinstance(version, int) or isinstance(version, bool):
                problems.append(
                    doc.problem((label,), f"label '{label}' must map to a version number")
                )
            elif version not in known:
                problems.append(
                    doc.problem(
                        (label,),
                        f"label '{label}' points to version {version}, which does not exist",
                        f"versions: {', '.join(map(str, sorted(known))) or 'none'}",
                    )
                )
        if problems:
            raise InputError(problems)
        return dict(doc.data)

    def path_of(self, name: str, version: int) -> Path:
        return self.folder(name) / f"v{version}.yaml"

    def load(self, name: str, version: int) -> PromptVersion:
        path = self.path_of(name, version)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(Problem(f"prompt {name} has no version {version}",
                                     display_path(path))) from None
        return parse_version_text(text, path, name, version)

    def resolve(self, ref: str | Ref) -> PromptVersion:
        """``name`` → latest, ``name@3`` → v3, ``name@production`` → the labelled version."""
        if isinstance(ref, str):
            try:
                ref = Ref.parse(ref)
            except ValueError as exc:
                raise InputError(str(exc)) from None
        versions = self.versions(ref.name)
        if not versions:
            known = self.names()
            close = difflib.get_close_matches(ref.name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else (
                f"known prompts: {', '.join(known)}" if known else "no prompts yet"
            )
            raise InputError(Problem(f"unknown prompt '{ref.name}'", display_path(self.root),
                                     hint=hint))
        if ref.selector is None:
            return self.load(ref.name, versions[-1])
        if ref.selector.isdigit():
            version = int(ref.selector)
            if version not in versions:
                raise InputError(
                    Problem(
                        f"prompt '{ref.name}' has no version {version}",
                        display_path(self.folder(ref.name)),
                        hint=f"versions: {', '.join(map(str, versions))}",
                    )
                )
            return self.load(ref.name, version)
        labels = self.labels(ref.name)
        if ref.selector not in labels:
            raise InputError(
                Problem(
                    f"prompt '{ref.name}' has no label '{ref.selector}'",
                    display_path(self.folder(ref.name) / "labels.yaml"),
                    hint=f"labels: {', '.join(sorted(labels)) or 'none'}",
                )
            )
        return self.load(ref.name, labels[ref.selector])

    def save(self, name: str, text: str, source: Path | None = None) -> PromptVersion:
        """Validate ``text`` and write it as the next version; existing files are never touched.

        ``source`` is where the text came from, so problems point at the file being edited.
        """
        if not NAME_RE.match(name):
            raise InputError(f"'{name}' is not a valid prompt name (lower-case, digits, - _ .)")
        versions = self.versions(name)
        number = (versions[-1] + 1) if versions else 1
        path = self.path_of(name, number)
        prompt = parse_version_text(text, source or path, name, number)
        if versions:
            latest = self.path_of(name, versions[-1]).read_text(encoding="utf-8")
            if content_hash(latest) == prompt.hash or content_hash(latest) == content_hash(
                text + "\n"
            ):
                raise InputError(
                    Problem(
                        f"nothing to save: identical to version {versions[-1]}",
                        display_path(self.path_of(name, versions[-1])),
                    )
                )
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two concurrent saves can never overwrite each other's version.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
        return self.load(name, number)

    def set_label(self, name: str, label: str, version: int) -> None:
        if label.isdigit() or not NAME_RE.match(label):
            raise InputError(f"'{label}' is not a valid label (lower-case letters, not a number)")
        if version not in self.versions(name):
            raise InputError(f"prompt '{name}' has no version {version}")
        labels = self.labels(name)
        labels[label] = version
        path = self.folder(name) / "labels.yaml"
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(dump_yaml(dict(sorted(labels.items()))), encoding="utf-8")
        tmp.replace(path)

    def diff(self, name: str, a: int, b: int) -> str:
        """Unified diff of two version files."""
        left, right = self.load(name, a), self.load(name, b)
        return "".join(
            difflib.unified_diff(
                left.text.splitlines(keepends=True),
                right.text.splitlines(keepends=True),
                fromfile=f"{name}/v{a}.yaml",
                tofile=f"{name}/v{b}.yaml",
            )
        )
