"""A run's plan as it is stored: its secrets masked, and taken back from the suite on resume.

The plan is stored with the run so that ``--resume`` repeats it exactly, but nothing stored
may hold a key. So before a plan is recorded every secret in it is masked
(:func:`workbench.redaction.redact_data`: a model's ``api_base`` password, a header's key,
text shaped like a provider's key, in models, params and cases), and the plan notes what
was masked. A resume takes those parts back from the suite file — provided they mask to
exactly what was stored, so it is the same run — and refuses otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.engine.plan import Plan, PlanCase, make_plan
from workbench.errors import InputError, Problem, display_path
from workbench.redaction import redact_data
from workbench.suites.loader import load_suite


def stored_plan(plan: Plan) -> dict[str, Any]:
    """The plan's dict with secrets masked and ``extra["masked"]`` saying where."""
    data = plan.to_dict()
    models = [redact_data(m) for m in data["models"]]
    params = redact_data(data["params"])
    # A case keeps its id: cells are stored under it.
    cases = [{**redact_data(c), "id": c["id"]} for c in data["cases"]]
    masked = {
        "models": [i for i, (m, o) in enumerate(zip(models, data["models"], strict=True))
                   if m != o],
        "params": params != data["params"],
        "cases": [c["id"] for c, o in zip(cases, data["cases"], strict=True) if c != o],
    }
    data.update(models=models, params=params, cases=cases)
    if masked["models"] or masked["params"] or masked["cases"]:
        data["extra"] = {**data["extra"], "masked": masked}
    return data


def restore_secrets(plan: Plan, suite_file: Path) -> None:
    """Put back what :func:`stored_plan` masked, from the suite file (in place)."""
    masked = plan.extra.pop("masked", None)
    if not masked:
        return
    problem = Problem(f"run of suite '{plan.suite}' was stored with its secrets masked, and "
                      f"{display_path(suite_file)} no longer has the same ones",
                      hint="resuming would send '***' instead; start a new run")
    try:
        original = make_plan(load_suite(suite_file, check_render=False)).to_dict()
    except InputError:
        raise InputError(problem) from None
    if masked.get("params"):
        if redact_data(original["params"]) != plan.params:
            raise InputError(problem)
        plan.params = original["params"]
    models = {m["name"]: m for m in original["models"]}
    for index in masked.get("models", []):
        source = models.get(plan.models[index]["name"])
        if source is None or redact_data(source) != plan.models[index]:
            raise InputError(problem)
        plan.models[index] = source
    cases = {c["id"]: c for c in original["cases"]}
    for position, case in enumerate(plan.cases):
        if case.id not in masked.get("cases", []):
            continue
        source = cases.get(case.id)
        if source is None or {**redact_data(source), "id": case.id} != vars(case):
            raise InputError(problem)
        plan.cases[position] = PlanCase(**source)
