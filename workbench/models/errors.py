"""Every way a model call can fail, as one tree whose types say whether a retry can help.

Each transport maps the exceptions of what it wraps (litellm's and openai's, aiohttp's,
llama.cpp's) onto this tree where it calls them, so the gateway decides on retries by
type alone, and a failure reads the same whichever transport a model uses::

    ModelError                    not retryable unless a subclass says so
    ├── TransientError            retryable: the same request may succeed later
    │   ├── RateLimited           429
    │   ├── ServerError           5xx
    │   ├── Conflict              409, 425
    │   ├── RequestTimeout        408, or no reply in time
    │   ├── ConnectionFailed      refused, dropped, reset
    │   └── MalformedResponse     a reply that is not a chat completion
    ├── BadRequest                400, 422: the request itself is wrong
    │   └── ContextWindowExceeded
    ├── AuthenticationFailed      401, 403
    ├── NotFound                  404
    ├── UnexpectedStatus          any other HTTP status
    ├── ConfigurationError        the model's settings cannot work (key variable unset, ...)
    └── ModelUnavailable          the embedded model's file or llama-cpp-python is missing
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from workbench.redaction import redact

MAX_MESSAGE = 500  # characters of a message kept: error bodies can be whole HTML pages
MAX_RETRY_AFTER = 120.0  # seconds: a server asking for longer is not waited for that long


class ModelError(Exception):
    """A model call that failed.

    ``label`` names the failure at the start of the stored error text: the name of the
    foreign exception it was mapped from, or the OpenAI SDK's name for an HTTP status, so
    stored errors read alike across transports and across versions of the workbench.
    ``attempts`` is set by the gateway when it gives up: how many times it sent the request
    (0 when it never could).
    """

    retryable: ClassVar[bool] = False

    def __init__(self, message: str = "", *, status: int | None = None,
                 retry_after: float | None = None, label: str | None = None):
        # Providers sometimes echo the key back in error text: never let it go further.
        text = redact(" ".join(message.split()))
        if len(text) > MAX_MESSAGE:
            text = text[:MAX_MESSAGE - 3] + "..."
        super().__init__(text)
        self.message = text
        self.status = status
        self.retry_after = retry_after
        self.label = label
        self.attempts = 0

    def __str__(self) -> str:
        """``Label (HTTP 429): message``, as stored with a failed cell."""
        http = f"HTTP {self.status}" if self.status else ""
        prefix = (f"{self.label} ({http})" if http else self.label) if self.label else http
        if not prefix:
            return self.message
        return f"{prefix}: {self.message}" if self.message else prefix


class TransientError(ModelError):
    """The same request may succeed if sent again: the gateway retries it."""

    retryable = True


class RateLimited(TransientError):
    """429: the provider's rate limit; also makes the gateway halve the model's concurrency."""


class ServerError(TransientError):
    """5xx: the server failed or is overloaded."""


class Conflict(TransientError):
    """409 Conflict or 425 Too Early: the server asks for the same request later."""


class RequestTimeout(TransientError):
    """408, or no complete reply within the timeout."""


class ConnectionFailed(TransientError):
    """No HTTP reply at all: connection refused, dropped or reset."""


class MalformedResponse(TransientError):
    """A successful status whose body is not a chat completion (garbled JSON, no choices)."""


class BadRequest(ModelError):
    """400 or 422: the request is wrong, and sending it again changes nothing."""


class ContextWindowExceeded(BadRequest):
    """The prompt is longer than the model's context window."""


class AuthenticationFailed(ModelError):
    """401 or 403: the key is missing, wrong or not allowed this model."""


class NotFound(ModelError):
    """404: no such model or endpoint."""


class UnexpectedStatus(ModelError):
    """An HTTP status no other class covers (418, 405, 413, …): not retried."""


class ConfigurationError(ModelError):
    """The model's settings cannot work: fixed in the suite or environment, not by a retry."""


class ModelUnavailable(ModelError):
    """The embedded model cannot be used: its GGUF file or llama-cpp-python is missing.

    Its message says how to install what is missing.
    """


_BY_STATUS: dict[int, type[ModelError]] = {
    400: BadRequest, 401: AuthenticationFailed, 403: AuthenticationFailed, 404: NotFound,
    408: RequestTimeout, 409: Conflict, 422: BadRequest, 425: Conflict, 429: RateLimited,
}


def error_class_for_status(status: int) -> type[ModelError]:
    """The class of an HTTP error status: every 5xx is a :class:`ServerError`."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, UnexpectedStatus)


def retry_after_from(headers: Mapping[str, Any] | None) -> float | None:
    """Seconds the server asked us to wait (``Retry-After``, or ``retry-after-ms``), capped.

    ``Retry-After`` may be seconds or an HTTP date; None when absent or unreadable.
    """
    if headers is None:
        return None
    try:
        raw = headers.get("retry-after") or headers.get("Retry-After")
        if raw is None:
            ms = headers.get("retry-after-ms")
            return None if ms is None else min(MAX_RETRY_AFTER, max(0.0, float(ms) / 1000))
    except (AttributeError, TypeError, ValueError):  # header containers vary across providers
        return None
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(raw)))
    except (TypeError, ValueError):
        try:
            when = parsedate_to_datetime(str(raw)).timestamp()
        except (TypeError, ValueError):
            return None
        return min(MAX_RETRY_AFTER, max(0.0, when - time.time()))
