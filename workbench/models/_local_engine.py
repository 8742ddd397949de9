"""Generation on the embedded model: one prompt evaluation for all the reruns of a case.

Why not llama-cpp-python's ``create_chat_completion``: it evaluates the whole prompt again for
every call, so each rerun of a case pays for the prompt (most of a classifier call), and it
decodes one sequence at a time. This module drives llama.cpp's low-level API instead:

* **Prompt reuse.** The prompt is evaluated once; its KV cells and its last logits stay
  resident in the context, so a rerun — and the next call with the same prompt — starts right
  after it. The cache is the context itself (one prompt per context, the last one evaluated):
  its memory is bounded by construction. A prompt that shares a prefix with the resident one
  (the cases of a few-shot prompt share its examples) evaluates only what follows the prefix;
  measured, the logits are bitwise those of a full evaluation.
* **Batched reruns.** Several seeds of one prompt decode together, as parallel sequences of one
  batch, each with its own sampler chain (and grammar, when one constrains the output). The
  batch context keeps one KV stream per sequence (``kv_unified`` off), so each sequence's
  attention reads the same cells in the same order as a lone call: the outputs are bitwise
  those of the sequential path, whichever sequences share a batch. (With llama.cpp's unified
  KV buffer they are not: measured, a sequence's logits then depend on its neighbours.)
* **The same outputs as before.** Prompt formatting, the sampler chain (order and defaults),
  stop sequences and text assembly follow llama-cpp-python 0.3's chat completion step for
  step, so for a given prompt and seed the text is token for token what it returns; the tests
  compare the two.

Nothing here is thread-safe: ``_local`` serialises every call.
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any

from workbench.models.errors import BadRequest

if TYPE_CHECKING:  # pragma: no cover - typing only: importing llama_cpp is slow
    import llama_cpp
    import numpy as np

# Sequences decoded together at most (a case with more reruns runs in several batches) and the
# KV cells of each: a request that does not fit runs sequentially in the main context.
BATCH_SEQUENCES = 8
BATCH_STREAM_CELLS = 512
_N_BATCH = 512  # llama-cpp-python's default; prompt chunks must match its for equal numerics
_PENALTY_LAST_N = 64  # llama-cpp-python's last_n_tokens_size
PREFIX_REUSE = True


def _common_prefix(resident: list[int], tokens: list[int]) -> int:
    """How many leading tokens of ``tokens`` the resident prompt's KV cells can serve: their
    common prefix, less the last token (whose logits must be computed anew)."""
    limit = min(len(resident), len(tokens) - 1)
    kept = 0
    while kept < limit and resident[kept] == tokens[kept]:
        kept += 1
    return kept


@dataclass(frozen=True)
class Sampling:
    """How to sample: llama-cpp-python's ``create_chat_completion`` defaults.

    ``grammar`` is GBNF text (root rule ``root``) that every sequence's sampler chain applies:
    the JSON grammar of a ``response_format``, or any grammar a caller builds.
    """

    temperature: float = 0.2
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    typical_p: float = 1.0
    repeat_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    grammar: str | None = None


@dataclass
class Sample:
    """One finished sequence; ``seconds`` is its share of the model time (the prompt split
    evenly over the samples that reused it, each batched step over the sequences in it)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    seed: int
    seconds: float = 0.0


def response_format_grammar(response_format: dict[str, Any] | None) -> str | None:
    """GBNF for an OpenAI ``response_format``, as llama-cpp-python builds it: the schema's
    grammar (the generic JSON grammar when the schema cannot be converted), or the generic JSON
    grammar without a schema; ``None`` for ``text`` or nothing."""
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        schema = response_format.get("schema")
    elif kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, dict) else None
    else:
        return None
    from llama_cpp import llama_grammar

    if schema:
        try:
            return llama_grammar.json_schema_to_gbnf(json.dumps(schema))
        except Exception:  # noqa: BLE001 - llama-cpp-python falls back the same way
            pass
    return llama_grammar.JSON_GBNF


