"""Tests for tests/fakeserver.py over real HTTP (openai client, httpx, litellm).

Why: every fault test of the runner relies on this server behaving exactly as scripted, and
the litellm table at the bottom pins how the installed litellm surfaces each fault, which the
runner's retry classification depends on.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from workbench.testing.fakeserver import FakeServer, FakeServerProcess, parse_faults

# Must be set before litellm is imported anywhere (no network: no remote cost-map fetch).
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

REPO_ROOT = Path(__file__).resolve().parents[1]


def _msg(text: str, system: str | None = None) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": system}] if system else []
    return [*msgs, {"role": "user", "content": text}]


def _client(server: FakeServer, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=timeout)


def _post(server: FakeServer, text: str, **extra: Any) -> httpx.Response:
    body = {"model": "fake", "messages": _msg(text), **extra}
    return httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=5.0)


# --------------------------------------------------------------------------- replies


def test_reply_directive_usage_and_shape(fake_server: FakeServer) -> None:
    with _client(fake_server) as client:
        resp = client.chat.completions.create(
            model="my-model",
            messages=_msg("please [[reply:hello big world]]", system="be brief now"),
        )
    assert resp.object == "chat.completion"
    assert resp.id.startswith("chatcmpl-")
    assert resp.model == "my-model"
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "hello big world"
    assert choice.finish_reason == "stop"
    assert resp.usage is not None
    # prompt: "be brief now" (3) + "please [[reply:hello big world]]" (4)
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (7, 3)
    assert resp.usage.total_tokens == 10


def test_json_directives_script_any_character(fake_server: FakeServer) -> None:
    text = r'[[reply-json:"\u001b\u005d8;;x\u0007 ok"]]'
    with _client(fake_server) as client:
        resp = client.chat.completions.create(model="fake", messages=_msg(text))
    assert resp.choices[0].message.content == "\x1b]8;;x\x07 ok"
    failed = _post(fake_server, r'[[fail:400]][[error-json:"bad \u001b[31mred"]]')
    assert failed.status_code == 400
    assert failed.json()["error"]["message"] == "bad \x1b[31mred"
    assert _post(fake_server, "[[reply-json:not json]]").status_code == 400
    cycled = [_post(fake_server, r'[[replies-json:"a\u005d|b"]]').json() for _ in range(3)]
    assert [r["choices"][0]["message"]["content"] for r in cycled] == ["a]", "b", "a]"]


def test_echo_auth_returns_the_authorization_header(fake_server: FakeServer) -> None:
    with openai.OpenAI(base_url=fake_server.base_url, api_key="sk-echo-me", max_retries=0,
                       timeout=5.0) as client:
        resp = client.chat.completions.create(model="fake",
                                              messages=_msg("hi [[reply:ok]][[echo-auth]]"))
        assert resp.choices[0].message.content == "ok [Authorization: Bearer sk-echo-me]"
        with pytest.raises(openai.AuthenticationError) as info:
            client.chat.completions.create(model="fake",
                                           messages=_msg("[[fail:401]][[echo-auth]]"))
    assert "[Authorization: Bearer sk-echo-me]" in str(info.value)


def test_echo_uses_last_user_message_and_strips_directives(fake_server: FakeServer) -> None:
    messages = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "  second  question [[retry-after:3]] "},
    ]
    with _client(fake_server) as client:
        resp = client.chat.completions.create(model="fake", messages=messages)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "echo: second  question"


def test_content_part_lists_are_read(fake_server: FakeServer) -> None:
    body = {
        "model": "fake",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "[[reply:parts]]"}]}],
    }
    r = httpx.post(f"{fake_server.base_url}/chat/completions", json=body)
    assert r.json()["choices"][0]["message"]["content"] == "parts"


def test_replies_cycle_across_reruns_and_seeds(fake_server: FakeServer) -> None:
    text = "classify [[replies:A|B|C]]"
    with _client(fake_server) as client:
        plain = [
            client.chat.completions.create(model="fake", messages=_msg(text)).choices[0]
            for _ in range(4)
        ]
        seeded = [
            client.chat.completions.create(model="fake", messages=_msg(text), seed=s).choices[0]
            for s in (10, 11, 12)
        ]
    assert [c.message.content for c in plain] == ["A", "B", "C", "A"]
    # the cycle counter ignores the seed, so seeded reruns continue the cycle
    assert [c.message.content for c in seeded] == ["B", "C", "A"]
    keys = fake_server.stats()["keys"]
    assert keys[text] == 4
    assert keys[f"{text}#seed=10"] == 1
    log = fake_server.requests()
    assert [e["seed"] for e in log] == [None] * 4 + [10, 11, 12]
    assert log[-1]["body"]["seed"] == 12


def test_models_endpoint_and_unprefixed_path(fake_server: FakeServer) -> None:
    with _client(fake_server) as client:
        assert [m.id for m in client.models.list()] == ["fake"]
    root = fake_server.base_url.removesuffix("/v1")
    r = httpx.post(f"{root}/chat/completions", json={"model": "x", "messages": _msg("hi")})
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "echo: hi"


def test_stream_and_bad_input_rejected(fake_server: FakeServer) -> None:
    r = _post(fake_server, "hi", stream=True)
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "stream" in r.json()["error"]["message"]
    r = _post(fake_server, "hi [[fail:418x1]]")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_directive"
    r = httpx.post(f"{fake_server.base_url}/chat/completions", content=b"{not json")
    assert r.status_code == 400


# --------------------------------------------------------------------------- faults (raw HTTP)


def test_429_counted_per_key_with_retry_after(fake_server: FakeServer) -> None:
    text = "q [[fail:429x2]]"
    statuses = []
    for _ in range(3):
        r = _post(fake_server, text)
        statuses.append((r.status_code, r.headers.get("Retry-After")))
    assert statuses == [(429, "1"), (429, "1"), (200, None)]
    r429 = _post(fake_server, "other [[fail:429x1]] [[retry-after:0.2]]")
    assert r429.headers["Retry-After"] == "0.2"
    err = r429.json()["error"]
    assert err["code"] == "rate_limit_exceeded" and "Rate limit" in err["message"]
    fake_server.configure(retry_after=2.5)
    assert _post(fake_server, "third [[fail:429x1]]").headers["Retry-After"] == "2.5"
    stats = fake_server.stats()
    assert stats["keys"][text] == 3
    assert stats["outcomes"] == {"429": 4, "ok": 1}
    assert stats["total"] == 5


def test_seed_is_part_of_the_key(fake_server: FakeServer) -> None:
    text = "q [[fail:429x1]]"
    codes = [_post(fake_server, text, seed=s).status_code for s in (1, 1, 2, 2)]
    assert codes == [429, 200, 429, 200]
    keys = fake_server.stats()["keys"]
    assert keys == {f"{text}#seed=1": 2, f"{text}#seed=2": 2}


def test_fault_sequence_and_always_faults(fake_server: FakeServer) -> None:
    seq = [_post(fake_server, "s [[fail:500x1,503x1]]").status_code for _ in range(3)]
    assert seq == [500, 503, 200]
    assert [_post(fake_server, "b [[fail:400]]").status_code for _ in range(3)] == [400] * 3
    r401 = _post(fake_server, "a [[fail:401]]")
    assert r401.status_code == 401
    assert r401.json()["error"]["code"] == "invalid_api_key"
    r503 = _post(fake_server, "c [[fail:503x1]]")
    assert r503.headers["Retry-After"] == "1"


def test_drop_closes_connection_without_response(fake_server: FakeServer) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        _post(fake_server, "d [[fail:dropx1]]")
    assert _post(fake_server, "d [[fail:dropx1]]").status_code == 200
    assert fake_server.stats()["outcomes"] == {"drop": 1, "ok": 1}


def test_malformed_is_200_json_content_type_but_not_json(fake_server: FakeServer) -> None:
    r = _post(fake_server, "m [[fail:malformedx1]]")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)


def test_timeout_hangs_until_client_gives_up(fake_server: FakeServer) -> None:
    fake_server.configure(hang=3.0)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{fake_server.base_url}/chat/completions",
            json={"model": "fake", "messages": _msg("t [[fail:timeoutx1]]")},
            timeout=0.3,
        )
    assert time.monotonic() - started < 1.5
    # the abandoned handler is cancelled when the client disconnects
    deadline = time.monotonic() + 2.0
    while fake_server.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_server.stats()["in_flight"] == 0
    assert _post(fake_server, "t [[fail:timeoutx1]]").status_code == 200


# --------------------------------------------------------------------------- faults (openai client)


@pytest.mark.parametrize(
    ("spec", "exc_type", "status"),
    [
        ("429x1", openai.RateLimitError, 429),
        ("500x1", openai.InternalServerError, 500),
        ("503x1", openai.InternalServerError, 503),
        ("400", openai.BadRequestError, 400),
        ("401", openai.AuthenticationError, 401),
        ("dropx1", openai.APIConnectionError, None),
        ("timeoutx1", openai.APITimeoutError, None),
        ("malformedx1", json.JSONDecodeError, None),
    ],
)
def test_openai_client_sees_each_fault(
    fake_server: FakeServer, spec: str, exc_type: type[Exception], status: int | None
) -> None:
    fake_server.configure(hang=2.0)
    text = f"o [[fail:{spec}]] [[retry-after:0.2]]"
    with _client(fake_server, timeout=0.3) as client, pytest.raises(exc_type) as info:
        client.chat.completions.create(model="fake", messages=_msg(text))
    exc = info.value
    if status is not None:
        assert isinstance(exc, openai.APIStatusError)
        assert exc.status_code == status
        expected_ra = "0.2" if status in (429, 503) else None
        assert exc.response.headers.get("retry-after") == expected_ra
    if spec == "dropx1":
        assert not isinstance(exc, openai.APITimeoutError)
    assert fake_server.stats()["keys"][text] == 1  # max_retries=0: exactly one attempt


# --------------------------------------------------------------------------- global config


async def test_latency_is_concurrent(fake_server: FakeServer) -> None:
    fake_server.configure(latency=0.2)
    async with openai.AsyncOpenAI(
        base_url=fake_server.base_url, api_key="test", max_retries=0
    ) as client:
        started = time.monotonic()
        results = await asyncio.gather(
            *(
                client.chat.completions.create(model="fake", messages=_msg(f"n{i}"))
                for i in range(20)
            )
        )
        elapsed = time.monotonic() - started
    assert sorted(r.choices[0].message.content or "" for r in results) == sorted(
        f"echo: n{i}" for i in range(20)
    )
    stats = fake_server.stats()
    assert stats["max_in_flight"] == 20
    assert stats["in_flight"] == 0
    assert elapsed >= 0.2  # latency honoured
    assert elapsed < 20 * 0.2 / 4  # and not serialised


def test_random_faults_are_seeded_and_reproducible(fake_server: FakeServer) -> None:
    fake_server.configure(faults={"429": 0.3, "500": 0.2}, retry_after=0.1, seed=7)

    url = f"{fake_server.base_url}/chat/completions"

    def run() -> list[int]:
        with httpx.Client(timeout=5.0) as http:  # one client: per-call clients cost ~30 ms
            return [
                http.post(url, json={"model": "f", "messages": _msg(f"r{i}")}).status_code
                for i in range(40)
            ]

    first = run()
    fake_server.reset()
    assert fake_server.stats()["total"] == 0
    second = run()
    assert first == second
    counts = {code: first.count(code) for code in set(first)}
    assert set(counts) == {200, 429, 500}
    assert 4 <= counts[429] <= 20 and 2 <= counts[500] <= 16
    fake_server.configure(seed=8)
    assert run() != first
    # directive faults win over random ones; faults={} turns random faults off
    fake_server.configure(faults={})
    assert all(code == 200 for code in run())


def test_admin_http_api(fake_server: FakeServer) -> None:
    root = fake_server.base_url.removesuffix("/v1")
    r = httpx.post(f"{root}/_admin/config", json={"latency": 0.01, "faults": {"drop": 0.0}})
    assert r.status_code == 200 and r.json()["latency"] == 0.01
    assert httpx.post(f"{root}/_admin/config", json={"bogus": 1}).status_code == 400
    assert httpx.post(f"{root}/_admin/config", json={"faults": {"429": 2}}).status_code == 400
    assert httpx.post(f"{root}/_admin/config", json={"faults": {"418": 0.1}}).status_code == 400
    _post(fake_server, "hello")
    stats = httpx.get(f"{root}/_admin/stats").json()
    assert stats["total"] == 1 and stats["outcomes"] == {"ok": 1}
    assert stats["config"]["latency"] == 0.01
    assert httpx.post(f"{root}/_admin/reset").status_code == 200
    assert httpx.get(f"{root}/_admin/stats").json()["keys"] == {}


def test_parse_faults() -> None:
    assert parse_faults("429=0.2, 500=0.05") == {"429": 0.2, "500": 0.05}
    with pytest.raises(ValueError):
        parse_faults("429")
    with pytest.raises(ValueError):
        parse_faults("429=0.8,500=0.5")


def test_lifecycle_no_leaked_threads_and_port_conflict() -> None:
    with FakeServer(hang=30.0) as srv:
        port = srv.port
        # a hung request must not block shutdown
        t = threading.Thread(target=lambda: _swallow(_post, srv, "h [[fail:timeout]]"))
        t.start()
        time.sleep(0.1)
        with pytest.raises(OSError), FakeServer(port=port):
            pass
        started = time.monotonic()
    assert time.monotonic() - started < 3.0
    t.join(5)
    assert not any(th.name == "fakeserver" for th in threading.enumerate())


def _swallow(fn: Any, *args: Any) -> None:
    with contextlib.suppress(httpx.HTTPError):
        fn(*args)


# --------------------------------------------------------------------------- subprocess mode


def test_subprocess_prints_listening_line_and_stops_on_sigterm() -> None:
    argv = [sys.executable, "-m", "workbench.testing.fakeserver", "--port", "0",
            "--latency", "0.05"]
    with subprocess.Popen(
        argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            line = proc.stdout.readline()
            assert line.startswith("listening http://127.0.0.1:") and line.endswith("/v1\n")
            base_url = line.split()[1]
            body = {"model": "m", "messages": _msg("x")}
            r = httpx.post(f"{base_url}/chat/completions", json=body)
            assert r.json()["choices"][0]["message"]["content"] == "echo: x"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=5) == 0
            assert proc.stdout.read() == ""  # exactly one line on stdout
            assert proc.stderr.read() == ""
        finally:
            if proc.poll() is None:
                proc.kill()


def test_subprocess_wrapper_faults_and_admin() -> None:
    with FakeServerProcess(faults={"429": 1.0}, retry_after=0.3, seed=3) as srv:
        r = httpx.post(
            f"{srv.base_url}/chat/completions", json={"model": "m", "messages": _msg("x")}
        )
        assert (r.status_code, r.headers["Retry-After"]) == (429, "0.3")
        srv.configure(faults={}, latency=0.0)
        r = httpx.post(
            f"{srv.base_url}/chat/completions", json={"model": "m", "messages": _msg("x")}
        )
        assert r.status_code == 200
        assert srv.stats()["outcomes"] == {"429": 1, "ok": 1}
        assert [e["outcome"] for e in srv.requests()] == ["429", "ok"]
        srv.reset()
        assert srv.stats()["total"] == 0
        proc = srv.proc
    assert proc is not None and proc.returncode == 0


# --------------------------------------------------------------------------- litellm


# fault -> (litellm exception class, its status_code, where Retry-After is readable)
LITELLM_EXPECTED: dict[str, tuple[str, int, str | None]] = {
    "429x1": ("RateLimitError", 429, "litellm_response_headers"),
    "500x1": ("InternalServerError", 500, None),
    "503x1": ("ServiceUnavailableError", 503, "litellm_response_headers"),
    "400": ("BadRequestError", 400, None),
    "401": ("AuthenticationError", 401, None),
    "timeoutx1": ("Timeout", 408, None),
    "dropx1": ("InternalServerError", 500, None),
    "malformedx1": ("InternalServerError", 500, None),
}


def _cause_chain(exc: BaseException) -> list[str]:
    names, cur = [], exc.__cause__ or exc.__context__
    while cur is not None and len(names) < 8:
        names.append(f"{type(cur).__module__}.{type(cur).__name__}")
        cur = cur.__cause__ or cur.__context__
    return names


async def test_litellm_surfaces_faults(fake_server: FakeServer) -> None:
    import litellm  # lazy: costs seconds; env var above is already set

    litellm.suppress_debug_info = True
    fake_server.configure(hang=3.0)
    ok = await litellm.acompletion(
        model="openai/fake",
        api_base=fake_server.base_url,
        api_key="test",
        messages=_msg("[[reply:fine thanks]]"),
        num_retries=0,
    )
    assert ok.choices[0].message.content == "fine thanks"
    assert ok.usage.completion_tokens == 2

    table: dict[str, dict[str, Any]] = {}
    for spec in LITELLM_EXPECTED:
        text = f"l [[fail:{spec}]] [[retry-after:0.2]]"
        with pytest.raises(Exception) as info:  # noqa: B017 - the class is what we record
            await litellm.acompletion(
                model="openai/fake",
                api_base=fake_server.base_url,
                api_key="test",
                messages=_msg(text),
                num_retries=0,
                timeout=0.4,
            )
        exc = info.value
        lrh = getattr(exc, "litellm_response_headers", None)
        resp = getattr(exc, "response", None)
        table[spec] = {
            "class": type(exc).__name__,
            "status_code": getattr(exc, "status_code", None),
            "litellm_response_headers.retry-after": lrh.get("retry-after") if lrh else None,
            "response.headers.retry-after": resp.headers.get("retry-after") if resp else None,
            "attempts": fake_server.stats()["keys"][text],
            "chain": _cause_chain(exc),
        }
    print(f"\nlitellm {importlib.metadata.version('litellm')} fault table:")
    for spec, row in table.items():
        print(f"  {spec:12} {row}")

    for spec, (cls, status, ra_where) in LITELLM_EXPECTED.items():
        row = table[spec]
        assert (row["class"], row["status_code"]) == (cls, status), spec
        assert row["attempts"] == 1, f"litellm retried {spec} despite num_retries=0"
        expected_ra = "0.2" if ra_where == "litellm_response_headers" else None
        assert row["litellm_response_headers.retry-after"] == expected_ra, spec
        assert row["response.headers.retry-after"] is None, spec  # synthetic, empty headers
    # classes are subclasses of openai's, so `except openai.X` also works
    assert issubclass(litellm.Timeout, openai.APITimeoutError)
    assert issubclass(litellm.RateLimitError, openai.RateLimitError)
    assert issubclass(litellm.ServiceUnavailableError, openai.APIStatusError)
    # a dropped connection is *not* an APIConnectionError once litellm maps it: only the
    # cause chain tells it apart from a real 500
    assert "openai.APIConnectionError" in table["dropx1"]["chain"]
    assert "json.decoder.JSONDecodeError" in table["malformedx1"]["chain"]


async def test_litellm_retries_by_default_without_num_retries(fake_server: FakeServer) -> None:
    """Pins that litellm (via the openai SDK's max_retries=2) retries unless told not to."""
    import litellm

    text = "d [[fail:429x5]] [[retry-after:0.05]]"
    with pytest.raises(litellm.RateLimitError):
        await litellm.acompletion(
            model="openai/fake",
            api_base=fake_server.base_url,
            api_key="test",
            messages=_msg(text),
            timeout=2,
        )
    assert fake_server.stats()["keys"][text] == 3
