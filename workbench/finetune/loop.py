"""Closing the loop: fine-tune the embedded model on a suite, then measure what it changed.

The escalation report advises fine-tuning; this checks the advice. From the suite's best
prompt version (the one ``export-finetune`` uses) it builds the training set, keeps the
held-out cases out of training, trains a LoRA (:mod:`workbench.finetune.train`), registers
it as ``local/smollm2+NAME`` (:mod:`workbench.models.adapters`), runs the held-out cases on
the tuned model with the short prompt — no few-shot examples, exactly the input the training
examples used — and compares them, paired by case, with the best version's stored reruns of
the same cases: Δ pass rate, Δ consistency and Δ pass^k with paired 95% intervals, and the
tokens and seconds per call on each side. The comparison is stored beside the adapter, where
the escalation report's "after fine-tuning" section reads it.

An adapter appears only when it is complete: training writes into a hidden temporary folder
that replaces ``.workbench/adapters/NAME/`` at the end, so a cancelled or failed training
leaves nothing half-written.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from workbench.analysis.results import to_rerun
from workbench.analysis.stats import MetricDiff, compare, paired_diff, pass_hat_k
from workbench.engine.plan import make_plan
from workbench.engine.session import (
    PreparedRun,
    check_local_models,
    close_run,
    execute,
    record_run,
)
from workbench.errors import InputError, Problem, display_path
from workbench.finetune.dataset import TrainingSet, stored_cells, training_set
from workbench.finetune.export import Example, write_jsonl
from workbench.finetune.train import (
    DEFAULT_HOLDOUT,
    TrainConfig,
    TrainProgress,
    TrainResult,
    require_training_stack,
    train_lora,
)
from workbench.models.adapters import (
    BASE_MODEL,
    WEIGHTS_FILE,
    Adapter,
    AdapterComparison,
    AdapterInfo,
    MetricChange,
    adapters_dir,
    file_sha256,
    is_valid_name,
    load_adapter,
    tuned_model_name,
    verdict_of,
    write_comparison,
    write_info,
)
from workbench.models.local import resolve_model_path
from workbench.prompts.version import PromptVersion, parse_version_text
from workbench.store.database import Store
from workbench.store.records import CellRecord
from workbench.suites.loader import Suite
from workbench.suites.spec import ModelSpec

SHORT_SUFFIX = "-short"  # the short prompt's name: the best version's, with this suffix
DATA_FILE = "train.jsonl"


class ComparisonInterrupted(Exception):
    """The held-out run on the tuned model was stopped; the adapter is kept, no comparison
    is stored."""


@dataclass(frozen=True)
class FinetuneOutcome:
    """What :func:`finetune_suite` made: the adapter, how training went, the comparison."""

    adapter: Adapter
    training: TrainResult | None
    comparison: AdapterComparison | None
    held_out: int


def default_name(suite: str) -> str:
    """``ticket-classifier`` → ``ticket-classifier-20260301-101500``: a valid adapter name."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", suite).strip("-._")[:40] or "suite"
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}"


def check_name(name: str) -> None:
    if not is_valid_name(name):
        raise InputError(Problem(f"--name {name!r} is not an adapter name",
                                 hint="use letters, digits, '.', '_' and '-' (64 at most), "
                                      "starting with a letter or digit"))


def short_version(prompt: PromptVersion) -> PromptVersion:
    """The best version as a zero-shot version without its examples: what the tuned model is
    sent, as a version a run can record (``NAME-short@N``)."""
    data = dict(prompt.doc.data)
    data.pop("examples", None)
    if data.get("kind") == "few-shot":
        data["kind"] = "zero-shot"
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return parse_version_text(text, prompt.path, prompt.name + SHORT_SUFFIX, prompt.version)


def _data_sha256(examples: Sequence[Example]) -> str:
    return hashlib.sha256("".join(e.to_line() + "\n" for e in examples).encode()).hexdigest()


