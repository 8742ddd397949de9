"""The direct transport: one JSON POST to an OpenAI-compatible server, without litellm.

The fault, retry, seed, resume and chain behaviour of both transports is tested side by side
in ``test_runner.py`` (its ``transport`` fixture) and ``test_soak.py``; these tests cover what
is the direct transport's own: the request it sends, the prices it reads from litellm's
bundled cost map without importing litellm, its validation, and its error mapping.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import astuple
from pathlib import Path

import pytest

from tests.test_bad_inputs import make_project
from tests.test_runner import KEY_ENV, case, make_suite, new_runner
from workbench.cli.main import main
from workbench.models._direct import chat_url, error_for, price_per_token, wire_model
from workbench.models.errors import AuthenticationFailed, ModelError, RateLimited, ServerError
from workbench.models.gateway import Gateway
from workbench.store.database import Store
from workbench.testing.fakeserver import FakeServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "direct-test-key")


async def test_request_body_headers_and_reply(fake_server: FakeServer) -> None:
    gateway = Gateway(timeout=5, max_attempts=1, concurrency=2)
    messages = [{"role": "system", "content": "One word."},
                {"role": "user", "content": "[[reply:blue]][[echo-auth]] sky?"}]
    params = {"temperature": 0.3, "max_tokens": 7, "seed": 42, "top_p": None,
              "stop": ["\n"], "response_format": {"type": "json_object"}}
    reply = await gateway.complete("openai/my-model", messages, params,
                                   api_base=fake_server.base_url + "/", api_key_env=KEY_ENV,
                                   transport="direct")
    await gateway.aclose()
    (entry,) = fake_server.requests()
    assert entry["model"] == "my-model"  # litellm's routing prefix is not sent
    body = entry["body"]
    assert body["messages"] == messages
    assert {k: body[k] for k in ("temperature", "max_tokens", "seed", "stop",
                                 "response_format")} == {k: v for k, v in params.items()
                                                          if v is not None}
    assert "top_p" not in body  # None means "the provider's default": not sent
    # The key was sent as a bearer token, and the echo of it never leaves the gateway.
    assert reply.text == "blue [Authorization: Bearer ***]"
    assert reply.prompt_tokens > 0 and reply.completion_tokens > 0
    assert reply.cost == 0.0 and reply.attempts == 1


def test_prices_come_from_the_bundled_cost_map() -> None:
    inp, out = astuple(price_per_token("openai/gpt-4o-mini"))
    assert (inp, out) == (pytest.approx(1.5e-07), pytest.approx(6e-07))
    assert astuple(price_per_token("gpt-4o-mini")) == (inp, out)
    assert astuple(price_per_token("openai/my-self-hosted-model")) == (0.0, 0.0)
    assert wire_model("openai/gpt-4o-mini") == "gpt-4o-mini"
    assert wire_model("meta-llama/Llama-3-8B") == "meta-llama/Llama-3-8B"


async def test_cost_of_a_priced_model(fake_server: FakeServer) -> None:
    gateway = Gateway(timeout=5, max_attempts=1, concurrency=1)
    reply = await gateway.complete("openai/gpt-4o-mini",
                                   [{"role": "user", "content": "[[reply:ok]]"}], {},
                                   api_base=fake_server.base_url, transport="direct")
    await gateway.aclose()
    assert reply.cost == pytest.approx(reply.prompt_tokens * 1.5e-07
                                       + reply.completion_tokens * 6e-07)
    assert reply.cost > 0


def test_a_direct_run_never_imports_litellm(tmp_path: Path, fake_server: FakeServer) -> None:
    """The direct transport saves litellm's import (seconds) as well as its per-call CPU."""
    suite = make_suite(tmp_path, fake_server.base_url,
                       [case("a", "[[reply:yes]]", "yes")], reruns=2, transport="direct")
    script = textwrap.dedent(f"""
        import asyncio, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from workbench.engine import Runner, make_plan
        from workbench.engine.session import record_run
        from workbench.store import Store
        from workbench.suites import load_suite
        suite = load_suite(Path({str(suite.path)!r}))
        with Store(Path({str(tmp_path / "wb.db")!r})) as store:
            plan = make_plan(suite)
            run_id = record_run(suite, store, plan)
            runner = Runner(plan, {{v.ref: v for v in suite.variants}}, store, run_id)
            ran = asyncio.run(runner.run())
            print(ran, [c.output for c in store.cells(run_id)], "litellm" in sys.modules)
    """)
    env = {"PATH": "/usr/bin:/bin", KEY_ENV: "k"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["2", "['yes',", "'yes']", "False"]
    assert "Unclosed" not in proc.stderr  # the connection pool was closed


def test_error_mapping() -> None:
    headers = {"Retry-After": "1.5"}
    limited = error_for(429, json.dumps({"error": {"message": "slow down"}}), headers)
    assert isinstance(limited, RateLimited) and limited.status == 429
    assert str(limited) == "RateLimitError (HTTP 429): slow down"
    assert limited.retryable and limited.retry_after == 1.5
    denied = error_for(401, '{"error": "bad key"}', {})
    assert isinstance(denied, AuthenticationFailed) and not denied.retryable
    assert str(denied) == "AuthenticationError (HTTP 401): bad key"
    broken = error_for(502, "<html>Bad gateway</html>", {})
    assert isinstance(broken, ServerError) and broken.retryable
    assert str(broken) == "InternalServerError (HTTP 502): <html>Bad gateway</html>"
    teapot = error_for(418, "", {})
    assert str(teapot) == "APIStatusError (HTTP 418): the server answered HTTP 418"
    assert not teapot.retryable


async def test_direct_without_api_base_is_a_stored_error_not_a_crash() -> None:
    gateway = Gateway(timeout=1, max_attempts=3)
    with pytest.raises(ModelError, match="transport: direct needs the server's api_base") as info:
        await gateway.complete("openai/x", [{"role": "user", "content": "hi"}], {},
                               transport="direct")
    assert info.value.attempts == 0 and not info.value.retryable


@pytest.mark.parametrize(("model", "message"), [
    ("{name: openai/x, transport: direct}",
     "error: suites/s.yaml:8: models[0]: transport: direct sends requests to an "
     "OpenAI-compatible server: set its api_base (e.g. http://127.0.0.1:8000/v1)\n"),
    ("{name: openai/x, api_base: 'http://h/v1', transport: grpc}",
     "error: suites/s.yaml:8: models[0].transport: input should be 'litellm' or 'direct' "
     "(got 'grpc')\n"),
])
def test_transport_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,
                              model: str, message: str) -> None:
    from tests.bad_inputs import SUITE

    make_project(tmp_path, {"suites/s.yaml": SUITE + f"models:\n  - {model}\n"})
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "suites/s.yaml"]) == 2
    assert capsys.readouterr().err == message


