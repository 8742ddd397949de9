"""One door to every model: a transport per model, and our retry policy around all of them.

A transport sends a request once (:mod:`workbench.models.transport`); the gateway picks one
per model and keeps what is the same for all of them: retries with exponential backoff and
full jitter, honouring Retry-After, by the type of the failure
(:mod:`workbench.models.errors`); a per-model concurrency limit that halves on bursts of
429s (not for a transport that groups seeds: the in-process model queues its own requests and
batches them); keys kept out of replies and errors; nonsense costs counted as 0; and the
:class:`Completion` record the runner stores.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from workbench.models.errors import ConfigurationError, ModelError, RateLimited, RequestTimeout
from workbench.models.transport import (
    Reply,
    Request,
    SeedGroupTransport,
    Transport,
    TransportName,
    choose_transport,
    open_transport,
)
from workbench.redaction import redact, remember

T = TypeVar("T")


@dataclass(frozen=True)
class Completion:
    """One successful call as the runner stores it: key-free text, usage, cost, timing."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    latency_ms: float
    attempts: int


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ModelError) and exc.retryable


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
    """Sends chat requests through each model's transport with retries, per-model adaptive
    concurrency and redaction; one instance per run."""

    def __init__(self, *, timeout: float = 120.0, max_attempts: int = 6,
                 base_delay: float = 0.5, max_delay: float = 30.0, concurrency: int = 4,
                 transports: Mapping[TransportName, Transport] | None = None):
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.concurrency = concurrency
        self._limits: dict[str, AdaptiveLimit] = {}
        # Already-open transports by name (a test's or an embedder's); others open on first use.
        self._transports: dict[TransportName, Transport] = dict(transports or {})

    def limit_for(self, model: str) -> AdaptiveLimit:
        if model not in self._limits:
            self._limits[model] = AdaptiveLimit(self.concurrency)
        return self._limits[model]

    def transport_for(self, model: str, transport: str = "litellm",
                      api_base: str | None = None) -> Transport:
        """The transport that reaches ``model`` (see
        :func:`~workbench.models.transport.choose_transport`), opened on first use and shared
        by every model that uses it."""
        name = choose_transport(model, transport, api_base)
        if name not in self._transports:
            self._transports[name] = open_transport(name)
        return self._transports[name]

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.retry_after if isinstance(exc, ModelError) else None
        if asked is not None:
            return asked + random.uniform(0, 0.1 * max(asked, 0.1))
        # Full jitter exponential backoff (AWS architecture blog's recommendation).
        ceiling = min(self.max_delay, self.base_delay * 2 ** (state.attempt_number - 1))
        return random.uniform(0, ceiling)

    def groups_seeds(self, model: str, transport: str = "litellm",
                     api_base: str | None = None) -> bool:
        """Whether ``model``'s transport completes several seeds of one request at once
        (:meth:`complete_seeds` then costs less than one call per seed)."""
        try:
            chosen = self.transport_for(model, transport, api_base)
        except ConfigurationError:
            return False
        return isinstance(chosen, SeedGroupTransport)

    def _request(self, model: str, messages: list[dict[str, str]], params: Mapping[str, Any],
                 api_base: str | None, api_key_env: str | None) -> Request:
        key = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ConfigurationError(f"environment variable {api_key_env} is not set")
            remember(key)  # whatever its variable is called, it never reaches a report
        return Request(model=model, messages=messages,
                       params={k: v for k, v in params.items() if v is not None},
                       timeout=self.timeout, api_base=api_base, api_key=key)

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
        """One chat completion with retries.

        ``transport`` is the suite's setting for the model: ``litellm`` (any provider) or
        ``direct`` (an OpenAI-compatible server at ``api_base``); ``local/…`` models are always
        the embedded one. Raises :class:`~workbench.models.errors.ModelError` when the call
        fails for good, with ``attempts`` set.
        """
        request = self._request(model, messages, params, api_base, api_key_env)
        chosen = self.transport_for(model, transport, api_base)
        reply, latency_ms, attempts = await self._with_retries(
            model, lambda: chosen.complete(request),
            limited=not isinstance(chosen, SeedGroupTransport))
        return _completion(reply, latency_ms, attempts)

    async def complete_seeds(
        self,
        model: str,
        messages: list[dict[str, str]],
        params: Mapping[str, Any],
        seeds: Sequence[int],
        *,
        api_base: str | None = None,
        api_key_env: str | None = None,
        transport: str = "litellm",
    ) -> list[Completion | ModelError]:
        """One completion of the same request per seed, in the order of ``seeds``.

        A transport that groups seeds (the embedded model) gets them in one call, retried as a
        whole, and a failure is every seed's; any other gets one call per seed, concurrently
        under the model's limit, each failing on its own. A failure is returned in its place,
        not raised.
        """
        try:
            chosen = self.transport_for(model, transport, api_base)
            request = self._request(model, messages, params, api_base, api_key_env)
        except ModelError as exc:
            return [exc] * len(seeds)
        if not isinstance(chosen, SeedGroupTransport):
            routing = {"api_base": api_base, "api_key_env": api_key_env, "transport": transport}
            calls = [self.complete(model, messages, {**params, "seed": seed}, **routing)
                     for seed in seeds]
            results = await asyncio.gather(*calls, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, ModelError):
                    raise result
            return list(results)  # type: ignore[arg-type]  # Completion | ModelError
        try:
            # No per-model limit: such a transport queues its requests itself, and a batch
            # decodes better the more of them it can take (see the embedded model's queue).
            replies, _, attempts = await self._with_retries(
                model, lambda: chosen.complete_seeds(request, seeds), calls=len(seeds),
                limited=False)
        except ModelError as exc:
            return [exc] * len(seeds)
        if len(replies) != len(seeds):
            error = ModelError(f"{len(replies)} replies for {len(seeds)} seeds",
                               label="MalformedResponse")
            error.attempts = attempts
            return [error] * len(seeds)
        return [_completion(reply, 0.0, attempts) for reply in replies]

    async def _with_retries(self, model: str, send: Callable[[], Awaitable[T]], *,
                            calls: int = 1, limited: bool = True) -> tuple[T, float, int]:
        """Send under the model's concurrency limit (unless not ``limited``), retrying what a
        retry can fix; returns the reply, the latency of the attempt that succeeded and the
        attempts made.

        ``calls`` is how many completions one send asks for: its deadline scales with it."""
        limit = self.limit_for(model) if limited else AdaptiveLimit(1 << 30)
        attempts = 0
        started = time.perf_counter()
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.max_attempts),
                wait=self._wait,
                retry=retry_if_exception(_retryable),
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    async with limit:
                        started = time.perf_counter()
                        try:
                            reply = await self._send_once(send, calls)
                        except RateLimited:
                            limit.rate_limited()
                            raise
                    limit.succeeded()
        except ModelError as exc:
            exc.attempts = attempts
            raise
        return reply, (time.perf_counter() - started) * 1000, attempts

    async def _send_once(self, send: Callable[[], Awaitable[T]], calls: int = 1) -> T:
        """One attempt, under a deadline of its own in case a transport's timeout fails.

        A transport raises only our errors; anything else is a bug in one, stored as a
        non-retryable error rather than ending the run.
        """
        deadline = self.timeout * calls + 5
        try:
            return await asyncio.wait_for(send(), timeout=deadline)
        except ModelError:
            raise
        except TimeoutError as exc:
            raise RequestTimeout(f"no reply within {deadline:g} s",
                                 label=type(exc).__name__) from exc
        except Exception as exc:  # noqa: BLE001 - every failure becomes a stored error
            raise ModelError(str(exc), label=type(exc).__name__) from exc

    async def aclose(self) -> None:
        """Close the transports' connections (a new call reopens them)."""
        for transport in self._transports.values():
            await transport.aclose()


def _completion(reply: Reply, latency_ms: float, attempts: int) -> Completion:
    """The stored record of a reply: key-free text, a sane cost, the transport's own latency
    when it measured one."""
    cost = reply.cost
    if not math.isfinite(cost) or cost < 0:  # no price, or nonsense from a server
        cost = 0.0
    if reply.latency_ms is not None:
        latency_ms = reply.latency_ms
    # A proxy or provider may echo the Authorization header back in the reply.
    return Completion(redact(reply.text), reply.prompt_tokens, reply.completion_tokens,
                      cost, latency_ms, attempts)
