"""Fine-tuned adapters of the embedded model: where they live, what they are, what they did.

Why here, below the engine: a trained adapter is a model. ``local/smollm2+NAME`` names the
embedded model with the LoRA adapter ``NAME``, and the transport that runs it, the session
that checks a run can start, and the escalation report that shows what fine-tuning changed
all need to find the adapter and read its records — without importing torch or the trainer.

An adapter is a folder ``.workbench/adapters/NAME/`` (the folder is ``$WORKBENCH_ADAPTERS``
when set) holding:

* ``adapter.gguf`` — the LoRA weights as llama.cpp loads them beside the untouched base;
* ``adapter.json`` — :class:`AdapterInfo`: the base model's and the data's SHA-256, the
  hyperparameters, the loss curve, the time taken, the suite and prompt version it is for;
* ``comparison.json`` — :class:`AdapterComparison`, once the suite was re-run on it: the
  held-out cases before and after, with paired 95% intervals.

A hosted fine-tune (``--provider openai``) has ``adapter.json`` alone, whose
``remote_model`` is the provider's name for the tuned model.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from workbench.atomic import atomic_write_text
from workbench.jsonable import jsonable
from workbench.models.errors import ModelUnavailable
from workbench.suites.spec import TUNED_LOCAL_MODEL

ENV_ADAPTERS = "WORKBENCH_ADAPTERS"
DEFAULT_DIR = Path(".workbench") / "adapters"
BASE_MODEL = "local/smollm2"
WEIGHTS_FILE = "adapter.gguf"
INFO_FILE = "adapter.json"
COMPARISON_FILE = "comparison.json"

VERDICT_HELPED = "helped"  # fine-tuning helped: the pass rate rose, its interval above 0
VERDICT_NO_GAIN = "no_gain"  # no detectable gain
VERDICT_WORSE = "worse"  # the pass rate fell, its interval below 0


_project: Path | None = None  # set by in_project(): process-wide, as one CLI call is one project


def adapters_dir() -> Path:
    """The folder holding one subfolder per adapter: ``$WORKBENCH_ADAPTERS``, else
    ``.workbench/adapters`` in the project (:func:`in_project`), else in the working folder."""
    override = os.environ.get(ENV_ADAPTERS)
    if override:
        return Path(override).expanduser()
    return _project / DEFAULT_DIR if _project is not None else DEFAULT_DIR


@contextmanager
def in_project(project: str | os.PathLike[str]) -> Iterator[None]:
    """Adapters live in ``project``'s ``.workbench/`` for the duration, as its store does:
    ``workbench --project P`` run from elsewhere trains, finds and reports P's adapters.
    Process-wide (not a context variable): model calls and the TUI's workers run on other
    threads."""
    global _project
    previous, _project = _project, Path(project)
    try:
        yield
    finally:
        _project = previous


def is_valid_name(name: str) -> bool:
    """Letters, digits, ``.``, ``_``, ``-``; 64 characters at most; a letter or digit first."""
    return TUNED_LOCAL_MODEL.fullmatch(f"{BASE_MODEL}+{name}") is not None


def tuned_model_name(name: str) -> str:
    """``NAME`` → ``local/smollm2+NAME``, the model name a suite uses."""
    return f"{BASE_MODEL}+{name}"


def adapter_name(model: str) -> str | None:
    """``local/smollm2+NAME`` → ``NAME``; None for any other model name."""
    match = TUNED_LOCAL_MODEL.fullmatch(model)
    return match.group(1) if match else None


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, read in blocks (the base model is about 100 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class AdapterInfo:
    """What an adapter is and how it was made (``adapter.json``)."""

    name: str
    suite: str
    prompt: str  # the version the training set was built from, name@N
    provider: str = "local"  # "local": a LoRA on the embedded model; "openai": hosted
    base_model: str = BASE_MODEL
    base_sha256: str = ""
    data_sha256: str = ""
    train_cases: tuple[str, ...] = ()
    heldout_cases: tuple[str, ...] = ()
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    losses: tuple[float, ...] = ()  # mean loss of each optimiser step
    seconds: float = 0.0
    tokens: int = 0  # training tokens processed (all epochs)
    peak_rss_mb: float | None = None
    created: float = 0.0  # Unix time
    remote_model: str | None = None  # a hosted fine-tune's model name
    remote_job: str | None = None

    @property
    def model(self) -> str:
        """The model name a suite uses for it."""
        return self.remote_model or tuned_model_name(self.name)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdapterInfo:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("train_cases", "heldout_cases", "losses"):
            if key in values:
                values[key] = tuple(values[key] or ())
        return cls(**values)


@dataclass(frozen=True)
class MetricChange:
    """One metric on the held-out cases, before and after, with the paired change (after −
    before) and its 95% interval (None with fewer than two cases)."""

    metric: str
    before: float | None
    after: float | None
    delta: float | None
    ci: tuple[float, float] | None


@dataclass(frozen=True)
class AdapterComparison:
    """The best prompt version on the base model versus the short prompt on the tuned model,
    on the held-out cases the adapter never saw (``comparison.json``)."""

    adapter: str
    suite: str
    before_model: str
    before_prompt: str  # name@N: the best version, few-shot examples and all
    before_run: str
    after_model: str
    after_prompt: str  # the short prompt the training examples used
    after_run: str
    cases: tuple[str, ...]
    reruns: int
    k: int
    pass_rate: MetricChange
    consistency: MetricChange
    pass_hat_k: MetricChange
    tokens_per_call: tuple[float | None, float | None]  # (before, after), prompt + completion
    seconds_per_call: tuple[float | None, float | None]
    verdict: str  # VERDICT_HELPED, VERDICT_NO_GAIN or VERDICT_WORSE
    created: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdapterComparison:
        def change(d: dict[str, Any]) -> MetricChange:
            ci = d.get("ci")
            return MetricChange(d["metric"], d.get("before"), d.get("after"), d.get("delta"),
                                tuple(ci) if ci else None)  # type: ignore[arg-type]

        return cls(
            adapter=data["adapter"], suite=data["suite"], before_model=data["before_model"],
            before_prompt=data["before_prompt"], before_run=data["before_run"],
            after_model=data["after_model"], after_prompt=data["after_prompt"],
            after_run=data["after_run"], cases=tuple(data["cases"]), reruns=data["reruns"],
            k=data["k"], pass_rate=change(data["pass_rate"]),
            consistency=change(data["consistency"]), pass_hat_k=change(data["pass_hat_k"]),
            tokens_per_call=tuple(data["tokens_per_call"]),  # type: ignore[arg-type]
            seconds_per_call=tuple(data["seconds_per_call"]),  # type: ignore[arg-type]
            verdict=data["verdict"], created=data.get("created", 0.0))


def verdict_of(pass_rate: MetricChange) -> str:
    """The verdict on the advice to fine-tune: the pass rate's paired interval decides."""
    if pass_rate.ci is None:
        return VERDICT_NO_GAIN
    if pass_rate.ci[0] > 0:
        return VERDICT_HELPED
    if pass_rate.ci[1] < 0:
        return VERDICT_WORSE
    return VERDICT_NO_GAIN


