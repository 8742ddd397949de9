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
import os
from pathlib import Path

import pytest

from workbench.finetune.train import (
    INSTALL_COMMAND,
    TrainConfig,
    missing_training_modules,
    train_lora,
)
from workbench.models.adapters import (
    file_sha256,
    load_adapter,
    tuned_model_name,
)
from workbench.models.local import close_local_model, resolve_model_path
from workbench.testing.tickets import WORDS as LABELS

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


PROMPT = (
    "kind: zero-shot\ndescription: the labels are tags\nparams: {temperature: 0.0}\n"
    "messages:\n"
    f"  - role: system\n    content: {SYSTEM}\n"
    "  - role: user\n    content: \"Ticket #{{ i }}: something about my {{ word }}.\"\n"
    "parse:\n  type: label\n  choices: [tag-billing, tag-bug, tag-feature, tag-account]\n")


def project_cases() -> list[tuple[str, str, str, int]]:
    """(id, label, word, number): ten cases, three words of each label in turn."""
    out = []
    for label, words in LABELS.items():
        out += [(f"{label}-{j}", label, word, 10 * len(out) + j)
                for j, word in enumerate(words[:3])]
    return out[:10]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``workbench finetune`` on a 10-case project whose only version is right in one of two
    reruns of every case:
    3 steps of 2 examples (2 threads), 3 held-out cases rerun twice — about a minute."""
    needs_extra()
    from tests.histories import Case, Version, add_run
    from workbench.cli.main import main
    from workbench.store.database import Store

    root = tmp_path_factory.mktemp("project")
    (root / "prompts" / "tickets").mkdir(parents=True)
    (root / "prompts" / "tickets" / "v1.yaml").write_text(PROMPT)
    (root / "suites").mkdir()
    rows = project_cases()
    cases = "".join(f"  - {{id: {cid}, vars: {{i: {n}, word: {word}}}, "
                    f"expected: tag-{label}}}\n" for cid, label, word, n in rows)
    suite = root / "suites" / "tickets.yaml"
    suite.write_text(f"name: tickets\nprompts: [tickets@1]\nreruns: 2\ncases:\n{cases}")
    class TicketCase(Case):
        def vars(self) -> dict:
            row = next(r for r in rows if r[0] == self.id)
            return {"i": row[3], "word": row[2]}

    history = [TicketCase(cid, f"tag-{label}") for cid, label, _, _ in rows]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("WORKBENCH_ADAPTERS", raising=False)
        with Store(root / ".workbench" / "workbench.db") as store:
            add_run(store, "tickets", history, [Version(
                "tickets", 1, PROMPT, {c.id: [c.expected, None] for c in history})],
                base_dir=str(root / "suites"))
        code = main(["finetune", "suites/tickets.yaml", "--name", "quick", "--max-steps", "3",
                     "--batch-size", "2", "--lr", "3e-3", "--rank", "4", "--threads", "2",
                     "--holdout", "0.3"])
        close_local_model()
    assert code == 0
    return {"root": root, "suite": suite, "adapter": root / ".workbench" / "adapters" / "quick",
            "rows": rows}


@pytest.fixture(scope="module")
def adapter(tuned: dict) -> Path:
    return tuned["adapter"] / "adapter.gguf"


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


def test_llama_cpp_applies_the_lora_as_peft_computes_it(tmp_path: Path) -> None:
    """A random LoRA on Q and K, written as GGUF: the change it makes to llama.cpp's next-token
    logits must match the change it makes in transformers (the same dequantised base; the
    correlation of the changes, as llama.cpp's quantised arithmetic differs slightly).
    Written without llama.cpp's row permutation the match breaks: the test can fail."""
    needs_extra()
    import numpy as np
    import torch
    from peft import LoraConfig, get_peft_model

    import workbench.finetune.gguf_adapter as gguf_adapter
    from workbench.finetune.train import load_base, lora_pairs

    torch.manual_seed(0)
    torch.set_num_threads(2)
    model, tokenizer = load_base(resolve_model_path())
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                                             target_modules=list(gguf_adapter.TARGET_MODULES)))
    with torch.no_grad():
        for name, param in model.named_parameters():
            # peft starts B at zero (an untrained LoRA changes nothing); only Q and K here,
            # the two projections whose rows llama.cpp stores permuted.
            if "lora_B" in name and ("q_proj" in name or "k_proj" in name):
                param.normal_(0, 0.2)
    messages = example("billing", "invoice", 5)[:2]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                        return_dict=False)
    with torch.no_grad():
        tuned = model(input_ids=torch.tensor([ids])).logits[0, -1].double().numpy()
        with model.disable_adapter():
            base = model(input_ids=torch.tensor([ids])).logits[0, -1].double().numpy()
    pairs = lora_pairs(model)
    assert len(pairs) == 30 * 7
    gguf_adapter.write_lora_gguf(tmp_path / "ok.gguf", pairs, alpha=8, n_head=9, n_head_kv=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gguf_adapter, "permute_rows", lambda weights, n_head: weights)
        gguf_adapter.write_lora_gguf(tmp_path / "unpermuted.gguf", pairs, alpha=8, n_head=9,
                                     n_head_kv=3)

    def logits(lora: Path | None):
        import llama_cpp

        llm = llama_cpp.Llama(model_path=str(resolve_model_path()), n_ctx=512, n_threads=2,
                              logits_all=True, verbose=False,
                              **({"lora_path": str(lora)} if lora else {}))
        try:
            llm.eval(ids)
            return np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        finally:
            llm.close()

    plain = logits(None)
    right = np.corrcoef(tuned - base, logits(tmp_path / "ok.gguf") - plain)[0, 1]
    wrong = np.corrcoef(tuned - base, logits(tmp_path / "unpermuted.gguf") - plain)[0, 1]
    assert right > 0.9, right
    assert wrong < right - 0.1, (right, wrong)


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