async def test_run_records_match_litellm_transport(tmp_path: Path, fake_server: FakeServer
                                                   ) -> None:
    """The same suite through either transport stores the same outputs, answers and usage."""
    cases = [case("a", "alpha [[replies:A|B]]"), case("b", "[[reply:x]]", "x")]
    outputs = {}
    for transport in ("litellm", "direct"):
        fake_server.reset()
        root = tmp_path / transport
        # One call at a time: which rerun gets A and which B follows arrival order.
        suite = make_suite(root, fake_server.base_url, cases, reruns=3, transport=transport,
                           concurrency=1)
        with Store(root / "wb.db") as store:
            runner = new_runner(suite, store)
            await runner.run()
            outputs[transport] = sorted(
                (c.case_id, c.rerun, c.output, c.passed, c.prompt_tokens, c.completion_tokens,
                 c.seed, c.steps[0].params["seed"]) for c in store.cells(runner.run_id))
    assert outputs["direct"] == outputs["litellm"]
    assert len(outputs["direct"]) == 6


def test_chat_url_keeps_the_query_string_out_of_the_path() -> None:
    assert chat_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1/chat/completions"
    assert chat_url("http://h/v1/") == "http://h/v1/chat/completions"
    assert (chat_url("https://h/openai/deployments/d?api-version=2024-06-01")
            == "https://h/openai/deployments/d/chat/completions?api-version=2024-06-01")


async def test_an_api_base_with_a_query_string_reaches_the_server(
    fake_server: FakeServer,
) -> None:
    """The query parameter arrives as one; the path is the server's chat route."""
    gateway = Gateway(timeout=5, max_attempts=1, concurrency=1)
    reply = await gateway.complete(
        "openai/my-model", [{"role": "user", "content": "[[reply:ok]] hi"}], {},
        api_base=fake_server.base_url + "?api-version=2024-06-01", api_key_env=KEY_ENV,
        transport="direct")
    await gateway.aclose()
    (entry,) = fake_server.requests()
    assert reply.text == "ok"
    assert entry["query"] == {"api-version": "2024-06-01"}
