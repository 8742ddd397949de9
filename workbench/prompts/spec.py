"""What a prompt version file may contain: the validated shape of ``prompts/<name>/vN.yaml``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workbench.checks.parsing import ParseSpec
from workbench.config.params import Params

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