def test_tuned_reruns_decoded_together_equal_the_tuned_model_alone(
        adapter: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batched reruns decode in a second llama.cpp context: it must apply the adapter too,
    or the reruns of a fine-tuned model would silently be the base model's."""
    from workbench.models.transport import Request, open_transport

    monkeypatch.setenv("WORKBENCH_ADAPTERS", str(adapter.parent.parent))
    transport = open_transport("local")
    messages = example("bug", "crash", 42)[:2]
    params = {"temperature": 0.9, "max_tokens": 8}
    name, seeds = tuned_model_name("quick"), [3, 4, 5, 6]

    async def both() -> tuple[list[str], list[str], list[str]]:
        together = await transport.complete_seeds(Request(name, messages, params), seeds)
        alone = [await transport.complete(Request(name, messages, {**params, "seed": s}))
                 for s in seeds]
        base = await transport.complete_seeds(Request("local/smollm2", messages, params), seeds)
        return ([r.text for r in together], [r.text for r in alone], [r.text for r in base])

    try:
        together, alone, base = asyncio.run(both())
    finally:
        close_local_model()
    assert together == alone
    assert together != base


def test_finetune_records_the_adapter_and_what_it_was_trained_on(tuned: dict) -> None:
    adapter = load_adapter(tuned["adapter"])
    assert adapter is not None
    info = adapter.info
    assert (info.name, info.suite, info.prompt, info.provider) == ("quick", "tickets",
                                                                   "tickets@1", "local")
    assert info.model == "local/smollm2+quick"
    assert info.base_sha256 == file_sha256(resolve_model_path())
    assert info.data_sha256 == file_sha256(tuned["adapter"] / "train.jsonl")
    assert len(info.train_cases) == 7 and len(info.heldout_cases) == 3
    assert not set(info.train_cases) & set(info.heldout_cases)
    trained = (tuned["adapter"] / "train.jsonl").read_text().count("\n")
    assert trained == 7  # the held-out cases never reach the training file
    assert len(info.losses) == 3 and info.seconds > 0 and info.tokens > 0
    assert info.hyperparameters["rank"] == 4 and info.hyperparameters["alpha"] == 8.0
    assert not list(tuned["adapter"].parent.glob(".*"))  # no partial folder left behind


def test_a_cancelled_training_keeps_nothing(tuned: dict) -> None:
    """Stopped at its first step: no adapter folder, no hidden partial one, the earlier
    adapter untouched."""
    from workbench.finetune.loop import finetune_suite
    from workbench.finetune.train import TrainConfig, TrainingCancelled

    adapters = tuned["adapter"].parent
    before = sorted(p.name for p in adapters.iterdir())
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tuned["root"])
        with pytest.raises(TrainingCancelled):
            finetune_suite(".workbench/workbench.db", "suites/tickets.yaml", name="stopped",
                           config=TrainConfig(max_steps=2, threads=2), holdout=0.3,
                           stop=lambda: True)
    assert sorted(p.name for p in adapters.iterdir()) == before == ["quick"]


