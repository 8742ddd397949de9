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
* **Batched reruns, batched requests.** The seeds of a prompt — and of several prompts, the
  cases in flight — decode together, as parallel sequences of one batch, each with its own
  sampler chain (and grammar, when one constrains the output). The batch context keeps one
  KV stream per sequence (``kv_unified`` off), so each sequence's attention reads the same
  cells in the same order as a lone call: the outputs are bitwise those of the sequential
  path, whichever sequences share a batch. (With llama.cpp's unified KV buffer they are not:
  measured, a sequence's logits then depend on its neighbours.) Two rules keep it so, both
  found by comparing outputs: each prompt is evaluated in llama.cpp batches of its own (the
  suffixes of several prompts in one batch changed a few outputs in a thousand), and a
  sequence moved to close a gap left by finished ones is moved whole, stream and layout.
* **Grammar masks.** What a grammar allows next depends only on the tokens it has accepted,
  so the mask is computed once per state and reused (:meth:`Engine._allowed`).
* **The same outputs as before.** Prompt formatting, the sampler chain (order and defaults),
  stop sequences and text assembly follow llama-cpp-python 0.3's chat completion step for
  step, so for a given prompt and seed the text is token for token what it returns; the tests
  compare the two.

Nothing here is thread-safe: ``_local`` serialises every call.
"""

from __future__ import annotations

import ctypes
import json
from collections import OrderedDict
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
BATCH_SEQUENCES = 16
BATCH_STREAM_CELLS = 512
_MASK_CACHE = 1024  # grammar masks kept (6 KB each)
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
        self._scratch = numpy.zeros(self.n_vocab, dtype=dtype)
        self._ids = numpy.arange(self.n_vocab, dtype=numpy.intc)
        self._masks: OrderedDict[tuple[str, tuple[int, ...]], np.ndarray] = OrderedDict()

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

    def _sampler(self, sampling: Sampling, seed: int) -> tuple[Any, _Grammar | None]:
        """A sampler chain in llama-cpp-python's order — penalties, grammar, then greedy, or
        top-k, typical, top-p, min-p, temperature and the seeded draw — with the grammar kept
        out of the chain, as a :class:`_Grammar` that :meth:`_sample` applies first (the same
        result: penalties keep a rejected token's ``-inf``)."""
        ll = self.ll
        grammar = self._grammar(sampling.grammar) if sampling.grammar else None
        chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
        add = lambda sampler: ll.llama_sampler_chain_add(chain, sampler)  # noqa: E731
        add(ll.llama_sampler_init_penalties(
            self.n_vocab, _PENALTY_LAST_N, sampling.repeat_penalty,
            sampling.frequency_penalty, sampling.presence_penalty))
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
        return chain, grammar

    def _grammar(self, text: str) -> _Grammar:
        pointer = self.ll.llama_sampler_init_grammar(self.vocab, text.encode("utf-8"), b"root")
        if not pointer:  # llama.cpp would crash the process on it later
            raise BadRequest("the output grammar does not parse (GBNF with a 'root' rule "
                             f"expected): {text[:200]!r}", label="GrammarError")
        return _Grammar(text, pointer)

    def _free(self, sequences: Sequence[_Sequence]) -> None:
        for sequence in sequences:
            if sequence.chain is not None:
                self.ll.llama_sampler_free(sequence.chain)
                sequence.chain = None
            if sequence.grammar is not None:
                self.ll.llama_sampler_free(sequence.grammar.pointer)
                sequence.grammar = None

    def _array(self, candidates: np.ndarray) -> Any:
        """``candidates`` as llama.cpp's token data array (unsorted, nothing selected)."""
        ll = self.ll
        candidates["id"] = self._ids
        candidates["p"] = 0.0
        return ll.llama_token_data_array(
            data=candidates.ctypes.data_as(ll.llama_token_data_p), size=self.n_vocab,
            selected=-1, sorted=False)

    def _allowed(self, grammar: _Grammar) -> np.ndarray:
        """The tokens ``grammar`` allows next, as a boolean mask, from the cache or computed.

        What a grammar rejects depends on its state alone (the tokens it accepted), never on
        the logits: llama.cpp sets a rejected token's logit to ``-inf`` and touches nothing
        else. So the mask is computed once per state — on zero logits, so that a token some
        logits row already had at ``-inf`` is not mistaken for a rejected one — and reused:
        the reruns of a label grammar meet a handful of states, and applying one to 49,152
        candidates cost more than the rest of a sampling step.
        """
        key = (grammar.text, tuple(grammar.tokens))
        packed = self._masks.get(key)
        if packed is None:
            scratch = self._scratch
            array = self._array(scratch)
            scratch["logit"] = 0.0
            self.ll.llama_sampler_apply(grammar.pointer, ctypes.byref(array))
            packed = self.np.packbits(scratch["logit"] != -self.np.inf)
            self._masks[key] = packed
            if len(self._masks) > _MASK_CACHE:
                self._masks.popitem(last=False)
        else:
            self._masks.move_to_end(key)
        return self.np.unpackbits(packed, count=self.n_vocab).view(bool)

    def _sample(self, sequence: _Sequence, logits: np.ndarray) -> int:
        """Apply the sequence's grammar and chain to one row of logits and accept the token
        picked (what ``llama_sampler_sample`` does, but from any logits: the prompt's are kept
        aside)."""
        ll, candidates = self.ll, self._candidates
        array = self._array(candidates)
        candidates["logit"] = logits
        if sequence.grammar is not None:
            candidates["logit"][~self._allowed(sequence.grammar)] = -self.np.inf
        ll.llama_sampler_apply(sequence.chain, ctypes.byref(array))
        token = int(array.data[array.selected].id)
        ll.llama_sampler_accept(sequence.chain, token)
        if sequence.grammar is not None:
            ll.llama_sampler_accept(sequence.grammar.pointer, token)
            sequence.grammar.tokens.append(token)
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
        """Make ``tokens`` the context's resident prompt (sequence 0), evaluating it only if
        it is not already; returns the seconds spent. Every other sequence is emptied."""
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
        (result,) = self.generate_many([(messages, sampling, seeds)], batch=batch,
                                       threads=threads)
        if isinstance(result, BaseException):
            raise result
        return result

    def generate_many(self, requests: Sequence[tuple[list[dict[str, Any]], Sampling,
                                                     Sequence[int]]],
                      *, batch: bool, threads: int) -> list[list[Sample] | Exception]:
        """For each request (messages, sampling, seeds), one sample per seed, in order — or
        the exception that request alone raised (``ValueError``, llama-cpp-python's message,
        for a prompt longer than the context; :class:`BadRequest` for a grammar that does not
        parse).

        With ``batch``, the requests' sequences decode together, :data:`BATCH_SEQUENCES` at a
        time, each prompt evaluated once (after the prefix it shares with the first); without,
        or for a request too long for a batch stream, one after the other. Either way every
        sample is the one its request and seed give alone.
        """
        results: list[list[Sample] | Exception] = []
        jobs: list[_Job] = []
        for messages, sampling, seeds in requests:
            try:
                job = self._job(messages, sampling, seeds)
            except (ValueError, BadRequest) as exc:
                results.append(exc)
                continue
            results.append(job.samples)  # type: ignore[arg-type]  # filled in below
            jobs.append(job)
        pieces = [_Piece(job, list(range(start, min(start + BATCH_SEQUENCES, len(job.seeds)))))
                  for job in jobs for start in range(0, len(job.seeds), BATCH_SEQUENCES)]
        together = [p for p in pieces if batch and p.job.fits_batch]
        alone = [p for p in pieces if not (batch and p.job.fits_batch)]
        if len(together) == 1 and len(together[0].indices) == 1:
            alone, together = together + alone, []  # one sequence: the main context serves
        if together:
            context = self._batch_context()
            self._set_threads(context, threads)
            for group in _pack(together, BATCH_SEQUENCES):
                self._run_batch(context, group)
        if alone:
            self._set_threads(self.main, threads)
            for piece in alone:
                self._run_alone(piece)
        return results

    def _job(self, messages: list[dict[str, Any]], sampling: Sampling,
             seeds: Sequence[int]) -> _Job:
        tokens, template_stop = self.prompt(messages)
        n_ctx = self.main.cells
        if len(tokens) >= n_ctx:
            raise ValueError(f"Requested tokens ({len(tokens)}) exceed context window of {n_ctx}")
        if sampling.grammar:  # refused here, for this request alone, not in the middle of a batch
            self.ll.llama_sampler_free(self._grammar(sampling.grammar).pointer)
        max_tokens = sampling.max_tokens
        if max_tokens <= 0:
            max_tokens = n_ctx - len(tokens)
        max_tokens = min(max_tokens, n_ctx - len(tokens))
        return _Job(tokens, [*sampling.stop, *template_stop], max_tokens, sampling, list(seeds))

    def _sequences(self, piece: _Piece) -> list[_Sequence]:
        job = piece.job
        sequences: list[_Sequence] = []
        try:
            for index in piece.indices:
                chain, grammar = self._sampler(job.sampling, job.seeds[index])
                sequences.append(_Sequence(chain, grammar, _Text(self, job.tokens, job.stop,
                                                                 job.max_tokens), piece, index))
        except BaseException:
            self._free(sequences)
            raise
        return sequences

    def _finish(self, sequences: Sequence[_Sequence]) -> None:
        for sequence in sequences:
            job, text = sequence.piece.job, sequence.text
            job.samples[sequence.index] = Sample(
                text.text.decode("utf-8", errors="ignore"), len(job.tokens), len(text.tokens),
                text.finish_reason, job.seeds[sequence.index], sequence.seconds)

    def _run_alone(self, piece: _Piece) -> None:
        """The piece's seeds one after the other in the main context, from its prompt
        evaluated once."""
        context, tokens = self.main, piece.job.tokens
        memory = self.ll.llama_get_memory(context.ptr)
        sequences = self._sequences(piece)
        try:
            prompt_s = self._load_prompt(context, tokens)
            for i, sequence in enumerate(sequences):
                if i:
                    self.ll.llama_memory_seq_rm(memory, 0, len(tokens), -1)
                started = perf_counter()
                text = sequence.text
                token = self._sample(sequence, context.logits)
                while not text.push(token):
                    self._decode(context, [(token, len(tokens) + len(text.tokens) - 1, 0, True)])
                    token = self._sample(sequence, self._logits(context, -1))
                sequence.seconds = prompt_s / len(sequences) + perf_counter() - started
            self._finish(sequences)
        finally:
            self._free(sequences)

    def _run_batch(self, context: _Context, pieces: list[_Piece]) -> None:
        """The pieces' seeds decoded together in the batch context.

        The first piece's prompt becomes the resident one (sequence 0); every other piece's
        prompt goes to a sequence of its own (1, 2, …): the prefix it shares with the first is
        copied, the rest evaluated. Each piece's further seeds get copies of its prompt's
        cells, and then every sequence advances one token per step.
        """
        ll = self.ll
        memory = ll.llama_get_memory(context.ptr)
        sequences: list[_Sequence] = []
        try:
            for piece in pieces:
                sequences += self._sequences(piece)
            leaders = {piece: i for i, piece in enumerate(pieces)}
            first = pieces[0].job.tokens
            prompt_s = self._load_prompt(context, first)
            started = perf_counter()
            logits = [context.logits]
            entries: list[tuple[int, int, int, bool]] = []
            ends: list[int] = []  # where each piece's last prompt token is in ``entries``
            for number, piece in enumerate(pieces[1:], start=1):
                tokens = piece.job.tokens
                kept = _common_prefix(first, tokens) if PREFIX_REUSE else 0
                # llama.cpp copies only whole sequences between streams: copy, then trim. Even
                # with nothing shared: the trim leaves the stream's next cell at ``kept``, so
                # the prompt lies in the cells a lone evaluation would use.
                ll.llama_memory_seq_cp(memory, 0, number, -1, -1)
                ll.llama_memory_seq_rm(memory, number, kept, -1)
                entries += [(token, kept + i, number, kept + i == len(tokens) - 1)
                            for i, token in enumerate(tokens[kept:])]
                ends.append(len(entries) - 1)
            begin = 0
            for end in ends:  # each prompt in batches of its own: see the module docstring
                for start in range(begin, end + 1, _N_BATCH):
                    self._decode(context, entries[start:min(start + _N_BATCH, end + 1)])
                logits.append(self._logits(context, -1).copy())
                begin = end + 1
            prompt_s += perf_counter() - started
            # Each piece's other seeds: sequences after the leaders, with its prompt's cells.
            slots, number = [], len(pieces)
            for sequence in sequences:
                leader = leaders[sequence.piece]
                if sequence.index == sequence.piece.indices[0]:
                    slots.append(leader)
                else:
                    ll.llama_memory_seq_cp(memory, leader, number, -1, -1)
                    slots.append(number)
                    number += 1
            for sequence in sequences:
                sequence.seconds = prompt_s / len(sequences)
            self._decode_together(context, sequences, slots,
                                  [logits[leaders[s.piece]] for s in sequences])
            self._finish(sequences)
        finally:
            self._free(sequences)

    def _decode_together(self, context: _Context, sequences: list[_Sequence], slots: list[int],
                         first_logits: list[np.ndarray]) -> None:
        """Sample every sequence from its prompt's logits, then decode the live ones as one
        batch per step (sequence ``sequences[i]`` in KV sequence ``slots[i]``)."""
        live: list[tuple[int, int]] = []  # (index into sequences, its next token)
        started = perf_counter()
        for i, (sequence, logits) in enumerate(zip(sequences, first_logits, strict=True)):
            token = self._sample(sequence, logits)
            if not sequence.text.push(token):
                live.append((i, token))
        for sequence in sequences:
            sequence.seconds += (perf_counter() - started) / len(sequences)
        while live:
            self._compact(context, slots, [i for i, _ in live])
            live.sort(key=lambda entry: slots[entry[0]])
            started = perf_counter()
            self._decode(context, [
                (token, len(sequences[i].text.prompt) + len(sequences[i].text.tokens) - 1,
                 slots[i], True) for i, token in live])
            still: list[tuple[int, int]] = []
            for row, (i, _) in enumerate(live):
                token = self._sample(sequences[i], self._logits(context, row))
                if not sequences[i].text.push(token):
                    still.append((i, token))
            step = (perf_counter() - started) / len(live)
            for i, _ in live:
                sequences[i].seconds += step
            live = still

    def _compact(self, context: _Context, slots: list[int], live: list[int]) -> None:
        """Move the live sequences to consecutive KV sequences (from 0, or from 1 once 0 is
        done).

        Why: llama.cpp splits a step whose sequence ids are not consecutive into one pass over
        the weights per run of consecutive ids (measured: 8 sequences with gaps took 85 ms a
        step, without 44 ms), and finished sequences leave gaps. A move is a copy of the whole
        stream — its cells, their layout and its head — so the moved sequence decodes exactly
        as it would have in place.
        """
        taken = {slots[i] for i in live}
        # Sequence 0 holds the resident prompt, which the next batch may reuse: it is never
        # written over, so the ids run from 1 once it is done.
        first = 0 if 0 in taken else 1
        wanted = range(first, first + len(live))
        free = [slot for slot in wanted if slot not in taken]
        memory = self.ll.llama_get_memory(context.ptr)
        for i in live:
            if slots[i] not in wanted:
                target = free.pop()
                self.ll.llama_memory_seq_cp(memory, slots[i], target, -1, -1)
                self.ll.llama_memory_seq_rm(memory, slots[i], -1, -1)
                slots[i] = target


@dataclass
class _Grammar:
    """A sequence's output grammar (llama.cpp sampler) and the tokens it has accepted."""

    text: str
    pointer: Any
    tokens: list[int] = field(default_factory=list)


@dataclass
class _Job:
    """One request: its prompt, how to sample, its seeds and (as they finish) its samples."""

    tokens: list[int]
    stop: list[str]
    max_tokens: int
    sampling: Sampling
    seeds: list[int]
    samples: list[Sample | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.samples = [None] * len(self.seeds)

    @property
    def fits_batch(self) -> bool:
        # A few cells to spare: an unfinished UTF-8 character may run past max_tokens.
        return len(self.tokens) + self.max_tokens + 8 <= BATCH_STREAM_CELLS


@dataclass(eq=False)
class _Piece:
    """Some of a job's seeds (by index), at most a batch's worth."""

    job: _Job
    indices: list[int]


@dataclass(eq=False)
class _Sequence:
    """One seed being decoded: its sampler chain, grammar and text so far."""

    chain: Any
    grammar: _Grammar | None
    text: _Text
    piece: _Piece | None = None
    index: int = 0
    seconds: float = 0.0


def _pack(pieces: list[_Piece], width: int) -> list[list[_Piece]]:
    """Consecutive pieces in groups of at most ``width`` sequences, in order (the first of a
    group is the prompt the next group most likely shares a prefix with)."""
    groups: list[list[_Piece]] = []
    used = width
    for piece in pieces:
        if used + len(piece.indices) > width:
            groups.append([])
            used = 0
        groups[-1].append(piece)
        used += len(piece.indices)
    return groups
