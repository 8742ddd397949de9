"""Reruns on the embedded model: one prompt evaluation, batched decoding, the same outputs.

Why: every rerun of a case used to pay for its prompt, so the embedded model now evaluates a
prompt once and decodes the reruns from it, together as one batch; the runner hands it the
reruns of a case as one unit. Variance measurement is only honest if none of that changes an
output: for a fixed seed the text must be what llama-cpp-python's own chat completion gives
from an empty KV cache, whichever seeds share a batch, whatever ran before, however many
threads ran it, and a resumed case must give the outputs a full run gives. The model tests
check exactly that on the real model; the others check the scheduling and the thread policy
with a stand-in transport.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from workbench.engine import runner as runner_mod
from workbench.engine.plan import cell_seed, make_plan
from workbench.engine.runner import Runner
from workbench.engine.session import check_local_models, record_run
from workbench.errors import InputError
from workbench.models import Gateway, ModelError
from workbench.models import _local_threads as threads_mod
from workbench.models.constraints import label_grammar
from workbench.models.transport import Reply, Request
from workbench.store.database import Store
from workbench.suites.loader import load_suite
from workbench.testing.fakeserver import FakeServer

LOCAL = "local/smollm2"


# --------------------------------------------------------------------------- helpers


class GroupingTransport:
    """Stands in for the embedded model: completes seeds in groups and records every call.

    A reply is ``<last user message>|<seed>``; for a message starting with ``FACT`` it is
    ``fact-<seed % 2>``, so a chain's second step gets two distinct prompts.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[int]]] = []

    @staticmethod
    def _reply(request: Request, seed: int) -> Reply:
        text = request.messages[-1]["content"]
        out = f"fact-{seed % 2}" if text.startswith("FACT") else f"{text}|{seed}"
        return Reply(out, 3, 2, 0.0, latency_ms=5.0)

    async def complete(self, request: Request) -> Reply:
        seed = int(request.params["seed"])
        self.calls.append((request.messages[-1]["content"], [seed]))
        return self._reply(request, seed)

    async def complete_seeds(self, request: Request, seeds: Sequence[int]) -> list[Reply]:
        assert "seed" not in request.params
        self.calls.append((request.messages[-1]["content"], list(seeds)))
        await asyncio.sleep(0)
        return [self._reply(request, seed) for seed in seeds]

    async def aclose(self) -> None:
        pass


def write_suite(root: Path, prompts: dict[str, dict[str, Any]], cases: list[dict[str, Any]],
                **settings: Any) -> Path:
    for name, spec in prompts.items():
        folder = root / "prompts" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "v1.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    suite = {"name": "t", "prompts": list(prompts), "models": [LOCAL], "reruns": 4,
             "concurrency": 1, **settings, "cases": cases}
    path = root / "suites" / "t.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path


ECHO = {"kind": "zero-shot", "messages": [{"role": "user", "content": "{{ q }}"}]}
CHAIN = {"kind": "chain", "steps": [
    {"output": "facts", "messages": [{"role": "user", "content": "FACT {{ q }}"}]},
    {"output": "answer", "messages": [{"role": "user", "content": "from {{ facts }}"}]},
]}


def runner_for(path: Path, store: Store, transport: Any) -> Runner:
    suite = load_suite(path)
    plan = make_plan(suite)
    run_id = record_run(suite, store, plan)
    gateway = Gateway(timeout=5, max_attempts=1, concurrency=plan.concurrency,
                      transports={"local": transport})
    return Runner(plan, {v.ref: v for v in suite.variants}, store, run_id, gateway=gateway)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "wb.db") as s:
        yield s


# --------------------------------------------------------------------------- scheduling


