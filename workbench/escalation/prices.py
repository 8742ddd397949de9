"""Token prices: the suite's own, or litellm's bundled cost map (read locally, never fetched)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from workbench.models import prices


@dataclass(frozen=True)
class Price:
    """USD per 1,000 tokens."""

    input_per_1k: float
    output_per_1k: float

    def per_call(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.input_per_1k + completion_tokens * self.output_per_1k) / 1000


class PriceBook(Protocol):
    def price(self, model: str) -> Price | None: ...

    def finetuned_model(self, model: str) -> str | None: ...


class LitellmPrices:
    """Prices from litellm's bundled cost map (:mod:`workbench.models.prices`, which reads it
    without importing litellm). Local models (``local/…``) and models the map cannot price
    have none: the report says unknown, not $0."""

    def price(self, model: str) -> Price | None:
        found = prices.price(model)
        return None if found is None else Price(found.input * 1000, found.output * 1000)

    def finetuned_model(self, model: str) -> str | None:
        """The map's entry for a fine-tuned ``model`` (``ft:gpt-4o-mini-2024-07-18`` for
        ``openai/gpt-4o-mini``): the newest ``ft:<name>`` snapshot it knows."""
        return prices.finetuned_model(model)
