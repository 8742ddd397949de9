"""One door to every model: litellm, with our retry policy and no surprises.

litellm is imported lazily (it takes seconds) and configured before first use: the local
cost map (no network fetch), no telemetry, no callbacks, no response cache (reruns must
be independent requests), its own retries off (tenacity does it, honouring Retry-After).
A model with ``transport: direct`` skips litellm for an OpenAI-compatible server
(:mod:`workbench.models._direct`); retries and everything after them are the same.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from workbench.models._direct import DirectClient, completion_numbers
from workbench.redaction import redact, remember

_LITELLM: Any = None

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}
_RETRYABLE_NAMES = {
    "RateLimitError", "InternalServerError", "ServiceUnavailableError", "APIConnectionError",
    "Timeout", "APITimeoutError", "BadGatewayError", "ConnectionError", "TimeoutError",
    "ReadTimeout", "ConnectTimeout", "RemoteProtocolError", "ServerDisconnectedError",
    "JSONDecodeError", "APIResponseValidationError", "MalformedResponseError",
    "ClientConnectionError", "ClientConnectorError", "ClientOSError", "ClientPayloadError",
}


def litellm_module() -> Any:
    """Import and configure litellm once, on first use."""
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
        from workbench.models import _local

        _local.register(litellm)
        _LITELLM = litellm
    return _LITELLM


_PRICED: set[str] = set()  # models whose price litellm has been asked about
_ZERO_PRICED: set[str] = set()  # models given a placeholder price of zero by us


def price_unknown_models_at_zero(litellm: Any, model: str) -> None:
    """Give a model litellm cannot price an explicit price of zero, once per process.

    Why: for a model missing from litellm's cost map (any self-hosted one), litellm searches
    the whole map twice per call and still finds nothing — a few milliseconds of CPU per
    call, the largest single share of the engine's overhead at high concurrency. The cost
    reported stays what it was (0: unknown), and a model the map knows keeps its price.
    """
    if model in _PRICED or model.startswith("local/"):
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
    _ZERO_PRICED.add(model)


def has_placeholder_price(model: str) -> bool:
    """True when the zero price litellm now reports for ``model`` is ours, not a real one:
    price look-ups (the escalation report) must still call it unknown."""
    return model in _ZERO_PRICED


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    latency_ms: float
    attempts: int


class CallFailed(Exception):
    """A call that failed for good: not retryable, or out of attempts."""

    def __init__(self, message: str, *, attempts: int, retryable: bool,
                 status: int | None = None):
        super().__init__(message)
        self.attempts = attempts
        self.retryable = retryable
        self.status = status


def status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def is_retryable(exc: BaseException) -> bool:
    """Rate limits, server errors, timeouts, dropped connections, garbled bodies: retry.

    Other 4xx (bad request, auth, not found, context too long) are configuration errors
    that a retry cannot fix.
    """
    if isinstance(exc, CallFailed):
        return False
    if isinstance(exc, asyncio.TimeoutError | TimeoutError | ConnectionError):
        return True
    status = status_of(exc)
    name = type(exc).__name__
    if name in {"BadRequestError", "AuthenticationError", "PermissionDeniedError",
                "NotFoundError", "ContextWindowExceededError", "ContentPolicyViolationError",
                "UnsupportedParamsError", "UnprocessableEntityError", "LocalModelUnavailable"}:
        return False
    if status is not None and 400 <= status < 500:
        return status in RETRYABLE_STATUS
    if status is not None and status >= 500:
        return True
    if name in _RETRYABLE_NAMES:
        return True
    text = str(exc).lower()
    return any(s in text for s in ("timed out", "timeout", "connection", "disconnected",
                                   "json", "expecting value", "reset by peer"))


def retry_after_seconds(exc: BaseException, cap: float = 120.0) -> float | None:
    """Seconds the server asked us to wait, from a Retry-After header if it sent one."""
    headers: list[Mapping[str, Any]] = []
    for attr in ("litellm_response_headers", "headers"):
        value = getattr(exc, attr, None)
        if isinstance(value, Mapping) or hasattr(value, "get"):
            headers.append(value)
    response = getattr(exc, "response", None)
    if response is not None and hasattr(getattr(response, "headers", None), "get"):
        headers.append(response.headers)
    for h in headers:
        try:
            raw = h.get("retry-after") or h.get("Retry-After")
            if raw is None:
                ms = h.get("retry-after-ms")
                if ms is not None:
                    return min(cap, max(0.0, float(ms) / 1000))
                continue
        except Exception:  # noqa: BLE001 - header containers vary across providers
            continue
        try:
            return min(cap, max(0.0, float(raw)))
        except (TypeError, ValueError):
            try:
                when = parsedate_to_datetime(str(raw)).timestamp()
                return min(cap, max(0.0, when - time.time()))
            except (TypeError, ValueError):
                return None
    return None


class AdaptiveLimit:
    """Per-model concurrency that halves on a burst of 429s and creeps back on success.

    Additive increase / multiplicative decrease, as TCP does: a provider's rate limit is
    found without configuration, and recovered from without a restart.
    """

    def __init__(self, limit: int, *, recover_after: int = 10):
        self.max = max(1, limit)
        self.limit = self.max
        self.in_flight = 0
        self.recover_after = recover_after
        self._successes = 0
        self._last_cut = 0.0
        self._cond = asyncio.Condition()

    async def __aenter__(self) -> AdaptiveLimit:
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        async with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    def rate_limited(self) -> None:
        now = time.monotonic()
        if now - self._last_cut > 1.0:  # one cut per burst, not one per 429
            self.limit = max(1, self.limit // 2)
            self._last_cut = now
            self._successes = 0

    def succeeded(self) -> None:
        if self.limit < self.max:
            self._successes += 1
            if self._successes >= self.recover_after:
                self.limit += 1
                self._successes = 0


class Gateway:
    """Sends chat requests (through litellm, or directly to an OpenAI-compatible server) with
    retries, per-model adaptive concurrency and redaction; one instance per run."""

    def __init__(self, *, timeout: float = 120.0, max_attempts: int = 6,
                 base_delay: float = 0.5, max_delay: float = 30.0, concurrency: int = 4):
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.concurrency = concurrency
        self._limits: dict[str, AdaptiveLimit] = {}
        self._direct = DirectClient()

    def limit_for(self, model: str) -> AdaptiveLimit:
        if model not in self._limits:
            self._limits[model] = AdaptiveLimit(self.concurrency)
        return self._limits[model]

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(exc) if exc else None
        if asked is not None:
            return asked + random.uniform(0, 0.1 * max(asked, 0.1))
        # Full jitter exponential backoff (AWS architecture blog's recommendation).
        ceiling = min(self.max_delay, self.base_delay * 2 ** (state.attempt_number - 1))
        return random.uniform(0, ceiling)

    async def complete(
        self,
        model: str,
        messages: list[dict[str, str]],
        params: Mapping[str, Any],
        *,
        api_base: str | None = None,
        api_key_env: str | None = None,
        transport: str = "litellm",
    ) -> Completion:
        """One chat completion with retries; ``transport`` is ``litellm`` (any provider) or
        ``direct`` (an OpenAI-compatible server at ``api_base``, without litellm's per-call
        CPU cost; see :mod:`workbench.models._direct`)."""
        call_params: dict[str, Any] = {k: v for k, v in params.items() if v is not None}
        key = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise CallFailed(f"environment variable {api_key_env} is not set",
                                 attempts=0, retryable=False)
            remember(key)  # whatever its variable is called, it never reaches a report
        if transport == "direct":
            if not api_base:
                raise CallFailed("transport: direct needs the server's api_base", attempts=0,
                                 retryable=False)
            key = key or os.environ.get("OPENAI_API_KEY")  # as litellm's openai/ would send
            if key:
                remember(key)

            def send() -> Any:
                return self._direct.chat(model, messages, call_params, api_base=api_base,
                                         api_key=key, timeout=self.timeout)
        else:
            litellm = litellm_module()
            price_unknown_models_at_zero(litellm, model)
            kwargs = dict(call_params, model=model, messages=messages, timeout=self.timeout,
                          num_retries=0, max_retries=0, caching=False)
            if api_base:
                kwargs["api_base"] = api_base
            if key:
                kwargs["api_key"] = key

            def send() -> Any:
                return litellm.acompletion(**kwargs)

        response, latency_ms, attempts = await self._with_retries(model, send)
        if transport == "direct":
            numbers = completion_numbers(model, response)
        else:
            numbers = self._litellm_numbers(litellm, response, attempts)
        text, prompt_tokens, completion_tokens, cost = numbers
        if not math.isfinite(cost) or cost < 0:  # no price, or nonsense from a server
            cost = 0.0
        # A proxy or provider may echo the Authorization header back in the reply.
        return Completion(redact(text), prompt_tokens, completion_tokens, cost, latency_ms,
                          attempts)

    async def _with_retries(self, model: str, send: Any) -> tuple[Any, float, int]:
        """Send under the model's concurrency limit, retrying what a retry can fix; returns
        the response, the latency of the attempt that succeeded and the attempts made."""
        limit = self.limit_for(model)
        attempts = 0
        started = time.perf_counter()
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.max_attempts),
                wait=self._wait,
                retry=retry_if_exception(is_retryable),
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    async with limit:
                        started = time.perf_counter()
                        try:
                            response = await asyncio.wait_for(send(), timeout=self.timeout + 5)
                        except Exception as exc:
                            if status_of(exc) == 429 or type(exc).__name__ == "RateLimitError":
                                limit.rate_limited()
                            raise
                    limit.succeeded()
        except CallFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a stored error
            raise CallFailed(describe_error(exc), attempts=attempts,
                             retryable=is_retryable(exc), status=status_of(exc)) from exc
        return response, (time.perf_counter() - started) * 1000, attempts

    async def aclose(self) -> None:
        """Close the direct transport's connections (a new call reopens them)."""
        await self._direct.aclose()

    @staticmethod
    def _litellm_numbers(litellm: Any, response: Any,
                         attempts: int) -> tuple[str, int, int, float]:
        """Text, prompt and completion tokens, and cost of a litellm response."""
        try:
            text = response.choices[0].message.content or ""
        except (AttributeError, IndexError) as exc:
            raise CallFailed(f"response had no message: {exc}", attempts=attempts,
                             retryable=False) from exc
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
            except Exception:  # noqa: BLE001 - unknown models (local, self-hosted) have no price
                cost = 0.0
        return text, prompt_tokens, completion_tokens, cost


def describe_error(exc: BaseException) -> str:
    """A one-line, key-free description of a failed call."""
    status = status_of(exc)
    # Providers sometimes echo the key back in error text; never let it reach the store.
    text = redact(" ".join(str(exc).split()))
    if len(text) > 500:
        text = text[:497] + "..."
    prefix = type(exc).__name__ + (f" (HTTP {status})" if status else "")
    return f"{prefix}: {text}" if text else prefix
