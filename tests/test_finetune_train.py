"""Training a LoRA on the embedded model, writing it as a GGUF adapter, serving it with llama.cpp.

The fast test trains a few steps on a handful of examples and checks what llama.cpp does with
the adapter: its next-token distribution moves away from the base model's, towards the
trained reply. It skips without the ``finetune`` extra (the reason is the install command),
unless ``WORKBENCH_REQUIRE_FINETUNE=1`` (CI), where it fails instead. The slow test, marked
``finetune`` and deselected by default, trains a small synthetic task to the end and checks
held-out accuracy rises by a clear margin.
"""

from __future__ import annotations

import asyncio
import math
import os
from pathlib import Path

import pytest

from workbench.finetune.train import (
    INSTALL_COMMAND,
    TrainConfig,
    missing_training_modules,
    train_lora,
)
from workbench.models.adapters import AdapterInfo, tuned_model_name, write_info
from workbench.models.local import close_local_model, resolve_model_path

LABELS = {
    "billing": ["invoice", "refund", "charge", "payment", "receipt", "price", "card", "bill"],
    "bug": ["crash", "error", "freeze", "broken", "glitch", "timeout", "blank", "stuck"],
    "feature": ["dark mode", "export", "shortcut", "widget", "filter", "theme", "tag", "sync"],
    "account": ["password", "login", "email", "username", "avatar", "profile", "2fa", "signup"],
}
SYSTEM = "Label the support ticket. Reply with the label only."


def needs_extra() -> None:
    missing = missing_training_modules()
    if not missing:
        return
    reason = f"needs the finetune extra ({', '.join(missing)}): {INSTALL_COMMAND}"
    if os.environ.get("WORKBENCH_REQUIRE_FINETUNE") == "1":
        pytest.fail(f"WORKBENCH_REQUIRE_FINETUNE=1 but {reason}")
    pytest.skip(reason)


def example(label: str, word: str, i: int) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Ticket #{i}: something about my {word}."},
            {"role": "assistant", "content": f"tag-{label}"}]


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA trained 3 steps (2 examples each, 2 threads) on 6 examples: about half a minute."""
    needs_extra()
    folder = tmp_path_factory.mktemp("adapters") / "quick"
    folder.mkdir()
    examples = [example(label, words[0], i) for i, (label, words) in enumerate(LABELS.items())]
    examples += [example("bug", "glitch", 7), example("billing", "receipt", 8)]
    result = train_lora(examples, folder / "adapter.gguf",
                        TrainConfig(max_steps=3, batch_size=2, lr=3e-3, rank=4, threads=2),
                        resolve_model_path())
    assert result.steps == 3 and len(result.losses) == 3
    assert all(math.isfinite(x) for x in result.losses)
    write_info(folder, AdapterInfo(name="quick", suite="t", prompt="p@1"))
    return folder / "adapter.gguf"


def next_token_distribution(lora: Path | None, messages: list[dict[str, str]]):
    """llama.cpp's probabilities for the reply's first token, with or without the adapter."""
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(model_path=str(resolve_model_path()), n_ctx=512, n_threads=2,
                          logits_all=True, verbose=False,
                          **({"lora_path": str(lora)} if lora else {}))
    try:
        text = llama_cpp.llama_chat_format.Jinja2ChatFormatter(
            template=llm.metadata["tokenizer.chat_template"], eos_token="<|im_end|>",
            bos_token="<|im_start|>")(messages=messages).prompt
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        llm.eval(tokens)
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        first = llm.tokenize(b"tag", add_bos=False, special=False)[0]
    finally:
        llm.close()
    probs = np.exp(logits - logits.max())
    return probs / probs.sum(), first


def test_adapter_is_a_llama_cpp_lora_for_every_projection(adapter: Path) -> None:
    import gguf

    reader = gguf.GGUFReader(str(adapter))
    fields = {f.name: f for f in reader.fields.values()}
    assert bytes(fields["general.type"].parts[-1]).decode() == "adapter"
    assert bytes(fields["adapter.type"].parts[-1]).decode() == "lora"
    assert float(fields["adapter.lora.alpha"].parts[-1][0]) == 8.0  # 2 × rank
    names = {t.name for t in reader.tensors}
    assert len(names) == 30 * 7 * 2  # 30 layers × q k v o gate up down × (A, B)
    assert "blk.0.attn_q.weight.lora_a" in names and "blk.29.ffn_down.weight.lora_b" in names


def test_llama_cpp_with_the_adapter_answers_differently(adapter: Path) -> None:
    """Held-out input: the distribution moves, and towards the trained reply's first token."""
    messages = example("bug", "crash", 42)[:2]
    base, first = next_token_distribution(None, messages)
    tuned, _ = next_token_distribution(adapter, messages)
    total_variation = 0.5 * float(abs(base - tuned).sum())
    assert total_variation > 0.2, total_variation
    assert tuned[first] > 2 * base[first], (tuned[first], base[first])


def test_tuned_model_name_runs_through_the_local_transport(
        adapter: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``local/smollm2+quick`` finds the adapter and answers unlike the base at temperature 0."""
    from workbench.models.transport import Request, open_transport

    monkeypatch.setenv("WORKBENCH_ADAPTERS", str(adapter.parent.parent))
    transport = open_transport("local")
    messages = example("bug", "crash", 42)[:2]
    params = {"temperature": 0.0, "max_tokens": 8, "seed": 1}

    async def both() -> tuple[str, str]:
        base = await transport.complete(Request("local/smollm2", messages, params))
        tuned = await transport.complete(Request(tuned_model_name("quick"), messages, params))
        return base.text, tuned.text

    try:
        base_text, tuned_text = asyncio.run(both())
    finally:
        close_local_model()
    assert tuned_text != base_text
    assert tuned_text.startswith("tag"), tuned_text


def held_out_accuracy(lora: Path | None, cases: list[list[dict[str, str]]]) -> float:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(resolve_model_path()), n_ctx=512, n_threads=2,
                          verbose=False, **({"lora_path": str(lora)} if lora else {}))
    try:
        right = 0
        for messages in cases:
            reply = llm.create_chat_completion(messages=messages[:2], temperature=0.0,
                                               max_tokens=8, seed=1)
            right += reply["choices"][0]["message"]["content"].strip() == messages[2]["content"]
    finally:
        llm.close()
    return right / len(cases)


@pytest.mark.finetune
def test_training_raises_held_out_accuracy_on_a_synthetic_task(tmp_path: Path) -> None:
    """Four labels, 6 training words each, 2 held-out words each: about 4 minutes on 2 cores."""
    needs_extra()
    train, held = [], []
    for label, words in LABELS.items():
        train += [example(label, w, i) for i, w in enumerate(words[:6])]
        held += [example(label, w, 100 + i) for i, w in enumerate(words[6:])]
    before = held_out_accuracy(None, held)
    path = tmp_path / "adapter.gguf"
    train_lora(train, path, TrainConfig(epochs=3, batch_size=4, threads=2), resolve_model_path())
    after = held_out_accuracy(path, held)
    assert after >= before + 0.5, (before, after)