async def test_reruns_of_a_case_go_to_the_model_together_case_by_case(
    tmp_path: Path, store: Store
) -> None:
    path = write_suite(tmp_path, {"a": ECHO, "b": ECHO},
                       [{"id": f"c{i}", "vars": {"q": f"q{i}"}} for i in range(3)], seed=7)
    fake = GroupingTransport()
    runner = runner_for(path, store, fake)
    assert await runner.run() == 24
    # one call per variant × case; each variant runs a block of cases back to back
    assert fake.calls == [(f"q{i}", [cell_seed(7, f"c{i}", r) for r in range(4)])
                          for _ in "ab" for i in range(3)]
    cells = list(store.cells(runner.run_id))
    assert len(cells) == 24 == len({(c.variant, c.case_id, c.rerun) for c in cells})
    for cell in cells:
        assert cell.seed == cell_seed(7, cell.case_id, cell.rerun)
        assert cell.output == f"{cell.case_id.replace('c', 'q')}|{cell.seed}"
        assert cell.latency_ms == 5.0 and cell.steps[0].params["seed"] == cell.seed


async def test_every_variant_runs_a_block_of_cases_before_the_next_block(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_mod, "CASE_BLOCK", 2)
    path = write_suite(tmp_path, {"a": ECHO, "b": ECHO},
                       [{"id": f"c{i}", "vars": {"q": f"q{i}"}} for i in range(3)], reruns=1)
    fake = GroupingTransport()
    assert await runner_for(path, store, fake).run() == 6
    assert [text for text, _ in fake.calls] == ["q0", "q1", "q0", "q1", "q2", "q2"]


async def test_a_resumed_case_runs_only_its_missing_reruns_with_their_own_seeds(
    tmp_path: Path, store: Store
) -> None:
    path = write_suite(tmp_path, {"a": ECHO},
                       [{"id": f"c{i}", "vars": {"q": f"q{i}"}} for i in range(2)], reruns=5)
    full = runner_for(path, store, GroupingTransport())
    await full.run()
    expected = {(c.case_id, c.rerun): c.output for c in store.cells(full.run_id)}

    fake = GroupingTransport()
    resumed = runner_for(path, store, fake)
    for record in await resumed.run_cells([("a@1", LOCAL, "c0", 0), ("a@1", LOCAL, "c0", 3)]):
        store.add_cell(record)  # a case left half done by an interrupted run
    fake.calls.clear()
    assert await resumed.run() == 8
    assert fake.calls == [("q0", [cell_seed(0, "c0", r) for r in (1, 2, 4)]),
                          ("q1", [cell_seed(0, "c1", r) for r in range(5)])]
    got = {(c.case_id, c.rerun): c.output for c in store.cells(resumed.run_id)}
    assert got == expected


async def test_chain_steps_group_the_reruns_whose_requests_are_the_same(
    tmp_path: Path, store: Store
) -> None:
    path = write_suite(tmp_path, {"chain": CHAIN}, [{"id": "c", "vars": {"q": "x"}}])
    fake = GroupingTransport()
    runner = runner_for(path, store, fake)
    assert await runner.run() == 4
    # step 1: one prompt for all reruns; step 2: the two distinct facts, each a group
    # (the fake's fact is its seed's parity: here reruns 0-2 get fact-0, rerun 3 fact-1)
    s = [cell_seed(0, "c", r) for r in range(4)]
    assert [x % 2 for x in s] == [0, 0, 0, 1]
    assert fake.calls == [("FACT x", s), ("from fact-0", s[:3]), ("from fact-1", s[3:])]
    outputs = {c.rerun: c.output for c in store.cells(runner.run_id)}
    assert outputs == {r: f"from fact-{s[r] % 2}|{s[r]}" for r in range(4)}


