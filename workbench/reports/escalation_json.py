"""The escalation report as JSON (schema ``workbench.escalation/2``), for machines.

The numbers of :class:`workbench.escalation.EscalationReport` with, beside each check, lever,
cost note and the examples count, the sentence every other format shows (from
:mod:`workbench.reports.escalation_text`), so a dashboard can show the reasons without
re-deriving them. Fields are only ever added within a major version.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.escalation.report import Assessment, EscalationReport
from workbench.jsonable import jsonable
from workbench.models.adapters import AdapterComparison
from workbench.reports.escalation_text import (
    check_detail,
    cost_notes,
    examples_text,
    finetune_summary,
    finetune_verdict,
    headline,
    lever_detail,
    reasons,
    sensitivity_text,
    serving_text,
)
from workbench.text import escape_json_controls

SCHEMA = "workbench.escalation/2"


def _assessment(a: Assessment) -> dict[str, Any]:
    cost = jsonable(a.cost)
    del cost["gaps"]  # written out as notes
    e = a.examples
    return {
        "model": a.model,
        "verdict": a.verdict,
        "headline": headline(a),
        "reasons": reasons(a),
        "best": a.best,
        "checks": [{"name": c.name, "ok": c.ok, "detail": check_detail(c)} for c in a.checks],
        "levers": [{"name": lv.name, "tried": lv.tried, "blocks": lv.blocks,
                    "detail": lever_detail(lv)} for lv in a.levers],
        "improvements": a.improvements,
        "trend": a.trend,
        "serving": serving_text(a.serving),
        "sensitivity": a.sensitivity.share,
        "sensitivity_detail": sensitivity_text(a.sensitivity),
        "cost": {**cost, "notes": cost_notes(a.cost)},
        "examples": {"with_expected": e.with_expected,
                     "from_passing_reruns": e.from_passing_reruns,
                     "passing_reruns": e.passing_reruns, "usable": e.usable, "level": e.level,
                     "guidance": examples_text(e)},
        "precision_advice": a.precision_advice,
    }


def _after_finetune(c: AdapterComparison) -> dict[str, Any]:
    return {**jsonable(c), "verdict_text": finetune_verdict(c),
            "summary": finetune_summary(c)}


def build_escalation_json(report: EscalationReport) -> dict[str, Any]:
    """The report as plain JSON-ready data (strict: no NaN, only lists and dicts).

    ``after_finetune`` is there only when a fine-tuned adapter of the suite was measured."""
    data = {
        "suite": report.suite,
        "runs": report.runs,
        "settings": report.settings,
        "assessments": [_assessment(a) for a in report.assessments],
        "schema": SCHEMA,
        "verdict": report.verdict,
    }
    if report.after_finetune is not None:
        data["after_finetune"] = _after_finetune(report.after_finetune)
    return jsonable(data)


def dumps_escalation(report: EscalationReport) -> str:
    """The report as JSON text (UTF-8 friendly, indent 2, trailing newline). Model output and
    user names can hold control characters: escaped as in the run report."""
    text = json.dumps(build_escalation_json(report), indent=2, ensure_ascii=False,
                      allow_nan=False)
    return escape_json_controls(text) + "\n"
