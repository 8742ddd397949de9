"""Fine-tuning data: chat-format JSONL built from the cases that have an expected answer.

One JSON object per line, ``{"messages": [{"role": ..., "content": ...}, ...]}``: the format
OpenAI's fine-tuning API, TRL's ``SFTTrainer`` (conversational datasets), Axolotl's
``chat_template`` datasets and most hosted tuners accept. The input is the short prompt
(:mod:`workbench.escalation.short_prompt`, whose size the escalation report's cost estimate
uses): the best prompt version rendered for the case *without its few-shot examples* (a
fine-tuned model has learned what they taught, and a shorter prompt is half the point); the
assistant turn is the case's ``expected`` answer.

Chains: the tuned model replaces the step that produces the answer, so a chain exports its
final step's messages as a stored run sent them (earlier steps' outputs filled in, from a
passing rerun when there is one) with ``expected`` as the reply. Cases no stored rerun took to
the final step are skipped and named.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.atomic import atomic_write_text
from workbench.errors import Problem, display_path
from workbench.escalation.short_prompt import prompt_messages
from workbench.prompts.version import PromptVersion
from workbench.store.records import CellRecord

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Example:
    """One training conversation, built from one case."""

    case_id: str
    messages: list[dict[str, str]]

    def to_line(self) -> str:
        return json.dumps({"messages": self.messages}, ensure_ascii=False)


def target_text(expected: Any) -> str:
    """The assistant's reply for an expected answer: text as is, anything else as JSON
    (``3`` → ``"3"``, ``{"a": 1}`` → ``'{"a": 1}'``), which is what a parse spec reads back."""
    if isinstance(expected, str):
        return expected
    return json.dumps(expected, ensure_ascii=False)


def build_examples(
    prompt: PromptVersion,
    cases: Iterable[tuple[str, Mapping[str, Any], Any]],
    cells_by_case: Mapping[str, Sequence[CellRecord]] | None = None,
) -> tuple[list[Example], list[str]]:
    """Examples for every ``(case id, vars, expected)`` with an expected answer, and the ids
    of cases with one that could not be exported (chains never run to the final step)."""
    examples: list[Example] = []
    skipped: list[str] = []
    for case_id, variables, expected in cases:
        if expected is None:
            continue
        messages = prompt_messages(prompt, variables, (cells_by_case or {}).get(case_id, ()))
        if messages is None:
            skipped.append(case_id)
            continue
        examples.append(
            Example(case_id, [*messages, {"role": "assistant", "content": target_text(expected)}])
        )
    return examples, skipped


def check_example(data: Any) -> str | None:
    """Why one parsed line is not a valid chat example, or None when it is.

    Exactly ``{"messages": [...]}``; each message exactly ``{"role", "content"}`` with a known
    role and non-empty text; a system message only first; at least one user turn; the last
    turn is the assistant's (the target the tuner learns).
    """
    if not isinstance(data, dict) or set(data) != {"messages"}:
        return 'each line must be an object with exactly one key, "messages"'
    messages = data["messages"]
    if not isinstance(messages, list) or len(messages) < 2:
        return '"messages" must be a list of at least a user and an assistant message'
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            return f'message {i + 1} must have exactly the keys "role" and "content"'
        if message["role"] not in ROLES:
            return f"message {i + 1} has role {message['role']!r}; use one of {', '.join(ROLES)}"
        if not isinstance(message["content"], str) or not message["content"].strip():
            return f"message {i + 1} must have non-empty text content"
        if message["role"] == "system" and i != 0:
            return f"message {i + 1} is a system message; only the first may be"
    if not any(m["role"] == "user" for m in messages):
        return "an example needs at least one user message"
    if messages[-1]["role"] != "assistant":
        return "the last message must be the assistant's answer"
    return None


def validate_jsonl(path: str | os.PathLike[str]) -> list[Problem]:
    """Check a chat JSONL file line by line; every problem names the file and line."""
    shown = display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(f"cannot read: {exc}", shown)]
    problems: list[Problem] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        problems.append(Problem("no examples", shown))
    for number, line in enumerate(lines, start=1):
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(f"invalid JSON: {exc.msg} (column {exc.colno})", shown,
                                    number))
            continue
        message = check_example(data)
        if message:
            problems.append(Problem(message, shown, number))
    return problems


def split_holdout(
    examples: Sequence[Example], fraction: float, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """Training and held-out examples, the same split for the same seed.

    The held-out share is rounded, but both sides keep at least one example when there are
    two or more; each side stays in suite order.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError("the held-out fraction must be at least 0 and below 1")
    n = len(examples)
    if fraction == 0.0 or n < 2:
        return list(examples), []
    count = min(max(1, round(n * fraction)), n - 1)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    held = set(order[:count])
    return ([e for i, e in enumerate(examples) if i not in held],
            [e for i, e in enumerate(examples) if i in held])


def holdout_path(path: str | os.PathLike[str]) -> Path:
    """``train.jsonl`` → ``train.holdout.jsonl``."""
    p = Path(path)
    return p.with_name(f"{p.stem}.holdout{p.suffix or '.jsonl'}")


def write_jsonl(path: str | os.PathLike[str], examples: Sequence[Example]) -> Path:
    """Write the examples atomically, one per line; returns the path written."""
    return atomic_write_text(path, "".join(e.to_line() + "\n" for e in examples))


__all__ = [
    "Example",
    "ROLES",
    "build_examples",
    "check_example",
    "holdout_path",
    "split_holdout",
    "target_text",
    "validate_jsonl",
    "write_jsonl",
]