def test_finetune_compares_on_the_held_out_cases_only(tuned: dict) -> None:
    """The comparison pairs the best version's stored reruns with a fresh run of the short
    prompt on the tuned model, on exactly the held-out cases; its numbers re-computed here."""
    from workbench.analysis.stats import pass_hat_k
    from workbench.store.database import Store

    adapter = load_adapter(tuned["adapter"])
    assert adapter is not None and adapter.comparison is not None
    c = adapter.comparison
    assert set(c.cases) == set(adapter.info.heldout_cases)
    assert (c.before_prompt, c.after_prompt) == ("tickets@1", "tickets-short@1")
    assert c.after_model == "local/smollm2+quick" and c.reruns == 2 and c.k == 2
    with Store(tuned["root"] / ".workbench" / "workbench.db") as store:
        cells = list(store.cells(c.after_run))
        assert store.run(c.after_run).suite == "tickets+quick"
    assert {x.case_id for x in cells} == set(c.cases) and len(cells) == 3 * 2
    assert {x.model for x in cells} == {"local/smollm2+quick"}
    after = {cid: [x.passed for x in cells if x.case_id == cid] for cid in c.cases}
    mean_after = sum(sum(v) / 2 for v in after.values()) / 3
    assert c.pass_rate.before == 0.5 and c.pass_rate.after == pytest.approx(mean_after)
    assert c.pass_rate.delta == pytest.approx(mean_after - 0.5)
    hats = sum(pass_hat_k(2, sum(v), 2) for v in after.values()) / 3
    assert c.pass_hat_k.before == 0.0 and c.pass_hat_k.after == pytest.approx(hats)
    assert c.verdict in ("helped", "no_gain", "worse")
    assert c.tokens_per_call[1] is not None and c.seconds_per_call[1] > 0


def test_escalation_report_shows_what_fine_tuning_changed(
        tuned: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.escalation.pipeline import assess_suite
    from workbench.reports.escalation import (
        render_escalation_html,
        render_escalation_markdown,
        render_escalation_text,
    )
    from workbench.reports.escalation_json import build_escalation_json

    monkeypatch.chdir(tuned["root"])
    report = assess_suite(".workbench/workbench.db", "suites/tickets.yaml")
    assert report.after_finetune is not None
    words = {"helped": "fine-tuning helped", "no_gain": "no detectable gain", "worse": "worse"}
    verdict = words[report.after_finetune.verdict]
    text = render_escalation_text(report, color=False)
    assert f"After fine-tuning: {verdict.upper()}" in text and "pass^2" in text
    assert f"After fine-tuning: **{verdict}**" in render_escalation_markdown(report)
    assert "Verdict on the advice: " + verdict in render_escalation_html(report)
    data = build_escalation_json(report)["after_finetune"]
    assert data["verdict_text"] == verdict and data["adapter"] == "quick"


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