@dataclass(frozen=True)
class Adapter:
    """One adapter folder and its records."""

    folder: Path
    info: AdapterInfo
    comparison: AdapterComparison | None

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS_FILE


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def load_adapter(folder: str | os.PathLike[str]) -> Adapter | None:
    """The adapter in ``folder``; None when its ``adapter.json`` is missing or unreadable
    (a folder a cancelled training left is never half-written: see :func:`write_info`)."""
    folder = Path(folder)
    data = _read_json(folder / INFO_FILE)
    if data is None:
        return None
    try:
        info = AdapterInfo.from_dict(data)
    except (TypeError, ValueError):
        return None
    comparison = None
    raw = _read_json(folder / COMPARISON_FILE)
    if raw is not None:
        try:
            comparison = AdapterComparison.from_dict(raw)
        except (KeyError, TypeError, ValueError):
            comparison = None
    return Adapter(folder, info, comparison)


def list_adapters(root: str | os.PathLike[str] | None = None) -> list[Adapter]:
    """Every adapter under ``root`` (default :func:`adapters_dir`), oldest first."""
    base = Path(root) if root is not None else adapters_dir()
    if not base.is_dir():
        return []
    found = [a for d in sorted(base.iterdir()) if d.is_dir() and (a := load_adapter(d))]
    return sorted(found, key=lambda a: (a.info.created, a.info.name))


def latest_for_suite(suite: str, root: str | os.PathLike[str] | None = None
                     ) -> Adapter | None:
    """The newest adapter of ``suite`` that has a comparison (the escalation report's "after
    fine-tuning" section); None when there is none."""
    measured = [a for a in list_adapters(root) if a.info.suite == suite and a.comparison]
    return max(measured, key=lambda a: a.comparison.created if a.comparison else 0.0,
               default=None)


def resolve_adapter(model: str, root: str | os.PathLike[str] | None = None) -> Path | None:
    """The GGUF adapter file of a ``local/smollm2+NAME`` model; None for the bare base model.

    Raises :class:`ModelUnavailable`, saying how to make it, when the adapter is missing.
    """
    name = adapter_name(model)
    if name is None:
        return None
    base = Path(root) if root is not None else adapters_dir()
    weights = base / name / WEIGHTS_FILE
    if not weights.is_file() or not (base / name / INFO_FILE).is_file():
        raise ModelUnavailable(
            f"model {model}: no fine-tuned adapter '{name}' in {base}/. Train it with: "
            f"workbench finetune SUITE --name {name} (or set ${ENV_ADAPTERS} to the folder "
            "that holds it)")
    return weights


def write_info(folder: str | os.PathLike[str], info: AdapterInfo) -> Path:
    """Write ``adapter.json`` atomically; written last, it is what makes a folder an adapter."""
    return atomic_write_text(Path(folder) / INFO_FILE,
                             json.dumps(info.to_dict(), indent=2, ensure_ascii=False) + "\n")


def write_comparison(folder: str | os.PathLike[str], comparison: AdapterComparison) -> Path:
    """Write ``comparison.json`` atomically."""
    return atomic_write_text(Path(folder) / COMPARISON_FILE,
                             json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False)
                             + "\n")


__all__ = [
    "BASE_MODEL",
    "COMPARISON_FILE",
    "DEFAULT_DIR",
    "ENV_ADAPTERS",
    "INFO_FILE",
    "VERDICT_HELPED",
    "VERDICT_NO_GAIN",
    "VERDICT_WORSE",
    "WEIGHTS_FILE",
    "Adapter",
    "AdapterComparison",
    "AdapterInfo",
    "MetricChange",
    "adapter_name",
    "adapters_dir",
    "file_sha256",
    "is_valid_name",
    "latest_for_suite",
    "list_adapters",
    "load_adapter",
    "resolve_adapter",
    "tuned_model_name",
    "write_comparison",
    "write_info",
]