def _fresh_folder(root: Path, name: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    folder = root / f".{name}.partial-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def _install(partial: Path, final: Path) -> None:
    """Put a finished adapter folder in place of any earlier one of that name."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(partial, final)
    shutil.rmtree(old, ignore_errors=True)


def train_suite_adapter(
    made: TrainingSet, name: str, config: TrainConfig, *, root: Path | None = None,
    on_progress: Callable[[TrainProgress], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> tuple[Adapter, TrainResult]:
    """Train on ``made.train`` and register the adapter ``name``; nothing is left behind when
    training fails or is cancelled."""
    root = root if root is not None else adapters_dir()
    base = resolve_model_path()
    partial = _fresh_folder(root, name)
    try:
        write_jsonl(partial / DATA_FILE, made.train)
        result = train_lora([e.messages for e in made.train], partial / WEIGHTS_FILE, config,
                            base, on_progress=on_progress, stop=stop)
        info = AdapterInfo(
            name=name, suite=made.ref.name, prompt=made.chosen.prompt.ref,
            base_model=BASE_MODEL, base_sha256=file_sha256(base),
            data_sha256=_data_sha256(made.train),
            train_cases=tuple(e.case_id for e in made.train),
            heldout_cases=tuple(e.case_id for e in made.held),
            hyperparameters=config.to_dict(), losses=tuple(result.losses),
            seconds=round(result.seconds, 3), tokens=result.tokens,
            peak_rss_mb=round(result.peak_rss_mb, 1), created=time.time())
        write_info(partial, info)
        final = root / name
        _install(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    adapter = load_adapter(final)
    assert adapter is not None  # just written
    return replace(adapter, folder=final), replace(result, adapter=final / WEIGHTS_FILE)


# ---------------------------------------------------------------------------------------------
# Before and after, on the held-out cases
# ---------------------------------------------------------------------------------------------


def _before_cells(store: Store, made: TrainingSet) -> tuple[str, str, dict[str, list[CellRecord]]]:
    """The run, model and stored cells (by case) of the version the examples came from."""
    chosen = made.chosen
    run_id, model = chosen.run_id, chosen.model
    if run_id is None:  # --prompt: its latest stored run
        from workbench.escalation.history import load_history

        points = [p for p in load_history(store, made.ref.name).points
                  if (p.prompt, p.version) == (chosen.prompt.name, chosen.prompt.version)]
        if not points:
            raise InputError(Problem(
                f"{chosen.prompt.ref} has no stored run of suite '{made.ref.name}' to compare "
                "the tuned model with", hint=f"run it first: workbench run "
                f"{made.ref.suite.path if made.ref.suite else made.ref.name} "
                f"--prompt {chosen.prompt.ref}"))
        run_id, model = points[-1].run_id, points[-1].model
    assert run_id is not None and model is not None
    return run_id, model, stored_cells(store, run_id, model, chosen.prompt.name,
                                       chosen.prompt.version)


def _per_call(cells: Sequence[CellRecord]) -> tuple[float | None, float | None]:
    """Mean tokens (prompt + completion) and seconds of one call."""
    calls = [c for c in cells if c.status == "ok"]
    if not calls:
        return None, None
    return (statistics.fmean(c.prompt_tokens + c.completion_tokens for c in calls),
            statistics.fmean(c.latency_ms / 1000 for c in calls))


def _change(diff: MetricDiff, metric: str) -> MetricChange:
    return MetricChange(metric, diff.mean_a, diff.mean_b, diff.mean_diff, diff.t_ci)


def measure(before: Mapping[str, Sequence[CellRecord]], after: Mapping[str, Sequence[CellRecord]],
            k: int) -> tuple[MetricChange, MetricChange, MetricChange]:
    """Paired changes (after − before) of pass rate, consistency (modal share) and pass^k
    over the cases both sides ran."""
    a = {cid: [to_rerun(c) for c in cells] for cid, cells in before.items()}
    b = {cid: [to_rerun(c) for c in cells] for cid, cells in after.items()}
    paired = compare(a, b)
    shared = paired.shared
    hat_a = {c: pass_hat_k(len(a[c]), sum(r.passed for r in a[c]), min(k, len(a[c])))
             for c in shared}
    hat_b = {c: pass_hat_k(len(b[c]), sum(r.passed for r in b[c]), min(k, len(b[c])))
             for c in shared}
    return (_change(paired.pass_rate, "pass_rate"),
            _change(paired.consistency, "consistency"),
            _change(paired_diff("pass_hat_k", hat_a, hat_b), "pass_hat_k"))


def compare_adapter(
    db: str | os.PathLike[str], made: TrainingSet, adapter: Adapter, *,
    reruns: int | None = None, on_cell: Callable[[CellRecord], None] | None = None,
    stop: asyncio.Event | None = None,
) -> AdapterComparison:
    """Run the held-out cases on the tuned model with the short prompt (a stored run of the
    suite ``SUITE+NAME``, so the suite's own history is untouched), compare them with the best
    version's stored reruns, and store the comparison beside the adapter."""
    suite = made.ref.suite
    if suite is None:
        raise InputError(Problem(f"the file of suite '{made.ref.name}' is gone",
                                 hint="pass the suite file's path"))
    held_ids = [e.case_id for e in made.held]
    if not held_ids:
        raise InputError(Problem("no held-out cases to compare on",
                                 hint="hold some out: --holdout 0.25"))
    short = short_version(made.chosen.prompt)
    cases = [c for c in suite.cases if c.id in set(held_ids)]
    for case in cases:  # the run must send exactly what the training examples were
        if short.render(case.vars) != made.chosen.prompt.render_without_examples(case.vars):
            raise InputError(Problem(
                f"{made.chosen.prompt.ref} cannot be run without its examples as a version of "
                "its own (its template uses them)", display_path(made.chosen.prompt.path),
                hint="compare by hand: workbench run SUITE --model " + adapter.info.model))
    model = tuned_model_name(adapter.info.name)
    with Store(db) as store:
        before_run, before_model, before_cells = _before_cells(store, made)
        before = {cid: before_cells[cid] for cid in held_ids if cid in before_cells}
        before_plan = store.run(before_run).plan
        n = reruns or int(before_plan.get("reruns") or suite.spec.reruns)
        spec = suite.spec.model_copy(update={"name": f"{made.ref.name}+{adapter.info.name}"})
        after_suite = Suite(spec, suite.path, [short], [ModelSpec(name=model)], cases)
        plan = make_plan(after_suite, reruns=n)
        variants = {short.ref: short}
        check_local_models(plan, variants)
        run_id = record_run(after_suite, store, plan)
        prepared = PreparedRun(run_id, plan, variants, 0)
        status = "interrupted"
        try:
            asyncio.run(execute(store, prepared, on_cell=on_cell, stop=stop))
        finally:
            status = close_run(store, prepared)
        if status != "finished":  # stopped: a comparison of part of the cases is not stored
            raise ComparisonInterrupted(run_id)
        after: dict[str, list[CellRecord]] = {}
        for cell in store.cells(run_id):
            after.setdefault(cell.case_id, []).append(cell)
    k = suite.spec.thresholds.k or n
    pass_rate, consistency, hat = measure(before, after, k)
    comparison = AdapterComparison(
        adapter=adapter.info.name, suite=made.ref.name, before_model=before_model,
        before_prompt=made.chosen.prompt.ref, before_run=before_run, after_model=model,
        after_prompt=short.ref, after_run=run_id, cases=tuple(sorted(set(before) & set(after))),
        reruns=n, k=k, pass_rate=pass_rate, consistency=consistency, pass_hat_k=hat,
        tokens_per_call=(_per_call([c for v in before.values() for c in v])[0],
                         _per_call([c for v in after.values() for c in v])[0]),
        seconds_per_call=(_per_call([c for v in before.values() for c in v])[1],
                          _per_call([c for v in after.values() for c in v])[1]),
        verdict=verdict_of(pass_rate), created=time.time())
    write_comparison(adapter.folder, comparison)
    return comparison


def finetune_suite(
    db: str | os.PathLike[str], suite: str | os.PathLike[str], *, prompt: str | None = None,
    name: str | None = None, config: TrainConfig | None = None,
    holdout: float = DEFAULT_HOLDOUT, seed: int = 0, reruns: int | None = None,
    root: Path | None = None, on_progress: Callable[[TrainProgress], None] | None = None,
    on_cell: Callable[[CellRecord], None] | None = None,
    stop: Callable[[], bool] | None = None, compare_after: bool = True,
) -> FinetuneOutcome:
    """Export, train, register, re-run the held-out cases and compare: the whole loop."""
    config = config or TrainConfig()
    problems = config.check()
    if not 0.0 <= holdout < 1.0:
        problems.append(Problem("--holdout is the held-out fraction: at least 0 and below 1"))
    if problems:
        raise InputError(problems)
    require_training_stack()
    made = training_set(db, suite, prompt=prompt, holdout=holdout, seed=seed)
    if made.chosen.prompt.spec.steps:
        raise InputError(Problem(
            f"{made.chosen.prompt.ref} is a chain: local fine-tuning trains single-step "
            "prompts", hint="export its final step's data with: workbench export-finetune"))
    name = name or default_name(made.ref.name)
    check_name(name)
    adapter, result = train_suite_adapter(made, name, config, root=root,
                                          on_progress=on_progress, stop=stop)
    comparison = None
    if compare_after and made.held:
        event = _StopEvent(stop) if stop is not None else None
        comparison = compare_adapter(db, made, adapter, reruns=reruns, on_cell=on_cell,
                                     stop=event)
        adapter = replace(adapter, comparison=comparison)
    return FinetuneOutcome(adapter, result, comparison, len(made.held))


class _StopEvent(asyncio.Event):
    """An ``asyncio.Event`` that is set when a plain ``stop()`` callable says so."""

    def __init__(self, stop: Callable[[], bool]) -> None:
        super().__init__()
        self._stop = stop

    def is_set(self) -> bool:
        return self._stop() or super().is_set()


__all__ = [
    "DEFAULT_HOLDOUT",
    "ComparisonInterrupted",
    "FinetuneOutcome",
    "check_name",
    "compare_adapter",
    "default_name",
    "finetune_suite",
    "measure",
    "short_version",
    "train_suite_adapter",
]
