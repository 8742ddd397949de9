"""``local/smollm2`` as a litellm custom provider, for code that calls litellm itself.

Why a module of its own: the run engine reaches the embedded model through its own transport
(:class:`workbench.models._local.LocalTransport`) and never imports litellm; only code that
calls litellm directly needs this provider, and it is built lazily, so importing it imports
no litellm either.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from typing import TYPE_CHECKING, Any

from workbench.models._local import (
    MODEL_NAME,
    N_CTX,
    PROVIDER,
    LocalChatModel,
    LocalReply,
    _generate,
    _local_executor,
)
from workbench.models.errors import ContextWindowExceeded, ModelUnavailable

if TYPE_CHECKING:  # pragma: no cover - typing only: importing litellm is slow
    from litellm import CustomLLM

__all__ = ["register"]


def _context_window_error(exc: ContextWindowExceeded) -> Exception:
    import litellm

    return litellm.ContextWindowExceededError(
        message=str(exc), model=MODEL_NAME, llm_provider=PROVIDER
    )


def _unavailable_error(exc: ModelUnavailable) -> Exception:
    """A 400 so retry logic treats it as configuration; ``__cause__`` keeps the original.

    litellm passes its own exception types through unchanged, but would wrap any other
    exception (such as ``ModelUnavailable``) in ``APIConnectionError``, which is retried as a
    transient network failure.
    """
    import litellm

    return litellm.BadRequestError(message=str(exc), model=MODEL_NAME, llm_provider=PROVIDER)


class _SmolLM2Handler:
    """The provider's logic, kept free of litellm imports (see ``SmolLM2Provider``).

    litellm (1.106) calls ``completion``/``acompletion`` with keyword arguments only; the
    OpenAI-style sampling parameters arrive already mapped in ``optional_params`` (e.g.
    ``max_completion_tokens`` becomes ``max_tokens``), and ``model`` arrives with the
    provider prefix stripped (``"smollm2"``).
    """

    def __init__(self) -> None:
        super().__init__()
        self._model = LocalChatModel()

    def _run(self, messages: list[dict[str, Any]], optional_params: dict[str, Any]) -> LocalReply:
        try:
            return _generate(self._model, messages, optional_params)[0]
        except ModelUnavailable as exc:
            raise _unavailable_error(exc) from exc
        except ContextWindowExceeded as exc:
            raise _context_window_error(exc) from exc

    @staticmethod
    def _fill(model_response: Any, reply: LocalReply) -> Any:
        import litellm

        choice = model_response.choices[0]
        choice.message.content = reply.text
        choice.finish_reason = reply.finish_reason
        model_response.model = MODEL_NAME
        model_response.created = int(time.time())
        model_response.usage = litellm.Usage(
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            total_tokens=reply.prompt_tokens + reply.completion_tokens,
        )
        # The seed actually used, so an unseeded sample can still be reproduced; litellm
        # merges these into response._hidden_params and keeps them.
        model_response._hidden_params["local_seed"] = reply.seed
        return model_response

    def completion(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *args: Any,
        model_response: Any = None,
        optional_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Blocking call (``litellm.completion``)."""
        reply = self._run(messages, optional_params or {})
        return self._fill(model_response, reply)

    async def acompletion(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *args: Any,
        model_response: Any = None,
        optional_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Async call (``litellm.acompletion``); generation runs off the event loop."""
        loop = asyncio.get_running_loop()
        call = functools.partial(
            contextvars.copy_context().run, self._run, messages, optional_params or {}
        )
        reply = await loop.run_in_executor(_local_executor(), call)
        return self._fill(model_response, reply)


@functools.cache
def _provider_class() -> type[CustomLLM]:
    """Build ``SmolLM2Provider`` on first use, so importing this module never imports litellm.

    Importing litellm costs seconds; ``LocalChatModel`` users (bench, TUI status) and an
    early import of this module must not pay for it.
    """
    from litellm import CustomLLM

    return type(
        "SmolLM2Provider",
        (_SmolLM2Handler, CustomLLM),
        {"__module__": __name__, "__qualname__": "SmolLM2Provider", "__doc__": _PROVIDER_DOC},
    )


_PROVIDER_DOC = """litellm custom handler for ``local/smollm2`` (a ``litellm.CustomLLM``).

Registered under provider ``local`` by ``register``; see ``_SmolLM2Handler`` for how litellm
passes the request in.
"""

if TYPE_CHECKING:  # pragma: no cover - what the lazily built class looks like to type checkers

    class SmolLM2Provider(_SmolLM2Handler, CustomLLM):
        """litellm custom handler for ``local/smollm2``."""

else:

    def __getattr__(name: str) -> Any:
        if name == "SmolLM2Provider":
            return _provider_class()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_ZERO_COST_ENTRY: dict[str, Any] = {
    "max_tokens": 256,
    "max_input_tokens": N_CTX,
    "max_output_tokens": N_CTX,
    "input_cost_per_token": 0.0,
    "output_cost_per_token": 0.0,
    # Without the two cache prices register_model() logs a warning on every start.
    "cache_creation_input_token_cost": 0.0,
    "cache_read_input_token_cost": 0.0,
    "litellm_provider": PROVIDER,
    "mode": "chat",
}


def register(litellm_module: Any) -> None:
    """Make ``local/smollm2`` callable through ``litellm`` (idempotent).

    Adds the handler to ``custom_provider_map``, runs ``custom_llm_setup()`` so the provider
    is known even before the first call (litellm only runs it at the start of each call), and
    registers a zero price so ``litellm.completion_cost`` returns 0.0 for the local model.
    """
    provider_map = litellm_module.custom_provider_map
    if not any(
        item.get("provider") == PROVIDER and isinstance(item.get("custom_handler"), _SmolLM2Handler)
        for item in provider_map
    ):
        provider_map[:] = [item for item in provider_map if item.get("provider") != PROVIDER]
        provider_map.append({"provider": PROVIDER, "custom_handler": _provider_class()()})
    # 1.106 keeps it in litellm.utils (not re-exported); other versions export it at top level.
    setup = getattr(getattr(litellm_module, "utils", None), "custom_llm_setup", None) or getattr(
        litellm_module, "custom_llm_setup", None
    )
    if setup is not None:
        setup()
    if MODEL_NAME not in litellm_module.model_cost:
        litellm_module.register_model({MODEL_NAME: dict(_ZERO_COST_ENTRY)})