class _Text:
    """The text of one sequence as tokens arrive: llama-cpp-python's non-streaming
    ``_create_completion`` loop (end of generation, UTF-8 completion, stop sequences,
    ``max_tokens``), so the result is the same string with the same finish reason."""

    def __init__(self, engine: Engine, prompt: list[int], stop: Sequence[str], max_tokens: int):
        self.engine = engine
        self.prompt = prompt
        self.stop = [s.encode("utf-8") for s in stop]
        self.max_tokens = max_tokens
        self.tokens: list[int] = []
        self.text = b""
        self.finish_reason = "length"
        self._multibyte = 0

    def push(self, token: int) -> bool:
        """Take a sampled token; ``True`` when the sequence is finished."""
        llm = self.engine.llm
        if self.engine.ll.llama_vocab_is_eog(self.engine.vocab, token):
            self.text = llm.detokenize(self.tokens, prev_tokens=self.prompt)
            self.finish_reason = "stop"
            return True
        self.tokens.append(token)
        text = llm.detokenize(self.tokens, prev_tokens=self.prompt)
        # An incomplete UTF-8 character at the end: look again after the next token(s).
        for k, char in enumerate(text[-3:]):
            k = 3 - k
            for num, pattern in ((2, 192), (3, 224), (4, 240)):
                if num > k and pattern & char == pattern:
                    self._multibyte = num - k
        if self._multibyte > 0:
            self._multibyte -= 1
            return False
        found = [s for s in self.stop if s in text]
        if found:
            self.text = text[: text.index(found[0])]
            self.finish_reason = "stop"
            return True
        if len(self.tokens) >= self.max_tokens:
            self.text = text
            return True
        return False


@dataclass
class _Context:
    """A llama.cpp context with the prompt it holds resident in sequence 0."""

    ptr: Any
    sequences: int
    cells: int  # per sequence
    owned: bool
    batch: Any = None
    prompt: list[int] = field(default_factory=list)
    logits: Any = None  # the prompt's last logits (numpy copy)
    threads: int = 0


