"""The short prompt: what a fine-tuned model is sent in place of the prompt as it ran.

The prompt rendered *without its few-shot examples* (a fine-tuned model has learned what they
taught, and a shorter prompt is half the point). A chain's tuned model replaces the step that
produces the answer, so its short prompt is the final step's messages as a stored rerun sent
them (earlier steps' outputs filled in, from a passing rerun when there is one).

Escalation estimates its size for the cost comparison; export-finetune writes it as each
training example's input, so both mean the same prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench.prompts.version import PromptVersion
from workbench.store.records import CellRecord


def prompt_messages(
    prompt: PromptVersion, variables: Mapping[str, Any], cells: Sequence[CellRecord] = ()
) -> list[dict[str, str]] | None:
    """The short prompt's messages for one case; None when a chain has no stored rerun that
    reached its final step for it."""
    if not prompt.spec.steps:
        return prompt.render_without_examples(variables)
    final = prompt.step_count() - 1
    reached = [c for c in cells if len(c.steps) > final and c.steps[final].replied]
    reached.sort(key=lambda c: (not c.passed, c.rerun))
    if not reached:
        return None
    return [{"role": m["role"], "content": m["content"]}
            for m in reached[0].steps[final].messages]
