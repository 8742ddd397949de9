"""The sampling lever: temperature 0, so reruns stop disagreeing by chance.

At temperature 0 a deterministic serving stack gives every rerun the same text; one that
still differs is the provider's nondeterminism (batching, hardware), which the search
reports once it has measured the candidate (:func:`nondeterminism_note`).
"""

from __future__ import annotations

from workbench.optimize.generators.base import Context, Proposal


def temperature_zero(ctx: Context) -> list[Proposal]:
    """Set temperature 0 on the prompt (and on every chain step that sets its own)."""
    data = ctx.data()
    temps = [data.get("params", {}).get("temperature")]
    temps += [s.get("params", {}).get("temperature") for s in data.get("steps") or []
              if "temperature" in (s.get("params") or {})]
    if all(t == 0 for t in temps if t is not None) and temps[0] == 0:
        return []
    data["params"] = {**dict(data.get("params") or {}), "temperature": 0}
    for step in data.get("steps") or []:
        if "temperature" in (step.get("params") or {}):
            step["params"]["temperature"] = 0
    return [Proposal("temperature-0", data, "temperature 0")]


def nondeterminism_note(tar_raw: float) -> str | None:
    """A note when reruns at temperature 0 still gave different texts (TARr < 1)."""
    if tar_raw >= 1.0:
        return None
    return (f"at temperature 0 only {tar_raw:.0%} of cases gave the same text on every "
            "rerun: the provider is nondeterministic at 0, so some variance is the serving "
            "stack's, which no prompt removes")
