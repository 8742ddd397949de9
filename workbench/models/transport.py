"""The transport protocol: one way of sending a chat request, and choosing one per model.

A transport sends one request once and maps whatever fails onto
:mod:`workbench.models.errors`. A transport that can complete several seeds of one request
for less than that many requests (the embedded model: one prompt evaluation, one batch) says so
by having ``complete_seeds`` (:class:`SeedGroupTransport`); the runner then hands it the reruns
of a case together. Everything that is the same for all of them — retries and
Retry-After, the per-model concurrency limit, redaction, the :class:`Completion` record —
is the gateway's. Three exist:

* ``litellm`` (:mod:`workbench.models._litellm`): any provider litellm knows;
* ``direct`` (:mod:`workbench.models._direct`): one JSON POST to an OpenAI-compatible server,
  for models with ``transport: direct``, without litellm's per-call CPU cost;
* ``local`` (:mod:`workbench.models._local`): the embedded model, for ``local/…`` names,
  called in-process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from workbench.models.errors import ConfigurationError

TransportName = Literal["litellm", "direct", "local"]
LOCAL_PREFIX = "local/"


@dataclass(frozen=True)
class Request:
    """One chat request as the gateway hands it to a transport.

    ``params`` are the sampling parameters to send (``None`` values already left out:
    they mean "the provider's default"); ``api_key`` is the value of the model's
    ``api_key_env``, already registered for redaction.
    """

    model: str
    messages: list[dict[str, str]]
    params: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 120.0
    api_base: str | None = None
    api_key: str | None = None


@dataclass(frozen=True)
class Reply:
    """What a transport got back: the raw text (not yet redacted), token counts, and the cost
    in USD as the transport priced it (0.0 when the price is unknown).

    ``latency_ms`` is the transport's own measure of the time this reply took, when it has a
    better one than the gateway's clock (a reply of a group: its share of the group's time).
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    cost: float = 0.0
    latency_ms: float | None = None


class Transport(Protocol):
    """Sends one request, once; raises only :class:`~workbench.models.errors.ModelError`."""

    async def complete(self, request: Request) -> Reply: ...

    async def aclose(self) -> None:
        """Release pooled connections; a later call may reopen them."""
        ...


@runtime_checkable
class SeedGroupTransport(Transport, Protocol):
    """A transport that completes several seeds of one request at once, cheaper than one
    request per seed; replies come back in the order of the seeds. It queues and batches
    concurrent requests itself, so the gateway puts no concurrency limit in front of it."""

    async def complete_seeds(self, request: Request, seeds: Sequence[int]) -> list[Reply]: ...


def choose_transport(model: str, transport: str = "litellm",
                     api_base: str | None = None) -> TransportName:
    """Which transport reaches ``model``: ``local/…`` names are the embedded model,
    ``transport: direct`` an OpenAI-compatible server at ``api_base``, anything else litellm."""
    if model.startswith(LOCAL_PREFIX):
        return "local"
    if transport == "direct":
        if not api_base:
            raise ConfigurationError("transport: direct needs the server's api_base")
        return "direct"
    return "litellm"


def open_transport(name: TransportName) -> Transport:
    """A new transport of that name.

    Each is imported here, on first use: aiohttp, litellm and llama.cpp each take time to
    import, and a run uses only the ones its models need (a run on direct or local models
    never imports litellm).
    """
    if name == "local":
        from workbench.models._local import LocalTransport

        return LocalTransport()
    if name == "direct":
        from workbench.models._direct import DirectTransport

        return DirectTransport()
    from workbench.models._litellm import LitellmTransport

    return LitellmTransport()
