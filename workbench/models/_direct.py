"""The ``direct`` transport: chat requests straight to an OpenAI-compatible server.

Why it exists: litellm spends 8–10 ms of CPU on every call (request transformation, logging
objects, cost bookkeeping), so one process tops out near 100–120 calls/s — below what a
self-hosted server (vLLM, llama.cpp server, Ollama's ``/v1``, TGI) answers at high
concurrency. Such servers speak one wire format, so a model with ``transport: direct`` and an
``api_base`` is sent one JSON POST over a pooled aiohttp session instead: about half a
millisecond of CPU per call. Everything else — retries, Retry-After, adaptive concurrency,
redaction, the stored record — is the gateway's and stays the same.

Failures are raised as exceptions named like litellm's (``RateLimitError``,
``InternalServerError``, ``BadRequestError``…) carrying ``status_code`` and ``headers``, so
the gateway classifies and describes both transports' errors alike. Prices come from the cost
map bundled with litellm, read as JSON without importing litellm (which takes seconds).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp
from multidict import CIMultiDict

_COST_MAP_FILE = "model_prices_and_context_window_backup.json"


class DirectError(Exception):
    """A failed direct call: the HTTP status (None when there was no response) and headers."""

    def __init__(self, message: str, status_code: int | None = None,
                 headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.headers = headers or {}


class BadRequestError(DirectError): ...


class AuthenticationError(DirectError): ...


class PermissionDeniedError(DirectError): ...


class NotFoundError(DirectError): ...


class UnprocessableEntityError(DirectError): ...


class RateLimitError(DirectError): ...


class InternalServerError(DirectError): ...


class APIStatusError(DirectError): ...


class APITimeoutError(DirectError):
    """No complete reply within the request timeout: retried."""


class MalformedResponseError(DirectError):
    """A 200 whose body is not a chat completion (garbled JSON, no choices): retried."""


_BY_STATUS: dict[int, type[DirectError]] = {
    400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError,
    404: NotFoundError, 422: UnprocessableEntityError, 429: RateLimitError,
}


def error_for(status: int, body: str, headers: Mapping[str, str]) -> DirectError:
    """The exception for an HTTP error reply, with the server's own message when it sent one."""
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
    cls = _BY_STATUS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    return cls(message or f"the server answered HTTP {status}", status, headers)


def wire_model(model: str) -> str:
    """The model name the server expects: litellm's ``openai/`` routing prefix removed."""
    return model.split("/", 1)[1] if model.startswith("openai/") else model


@cache
def _cost_map() -> dict[str, Any]:
    """litellm's bundled cost map, read from its package folder without importing litellm."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    for folder in spec.submodule_search_locations:
        path = Path(folder) / _COST_MAP_FILE
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
            return data if isinstance(data, dict) else {}
    return {}


@cache
def price_per_token(model: str) -> tuple[float, float]:
    """(input, output) USD per token from the cost map; (0, 0) for a model it does not know,
    as for any self-hosted one."""
    for key in (model, wire_model(model)):
        entry = _cost_map().get(key)
        if isinstance(entry, dict):
            inp, out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
            if isinstance(inp, int | float) and isinstance(out, int | float):
                return float(inp), float(out)
    return 0.0, 0.0


def _proxy_configured() -> bool:
    return any(os.environ.get(name) for name in (
        "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"))


class DirectClient:
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

    async def chat(self, model: str, messages: list[dict[str, str]], params: Mapping[str, Any],
                   *, api_base: str, api_key: str | None, timeout: float) -> dict[str, Any]:
        """POST one chat completion; returns the parsed body or raises a :class:`DirectError`
        (or aiohttp's connection errors, or ``TimeoutError``)."""
        body = {**params, "model": wire_model(model), "messages": messages}
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        url = api_base.rstrip("/") + "/chat/completions"
        try:
            async with self._session().post(
                url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                text = await response.text(errors="replace")
                if response.status != 200:
                    raise error_for(response.status, text, CIMultiDict(response.headers))
        except TimeoutError:
            raise APITimeoutError(f"no reply from {url} within {timeout:g} s") from None
        try:
            data = json.loads(text)
            if not isinstance(data["choices"][0]["message"], dict):
                raise TypeError("message is not an object")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise MalformedResponseError(
                f"the server's reply is not a chat completion ({type(exc).__name__}): "
                f"{text[:200]}") from None
        return data

    async def aclose(self) -> None:
        """Close the sessions of the running loop (others belong to loops that are gone)."""
        loop = asyncio.get_running_loop()
        for owner, session in list(self._sessions.items()):
            if owner is loop or owner.is_closed():
                if owner is loop:
                    await session.close()
                del self._sessions[owner]


def completion_numbers(model: str, data: Mapping[str, Any]) -> tuple[str, int, int, float]:
    """Text, prompt and completion tokens, and cost of a chat completion body (the gateway
    counts a cost that is not finite or is negative as 0)."""
    text = data["choices"][0]["message"].get("content") or ""
    usage = data.get("usage") or {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    inp, out = price_per_token(model)
    cost = prompt_tokens * inp + completion_tokens * out
    return str(text), prompt_tokens, completion_tokens, cost
