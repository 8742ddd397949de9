"""A suite's history: every prompt version × model its stored runs measured.

The one part of escalation that reads the store; the rule itself works on what this builds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.analysis.stats import Rerun
from workbench.errors import InputError, Problem, display_path


class NoHistoryError(InputError):
    """The suite has nothing stored to judge: no runs at all (``ran`` False), or runs without
    results. Front ends catch it to say how to get some in their own terms."""

    def __init__(self, problem: Problem, suite: str, ran: bool):
        super().__init__(problem)
        self.suite = suite
        self.ran = ran


def no_runs(suite: str, db: str | Path) -> NoHistoryError:
    """The error for a suite without stored runs in the store at ``db`` (which may not exist:
    readers never create one)."""
    return NoHistoryError(Problem(f"no stored runs of suite '{suite}'", display_path(db),
                                  hint="run it first: workbench run suites/<file>.yaml"),
                          suite, ran=False)


@dataclass
class HistoryPoint:
    """One prompt version on one model, as measured by the latest run that ran it."""

    prompt: str
    version: int
    model: str
    run_id: str
    created: float  # when this version × model was first run (orders the trend)
    kind: str  # zero-shot | few-shot | chain | unknown
    parse_type: str  # raw | label | regex | json | number
    format_constrained: bool  # a request held the model to a format (grammar, response_format)
    temperature: float | None  # highest temperature sent; None = provider default
    reruns: dict[str, list[Rerun]]  # by case id
    expected: dict[str, Any]  # case id → expected answer (None = none)
    prompt_tokens: float = 0.0  # mean per cell (every step of a chain)
    completion_tokens: float = 0.0
    final_completion_tokens: float = 0.0  # the answering step only
    short_prompt_ratio: float | None = None  # chars of the fine-tuning input / chars sent
    cost_per_call: float = 0.0  # observed mean cost per cell

    @property
    def ref(self) -> str:
        return f"{self.prompt}@{self.version}"


@dataclass
class History:
    suite: str
    runs: list[str]
    points: list[HistoryPoint]  # chronological

    def models(self) -> list[str]:
        return list(dict.fromkeys(p.model for p in self.points))


def _temperature(cells: Sequence[Any]) -> float | None:
    temps: list[float | None] = []
    for cell in cells:
        for step in cell.steps:
            value = step.params.get("temperature")
            temps.append(float(value) if isinstance(value, (int, float)) else None)
    if not temps or any(t is None for t in temps):
        return None
    return max(t for t in temps if t is not None)


def _format_param(cells: Sequence[Any]) -> bool:
    """Did the requests hold the model to an output format? Only a real constraint counts
    (a grammar or a response_format, e.g. from ``constrain: true``): a parse spec is how the
    answer is read, not a constraint on the model."""
    from workbench.models.constraints import constrains_output

    return any(constrains_output(step.params) for cell in cells[:1] for step in cell.steps)


def _chars(messages: Sequence[Mapping[str, Any]]) -> int:
    return sum(len(str(m.get("content", ""))) for m in messages)


def _short_prompt_ratio(prompt: Any, cases: Sequence[Any]) -> float | None:
    """Characters of the fine-tuning input over characters sent, over one rerun per case."""
    from workbench.escalation.short_prompt import prompt_messages

    sent = short = 0
    for case in cases:
        if not case.cells or not case.cells[0].steps:
            continue
        try:
            messages = prompt_messages(prompt, case.vars, case.cells)
        except InputError:
            continue
        if messages is None:
            continue
        sent += sum(_chars(step.messages) for step in case.cells[0].steps)
        short += _chars(messages)
    return short / sent if sent else None


def load_history(store: Any, suite: str, runs: Sequence[Any] | None = None) -> History:
    """Every prompt version × model the suite's stored runs measured (the latest run of each
    counts; the trend follows when each was first run). ``runs`` is ``store.runs(suite)`` if
    the caller has already read it. Raises :class:`NoHistoryError` when the suite has no runs
    with results."""
    from workbench.analysis.results import load_results

    runs = store.runs(suite) if runs is None else runs
    if not runs:
        raise no_runs(suite, store.path)
    points: dict[tuple[str, int, str], HistoryPoint] = {}
    # When each version × model was first run (created, group order, run position): the
    # trend's order. The run position settles runs created at the same instant as before.
    first_seen: dict[tuple[str, int, str], tuple[float, int, int]] = {}
    sightings: list[tuple[int, int, tuple[str, int, str], float]] = []
    used: list[int] = []
    prompts: dict[tuple[str, int], Any] = {}
    # Newest run first, and within a run its last group first: the first time a version ×
    # model comes up is the measurement that counts, so each point is built once. Runs of
    # the suite come before playground runs (a draft's runs, attached to the version it was
    # saved as): a few cases tried in the playground never replace a run of the suite, but
    # a version measured only there still counts. A draft never saved is no version: left out.
    newest_first = [p for p in range(len(runs) - 1, -1, -1) if not runs[p].is_draft]
    for position in sorted(newest_first, key=lambda p: runs[p].kind == "playground"):
        run = runs[position]
        results = load_results(store, run.id, comparisons=False)
        if results.groups:
            used.append(position)
        variants = {v.ref: v for v in results.plan.variants}
        expected = {c.id: c.expected for c in results.plan.cases}
        for order in range(len(results.groups) - 1, -1, -1):
            group = results.groups[order]
            v = variants[group.variant]
            key = (v.name, v.version, group.model)
            sightings.append((position, order, key, run.created))
            if key not in points:
                points[key] = _history_point(store, run.id, v, group, expected, prompts)
    # Every later (older) sighting moves a point's first-seen time back.
    for position, order, key, created in sorted(sightings, reverse=True):
        first_seen[key] = (created, order, position)
    if not points:
        raise NoHistoryError(Problem(f"the runs of suite '{suite}' have no results yet",
                                     display_path(store.path),
                                     hint="finish one: workbench run SUITE --resume RUN"),
                             suite, ran=True)
    for key, point in points.items():
        point.created = first_seen[key][0]
    ordered = sorted(points.values(), key=lambda p: first_seen[(p.prompt, p.version, p.model)])
    return History(suite=suite, runs=[runs[p].id for p in sorted(used)], points=ordered)


def _history_point(store: Any, run_id: str, v: Any, group: Any, expected: Mapping[str, Any],
                   prompts: dict[tuple[str, int], Any]) -> HistoryPoint:
    """One stored group (a prompt version on a model, in one run) as a history point; its
    ``created`` is set by the caller. ``prompts`` caches the parsed stored prompt texts."""
    from workbench.analysis.results import reruns_by_case
    from workbench.prompts.version import parse_version_text

    if (v.name, v.version) not in prompts:
        text = store.stored_prompt_text(v.name, v.version)
        try:
            prompts[(v.name, v.version)] = (
                parse_version_text(text, Path(v.path), v.name, v.version)
                if text is not None else None)
        except InputError:
            prompts[(v.name, v.version)] = None
    prompt = prompts[(v.name, v.version)]
    cells = [c for case in group.cases for c in case.cells]
    done = [c for c in cells if c.status == "ok"]
    n_cells = len(cells) or 1
    final_tokens = [c.steps[-1].completion_tokens for c in done if c.steps]
    return HistoryPoint(
        prompt=v.name,
        version=v.version,
        model=group.model,
        run_id=run_id,
        created=0.0,
        kind=prompt.spec.kind if prompt else "unknown",
        parse_type=prompt.spec.parse.type if prompt else "raw",
        format_constrained=_format_param(cells),
        temperature=_temperature(cells),
        reruns=reruns_by_case(group),
        expected={case.case_id: expected.get(case.case_id) for case in group.cases},
        prompt_tokens=group.prompt_tokens / n_cells,
        completion_tokens=group.completion_tokens / n_cells,
        final_completion_tokens=(sum(final_tokens) / len(final_tokens)
                                 if final_tokens else 0.0),
        short_prompt_ratio=(_short_prompt_ratio(prompt, group.cases)
                            if prompt else None),
        cost_per_call=group.cost / n_cells,
    )
