"""Token prices: the suite's own, or litellm's bundled cost map (read locally, never fetched)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


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
    """Prices from litellm's bundled cost map (read locally, never fetched). Local models
    (``local/…``) have no price, and litellm is not even imported for them."""

    def _litellm(self) -> Any:
        from workbench.models.gateway import litellm_module

        return litellm_module()

    def price(self, model: str) -> Price | None:
        if model.startswith("local/"):
            return None
        from workbench.models.gateway import has_placeholder_price

        if has_placeholder_price(model):  # a run in this process priced it at zero
            return None
        try:
            info = self._litellm().get_model_info(model)
        except Exception:  # litellm raises a plain Exception for unmapped models
            return None
        inp, out = info.get("input_cost_per_token"), info.get("output_cost_per_token")
        if not isinstance(inp, (int, float)) or not isinstance(out, (int, float)):
            return None
        return Price(inp * 1000, out * 1000)

    def finetuned_model(self, model: str) -> str | None:
        """litellm's entry for a fine-tuned ``model`` (``ft:gpt-4o-mini-2024-07-18`` for
        ``openai/gpt-4o-mini``): the newest ``ft:<name>`` snapshot it knows."""
        if model.startswith("local/"):
            return None
        base = model.split("/", 1)[-1]
        keys = self._litellm().model_cost.keys()
        matches = sorted(k for k in keys if k == f"ft:{base}" or k.startswith(f"ft:{base}-"))
        return matches[-1] if matches else None
