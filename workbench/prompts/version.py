"""One immutable prompt version: its text, content hash and rendering in the sandbox.

Rendering errors name the version file, the line and the variable, because a user fixing a
template needs to know where to look, not which Python frame failed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from pydantic import ValidationError

from workbench.checks.parsing import ParseSpec
from workbench.config.params import problems_from_error
from workbench.config.yaml import Loc, Located, load_yaml
from workbench.errors import InputError, Problem
from workbench.prompts._sandbox import PromptSandbox, TemplateLimitError, render_limited
from workbench.prompts.spec import Example, Message, PromptSpec


class RenderRefused(InputError):
    """The sandbox refused a template (unsafe, or over a budget): no case will render it."""


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
        kind = RenderRefused if isinstance(exc, SecurityError | MemoryError | RecursionError) \
            else InputError
        return kind(Problem(message, self.doc.file,
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
    problems = _step_order_problems(prompt)
    if problems:
        raise InputError(problems)
    return prompt


def _step_order_problems(prompt: PromptVersion) -> list[Problem]:
    """A chain step can only use the outputs of the steps before it: a later (or its own)
    output would be undefined when it runs, and every cell would fail."""
    steps = prompt.spec.steps or []
    position = {s.output: i for i, s in enumerate(steps)}
    problems: list[Problem] = []
    for loc, source in prompt._templates():
        index = int(loc[1])
        for name in sorted(prompt._compile(loc, source)[1] & position.keys()):
            later = position[name]
            if later >= index:
                which = "its own output" if later == index else (
                    f"the output of step {later + 1}, which runs after it")
                problems.append(Problem(
                    f"step {index + 1} ({steps[index].output}) uses '{name}', {which}",
                    prompt.doc.file, prompt.doc.text_line(loc, _first_line_of(source, name)),
                    "a step sees only the outputs of the steps before it"))
    return problems
