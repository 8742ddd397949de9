"""Training a LoRA adapter for the embedded model on the CPU, from chat examples.

Why this shape: the embedded model's only weights are its Q4_1 GGUF file, and nothing may be
downloaded. ``transformers`` reads that GGUF directly (dequantised to float32, tokenizer and
chat template from its metadata, token ids as llama.cpp's), ``peft`` adds the LoRA, and a
plain torch loop trains it with the loss on the assistant's reply only — the part a tuned
model must learn to produce; the prompt is context. The result is written as a GGUF LoRA
adapter (:mod:`workbench.finetune.gguf_adapter`) that llama.cpp applies to the same Q4_1 base
the untuned runs used.

torch, transformers, peft, gguf and accelerate are the optional ``finetune`` extra, imported
only when training starts; without them :func:`require_training_stack` says what to install.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import random
import re
import resource
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import InputError, Problem
from workbench.finetune.gguf_adapter import TARGET_MODULES, LoraPair, write_lora_gguf

EXTRA_MODULES = ("torch", "transformers", "peft", "gguf", "accelerate")
INSTALL_COMMAND = ("pip install 'prompt-workbench[finetune]' "
                   "--extra-index-url https://download.pytorch.org/whl/cpu")
DEFAULT_HOLDOUT = 0.25  # share of the cases kept out of training, to compare on
IGNORE = -100  # the label torch's cross-entropy skips: prompt tokens and padding

Messages = list[dict[str, str]]


class TrainingCancelled(Exception):
    """Training stopped on request; nothing was written."""


def missing_training_modules() -> list[str]:
    """The modules of the ``finetune`` extra that are not installed."""
    return [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]


def require_training_stack() -> None:
    """Raise ``InputError`` naming the missing modules and the install command."""
    missing = missing_training_modules()
    if missing:
        raise InputError(Problem(
            f"fine-tuning needs {', '.join(missing)} (the 'finetune' extra), not installed",
            hint=f"install it with: {INSTALL_COMMAND} (the extra index serves CPU-only torch "
                 "wheels; plain `pip install torch` fetches a CUDA build of several GB)"))


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters; the defaults suit a few dozen to a few hundred short examples."""

    epochs: int = 3
    rank: int = 16
    alpha: float | None = None  # None: 2 × rank
    lr: float = 1e-3
    batch_size: int = 4
    max_steps: int | None = None  # stop early (tests, quick looks)
    max_length: int = 1024  # tokens of one example; longer ones are cut from the left
    threads: int | None = None  # torch threads; None: every CPU this process may use
    seed: int = 0
    warmup: float = 0.05  # share of the steps the learning rate ramps up over

    @property
    def lora_alpha(self) -> float:
        return float(self.alpha if self.alpha is not None else 2 * self.rank)

    def check(self) -> list[Problem]:
        """Problems with the values, one per bad option."""
        problems = []
        if not 1 <= self.epochs <= 100:
            problems.append(Problem(f"--epochs must be from 1 to 100 (got {self.epochs})"))
        if not 1 <= self.rank <= 256:
            problems.append(Problem(f"--rank must be from 1 to 256 (got {self.rank})"))
        if not (math.isfinite(self.lr) and 0 < self.lr <= 1):
            problems.append(Problem(f"--lr must be above 0 and at most 1 (got {self.lr})"))
        if not 1 <= self.batch_size <= 256:
            problems.append(Problem(f"--batch-size must be from 1 to 256 (got {self.batch_size})"))
        if self.max_steps is not None and self.max_steps < 1:
            problems.append(Problem(f"--max-steps must be at least 1 (got {self.max_steps})"))
        return problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "alpha": self.lora_alpha,
                "target_modules": list(TARGET_MODULES), "loss": "assistant turn only"}


@dataclass(frozen=True)
class TrainProgress:
    """One optimiser step done: what a progress bar shows."""

    step: int
    total_steps: int
    epoch: int
    loss: float
    tokens_per_second: float
    elapsed: float
    eta: float | None


