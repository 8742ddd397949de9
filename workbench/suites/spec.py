"""The validated shape of a suite file: models, cases, thresholds, escalation settings.

Pydantic models only; reading the file and resolving what it refers to is ``loader``'s job.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from workbench.checks.assertions import Assertion
from workbench.checks.values import plain
from workbench.config.params import MAX_SEED, ModelName, Params, located_errors

DEFAULT_MODEL = "local/smollm2"
MAX_CASE_DEPTH = 50  # nesting levels of a case's vars or expected answer
MAX_RERUNS = 1000  # reruns of a case (the suite's `reruns`, and `--reruns`)
MAX_CONCURRENCY = 1024  # requests in flight


def nesting_depth(value: Any) -> int:
    """How deeply lists and mappings nest in ``value`` (0 for a scalar), without recursion."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list | tuple):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_CASE_DEPTH:
                return deepest
            stack.extend((child, depth + 1) for child in item)
    return deepest


LOCAL_MODELS = {"local/smollm2"}
# The embedded model with a LoRA adapter trained by `workbench finetune --name NAME`:
# ``local/smollm2+NAME``. Whether the adapter exists is checked when a run starts.
TUNED_LOCAL_MODEL = re.compile(r"local/smollm2\+([A-Za-z0-9][A-Za-z0-9._-]{0,63})")


def is_local_model(name: str) -> bool:
    """Whether ``name`` is the embedded model, with or without a fine-tuned adapter."""
    return name in LOCAL_MODELS or TUNED_LOCAL_MODEL.fullmatch(name) is not None


class ModelSpec(BaseModel):
    """A litellm model. Keys come from the environment only; ``api_key_env`` names the variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ModelName
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

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme, sep, rest = value.strip().partition("://")
        host = rest.split("/", 1)[0].rpartition("@")[2]
        if not sep or scheme.lower() not in ("http", "https") or not host or any(
                c.isspace() or not c.isprintable() for c in value.strip()):
            raise ValueError("api_base must be an http:// or https:// URL, e.g. "
                             "http://127.0.0.1:8000/v1")
        return value.strip()

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
    assertions: list[Assertion] = Field(default_factory=list, alias="assert")
    threshold: float | None = Field(default=None, ge=0, le=1)

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("vars", "expected")
    @classmethod
    def _json_like(cls, value: Any) -> Any:
        """Values are stored as JSON with the run: refuse what JSON cannot hold, and
        structures too deep to be a test case."""
        if nesting_depth(value) > MAX_CASE_DEPTH:
            raise ValueError(f"nested deeper than {MAX_CASE_DEPTH} levels")
        try:
            return plain(value)
        except TypeError as exc:
            raise ValueError(f"not JSON-like data: {exc}") from None


class CasesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    assertions: list[Assertion] = Field(default_factory=list, alias="assert")
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
    parse_rate: float = Field(
        default=0.95, gt=0, le=1,
        description="below this parse rate the verdict is: fix the output format first",
    )
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
    reruns: int = Field(default=5, ge=1, le=MAX_RERUNS)
    params: Params = Field(default_factory=dict)
    concurrency: int = Field(default=4, ge=1, le=MAX_CONCURRENCY)
    timeout: float = Field(default=120.0, gt=0, le=86_400, description="seconds per request")
    max_attempts: int = Field(default=6, ge=1, le=50)
    seed: int = Field(default=0, ge=-MAX_SEED, le=MAX_SEED,
                      description="base seed: rerun r of case c sends a seed hashed "
                      "from (seed, c, r)")
    judge: ModelName | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    cases: list[CaseEntry] = Field(min_length=1)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    escalation: EscalationSpec = Field(default_factory=EscalationSpec)

    @field_validator("models", mode="before")
    @classmethod
    def _model_names(cls, value: Any) -> Any:
        return [_model_entry(v) for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _k_within_reruns(self) -> SuiteSpec:
        k = self.thresholds.k
        if k is not None and k > self.reruns:
            raise located_errors("SuiteSpec", [(("thresholds", "k"), (
                f"{k} is more than reruns ({self.reruns}); pass^k needs k <= reruns"), k)])
        return self
