"""Model access: the gateway, the transports it picks per model, and their one error tree.

Importing this package imports none of litellm, aiohttp or llama.cpp: each transport is
imported when a run first needs it.
"""

from workbench.models._litellm import litellm_module
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
    TransientError,
    UnexpectedStatus,
)
from workbench.models.gateway import AdaptiveLimit, Completion, Gateway
from workbench.models.transport import Reply, Request, Transport, choose_transport

__all__ = [
    "AdaptiveLimit",
    "AuthenticationFailed",
    "BadRequest",
    "Completion",
    "ConfigurationError",
    "Conflict",
    "ConnectionFailed",
    "ContextWindowExceeded",
    "Gateway",
    "MalformedResponse",
    "ModelError",
    "ModelUnavailable",
    "NotFound",
    "RateLimited",
    "Reply",
    "Request",
    "RequestTimeout",
    "ServerError",
    "TransientError",
    "Transport",
    "UnexpectedStatus",
    "choose_transport",
    "litellm_module",
]
