"""What every candidate generator receives and returns.

A generator is a small strategy: from the current best version (its file's data) and the
search split's cases, it proposes zero or more new version contents, each with a note
saying what it changed. It never measures anything and never writes a file: the search
does both, so every generator is tested on its proposals alone.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.prompts.version import PromptVersion
from workbench.suites.cases import Case


@dataclass(frozen=True)
class Proposal:
    """A candidate version's content (a version file's data, without ``origin``)."""

    generator: str
    data: dict[str, Any]
    note: str
    example_cases: tuple[str, ...] = ()  # search cases shown as examples: not scored
    proposer_calls: int = 0  # model calls spent proposing it (the rewrite generators)


@dataclass
class Context:
    """The search's state as a generator sees it."""

    prompt: PromptVersion  # the current best version
    cases: Sequence[Case]  # the search split (never the held-out cases)
    failing: Sequence[str]  # search cases the best version does not always pass, worst first
    outputs: dict[str, str] = field(default_factory=dict)  # case id → a wrong output seen
    history: Sequence[tuple[str, float]] = ()  # (instruction text, score), best last
    seed: int = 0
    examples: int = 4  # k, for the few-shot generators
    propose: Callable[[list[dict[str, str]]], str] | None = None  # one proposer model call

    def data(self) -> dict[str, Any]:
        """A copy of the best version's file data, without its ``origin``."""
        data = copy.deepcopy(self.prompt.doc.data)
        data.pop("origin", None)
        return data

    def case(self, case_id: str) -> Case:
        return next(c for c in self.cases if c.id == case_id)


Generator = Callable[[Context], list[Proposal]]


def answer_text(expected: Any, parse: Any) -> str:
    """An expected answer written the way the prompt's parse spec reads it back: a label or
    number as text, a JSON answer as JSON (wrapped in its ``path`` when that is one key)."""
    import json

    if parse.type == "json":
        path = (parse.path or "").removeprefix("$.").removeprefix("$")
        if path and path.isidentifier():
            return json.dumps({path: expected}, ensure_ascii=False)
        return json.dumps(expected, ensure_ascii=False)
    if isinstance(expected, str):
        return expected
    return json.dumps(expected, ensure_ascii=False)


def case_text(case: Case) -> str:
    """A case's inputs as one text (for similarity)."""
    return " ".join(str(v) for v in case.vars.values())


def system_index(messages: list[dict[str, Any]]) -> int:
    """The first system message, inserting an empty one at the top when there is none."""
    for i, message in enumerate(messages):
        if message.get("role") == "system":
            return i
    messages.insert(0, {"role": "system", "content": ""})
    return 0


def escape_template(text: str) -> str:
    """Model-written text made inert in a Jinja template (no ``{{``, ``{%``, ``{#``)."""
    for seq in ("{{", "{%", "{#", "}}", "%}", "#}"):
        text = text.replace(seq, seq[0] + " " + seq[1])
    return text
