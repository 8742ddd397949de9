"""The meta-prompts of the instruction-rewriting generators, and the model call behind them.

OPRO (Yang et al. 2023, "Large Language Models as Optimizers"): the meta-prompt holds the
task, the instructions tried so far with their scores (worst first, so the best is nearest
the answer), and examples the current best gets wrong; the proposer writes a better one.
APE (Zhou et al. 2022, "Large Language Models Are Human-Level Prompt Engineers"): the
proposer sees input/output pairs only and induces the instruction that produced them.

The proposer is any model the workbench can call; by default the suite's own. The embedded
SmolLM2-135M works offline but is a weak proposer: expect its rewrites to lose, and the
search to say so with its numbers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence

from workbench.models.errors import ModelError
from workbench.models.gateway import Gateway
from workbench.suites.spec import ModelSpec

MAX_SHOWN = 6  # examples in a meta-prompt
MAX_FIELD = 400  # characters of one input or output shown
_INS = re.compile(r"<INS>(.*?)(</INS>|$)", re.DOTALL | re.IGNORECASE)


def _clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_FIELD else text[:MAX_FIELD] + "…"


def opro_messages(task: str, scored: Sequence[tuple[str, float]],
                  mistakes: Sequence[tuple[str, str, str]]) -> list[dict[str, str]]:
    """The OPRO meta-prompt: ``scored`` is (instruction, score) worst first; ``mistakes`` is
    (input, expected, output) the current best got wrong."""
    lines = ["Your task is to write an instruction for a language model.",
             f"The task: {_clip(task)}", "",
             "Instructions tried so far, with their scores (higher is better):"]
    for text, score in scored:
        lines += [f"<INS>{_clip(text)}</INS>", f"score: {score:.2f}", ""]
    if mistakes:
        lines.append("Examples the best instruction gets wrong:")
        for given, expected, output in mistakes[:MAX_SHOWN]:
            lines += [f"input: {_clip(given)}", f"expected: {_clip(expected)}",
                      f"the model said: {_clip(output)}", ""]
    lines.append("Write a new instruction, different from those above, that scores higher. "
                 "Reply with the instruction only, between <INS> and </INS>.")
    return [{"role": "user", "content": "\n".join(lines)}]


def ape_messages(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """The APE induction prompt: the instruction behind these input/output pairs."""
    lines = ["I gave a friend an instruction. Following it, they answered these inputs:", ""]
    for given, output in pairs[:MAX_SHOWN]:
        lines += [f"Input: {_clip(given)}", f"Output: {_clip(output)}", ""]
    lines.append("What was the instruction? Reply with the instruction only, between <INS> "
                 "and </INS>.")
    return [{"role": "user", "content": "\n".join(lines)}]


def extract_instruction(reply: str) -> str | None:
    """The instruction in a proposer's reply (between <INS> tags, or the whole reply);
    None when it is empty."""
    match = _INS.search(reply)
    text = (match.group(1) if match else reply).strip().strip('"').strip()
    return text or None


def model_proposer(model: ModelSpec, *, timeout: float = 120.0, max_attempts: int = 3,
                   seed: int = 0) -> Callable[[list[dict[str, str]]], str]:
    """One blocking chat call per proposal to ``model`` (temperature 0.7: a proposer should
    vary). A failed call raises ``ModelError``; the search records it and moves on."""

    def propose(messages: list[dict[str, str]]) -> str:
        async def call() -> str:
            gateway = Gateway(timeout=timeout, max_attempts=max_attempts, concurrency=1)
            try:
                params = {**dict(model.params), "temperature": 0.7, "max_tokens": 200,
                          "seed": seed}
                done = await gateway.complete(model.name, messages, params,
                                              api_base=model.api_base,
                                              api_key_env=model.api_key_env,
                                              transport=model.transport)
                return done.text
            finally:
                await gateway.aclose()

        return asyncio.run(call())

    return propose


__all__ = ["ModelError", "ape_messages", "extract_instruction", "model_proposer",
           "opro_messages"]
