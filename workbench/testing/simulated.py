"""A simulated model for the fake server: replies drawn from a per-case answer distribution.

Why: the escalation rule must reach the right verdict, and "right" needs a known truth. A
:class:`SimulatedModel` plugged into :class:`workbench.testing.fakeserver.FakeServer` answers
each request from a distribution the test chooses per case, as a function of what the request
looks like (:class:`SimRequest`: few-shot examples present, a format instruction in the text,
the temperature, a ``response_format``), so a test can write a model that improves with
examples, drifts at temperature 0.7, is exact at temperature 0, or cannot keep to a format
unless constrained, run real prompt versions against it through the real runner, and assert
the verdict it knows is correct.

Draws are reproducible: each is a function of (the model's seed, the case, the request's
seed, the request's messages), never of arrival order, so a rerun with the same seed gets the
same reply and reruns with distinct seeds get independent draws. A request whose
``response_format`` carries a JSON schema with an ``answer`` enum is held to it: the draw is
restricted to the enum's values and returned as ``{"answer": ...}``, as a provider's
structured output would.

The fake server's ``[[...]]`` directives still win where a message has them; a request the
simulator does not recognise (no case found) is echoed as before.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Distribution", "Policy", "SimRequest", "SimulatedModel"]

Distribution = Mapping[str, float]  # reply text → probability (normalised when drawn)


@dataclass(frozen=True)
class SimRequest:
    """What a simulated policy sees of one chat request."""

    case: str  # found in the last user message by the model's case pattern
    system: str
    user: str  # the last user message
    few_shot: bool  # assistant turns before the last user message: worked examples
    format_instruction: bool  # the system or user text matches the model's format pattern
    temperature: float | None
    response_format: Mapping[str, Any] | None
    seed: int | None
    model: str

    @property
    def constrained(self) -> bool:
        """The request held the model to a format (a ``response_format``)."""
        return bool(self.response_format)

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The values a ``response_format`` schema allows for ``answer``, if it names them."""
        rf = self.response_format or {}
        schema = (rf.get("json_schema") or {}).get("schema") or {}
        enum = ((schema.get("properties") or {}).get("answer") or {}).get("enum")
        return tuple(str(v) for v in enum) if isinstance(enum, list) else None


Policy = Callable[[SimRequest], Distribution | None]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


class SimulatedModel:
    """Replies drawn from ``policy(request)``: reply text → probability.

    ``case_pattern``'s first group, searched in the last user message, names the case
    (default: ``case <id>``). ``format_pattern`` is what counts as a format instruction in the
    system or user text. ``policy`` returning None (or an empty distribution) leaves the
    request to the fake server's echo.
    """

    def __init__(self, policy: Policy, *, seed: int = 0,
                 case_pattern: str = r"\bcase ([\w.-]+)",
                 format_pattern: str = r"(?i)answer with (exactly )?one (word|of)") -> None:
        self.policy = policy
        self.seed = seed
        self._case = re.compile(case_pattern)
        self._format = re.compile(format_pattern)

    def request(self, body: Mapping[str, Any]) -> SimRequest | None:
        """The features of a chat request body; None when no case can be found in it."""
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
        if not users:
            return None
        last = users[-1]
        user = _text(messages[last].get("content"))
        match = self._case.search(user)
        if not match:
            return None
        system = "\n".join(_text(m.get("content")) for m in messages
                           if m.get("role") == "system")
        temperature = body.get("temperature")
        seed = body.get("seed")
        rf = body.get("response_format")
        return SimRequest(
            case=match.group(1), system=system, user=user,
            few_shot=any(m.get("role") == "assistant" for m in messages[:last]),
            format_instruction=bool(self._format.search(system + "\n" + user)),
            temperature=float(temperature) if isinstance(temperature, (int, float)) else None,
            response_format=rf if isinstance(rf, dict) else None,
            seed=seed if isinstance(seed, int) else None,
            model=str(body.get("model", "")),
        )

    def reply(self, body: Mapping[str, Any]) -> str | None:
        """The reply text for a chat request body, or None to leave it to the server."""
        request = self.request(body)
        if request is None:
            return None
        dist = self.policy(request)
        if not dist:
            return None
        choices = request.choices
        if choices is not None:
            dist = {text: p for text, p in dist.items() if text in choices}
            if not dist:
                raise ValueError(f"simulated policy for case {request.case!r} gave no answer "
                                 f"the response_format allows ({', '.join(choices)})")
        text = self.draw(request, body.get("messages") or [], dist)
        if request.response_format and request.response_format.get("type") == "json_schema":
            return json.dumps({"answer": text})
        return text

    def draw(self, request: SimRequest, messages: Sequence[Any], dist: Distribution) -> str:
        """One reply from ``dist``, fixed by (seed, case, request seed, messages)."""
        key = json.dumps([self.seed, request.case, request.seed, messages], sort_keys=True,
                         default=str)
        rng = random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))
        texts = list(dist)
        weights = [max(0.0, float(dist[t])) for t in texts]
        if sum(weights) <= 0:
            raise ValueError(f"simulated policy for case {request.case!r}: no positive weight")
        return rng.choices(texts, weights)[0]
