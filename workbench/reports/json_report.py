"""The versioned JSON report: everything a run measured, for machines.

The schema is named and versioned (``"schema": "workbench.run/2"``) so dashboards and scripts
can rely on it: fields are only ever added within a major version; renaming or removing one
bumps the version. Unlike promptfoo's flat result rows, reruns are nested under their case,
because the case (not the single call) is the unit the variance statistics are about.
Every field is documented in ``docs/json-schema.md``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench import __version__
from workbench.analysis.results import CaseResult, GroupResult, RunResults
from workbench.analysis.stats import GroupStats
from workbench.atomic import atomic_writer
from workbench.checks.parsing import answer_key
from workbench.jsonable import LazyList, jsonable
from workbench.reports._common import iso_utc
from workbench.store.records import CellRecord
from workbench.text import escape_json_controls

SCHEMA = "workbench.run/2"


def _summary(stats: GroupStats) -> dict[str, Any]:
    """Group statistics without the per-case dict (each case carries its own stats)."""
    d = stats.to_dict()
    d.pop("cases", None)
    return d


def _rerun(cell: CellRecord) -> dict[str, Any]:
    return {
        "rerun": cell.rerun,
        "seed": cell.seed,
        "status": cell.status,
        "output": cell.output,
        "answer": cell.answer,
        "parse_ok": cell.parse_ok,
        "passed": cell.passed,
        "assertions": [a.to_dict() for a in cell.assertions],
        "latency_ms": cell.latency_ms,
        "prompt_tokens": cell.prompt_tokens,
        "completion_tokens": cell.completion_tokens,
        "cost": cell.cost,
        "error": cell.error,
        "attempts": cell.attempts,
        "steps": [s.to_dict() for s in cell.steps],
    }


def _case_stats(case: CaseResult) -> dict[str, Any]:
    """The case's statistics, each distinct answer written as the value the reruns parsed
    (``8``, not the text ``"8"`` the statistics compare answers by)."""
    stats = case.stats.to_dict()
    values = {answer_key(c.answer): c.answer for c in case.cells
              if c.status == "ok" and c.parse_ok}
    stats["answers"] = [{**a, "answer": values.get(a["answer"], a["answer"])}
                        for a in stats["answers"]]
    return stats


def _case(case: CaseResult) -> dict[str, Any]:
    return {
        "id": case.case_id,
        "vars": case.vars,
        "expected": case.expected,
        "stats": _case_stats(case),
        "reruns": [_rerun(cell) for cell in case.cells],
    }


def _group(group: GroupResult, lazy: bool = False) -> dict[str, Any]:
    return {
        "variant": group.variant,
        "model": group.model,
        "summary": _summary(group.stats),
        "thresholds": [check.to_dict() for check in group.checks],
        "thresholds_met": group.passed,
        "errors": group.errors,
        "cost": group.cost,
        "tokens": {
            "prompt": group.prompt_tokens,
            "completion": group.completion_tokens,
            "total": group.prompt_tokens + group.completion_tokens,
        },
        "per_step": {name: _summary(stats) for name, stats in group.step_stats.items()},
        "cases": LazyList(group.cases, _case) if lazy else [_case(c) for c in group.cases],
    }


def build_json(results: RunResults, *, lazy: bool = False) -> dict[str, Any]:
    """The report as plain JSON-ready data (strict: no NaN, only lists and dicts).

    ``lazy`` leaves each group's cases to be built as the encoder writes them (for
    :func:`write_json`); the default builds everything, for callers that read the dict."""
    run, plan = results.run, results.plan
    report = {
        "schema": SCHEMA,
        "generator": {"name": "prompt-workbench", "version": __version__},
        "run": {
            "id": run.id,
            "suite": run.suite,
            "suite_path": run.suite_path,
            "status": run.status,
            "created": iso_utc(run.created),
            "finished": iso_utc(run.finished),
            "reruns": plan.reruns,
            "total_cells": plan.total_cells,
            "missing": results.missing,
            "variants": [
                {"ref": v.ref, "name": v.name, "version": v.version, "hash": v.hash,
                 "path": v.path}
                for v in plan.variants
            ],
            # api_key_env is left out on purpose: reports get shared, setup details need not be.
            "models": [
                {"name": m.get("name"), "api_base": m.get("api_base"),
                 "params": m.get("params", {}), "transport": m.get("transport", "litellm")}
                for m in plan.models
            ],
            "settings": {
                "params": plan.params,
                "seed": plan.seed,
                "concurrency": plan.concurrency,
                "timeout": plan.timeout,
                "max_attempts": plan.max_attempts,
                "judge": plan.judge,
                "thresholds": plan.thresholds,
            },
        },
        "ok": results.ok,
        "groups": [_group(g, lazy) for g in results.groups],
        "comparisons": [
            {"a": a, "b": b, **comparison.to_dict()} for a, b, comparison in results.comparisons
        ],
    }
    return jsonable(report)


def _chunks(results: RunResults) -> Iterator[str]:
    """The report's JSON text in pieces (indent 2, trailing newline), reruns built lazily."""
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, allow_nan=False)
    for chunk in encoder.iterencode(build_json(results, lazy=True)):
        # A chunk is a whole token, so a control character never spans two of them.
        yield escape_json_controls(chunk)
    yield "\n"


def dumps(results: RunResults) -> str:
    """The report as JSON text (UTF-8 friendly, indent 2, trailing newline)."""
    return "".join(_chunks(results))


def write_json(results: RunResults, path: str | os.PathLike[str]) -> Path:
    """Write the JSON report atomically, streamed: memory stays at one case's reruns however
    large the run. Returns the path written."""
    with atomic_writer(path) as fh:
        for chunk in _chunks(results):
            fh.write(chunk)
    return Path(path)
