"""What a prompt version file may contain: the validated shape of ``prompts/<name>/vN.yaml``."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from workbench.checks.parsing import ParseSpec
from workbench.config.params import ModelName, Params, located_errors
from workbench.redaction import is_secret_name

Role = Literal["system", "user", "assistant"]

# Parameters that decide where a request goes or what it carries. They belong to the suite
# (each model's api_base and api_key_env), never to a prompt: a shared prompt file must not
# be able to send the user's requests, and the key the environment adds to them, elsewhere.
ROUTING_KEYS = frozenset({
    "api_base", "base_url", "api_version", "api_type", "api_key", "extra_headers", "headers",
    "default_headers", "extra_query", "custom_llm_provider", "organization", "project",
    "deployment_id", "model", "model_list", "litellm_params", "proxy", "proxies", "client",
    "http_client", "mock_response", "transport", "azure_ad_token", "credentials",
})
_ROUTING_NAME = re.compile(
    r"^(aws|azure|vertex|watsonx|bedrock|sagemaker|gcp|google|databricks|oci)_"
    r"|(_base|_url|_uri|_endpoint|_host|headers?|_credentials?|_region|_region_name)$",
    re.IGNORECASE)


def routing_problem(key: str) -> str | None:
    """Why a prompt's ``params`` may not hold ``key``, or None."""
    if key in ROUTING_KEYS or _ROUTING_NAME.search(key) or is_secret_name(key):
        return ("a prompt may not set where requests go or what credentials and headers "
                "they carry; the suite does, per model (api_base, api_key_env)")
    return None


def _no_routing(params: dict[str, Any]) -> dict[str, Any]:
    """Refuse routing and credentials anywhere in a prompt's params, nested ones included."""
    errors = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), params)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                problem = routing_problem(str(key))
                if problem:
                    errors.append(((*loc, key), problem, item))
                else:
                    stack.append(((*loc, key), item))
        elif isinstance(value, list):
            stack.extend(((*loc, i), item) for i, item in enumerate(value))
    if errors:
        raise located_errors("PromptParams", sorted(errors, key=lambda e: str(e[0])))
    return params


# A prompt's (or a step's) sampling defaults: never routing, never credentials.
PromptParams = Annotated[Params, AfterValidator(_no_routing)]


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
    model: ModelName | None = None
    params: PromptParams = Field(default_factory=dict)
    parse: ParseSpec | None = None


_PARENT_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*@[1-9][0-9]*$")


class OriginScores(BaseModel):
    """What a measurement found, written with a version made by ``workbench optimize``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    objective: Literal["pass_hat_k", "consistency", "pass_rate"]
    k: int | None = Field(default=None, ge=1)
    split: Literal["search", "held-out"] = "search"
    cases: int = Field(ge=0)
    value: float = Field(ge=0, le=1)
    ci: tuple[float, float] | None = None
    vs_parent: float | None = Field(default=None, ge=-1, le=1,
                                    description="paired difference against the parent")
    vs_parent_ci: tuple[float, float] | None = None
    calls: int = Field(default=0, ge=0)
    cost: float = Field(default=0.0, ge=0)


class Origin(BaseModel):
    """Where a version came from when a search wrote it: its parent version, the strategy
    that proposed it, the search, and the scores it was saved with. Why in the file: the
    history of a prompt should say which versions were machine-made and on what evidence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parent: str = Field(description="the version it was derived from, name@N")
    generator: str = Field(min_length=1, max_length=100)
    search: str = Field(min_length=1, max_length=100)
    round: int = Field(default=0, ge=0)
    note: str = ""
    scores: OriginScores | None = None

    @field_validator("parent")
    @classmethod
    def _parent_ref(cls, value: str) -> str:
        if not _PARENT_RE.match(value):
            raise ValueError(f"must name a version as name@N (got {value!r})")
        return value


class PromptSpec(BaseModel):
    """The content of one version file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["zero-shot", "few-shot", "chain"]
    description: str = ""
    model: ModelName | None = None
    params: PromptParams = Field(default_factory=dict)
    messages: list[Message] | None = None
    examples: list[Example] | None = None
    steps: list[Step] | None = None
    parse: ParseSpec = Field(default_factory=ParseSpec)
    origin: Origin | None = None

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