@dataclass
class TrainResult:
    """What training produced: the adapter file and how it went."""

    adapter: Path
    losses: list[float] = field(default_factory=list)
    steps: int = 0
    tokens: int = 0
    seconds: float = 0.0
    load_seconds: float = 0.0
    peak_rss_mb: float = 0.0


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]  # IGNORE on the prompt, the token ids on the reply


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_base(gguf_path: Path) -> tuple[Any, Any]:
    """The embedded model as a trainable float32 ``LlamaForCausalLM`` and its tokenizer.

    transformers keeps a GGUF "quantizer" on the model that is of no use once the weights are
    dequantised, and which peft and ``save_pretrained`` refuse: it is dropped here.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    folder, name = str(gguf_path.parent), gguf_path.name
    # The GGUF loader draws its own tqdm bar on stderr, over the caller's progress display.
    with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name,
                                                     dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if not model.config.architectures:
        model.config.architectures = ["LlamaForCausalLM"]
    return model, tokenizer


def _ids(value: Any) -> list[int]:
    """Token ids from ``apply_chat_template`` (a list, or a mapping with ``input_ids``)."""
    if isinstance(value, dict) or hasattr(value, "keys"):
        value = value["input_ids"]
    return [int(x) for x in value]


def encode(tokenizer: Any, messages: Messages, max_length: int) -> Encoded:
    """One example as token ids with the loss on the assistant's reply (and its end token).

    The reply's tokens are found as what the full conversation adds after the prompt with the
    generation prompt: exactly what the model is asked to continue at run time.
    """
    prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True,
                                           tokenize=True, return_dict=False)
    full = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False)
    prompt_ids, full_ids = _ids(prompt), _ids(full)
    if full_ids[:len(prompt_ids)] != prompt_ids:
        raise ValueError("the chat template renders the prompt differently inside the "
                         "conversation; cannot find the reply's tokens")
    labels = [IGNORE] * len(prompt_ids) + full_ids[len(prompt_ids):]
    if len(full_ids) > max_length:  # keep the reply: cut the prompt's start
        full_ids, labels = full_ids[-max_length:], labels[-max_length:]
    return Encoded(full_ids, labels)


def _batches(items: Sequence[Encoded], size: int, rng: random.Random) -> list[list[Encoded]]:
    order = list(items)
    rng.shuffle(order)
    return [order[i:i + size] for i in range(0, len(order), size)]


def _collate(batch: list[Encoded], pad_id: int) -> tuple[Any, Any, Any]:
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = [e.input_ids + [pad_id] * (width - len(e.input_ids)) for e in batch]
    labels = [e.labels + [IGNORE] * (width - len(e.labels)) for e in batch]
    mask = [[1] * len(e.input_ids) + [0] * (width - len(e.input_ids)) for e in batch]
    return torch.tensor(ids), torch.tensor(labels), torch.tensor(mask)


_LORA_MODULE = re.compile(r"layers\.(\d+)\.((?:self_attn|mlp)\.\w+_proj)$")


def lora_pairs(model: Any) -> list[LoraPair]:
    """The trained A and B matrices of every adapted projection of a peft model."""
    pairs = []
    for name, module in model.named_modules():
        match = _LORA_MODULE.search(name)
        if match is None or not hasattr(module, "lora_A"):
            continue
        a = module.lora_A["default"].weight.detach().float().cpu().numpy()
        b = module.lora_B["default"].weight.detach().float().cpu().numpy()
        pairs.append(LoraPair(int(match.group(1)), match.group(2), a, b))
    return pairs


def train_lora(
    examples: Sequence[Messages],
    adapter_path: Path,
    config: TrainConfig,
    base_gguf: Path,
    *,
    on_progress: Callable[[TrainProgress], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train a LoRA on ``examples`` (chat messages, the assistant's reply last) and write it
    to ``adapter_path`` as a GGUF LoRA adapter. ``stop()`` returning true cancels between
    steps (:class:`TrainingCancelled`; nothing written)."""
    require_training_stack()
    if not examples:
        raise ValueError("no training examples")
    import torch
    from peft import LoraConfig, get_peft_model

    started = time.perf_counter()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model, tokenizer = load_base(base_gguf)
    load_seconds = time.perf_counter() - started
    encoded = [encode(tokenizer, list(m), config.max_length) for m in examples]
    lora = LoraConfig(r=config.rank, lora_alpha=config.lora_alpha, lora_dropout=0.0,
                      bias="none", target_modules=list(TARGET_MODULES), task_type="CAUSAL_LM")
    with warnings.catch_warnings():  # peft calls a transformers API deprecated in 5.x
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(model, lora)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=0.0)
    per_epoch = math.ceil(len(encoded) / config.batch_size)
    total = per_epoch * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    warmup = max(1, round(total * config.warmup))

    def schedule(step: int) -> float:  # linear warm-up, then linear decay to 10%
        if step < warmup:
            return (step + 1) / warmup
        return max(0.1, 1.0 - 0.9 * (step - warmup) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    rng = random.Random(config.seed)
    result = TrainResult(adapter_path, load_seconds=load_seconds)
    train_started = time.perf_counter()
    step = 0
    for epoch in range(1, config.epochs + 1):
        for batch in _batches(encoded, config.batch_size, rng):
            if step >= total:
                break
            if stop is not None and stop():
                raise TrainingCancelled()
            ids, labels, mask = _collate(batch, pad_id)
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            result.losses.append(float(loss.detach()))
            result.tokens += int(mask.sum())
            elapsed = time.perf_counter() - train_started
            if on_progress is not None:
                on_progress(TrainProgress(
                    step, total, epoch, result.losses[-1],
                    result.tokens / elapsed if elapsed > 0 else 0.0, elapsed,
                    elapsed / step * (total - step)))
    if stop is not None and stop():
        raise TrainingCancelled()
    result.steps = step
    cfg = model.base_model.model.config
    write_lora_gguf(adapter_path, lora_pairs(model), alpha=config.lora_alpha,
                    n_head=cfg.num_attention_heads, n_head_kv=cfg.num_key_value_heads,
                    name=adapter_path.parent.name)
    result.seconds = time.perf_counter() - started
    result.peak_rss_mb = peak_rss_mb()
    return result


__all__ = [
    "DEFAULT_HOLDOUT",
    "EXTRA_MODULES",
    "INSTALL_COMMAND",
    "Encoded",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "TrainingCancelled",
    "encode",
    "load_base",
    "lora_pairs",
    "missing_training_modules",
    "peak_rss_mb",
    "require_training_stack",
    "train_lora",
]
