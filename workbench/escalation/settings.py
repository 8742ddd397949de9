"""The escalation rule's parameters, from the suite's ``escalation`` section and thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.escalation.prices import Price

DEFAULT_TARGET = 0.9
DEFAULT_PARSE_RATE = 0.95  # below it, answers are too often unreadable to judge anything else


@dataclass(frozen=True)
class FinetuneSettings:
    model: str | None = None
    input_per_1k: float | None = None
    output_per_1k: float | None = None
    training_per_1k: float | None = None
    epochs: int = 3


@dataclass(frozen=True)
class EscalationSettings:
    """The rule's parameters: the suite's ``escalation`` section, defaults from its thresholds."""

    target: float = DEFAULT_TARGET
    metric: str = "modal_share"  # or "tar_answer" (checks.METRIC_*)
    parse_rate_target: float = DEFAULT_PARSE_RATE  # the format check's target
    pass_hat_k: float | None = None
    k: int | None = None  # default: each version's N
    pass_rate: float | None = None  # what majority voting must reach to count as a fix
    plateau: int = 3
    prices: Mapping[str, Price] = field(default_factory=dict)
    finetune: FinetuneSettings = field(default_factory=FinetuneSettings)


def settings_from_suite(spec: Any) -> EscalationSettings:
    """Settings from a validated :class:`workbench.suites.SuiteSpec` (or a stored plan's
    thresholds when ``spec`` is a plain dict of them)."""
    if isinstance(spec, Mapping):
        from workbench.suites.spec import EscalationSpec

        t, esc = spec, EscalationSpec()  # no escalation section: its defaults
    else:
        t, esc = spec.thresholds.model_dump(exclude_none=True), spec.escalation
    default_target = t.get("tar_answer") if esc.metric == "tar_answer" else t.get("consistency")
    target = esc.target or default_target
    ft = esc.finetune
    return EscalationSettings(
        target=target if target is not None else DEFAULT_TARGET,
        metric=esc.metric,
        parse_rate_target=esc.parse_rate,
        pass_hat_k=esc.pass_hat_k if esc.pass_hat_k is not None else t.get("pass_hat_k"),
        k=esc.k if esc.k is not None else t.get("k"),
        pass_rate=t.get("pass_rate"),
        plateau=esc.plateau,
        prices={name: Price(p.input_per_1k, p.output_per_1k) for name, p in esc.prices.items()},
        finetune=FinetuneSettings(ft.model, ft.input_per_1k, ft.output_per_1k,
                                  ft.training_per_1k, ft.epochs),
    )
