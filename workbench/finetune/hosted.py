"""A hosted fine-tune through an OpenAI-compatible fine-tuning API (``--provider openai``).

The same training set as the local loop (the best version's short prompt, the held-out cases
kept out) is uploaded as chat JSONL through the files API, a fine-tuning job is started and
polled until it ends, and the resulting model name is registered as an adapter record
(``adapter.json`` with ``provider: openai`` and ``remote_model``), so a suite can name it.
The openai SDK does the HTTP; ``api_base`` points it at any server with the same API.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import InputError, Problem
from workbench.finetune.dataset import training_set
from workbench.finetune.export import write_jsonl
from workbench.finetune.loop import DATA_FILE, check_name, default_name
from workbench.models.adapters import (
    Adapter,
    AdapterInfo,
    adapters_dir,
    load_adapter,
    write_info,
)

FINISHED = {"succeeded", "failed", "cancelled"}


class HostedJobFailed(Exception):
    """The provider ended the job without a model (failed or cancelled)."""


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    status: str
    elapsed: float


def hosted_finetune(
    db: str | os.PathLike[str], suite: str | os.PathLike[str], *, base_model: str,
    api_key: str, api_base: str | None = None, prompt: str | None = None,
    name: str | None = None, holdout: float = 0.25, seed: int = 0, epochs: int | None = None,
    poll: float = 10.0, timeout: float = 24 * 3600, root: Path | None = None,
    on_status: Callable[[JobStatus], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Adapter:
    """Upload the training set, start a job on ``base_model``, wait for it, register the
    model it made. Raises :class:`HostedJobFailed` when the job fails, ``InputError`` when the
    API refuses the request (bad key, unknown model, unreachable server)."""
    import openai

    made = training_set(db, suite, prompt=prompt, holdout=holdout, seed=seed)
    name = name or default_name(made.ref.name)
    check_name(name)
    root = root if root is not None else adapters_dir()
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f".{name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        data = write_jsonl(partial / DATA_FILE, made.train)
        client = openai.OpenAI(api_key=api_key, base_url=api_base, max_retries=2,
                               timeout=120.0)
        started = time.monotonic()
        try:
            with open(data, "rb") as fh:
                upload = client.files.create(file=(DATA_FILE, fh), purpose="fine-tune")
            job = client.fine_tuning.jobs.create(
                training_file=upload.id, model=base_model, suffix=name[:18], seed=seed,
                **({"hyperparameters": {"n_epochs": epochs}} if epochs else {}))
            while job.status not in FINISHED:
                if on_status is not None:
                    on_status(JobStatus(job.id, job.status, time.monotonic() - started))
                if time.monotonic() - started > timeout:
                    raise HostedJobFailed(f"job {job.id} still {job.status} after "
                                          f"{timeout:.0f}s")
                sleep(poll)
                job = client.fine_tuning.jobs.retrieve(job.id)
        except openai.APIStatusError as exc:
            raise InputError(Problem(f"the fine-tuning API refused: {exc.status_code} "
                                     f"{_message(exc)}", hint="check --base-model, the key "
                                     "and --api-base")) from None
        except openai.APIConnectionError as exc:
            raise InputError(Problem(f"cannot reach the fine-tuning API: {exc}",
                                     hint="check --api-base and the network")) from None
        if on_status is not None:
            on_status(JobStatus(job.id, job.status, time.monotonic() - started))
        if job.status != "succeeded" or not job.fine_tuned_model:
            why = getattr(job.error, "message", None) if job.error else None
            raise HostedJobFailed(f"job {job.id} {job.status}" + (f": {why}" if why else ""))
        info = AdapterInfo(
            name=name, suite=made.ref.name, prompt=made.chosen.prompt.ref, provider="openai",
            base_model=base_model,
            data_sha256=hashlib.sha256(data.read_bytes()).hexdigest(),
            train_cases=tuple(e.case_id for e in made.train),
            heldout_cases=tuple(e.case_id for e in made.held),
            hyperparameters={"n_epochs": getattr(job.hyperparameters, "n_epochs", None)},
            seconds=round(time.monotonic() - started, 3), tokens=job.trained_tokens or 0,
            created=time.time(), remote_model=job.fine_tuned_model, remote_job=job.id)
        write_info(partial, info)
        final = root / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    adapter = load_adapter(final)
    assert adapter is not None
    return adapter


def _message(exc: object) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(exc, "message", exc))


__all__ = ["HostedJobFailed", "JobStatus", "hosted_finetune"]