class Engine:
    """Prompts, samplers and decoding over the model of one ``llama_cpp.Llama``.

    The ``Llama``'s own context (``n_ctx`` cells, one sequence) serves sequential generation;
    a second context of :data:`BATCH_SEQUENCES` streams, created on first use, serves batches.
    """

    def __init__(self, llm: llama_cpp.Llama) -> None:
        import numpy
        from llama_cpp import llama_chat_format
        from llama_cpp import llama_cpp as ll

        self.np = numpy
        self.ll = ll
        self.llm = llm
        self.vocab = ll.llama_model_get_vocab(llm.model)
        self.n_vocab = ll.llama_vocab_n_tokens(self.vocab)
        self.main = self._wrap(llm.ctx, 1, llm.n_ctx(), owned=False)
        self._batched: _Context | None = None
        metadata = llm.metadata
        eos, bos = llm.token_eos(), llm.token_bos()
        self.formatter = llama_chat_format.Jinja2ChatFormatter(
            template=metadata.get("tokenizer.chat_template", ""),
            eos_token=self._token_text(eos), bos_token=self._token_text(bos),
            stop_token_ids=[eos])
        dtype = numpy.dtype([("id", numpy.intc), ("logit", numpy.single), ("p", numpy.single)],
                            align=True)
        self._candidates = numpy.zeros(self.n_vocab, dtype=dtype)
        self._ids = numpy.arange(self.n_vocab, dtype=numpy.intc)

    # -- set-up ------------------------------------------------------------------------------

    def _token_text(self, token: int) -> str:
        if token == -1:
            return ""
        return self.ll.llama_vocab_get_text(self.vocab, token).decode("utf-8")

    def _wrap(self, ptr: Any, sequences: int, cells: int, *, owned: bool) -> _Context:
        batch = self.ll.llama_batch_init(max(_N_BATCH, sequences), 0, sequences)
        return _Context(ptr, sequences, cells, owned, batch)

    def _batch_context(self) -> _Context:
        if self._batched is None:
            ll = self.ll
            params = ll.llama_context_default_params()
            params.n_ctx = BATCH_SEQUENCES * BATCH_STREAM_CELLS
            params.n_batch = params.n_ubatch = _N_BATCH
            params.n_seq_max = BATCH_SEQUENCES
            params.kv_unified = False  # one KV stream per sequence: see the module docstring
            params.flash_attn_type = ll.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as the Llama's own
            ptr = ll.llama_init_from_model(self.llm.model, params)
            if not ptr:
                raise RuntimeError("llama.cpp could not create the batch context")
            # A fine-tuned model's LoRA adapter is set on the Llama's own context only: the
            # batch context must apply it too, or batched reruns would run the bare base.
            adapter = getattr(self.llm, "_lora_adapter", None)
            if adapter is not None:
                adapters = (ll.llama_adapter_lora_p_ctypes * 1)(adapter)
                scales = (ctypes.c_float * 1)(self.llm.lora_scale)
                if ll.llama_set_adapters_lora(ptr, adapters, 1, scales):
                    ll.llama_free(ptr)
                    raise RuntimeError("llama.cpp could not apply the LoRA adapter to the "
                                       "batch context")
            self._batched = self._wrap(ptr, BATCH_SEQUENCES, BATCH_STREAM_CELLS, owned=True)
        return self._batched

    def close(self) -> None:
        """Free the contexts and batches this engine made (not the ``Llama``'s own context)."""
        for context in (self.main, self._batched):
            if context is None:
                continue
            if context.batch is not None:
                self.ll.llama_batch_free(context.batch)
                context.batch = None
            if context.owned and context.ptr:
                self.ll.llama_free(context.ptr)
                context.ptr = None
        self._batched = None

    # -- prompts and samplers ----------------------------------------------------------------

    def prompt(self, messages: list[dict[str, Any]]) -> tuple[list[int], list[str]]:
        """The prompt's tokens through the GGUF's chat template, and the template's stops."""
        result = self.formatter(messages=messages)
        tokens = self.llm.tokenize(result.prompt.encode("utf-8"),
                                   add_bos=not result.added_special, special=True)
        stop = result.stop if isinstance(result.stop, list) else [result.stop]
        return tokens, [s for s in stop if s]

    def _sampler(self, sampling: Sampling, seed: int) -> Any:
        """A sampler chain in llama-cpp-python's order: penalties, grammar, then greedy, or
        top-k, typical, top-p, min-p, temperature and the seeded draw."""
        ll = self.ll
        chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
        add = lambda sampler: ll.llama_sampler_chain_add(chain, sampler)  # noqa: E731
        add(ll.llama_sampler_init_penalties(
            self.n_vocab, _PENALTY_LAST_N, sampling.repeat_penalty,
            sampling.frequency_penalty, sampling.presence_penalty))
        if sampling.grammar:
            grammar = ll.llama_sampler_init_grammar(
                self.vocab, sampling.grammar.encode("utf-8"), b"root")
            if not grammar:  # llama.cpp would crash the process on it later
                ll.llama_sampler_free(chain)
                raise BadRequest("the output grammar does not parse (GBNF with a 'root' rule "
                                 f"expected): {sampling.grammar[:200]!r}", label="GrammarError")
            add(grammar)
        temperature = sampling.temperature
        if temperature < 0:
            add(ll.llama_sampler_init_dist(seed))
        elif temperature == 0:
            add(ll.llama_sampler_init_greedy())
        else:
            add(ll.llama_sampler_init_top_k(sampling.top_k))
            add(ll.llama_sampler_init_typical(sampling.typical_p, 1))
            add(ll.llama_sampler_init_top_p(sampling.top_p, 1))
            add(ll.llama_sampler_init_min_p(sampling.min_p, 1))
            add(ll.llama_sampler_init_temp(temperature))
            add(ll.llama_sampler_init_dist(seed))
        return chain

    def _sample(self, chain: Any, logits: Any) -> int:
        """Apply the chain to one row of logits and accept the token it picks (what
        ``llama_sampler_sample`` does, but from any logits: the prompt's are kept aside)."""
        ll, candidates = self.ll, self._candidates
        candidates["id"] = self._ids
        candidates["logit"] = logits
        candidates["p"] = 0.0
        array = ll.llama_token_data_array(
            data=candidates.ctypes.data_as(ll.llama_token_data_p), size=self.n_vocab,
            selected=-1, sorted=False)
        ll.llama_sampler_apply(chain, ctypes.byref(array))
        token = int(array.data[array.selected].id)
        ll.llama_sampler_accept(chain, token)
        return token

    def _logits(self, context: _Context, index: int) -> np.ndarray:
        row = self.ll.llama_get_logits_ith(context.ptr, index)
        return self.np.ctypeslib.as_array(row, shape=(self.n_vocab,))

    # -- decoding ----------------------------------------------------------------------------

    def _decode(self, context: _Context, entries: Sequence[tuple[int, int, int, bool]]) -> None:
        """Decode ``(token, position, sequence, wants logits)`` entries as one batch."""
        batch = context.batch
        batch.n_tokens = len(entries)
        for i, (token, position, sequence, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = position
            batch.seq_id[i][0] = sequence
            batch.n_seq_id[i] = 1
            batch.logits[i] = logits
        code = self.ll.llama_decode(context.ptr, batch)
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code}")

    def _load_prompt(self, context: _Context, tokens: list[int]) -> float:
        """Make ``tokens`` the context's resident prompt, evaluating it only if it is not
        already; returns the seconds spent. Every other sequence is emptied."""
        ll = self.ll
        memory = ll.llama_get_memory(context.ptr)
        for sequence in range(1, context.sequences):
            ll.llama_memory_seq_rm(memory, sequence, -1, -1)
        if context.prompt == tokens and context.logits is not None:
            ll.llama_memory_seq_rm(memory, 0, len(tokens), -1)
            return 0.0
        started = perf_counter()
        kept = _common_prefix(context.prompt, tokens) if PREFIX_REUSE else 0
        context.prompt, context.logits = [], None
        if kept:
            ll.llama_memory_seq_rm(memory, 0, kept, -1)
        else:
            ll.llama_memory_clear(memory, True)
        last = len(tokens) - 1
        for start in range(kept, len(tokens), _N_BATCH):
            chunk = tokens[start:start + _N_BATCH]
            self._decode(context, [(token, start + i, 0, start + i == last)
                                   for i, token in enumerate(chunk)])
        context.logits = self._logits(context, -1).copy()
        context.prompt = list(tokens)
        return perf_counter() - started

    def _set_threads(self, context: _Context, threads: int) -> None:
        if context.threads != threads:
            self.ll.llama_set_n_threads(context.ptr, threads, threads)
            context.threads = threads

    def generate(self, messages: list[dict[str, Any]], sampling: Sampling, seeds: Sequence[int],
                 *, batch: bool, threads: int) -> list[Sample]:
        """One sample per seed, in order; the prompt is evaluated at most once.

        ``batch`` decodes the seeds together when they fit the batch context. Raises
        ``ValueError`` (llama-cpp-python's message) for a prompt longer than the context.
        """
        tokens, template_stop = self.prompt(messages)
        n_ctx = self.main.cells
        if len(tokens) >= n_ctx:
            raise ValueError(f"Requested tokens ({len(tokens)}) exceed context window of {n_ctx}")
        max_tokens = sampling.max_tokens
        if max_tokens <= 0:
            max_tokens = n_ctx - len(tokens)
        max_tokens = min(max_tokens, n_ctx - len(tokens))
        stop = [*sampling.stop, *template_stop]
        # A few cells to spare: an unfinished UTF-8 character may run past max_tokens.
        fits = len(tokens) + max_tokens + 8 <= BATCH_STREAM_CELLS
        if batch and len(seeds) > 1 and fits:
            context, width = self._batch_context(), BATCH_SEQUENCES
        else:
            context, width = self.main, 1
        self._set_threads(context, threads)
        samples: list[Sample] = []
        for start in range(0, len(seeds), width):
            group = list(seeds[start:start + width])
            texts = [_Text(self, tokens, stop, max_tokens) for _ in group]
            shares = self._run_group(context, tokens, sampling, group, texts)
            samples += [Sample(t.text.decode("utf-8", errors="ignore"), len(tokens),
                               len(t.tokens), t.finish_reason, seed, share)
                        for t, seed, share in zip(texts, group, shares, strict=True)]
        return samples

    def _run_group(self, context: _Context, tokens: list[int], sampling: Sampling,
                   seeds: list[int], texts: list[_Text]) -> list[float]:
        """Decode ``seeds`` from the resident prompt: together if the context has room for
        them, else one after the other. Returns each sample's share of the time."""
        chains = [self._sampler(sampling, seed) for seed in seeds]
        shares = [0.0] * len(seeds)
        try:
            prompt_s = self._load_prompt(context, tokens)
            for i in range(len(seeds)):
                shares[i] += prompt_s / len(seeds)
            if context.sequences > 1:
                self._decode_together(context, tokens, chains, texts, shares)
            else:
                memory = self.ll.llama_get_memory(context.ptr)
                for i, (chain, text) in enumerate(zip(chains, texts, strict=True)):
                    if i:
                        self.ll.llama_memory_seq_rm(memory, 0, len(tokens), -1)
                    started = perf_counter()
                    self._decode_alone(context, tokens, chain, text)
                    shares[i] += perf_counter() - started
        finally:
            for chain in chains:
                self.ll.llama_sampler_free(chain)
        return shares

    def _decode_alone(self, context: _Context, tokens: list[int], chain: Any,
                      text: _Text) -> None:
        token = self._sample(chain, context.logits)
        while not text.push(token):
            self._decode(context, [(token, len(tokens) + len(text.tokens) - 1, 0, True)])
            token = self._sample(chain, self._logits(context, -1))

    def _decode_together(self, context: _Context, tokens: list[int], chains: list[Any],
                         texts: list[_Text], shares: list[float]) -> None:
        ll = self.ll
        memory = ll.llama_get_memory(context.ptr)
        for sequence in range(1, len(chains)):
            ll.llama_memory_seq_cp(memory, 0, sequence, -1, -1)
        live: list[tuple[int, int]] = []  # (sequence, its next token)
        started = perf_counter()
        for sequence, (chain, text) in enumerate(zip(chains, texts, strict=True)):
            token = self._sample(chain, context.logits)
            if not text.push(token):
                live.append((sequence, token))
        for sequence in range(len(chains)):
            shares[sequence] += (perf_counter() - started) / len(chains)
        while live:
            started = perf_counter()
            self._decode(context, [(token, len(tokens) + len(texts[s].tokens) - 1, s, True)
                                   for s, token in live])
            still: list[tuple[int, int]] = []
            for row, (sequence, _) in enumerate(live):
                token = self._sample(chains[sequence], self._logits(context, row))
                if not texts[sequence].push(token):
                    still.append((sequence, token))
            step = (perf_counter() - started) / len(live)
            for sequence, _ in live:
                shares[sequence] += step
            live = still
