"""The ``litellm`` transport: any provider litellm knows, through ``litellm.acompletion``.

litellm is imported lazily (it takes seconds) and configured before first use: the local
cost map (no network fetch), no telemetry, no callbacks, no response cache (reruns must be
independent requests), its own retries off (the gateway retries, honouring Retry-After).
Its exceptions — openai's classes and litellm's subclasses of them — are mapped onto
:mod:`workbench.models.errors` here, where the call is made.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

from workbench.models.errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    ContextWindowExceeded,
    MalformedResponse,
    ModelError,
    NotFound,
    RateLimited,
    RequestTimeout,
    ServerError,
    error_class_for_status,
    retry_after_from,
)
from workbench.models.transport import LOCAL_PREFIX, Reply, Request

_LITELLM: Any = None


def litellm_module() -> Any:
    """Import and configure litellm once, on first use.

    The embedded model is registered as litellm's custom provider ``local`` too, so code that
    calls litellm itself (the benchmarks) reaches it; the gateway calls it directly instead.
    """
    global _LITELLM
    if _LITELLM is None:
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        os.environ.setdefault("LITELLM_TELEMETRY", "False")
        os.environ.setdefault("LITELLM_LOG", "ERROR")
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        litellm.drop_params = True  # providers that lack e.g. `seed` ignore it instead of 400
        litellm.cache = None
        litellm.success_callback = []
        litellm.failure_callback = []
        litellm.callbacks = []
        from workbench.models._local_litellm import register

        register(litellm)
        _LITELLM = litellm
    return _LITELLM


_PRICED: set[str] = set()  # models whose price litellm has been asked about


def price_unknown_models_at_zero(litellm: Any, model: str) -> None:
    """Give a model litellm cannot price an explicit price of zero, once per process.

    Why: for a model missing from litellm's cost map (any self-hosted one), litellm searches
    the whole map twice per call and still finds nothing — a few milliseconds of CPU per
    call, the largest single share of the engine's overhead at high concurrency. The cost
    reported stays what it was (0: unknown), a model the map knows keeps its price, and
    :mod:`workbench.models.prices` reads the bundled file, so it still calls the model unknown.
    """
    if model in _PRICED or model.startswith(LOCAL_PREFIX):
        return
    _PRICED.add(model)
    try:
        litellm.get_model_info(model)
        return  # a priced model
    except Exception:  # noqa: BLE001 - litellm raises a bare Exception for unknown models
        pass
    try:
        _, provider, _, _ = litellm.get_llm_provider(model)
    except Exception:  # noqa: BLE001 - let the call itself report a bad model name
        return
    litellm.register_model({model: {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0,
                                     "litellm_provider": provider, "mode": "chat"}})


class LitellmTransport:
    """Sends each request once through ``litellm.acompletion``."""

    async def complete(self, request: Request) -> Reply:
        litellm = litellm_module()
        price_unknown_models_at_zero(litellm, request.model)
        kwargs = dict(request.params, model=request.model, messages=request.messages,
                      timeout=request.timeout, num_retries=0, max_retries=0, caching=False)
        if request.api_base:
            kwargs["api_base"] = request.api_base
        if request.api_key:
            kwargs["api_key"] = request.api_key
        try:
            response = await litellm.acompletion(**kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure is mapped, unknown ones too
            raise error_from(exc) from exc
        return litellm_reply(litellm, response)

    async def aclose(self) -> None:
        """Nothing to release: litellm keeps its HTTP clients for the process."""


def litellm_reply(litellm: Any, response: Any) -> Reply:
    """Text, token counts and cost of a litellm response."""
    try:
        text = response.choices[0].message.content or ""
    except (AttributeError, IndexError) as exc:
        raise ModelError(f"response had no message: {exc}") from exc
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    hidden = getattr(response, "_hidden_params", None)
    if isinstance(hidden, Mapping) and "response_cost" in hidden:
        # litellm already priced this response (None: it cannot). Pricing it again cost
        # ~0.5 ms of CPU per call (far more for unknown models), a visible share of the
        # engine's own overhead at high concurrency.
        cost = float(hidden["response_cost"] or 0.0)
    else:
        try:
            cost = float(litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:  # noqa: BLE001 - unknown models (self-hosted) have no price
            cost = 0.0
    return Reply(text, prompt_tokens, completion_tokens, cost)


@cache
def _error_types() -> tuple[tuple[type[BaseException], type[ModelError]], ...]:
    """Foreign exception types and ours, most specific first (the first match wins).

    litellm's exceptions subclass openai's, so openai's classes cover both; litellm's
    ``ServiceUnavailableError``, ``BadGatewayError`` and ``APIError`` are matched by status.
    """
    import aiohttp
    import httpx
    import openai

    litellm = litellm_module()
    return (
        (litellm.ContextWindowExceededError, ContextWindowExceeded),
        (openai.APITimeoutError, RequestTimeout),  # a subclass of APIConnectionError
        (openai.APIConnectionError, ConnectionFailed),
        (openai.APIResponseValidationError, MalformedResponse),
        (openai.RateLimitError, RateLimited),
        (openai.AuthenticationError, AuthenticationFailed),
        (openai.PermissionDeniedError, AuthenticationFailed),
        (openai.NotFoundError, NotFound),
        (openai.BadRequestError, BadRequest),
        (openai.UnprocessableEntityError, BadRequest),
        (openai.InternalServerError, ServerError),
        (json.JSONDecodeError, MalformedResponse),
        (httpx.TimeoutException, RequestTimeout),
        (TimeoutError, RequestTimeout),
        (httpx.TransportError, ConnectionFailed),
        (aiohttp.ClientConnectionError, ConnectionFailed),
        (ConnectionError, ConnectionFailed),
    )


def error_from(exc: BaseException) -> ModelError:
    """What a failed ``litellm.acompletion`` means, as one of our errors.

    By type first; then by HTTP status for exceptions that carry only that (a 503 or a
    generic ``APIError``); anything else is not retried. The label is the foreign class's
    name, as stored error text has always begun.
    """
    if isinstance(exc, ModelError):
        return exc
    status = _status(exc)
    cls = next((ours for theirs, ours in _error_types() if isinstance(exc, theirs)), None)
    if cls is None:
        cls = error_class_for_status(status) if status is not None else ModelError
    return cls(str(exc), status=status, retry_after=_retry_after(exc), label=type(exc).__name__)


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def _retry_after(exc: BaseException) -> float | None:
    """Retry-After from the headers litellm kept, or those of the provider's response."""
    candidates = [getattr(exc, "litellm_response_headers", None), getattr(exc, "headers", None),
                  getattr(getattr(exc, "response", None), "headers", None)]
    for headers in candidates:
        if hasattr(headers, "get"):
            seconds = retry_after_from(headers)
            if seconds is not None:
                return seconds
    return None
