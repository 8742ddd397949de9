"""What litellm's bundled cost map says a model costs, read without importing litellm.

The direct transport prices every reply with it, and the escalation report prices a model's
calls and its fine-tuned variant; both ask this module. The map is the JSON file shipped in
the litellm package, the one litellm itself loads with ``LITELLM_LOCAL_MODEL_COST_MAP``
(never fetched): it is read here as JSON because importing litellm takes seconds. Calls
through litellm are priced by litellm itself, from the same map.

A model the map has no flat per-token price for, and every embedded ``local/…`` model, has
no price: ``None``, which reports show as unknown, never as $0.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from workbench.models.transport import LOCAL_PREFIX

COST_MAP_FILE = "model_prices_and_context_window_backup.json"


@dataclass(frozen=True)
class TokenPrice:
    """USD per token, for prompt (input) and completion (output) tokens."""

    input: float
    output: float

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return prompt_tokens * self.input + completion_tokens * self.output


@cache
def _cost_map() -> dict[str, Any]:
    """litellm's bundled cost map, read from its package folder; ``{}`` if there is none."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    for folder in spec.submodule_search_locations:
        path = Path(folder) / COST_MAP_FILE
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def _same_provider(entry: dict[str, Any], provider: str) -> bool:
    """Whether a map entry belongs to the provider named by a model's routing prefix
    (``text-completion-openai`` and ``vertex_ai-language-models`` count as their provider)."""
    owner = str(entry.get("litellm_provider", ""))
    return owner == provider or owner.startswith(provider + "-") or owner.endswith("-" + provider)


def _entry(model: str) -> dict[str, Any] | None:
    """The map's entry for a model name as a suite writes it: the name itself, else the name
    without its routing prefix (``openai/gpt-4o-mini`` is ``gpt-4o-mini`` of provider openai)."""
    cost_map = _cost_map()
    entry = cost_map.get(model)
    if isinstance(entry, dict):
        return entry
    provider, _, name = model.partition("/")
    entry = cost_map.get(name) if name else None
    if isinstance(entry, dict) and _same_provider(entry, provider):
        return entry
    return None


@cache
def price(model: str) -> TokenPrice | None:
    """The model's price per token, or None when it is unknown (and for ``local/…`` models)."""
    if model.startswith(LOCAL_PREFIX):
        return None
    entry = _entry(model)
    if entry is None:
        return None
    inp, out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
    if not _is_number(inp) or not _is_number(out):
        return None
    return TokenPrice(float(inp), float(out))


def finetuned_model(model: str) -> str | None:
    """The map's name for a fine-tuned ``model`` (``ft:gpt-4o-mini-2024-07-18`` for
    ``openai/gpt-4o-mini``): the newest ``ft:<name>`` snapshot it lists, if any."""
    if model.startswith(LOCAL_PREFIX):
        return None
    base = model.split("/", 1)[-1]
    matches = sorted(k for k in _cost_map() if k == f"ft:{base}" or k.startswith(f"ft:{base}-"))
    return matches[-1] if matches else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
