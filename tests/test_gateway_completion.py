"""Both transports' replies become a Completion the same way: text redacted, and a cost
that is not finite or is negative (nonsense from a server) counted as 0."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest

from workbench.models import _direct, _litellm
from workbench.models.gateway import Gateway
from workbench.redaction import remember

SECRET = "sk-test-completion-secret"


def _gateway() -> Gateway:
    """A gateway whose retry loop runs the transport once and reports 12.5 ms, 2 attempts."""
    gateway = Gateway(timeout=5, max_attempts=1, concurrency=1)

    async def replied(model: str, send: Any, **_: Any) -> tuple[Any, float, int]:
        return await send(), 12.5, 2

    gateway._with_retries = replied  # type: ignore[method-assign]
    return gateway


@pytest.mark.parametrize("prompt_tokens", [-1000, 10])
async def test_direct_reply(prompt_tokens: int, monkeypatch: pytest.MonkeyPatch) -> None:
    remember(SECRET)
    body = {"choices": [{"message": {"content": f"echo {SECRET}"}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 5}}

    async def chat(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return body

    monkeypatch.setattr(_direct.DirectTransport, "chat", chat)
    reply = await _gateway().complete("openai/gpt-4o-mini", [], {},
                                      api_base="http://127.0.0.1:9/v1", transport="direct")
    assert reply.text == "echo ***"
    assert (reply.prompt_tokens, reply.completion_tokens) == (prompt_tokens, 5)
    assert (reply.latency_ms, reply.attempts) == (12.5, 2)
    if prompt_tokens < 0:
        assert reply.cost == 0.0  # a negative token count priced: nonsense, not a refund
    else:
        assert reply.cost == pytest.approx(10 * 1.5e-07 + 5 * 6e-07)


@pytest.mark.parametrize("priced", [-0.5, math.inf, math.nan, None, 0.25])
async def test_litellm_reply(priced: float | None, monkeypatch: pytest.MonkeyPatch) -> None:
    remember(SECRET)
    response = SimpleNamespace(
        choices=[SimpleNamespace(message=SimpleNamespace(content=f"echo {SECRET}"))],
        usage=SimpleNamespace(prompt_tokens=7, completion_tokens=3),
        _hidden_params={"response_cost": priced})

    async def acompletion(**kwargs: Any) -> Any:
        return response

    monkeypatch.setattr(_litellm, "litellm_module",
                        lambda: SimpleNamespace(acompletion=acompletion))
    monkeypatch.setattr(_litellm, "price_unknown_models_at_zero", lambda *a: None)
    reply = await _gateway().complete("openai/fake", [], {})
    assert reply.text == "echo ***"
    assert (reply.prompt_tokens, reply.completion_tokens) == (7, 3)
    assert (reply.latency_ms, reply.attempts) == (12.5, 2)
    assert reply.cost == (0.25 if priced == 0.25 else 0.0)