async def test_other_transports_get_one_request_per_seed(fake_server: FakeServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "k")
    gateway = Gateway(timeout=5, max_attempts=1, concurrency=4)
    assert not gateway.groups_seeds("openai/x", "direct", fake_server.base_url)
    assert gateway.groups_seeds(LOCAL)
    routing = {"api_base": fake_server.base_url, "api_key_env": "FAKE_KEY",
               "transport": "direct"}
    ok = [{"role": "user", "content": "hi [[reply:yes]]"}]
    replies = await gateway.complete_seeds("openai/x", ok, {"temperature": 1}, [5, 6, 7],
                                           **routing)
    assert [r.text for r in replies] == ["yes"] * 3
    keys = fake_server.stats()["keys"]
    assert {k for k in keys if k.startswith("hi")} == {
        f"hi [[reply:yes]]#seed={s}" for s in (5, 6, 7)}
    bad = [{"role": "user", "content": "[[fail:400]]"}]
    failed = await gateway.complete_seeds("openai/x", bad, {}, [1, 2], **routing)
    assert all(isinstance(f, ModelError) and "HTTP 400" in str(f) for f in failed)


async def test_requests_that_arrive_while_the_model_is_busy_join_one_batch(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded model's queue: requests that wait while a batch runs go to the model
    together (at most a batch's worth of sequences, oldest first); each caller gets its own
    replies or its own failure, and a caller that gave up is dropped."""
    from workbench.models import _local
    from workbench.models.errors import BadRequest
    from workbench.models.local import LocalReply

    batches: list[list[str]] = []
    busy = threading.Event()

    def fake_batch(model: Any, calls: Sequence[Any]) -> list[Any]:
        batches.append([messages[-1]["content"] for messages, _, _ in calls])
        if len(batches) == 1:
            busy.wait(5)  # the model is busy with the first batch while the others arrive
        out: list[Any] = []
        for messages, _, seeds in calls:
            text = messages[-1]["content"]
            out.append(BadRequest("bad grammar", label="GrammarError") if text == "bad" else
                       [LocalReply(f"{text}|{s}", 1, 1, "stop", s, 0.01) for s in seeds])
        return out

    monkeypatch.setattr(_local, "_generate_batch", fake_batch)
    transport = _local.LocalTransport()

    def ask(text: str, seeds: list[int]) -> asyncio.Task[list[Reply]]:
        request = Request(model=LOCAL, messages=[{"role": "user", "content": text}])
        return asyncio.create_task(transport.complete_seeds(request, seeds))

    first = ask("a", [1, 2])
    while not batches:
        await asyncio.sleep(0.01)
    waiting = [ask("b", [3]), ask("c", [4, 5]), ask("bad", [6]), ask("d", list(range(20))),
               ask("e", [7])]
    gone = ask("gone", [8])
    await asyncio.sleep(0)
    gone.cancel()
    busy.set()
    results = await asyncio.gather(first, *waiting, return_exceptions=True)
    # "d" alone exceeds a batch: it waits for the next one, and "e" (same model) is taken
    # after it, in arrival order
    assert batches == [["a"], ["b", "c", "bad"], ["d"], ["e"]]
    assert [r.text for r in results[0]] == ["a|1", "a|2"]
    assert [r.text for r in results[2]] == ["c|4", "c|5"]
    assert isinstance(results[3], BadRequest)
    assert [r.text for r in results[4]] == [f"d|{s}" for s in range(20)]
    assert results[1][0].latency_ms == 10.0
    assert gone.cancelled()


# --------------------------------------------------------------------------- thread policy


def test_thread_settings_are_auto_or_a_count() -> None:
    assert threads_mod.parse_threads(None, source="x") is None
    assert threads_mod.parse_threads(" Auto ", source="x") is None
    assert threads_mod.parse_threads(3, source="x") == 3
    assert threads_mod.parse_threads("2", source="x") == 2
    for bad in (0, -1, "many", 1.5, True):
        with pytest.raises(ValueError, match="x: expected 'auto' or a positive number"):
            threads_mod.parse_threads(bad, source="x")


def test_auto_leaves_other_processes_the_cores_they_keep_busy(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = {"wall": 100.0, "busy": 500.0, "own": 10.0}
    monkeypatch.setattr(threads_mod, "cpu_count", lambda: 2)
    monkeypatch.setattr(threads_mod, "_busy_seconds", lambda: clock["busy"])
    monkeypatch.setattr(threads_mod.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(threads_mod.time, "process_time", lambda: clock["own"])
    monkeypatch.setattr(threads_mod.os, "getloadavg", lambda: (1.0, 1.0, 1.0))  # not read
    monkeypatch.delenv(threads_mod.ENV_THREADS, raising=False)
    policy = threads_mod.ThreadPolicy()

    def after(seconds: float, own: float, others: float) -> int:
        clock["wall"] += seconds
        clock["own"] += own
        clock["busy"] += own + others
        return policy.threads()

    assert policy.threads() == 2  # first look: every core, whatever the load average says
    assert after(2.0, own=3.9, others=0.2) == 2  # a little background noise
    assert after(2.0, own=2.6, others=1.4) == 1  # another process holds most of a core
    assert after(2.0, own=2.0, others=2.0) == 1  # ... and keeps it while we use one
    assert after(0.1, own=0.1, others=0.0) == 1  # too short a look: no change
    assert after(2.0, own=2.0, others=0.1) == 2  # it stopped: both cores again
    assert after(2.0, own=0.0, others=4.0) == 1  # never fewer than one
    assert policy.threads(fixed=3) == 3
    monkeypatch.setenv(threads_mod.ENV_THREADS, "1")
    assert after(2.0, own=0.0, others=0.0) == 1
    monkeypatch.setenv(threads_mod.ENV_THREADS, "lots")
    with pytest.raises(ValueError, match="WORKBENCH_LOCAL_THREADS"):
        policy.threads()


def test_idle_threads_spin_briefly_unless_the_user_chose_a_wait_policy(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(name, raising=False)
    threads_mod.set_wait_policy()
    assert os.environ["GOMP_SPINCOUNT"] == str(threads_mod.SPIN_COUNT)
    assert os.environ["OMP_WAIT_POLICY"] == "passive"  # for runtimes other than libgomp
    for name, value in (("OMP_WAIT_POLICY", "active"), ("GOMP_SPINCOUNT", "infinite")):
        for other in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
            monkeypatch.delenv(other, raising=False)
        monkeypatch.setenv(name, value)
        threads_mod.set_wait_policy()
        assert os.environ[name] == value
        assert [k for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ] == [name]


def test_a_bad_threads_setting_is_refused_before_the_run(tmp_path: Path) -> None:
    path = write_suite(tmp_path, {"a": ECHO}, [{"id": "c", "vars": {"q": "x"}}],
                       models=[{"name": LOCAL, "params": {"threads": "fast"}}])
    suite = load_suite(path)
    with pytest.raises(InputError, match=r"models \(local/smollm2\) params: threads: expected"):
        check_local_models(make_plan(suite), {v.ref: v for v in suite.variants})


def test_a_bad_threads_variable_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not 60 stored errors, one per cell: the run does not start."""
    path = write_suite(tmp_path, {"a": ECHO}, [{"id": "c", "vars": {"q": "x"}}])
    suite = load_suite(path)
    monkeypatch.setenv(threads_mod.ENV_THREADS, "lots")
    with pytest.raises(InputError, match=r"\$WORKBENCH_LOCAL_THREADS: expected 'auto' or a "
                                         r"positive number of threads, got 'lots'"):
        check_local_models(make_plan(suite), {v.ref: v for v in suite.variants})


# --------------------------------------------------------------------------- the real model

CLASSIFY = [
    {"role": "system", "content": "You are a support-ticket router. You answer with one word."},
    {"role": "user", "content": "Which team should handle this ticket? Answer with exactly one "
                                "of: billing, shipping, technical.\n\nTicket: My parcel never "
                                "arrived and tracking has not moved for a week.\nTeam:"},
]
FEW_SHOT = [{"role": "system", "content": "Reply with one word - billing, shipping or technical."}]
for _text, _label in [("I was charged twice this month.", "billing"),
                      ("The courier lost my parcel.", "shipping"),
                      ("The app crashes when I log in.", "technical")]:
    FEW_SHOT += [{"role": "user", "content": f"Ticket: {_text}"},
                 {"role": "assistant", "content": _label}]
FEW_SHOT.append({"role": "user", "content": "Ticket: You charged my card twice, fix it."})
POEM = [{"role": "user", "content": "Write a short poem about the sea."}]
PERSON_SCHEMA = {"type": "object", "required": ["name", "age"],
                 "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}
# (messages, parameters): short and long outputs, a stop sequence, greedy decoding, a grammar
REQUESTS: list[tuple[list[dict[str, str]], dict[str, Any]]] = [
    (CLASSIFY, {"temperature": 0.7, "max_tokens": 8}),
    (FEW_SHOT, {"temperature": 0.7, "max_tokens": 8}),
    (POEM, {"temperature": 0.9, "top_p": 0.98, "max_tokens": 48}),
    (POEM, {"temperature": 1.1, "max_tokens": 40, "stop": ["\n\n"]}),
    (CLASSIFY, {"temperature": 0, "max_tokens": 8}),
    ([{"role": "user", "content": "Describe a fictional person as JSON."}],
     {"temperature": 0.8, "max_tokens": 30,
      "response_format": {"type": "json_object", "schema": PERSON_SCHEMA}}),
    # constrain: true on a label parse spec: a GBNF grammar (at a temperature that varies it)
    (FEW_SHOT, {"temperature": 1.5, "max_tokens": 8,
                "grammar": label_grammar(["billing", "shipping", "technical"])}),
]
SEEDS = [11, 12, 13, 14, 15]


@pytest.fixture(scope="module")
def reference() -> Iterator[Any]:
    """llama-cpp-python's own chat completion from an empty KV cache: what every call did
    before prompt reuse and batching, on a second instance of the model."""
    import llama_cpp

    from workbench.models.local import N_CTX, resolve_model_path

    llm = llama_cpp.Llama(model_path=str(resolve_model_path()), n_ctx=N_CTX, n_threads=2,
                          verbose=False)
    yield llm
    llm.close()


def reference_outputs(llm: Any, messages: list[dict[str, str]], params: dict[str, Any],
                      seeds: list[int]) -> list[tuple[str, int, str]]:
    out = []
    if "grammar" in params:  # llama-cpp-python takes a grammar object, built from GBNF text
        import llama_cpp

        grammar = llama_cpp.LlamaGrammar.from_string(params["grammar"], verbose=False)
        params = {**params, "grammar": grammar}
    for seed in seeds:
        llm.reset()
        result = llm.create_chat_completion(messages=messages, seed=seed, **params)
        choice = result["choices"][0]
        out.append((choice["message"]["content"], result["usage"]["completion_tokens"],
                    choice["finish_reason"]))
    return out


def outputs(replies: list[Any]) -> list[tuple[str, int, str]]:
    return [(r.text, r.completion_tokens, r.finish_reason) for r in replies]


@pytest.fixture(scope="module")
def model() -> Iterator[Any]:
    from workbench.models.local import LocalChatModel, close_local_model

    yield LocalChatModel()
    close_local_model()


@pytest.mark.model
@pytest.mark.parametrize("index", range(len(REQUESTS)))
def test_prompt_reuse_and_batching_give_todays_outputs_token_for_token(
    index: int, reference: Any, model: Any
) -> None:
    """For each seed: llama-cpp-python's text, token count and finish reason, whether the
    reruns decode one after the other from the shared prompt or together as one batch."""
    messages, params = REQUESTS[index]
    expected = reference_outputs(reference, messages, params, SEEDS)
    assert len(set(expected)) > 1 or params["temperature"] == 0  # distinct seeds do differ
    sequential = model.chat_many(messages, SEEDS, batch=False, **params)
    batched = model.chat_many(messages, SEEDS, batch=True, **params)
    assert outputs(sequential) == expected
    assert outputs(batched) == expected
    assert [r.seed for r in batched] == SEEDS
    # each call alone, after another prompt took the context: the same again
    alone = [model.chat(messages, seed=seed, **params) for seed in reversed(SEEDS)]
    assert outputs(alone[::-1]) == expected
    assert all(r.prompt_tokens == sequential[0].prompt_tokens > 5 for r in batched + alone)


@pytest.mark.model
def test_different_requests_decoded_together_give_each_ones_outputs(model: Any) -> None:
    """The cases in flight decode as one batch: different prompts, sampling parameters,
    grammars and seed counts, more sequences than one batch holds. Each request's outputs
    must be those it gets alone (which the test above ties to llama-cpp-python's); one that
    cannot run fails alone."""
    requests = [(messages, SEEDS[: 1 + i % 5], params)
                for i, (messages, params) in enumerate(REQUESTS)]
    requests += [(FEW_SHOT, [7], {"temperature": 0.7, "max_tokens": 8}),  # FEW_SHOT again
                 (CLASSIFY, SEEDS, {"temperature": 0.7, "max_tokens": 8, "grammar": "nonsense"}),
                 ([{"role": "user", "content": "word " * 2100}], [1], {"max_tokens": 4})]
    assert sum(len(seeds) for _, seeds, _ in requests) > 16  # more than one batch
    alone = [outputs(model.chat_many(messages, seeds, batch=False, **params))
             for messages, seeds, params in requests[:-2]]
    together = model.chat_batch(requests)
    assert [outputs(r) for r in together[:-2]] == alone
    assert "grammar does not parse" in str(together[-2])
    assert "exceed context window" in str(together[-1])


@pytest.mark.model
def test_the_cases_of_a_prompt_decoded_together_give_each_ones_outputs(model: Any) -> None:
    """The runner's case: one prompt's cases (a shared prefix, suffixes of different lengths)
    three at a time, at a temperature where a tiny change in the logits shows. (Evaluating
    their suffixes in one llama.cpp batch changed a few of 2,460 demo outputs; each prompt
    now gets batches of its own, and this test failed the other way.)"""
    tickets = [f"My {word} is not working{', ' * i}please help" for i, word in
               enumerate(["invoice", "crash", "export", "password", "refund", "freeze",
                          "theme", "login", "receipt"])]
    requests = [(CLASSIFY[:1] + [{"role": "user", "content": f"Which team? Ticket: {t}"}],
                 SEEDS, {"temperature": 1.2, "max_tokens": 10}) for t in tickets]
    alone = [outputs(model.chat_many(m, seeds, batch=False, **params))
             for m, seeds, params in requests]
    together = [outputs(r) for start in range(0, len(requests), 3)
                for r in model.chat_batch(requests[start:start + 3])]
    assert together == alone


@pytest.mark.model
def test_the_resident_prompt_survives_the_sequences_that_finish_first(model: Any) -> None:
    """Finished sequences leave gaps that the live ones are moved into; the first request's
    prompt (sequence 0) must not be written over, since the next batch reuses its prefix."""
    after = FEW_SHOT[:-1] + [{"role": "user", "content": "Ticket: The courier lost it."}]
    params = {"temperature": 1.0, "max_tokens": 8}
    expected = outputs(model.chat_many(after, SEEDS, batch=False, **params))
    model.chat_batch([(FEW_SHOT, SEEDS, {"temperature": 0.7, "max_tokens": 1}),  # done first
                      (POEM, SEEDS, {"temperature": 0.9, "max_tokens": 24})])
    assert outputs(model.chat_many(after, SEEDS, batch=True, **params)) == expected


@pytest.mark.model
def test_a_sample_does_not_depend_on_the_seeds_that_share_its_batch(model: Any) -> None:
    """A resumed case decodes fewer sequences together than a full one: its outputs must be
    the full run's. The prompt ends near a 256-cell boundary of the KV cache, which some
    sequences cross before others (llama.cpp then attends over more cells for the batch)."""
    words = " ".join(f"w{i}" for i in range(72))
    messages = [{"role": "user", "content": f"Continue this list: {words}"}]
    params = {"temperature": 1.0, "max_tokens": 40}
    seeds = list(range(20, 28))
    full = outputs(model.chat_many(messages, seeds, batch=True, **params))
    assert len({text for text, _, _ in full}) >= 4
    prompt_tokens = model.chat_many(messages, seeds[:1], **params)[0].prompt_tokens
    assert 200 < prompt_tokens < 256 < prompt_tokens + 40
    for subset in ([3], [5, 1], [7, 0, 4], [2, 6, 1, 3, 5]):
        part = outputs(model.chat_many(messages, [seeds[i] for i in subset], batch=True,
                                       **params))
        assert part == [full[i] for i in subset], subset


@pytest.mark.model
def test_the_thread_count_does_not_change_an_output(model: Any) -> None:
    messages, params = REQUESTS[2]
    one = outputs(model.chat_many(messages, SEEDS, threads=1, **params))
    two = outputs(model.chat_many(messages, SEEDS, threads=2, batch=False, **params))
    assert one == two


@pytest.mark.model
async def test_a_resumed_run_on_the_model_gives_the_full_runs_outputs(
    tmp_path: Path, store: Store
) -> None:
    """The runner end to end on the real model: a case left half done by an interrupted run
    gets its missing reruns, and every output equals the full run's and a lone call's."""
    from workbench.models.local import LocalChatModel

    prompt = {"kind": "zero-shot", "params": {"temperature": 0.9, "max_tokens": 12},
              "messages": [{"role": "user", "content": "Name a colour: {{ q }}"}]}
    cases = [{"id": f"c{i}", "vars": {"q": q}} for i, q in enumerate(["sky", "grass"])]
    path = write_suite(tmp_path, {"p": prompt}, cases, reruns=5, concurrency=2)

    def runner() -> Runner:
        suite = load_suite(path)
        plan = make_plan(suite)
        return Runner(plan, {v.ref: v for v in suite.variants}, store,
                      record_run(suite, store, plan))

    full = runner()
    await full.run()
    expected = {(c.case_id, c.rerun): c.output for c in store.cells(full.run_id)}
    assert len(set(expected.values())) > 2
    resumed = runner()
    for record in await resumed.run_cells([("p@1", LOCAL, "c0", 1), ("p@1", LOCAL, "c0", 4)]):
        store.add_cell(record)
    assert await resumed.run() == 8
    assert {(c.case_id, c.rerun): c.output for c in store.cells(resumed.run_id)} == expected
    lone = LocalChatModel().chat([{"role": "user", "content": "Name a colour: grass"}],
                                 seed=cell_seed(0, "c1", 3), temperature=0.9, max_tokens=12)
    assert lone.text.strip() == expected[("c1", 3)]


@pytest.mark.model
def test_a_prompt_sharing_a_prefix_with_the_last_one_gives_todays_outputs(
    reference: Any, model: Any
) -> None:
    """The cases of a few-shot prompt share its examples: a prompt evaluates only what follows
    the prefix it shares with the one before it, and its outputs stay llama-cpp-python's."""
    params = {"temperature": 1.0, "max_tokens": 12}
    tickets = ["My parcel is lost.", "The app crashes on start, please help me with this "
               "problem as soon as possible because I need the app for my work.", "Refund?"]
    prompts = [FEW_SHOT[:-1] + [{"role": "user", "content": f"Ticket: {t}"}] for t in tickets]
    expected = [reference_outputs(reference, messages, params, SEEDS) for messages in prompts]
    for batch in (False, True, False):
        for messages, want in zip(prompts, expected, strict=True):
            assert outputs(model.chat_many(messages, SEEDS, batch=batch, **params)) == want
