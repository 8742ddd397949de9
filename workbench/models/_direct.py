"""The ``direct`` transport: chat requests straight to an OpenAI-compatible server.

Why it exists: litellm spends 8–10 ms of CPU on every call (request transformation, logging
objects, cost bookkeeping), so one process tops out near 100–120 calls/s — below what a
self-hosted server (vLLM, llama.cpp server, Ollama's ``/v1``, TGI) answers at high
concurrency. Such servers speak one wire format, so a model with ``transport: direct`` and an
``api_base`` is sent one JSON POST over a pooled aiohttp session instead: about half a
millisecond of CPU per call. Everything else — retries, Retry-After, adaptive concurrency,
redaction, the stored record — is the gateway's and stays the same.

Failures are raised as :mod:`workbench.models.errors` types: HTTP errors by status, aiohttp's
and timeouts mapped where the request is sent. Prices come from
:mod:`workbench.models.prices` (the cost map bundled with litellm, read without importing it).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from multidict import CIMultiDict

from workbench.models import prices
from workbench.models.errors import (
    ConfigurationError,
    ConnectionFailed,
    MalformedResponse,
    ModelError,
    RequestTimeout,
    error_class_for_status,
    retry_after_from,
)
from workbench.models.transport import Reply, Request
from workbench.redaction import remember

# The names the OpenAI SDK (and litellm) give these statuses' errors. Stored error text
# starts with them, so a failure reads the same whichever transport the model uses.
_OPENAI_NAMES: dict[int, str] = {
    400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError",
    404: "NotFoundError", 422: "UnprocessableEntityError", 429: "RateLimitError",
}
FREE = prices.TokenPrice(0.0, 0.0)


def error_for(status: int, body: str, headers: Mapping[str, str]) -> ModelError:
    """The error for an HTTP error reply, with the server's own message when it sent one."""
    message = body.strip()
    try:
        data = json.loads(body)
        inner = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(inner, dict) and inner.get("message"):
            message = str(inner["message"])
        elif isinstance(inner, str):
            message = inner
    except (ValueError, AttributeError):
        pass
    label = _OPENAI_NAMES.get(status) or ("InternalServerError" if status >= 500
                                          else "APIStatusError")
    return error_class_for_status(status)(
        message or f"the server answered HTTP {status}", status=status,
        retry_after=retry_after_from(headers), label=label)


@contextmanager
def map_aiohttp_exceptions(url: str, timeout: float) -> Iterator[None]:
    """aiohttp's exceptions and timeouts as :mod:`workbench.models.errors` types."""
    try:
        yield
    except TimeoutError:
        raise RequestTimeout(f"no reply from {url} within {timeout:g} s",
                             label="APITimeoutError") from None
    except aiohttp.ClientPayloadError as exc:  # the body broke off or was garbled in transit
        raise MalformedResponse(str(exc), label=type(exc).__name__) from exc
    except aiohttp.ClientConnectionError as exc:  # refused, dropped, reset
        raise ConnectionFailed(str(exc), label=type(exc).__name__) from exc
    except aiohttp.ClientError as exc:  # an invalid URL, too many redirects, ...
        raise ModelError(str(exc), label=type(exc).__name__) from exc


def chat_url(api_base: str) -> str:
    """``{api_base}/chat/completions``, the path joined before any query string.

    Some gateways take their API version as a query parameter
    (``https://host/openai/deployments/x?api-version=2024-06-01``): appending to the whole
    string would send the path inside the query.
    """
    try:
        parts = urlsplit(api_base)
    except ValueError:  # not a URL at all: aiohttp refuses it, as a non-retryable ModelError
        return api_base.rstrip("/") + "/chat/completions"
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/chat/completions"))


def wire_model(model: str) -> str:
    """The model name the server expects: litellm's ``openai/`` routing prefix removed."""
    return model.split("/", 1)[1] if model.startswith("openai/") else model


def price_per_token(model: str) -> prices.TokenPrice:
    """The bundled cost map's price; a model it does not know (any self-hosted one) costs 0,
    as through litellm."""
    return prices.price(model) or FREE


def _proxy_configured() -> bool:
    return any(os.environ.get(name) for name in (
        "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"))


class DirectTransport:
    """One pooled HTTP session per event loop (the CLI's and each TUI run's)."""

    def __init__(self) -> None:
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            # No connection cap here: the gateway's per-model limit bounds what is in flight.
            # Proxy settings are read only when some are set: aiohttp looks them up in a
            # thread for every request otherwise.
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                            trust_env=_proxy_configured())
            self._sessions[loop] = session
        return session

    async def complete(self, request: Request) -> Reply:
        """POST one chat completion to ``{api_base}/chat/completions``."""
        if not request.api_base:
            raise ConfigurationError("transport: direct needs the server's api_base")
        data = await self.chat(request.model, request.messages, request.params,
                               api_base=request.api_base, api_key=_api_key(request),
                               timeout=request.timeout)
        return completion_reply(request.model, data)

    async def chat(self, model: str, messages: list[dict[str, str]], params: Mapping[str, Any],
                   *, api_base: str, api_key: str | None, timeout: float) -> dict[str, Any]:
        """POST one chat completion; returns the parsed body or raises a
        :class:`~workbench.models.errors.ModelError`."""
        body = {**params, "model": wire_model(model), "messages": messages}
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        url = chat_url(api_base)
        with map_aiohttp_exceptions(url, timeout):
            async with self._session().post(
                url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                text = await response.text(errors="replace")
                if response.status != 200:
                    raise error_for(response.status, text, CIMultiDict(response.headers))
        try:
            data = json.loads(text)
            if not isinstance(data["choices"][0]["message"], dict):
                raise TypeError("message is not an object")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise MalformedResponse(
                f"the server's reply is not a chat completion ({type(exc).__name__}): "
                f"{text[:200]}", label="MalformedResponseError") from None
        return data

    async def aclose(self) -> None:
        """Close the sessions of the running loop (others belong to loops that are gone)."""
        loop = asyncio.get_running_loop()
        for owner, session in list(self._sessions.items()):
            if owner is loop or owner.is_closed():
                if owner is loop:
                    await session.close()
                del self._sessions[owner]


def _api_key(request: Request) -> str | None:
    """The model's key, else ``OPENAI_API_KEY`` as litellm's ``openai/`` would send it."""
    key = request.api_key or os.environ.get("OPENAI_API_KEY")
    remember(key)
    return key


def completion_reply(model: str, data: Mapping[str, Any]) -> Reply:
    """Text, token counts and cost of a chat completion body (the gateway counts a cost that
    is not finite or is negative as 0)."""
    text = data["choices"][0]["message"].get("content") or ""
    usage = data.get("usage") or {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    cost = price_per_token(model).cost(prompt_tokens, completion_tokens)
    return Reply(str(text), prompt_tokens, completion_tokens, cost)
