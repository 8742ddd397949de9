"""A scriptable fake OpenAI-compatible chat server for tests and benchmarks.

Why: the runner's retry, timeout and concurrency logic must be tested over real HTTP
without a network or a real provider, and the benchmarks need a server with
a fixed, non-blocking latency so that ``ceil(calls / concurrency) × latency`` is the ideal.

Three ways to use it:

* In-process (tests)::

      with FakeServer(latency=0.05) as srv:
          litellm.acompletion(model="openai/fake", api_base=srv.base_url, api_key="test", ...)
          assert srv.stats()["outcomes"]["ok"] == 1

* As a subprocess (benchmarks, so the server gets its own core)::

      with FakeServerProcess(latency=0.2, faults={"429": 0.1}) as srv:
          ...  # srv.base_url, srv.stats(), srv.configure(...), srv.reset()

  or from a shell:
``python -m workbench.testing.fakeserver --port 0 --latency 0.2 --faults 429=0.2``
  prints exactly one line ``listening http://127.0.0.1:PORT/v1`` and serves until
  SIGTERM/SIGINT.

* The ``fake_server`` pytest fixture (the tests' ``conftest.py``) yields a started FakeServer.

* As a simulated model (in-process only): ``FakeServer(simulator=SimulatedModel(policy))`` or
  ``srv.simulate(model)`` answers requests that name a case from per-case answer distributions
  (:mod:`workbench.testing.simulated`); directives below still win where a message has them.

Scripting a request — directives in the *last user message* (all are stripped from the echo):

``[[reply:TEXT]]``
    reply exactly TEXT.
``[[replies:A|B|C]]``
    cycle through the alternatives, one step per *successful* reply to the same message text.
    The cycle counter ignores the seed on purpose, so reruns that send distinct seeds still
    get A, B, C, A, … (arrival order decides which rerun gets which; the multiset is fixed).
``[[fail:429x2]]``
    the first 2 attempts of this request key get 429, later ones succeed. Kinds: ``429``,
    ``500``, ``503``, ``400``, ``401``, ``timeout``, ``drop``, ``malformed``. Without ``xN`` the
    fault applies to every attempt (``[[fail:400]]`` and ``[[fail:401]]`` are always-fail).
    Several specs run in sequence: ``[[fail:429x1,500x1]]`` = 429, then 500, then success.
``[[retry-after:0.2]]``
    Retry-After value (seconds, fractional allowed) on this request's 429/503 responses.
``[[delay:1.5]]``
    use this latency (seconds) instead of the global one for this request.
``[[reply-json:"TEXT"]]``, ``[[replies-json:"A|B"]]``, ``[[error-json:"TEXT"]]``
    like ``reply`` and ``replies``, and the message of this request's error bodies, given as a
    JSON string
    literal so any character can be scripted (``\u001b``, ``\u005d`` for ``]``): terminal
    escape sequences, control characters, text that looks like a directive.
``[[echo-auth]]``
    echo the request's ``Authorization`` header back, as a careless proxy would: appended
    to the reply text and to error messages (tests check that no key leaks into artefacts).

Request key = last user message text (directives included) + ``#seed=N`` when the request
carries a ``seed``. Fault counting is per key, so a cell's retries (same seed) share a count,
while reruns with distinct seeds are distinct keys and each get the scripted faults afresh.

Fault behaviour: 429 (with ``Retry-After``), 500, 503 (with ``Retry-After``), 400, 401 return
OpenAI-style error bodies; ``timeout`` sleeps ``hang`` seconds then answers normally (the
client timeout must fire first); ``drop`` aborts the TCP connection without any HTTP response;
``malformed`` returns 200 ``application/json`` with a body that is not valid JSON.
Global random faults (``faults={"429": 0.2, ...}``) are drawn from a seeded RNG, one draw per
chat request, and apply only when no directive fault applies to that attempt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

__all__ = [
    "FAULT_KINDS",
    "FakeServer",
    "FakeServerProcess",
    "ServerConfig",
    "build_app",
    "parse_faults",
]

FAULT_KINDS = ("429", "500", "503", "400", "401", "timeout", "drop", "malformed")
RANDOM_FAULT_KINDS = ("429", "500", "503", "timeout", "drop", "malformed")
MODEL_ID = "fake"
LOG_MAX = 10_000

_DIRECTIVE_RE = re.compile(r"\[\[([a-z][a-z-]*)(?::([^\]]*))?\]\]")
_FAULT_SPEC_RE = re.compile(r"^(429|500|503|400|401|timeout|drop|malformed)(?:x(\d+))?$")


# --------------------------------------------------------------------------- config


@dataclass
class ServerConfig:
    """Global behaviour; changeable at runtime through ``POST /_admin/config``."""

    latency: float = 0.0
    jitter: float = 0.0
    faults: dict[str, float] = field(default_factory=dict)
    retry_after: float = 1.0
    hang: float = 30.0
    seed: int = 0

    def update(self, values: dict[str, Any]) -> None:
        """Validate and apply a partial update; raises ValueError on bad input."""
        unknown = set(values) - {"latency", "jitter", "faults", "retry_after", "hang", "seed"}
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        new = ServerConfig(**{**asdict(self), **values})
        for name in ("latency", "jitter", "retry_after", "hang"):
            value = float(getattr(new, name))
            if value < 0:
                raise ValueError(f"{name} must be >= 0")
            setattr(new, name, value)
        new.seed = int(new.seed)
        new.faults = _validate_faults(new.faults)
        for name, value in asdict(new).items():
            setattr(self, name, value)


def _validate_faults(faults: Any) -> dict[str, float]:
    if faults is None:
        return {}
    if isinstance(faults, str):
        return parse_faults(faults)
    if not isinstance(faults, dict):
        raise ValueError("faults must be an object like {'429': 0.2}")
    out: dict[str, float] = {}
    for kind, rate in faults.items():
        kind = str(kind)
        if kind not in RANDOM_FAULT_KINDS:
            raise ValueError(f"unknown random fault {kind!r}; use one of {RANDOM_FAULT_KINDS}")
        rate = float(rate)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate for {kind} must be within [0, 1]")
        out[kind] = rate
    if sum(out.values()) > 1.0 + 1e-9:
        raise ValueError("fault rates sum to more than 1")
    return out


def parse_faults(text: str) -> dict[str, float]:
    """Parse the CLI form ``429=0.2,500=0.05`` into ``{"429": 0.2, "500": 0.05}``."""
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, sep, rate = part.partition("=")
        if not sep:
            raise ValueError(f"bad fault spec {part!r}; expected KIND=RATE")
        out[kind.strip()] = float(rate)
    return _validate_faults(out)


# --------------------------------------------------------------------------- request parsing


@dataclass
class _Directives:
    reply: str | None = None
    replies: list[str] | None = None
    faults: list[tuple[str, int | None]] = field(default_factory=list)
    retry_after: float | None = None
    delay: float | None = None
    error: str | None = None
    echo_auth: bool = False
    clean_text: str = ""


def _content_text(content: Any) -> str:
    """Text of a message content (plain string or OpenAI content-part list)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return "" if content is None else str(content)


def _parse_directives(text: str) -> _Directives:
    """Extract ``[[name:value]]`` directives; raises ValueError on unknown/bad ones."""
    d = _Directives(clean_text=_DIRECTIVE_RE.sub("", text).strip())
    for name, value in _DIRECTIVE_RE.findall(text):
        if name == "reply":
            d.reply = value
        elif name == "replies":
            d.replies = value.split("|")
        elif name == "fail":
            for spec in filter(None, (s.strip() for s in value.split(","))):
                m = _FAULT_SPEC_RE.match(spec)
                if not m:
                    raise ValueError(f"fakeserver: bad fault directive {spec!r}")
                d.faults.append((m.group(1), int(m.group(2)) if m.group(2) else None))
        elif name == "retry-after":
            d.retry_after = float(value)
        elif name == "delay":
            d.delay = float(value)
        elif name in ("reply-json", "replies-json", "error-json"):
            try:
                text = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"fakeserver: [[{name}:...]] needs a JSON string: {exc}") from None
            if not isinstance(text, str):
                raise ValueError(f"fakeserver: [[{name}:...]] needs a JSON string")
            if name == "reply-json":
                d.reply = text
            elif name == "replies-json":
                d.replies = text.split("|")
            else:
                d.error = text
        elif name == "echo-auth":
            d.echo_auth = True
        else:
            raise ValueError(f"fakeserver: unknown directive [[{name}:...]]")
    return d


def _scheduled_fault(faults: list[tuple[str, int | None]], attempt: int) -> str | None:
    """Fault for the 1-based ``attempt`` under a sequence of (kind, count|None) specs."""
    done = 0
    for kind, count in faults:
        if count is None:
            return kind
        done += count
        if attempt <= done:
            return kind
    return None


def _error_body(kind: str, message: str) -> dict[str, Any]:
    err_type, code = {
        "429": ("requests", "rate_limit_exceeded"),
        "500": ("server_error", None),
        "503": ("server_error", "overloaded"),
        "400": ("invalid_request_error", "invalid_value"),
        "401": ("invalid_request_error", "invalid_api_key"),
    }[kind]
    return {"error": {"message": message, "type": err_type, "param": None, "code": code}}


_ERROR_MESSAGES = {
    "429": "Rate limit reached for fake (fakeserver scripted 429).",
    "500": "The server had an error while processing your request (fakeserver scripted 500).",
    "503": "The engine is currently overloaded, please try again later (fakeserver 503).",
    "400": "Invalid request (fakeserver scripted 400).",
    "401": "Incorrect API key provided (fakeserver scripted 401).",
}


def _fmt_seconds(value: float) -> str:
    return f"{value:g}"


# --------------------------------------------------------------------------- server state


class _State:
    """Counters and config; only ever touched from the server's event loop thread."""

    def __init__(self, config: ServerConfig, simulator: Any = None) -> None:
        self.config = config
        self.simulator = simulator  # a SimulatedModel, or None
        self.rng = random.Random(config.seed)
        self.stopping = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        self.rng = random.Random(self.config.seed)
        self.total = 0
        self.outcomes: Counter[str] = Counter()
        self.keys: Counter[str] = Counter()
        self.reply_cycle: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_MAX)
        self.started = time.monotonic()
        self.next_id = 0
        self.files: dict[str, dict[str, Any]] = {}  # the files API: id → metadata and bytes
        self.jobs: dict[str, dict[str, Any]] = {}  # the fine-tuning API: id → job

    def stats(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "outcomes": dict(self.outcomes),
            "keys": dict(self.keys),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "config": asdict(self.config),
        }

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when the server is stopping (fast, clean shutdown)."""
        if seconds <= 0:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)


_STATE_KEY: web.AppKey[_State] = web.AppKey("fakeserver_state", _State)


def _openai_error(status: int, message: str, code: str | None = None) -> web.Response:
    return web.json_response(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        },
        status=status,
    )


async def _chat(request: web.Request) -> web.StreamResponse:
    state = request.app[_STATE_KEY]
    state.total += 1
    state.in_flight += 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight)
    try:
        return await _chat_inner(request, state)
    finally:
        state.in_flight -= 1


async def _chat_inner(request: web.Request, state: _State) -> web.StreamResponse:
    cfg = state.config
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
    except ValueError as exc:
        state.outcomes["bad_request"] += 1
        return _openai_error(400, f"fakeserver: request body is not valid JSON: {exc}")
    if body.get("stream"):
        state.outcomes["400"] += 1
        return _openai_error(400, "fakeserver: streaming is not supported", "unsupported_value")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        state.outcomes["bad_request"] += 1
        return _openai_error(400, "fakeserver: 'messages' must be a non-empty list")

    last_user = ""
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            last_user = _content_text(msg.get("content"))
            break
    seed = body.get("seed")
    key = last_user if seed is None else f"{last_user}#seed={seed}"
    state.keys[key] += 1
    attempt = state.keys[key]
    draw = state.rng.random()  # always drawn, so the random sequence is order-stable
    jitter = state.rng.uniform(-cfg.jitter, cfg.jitter) if cfg.jitter else 0.0

    try:
        directives = _parse_directives(last_user)
    except ValueError as exc:
        state.outcomes["bad_directive"] += 1
        return _openai_error(400, str(exc), "bad_directive")

    fault = _scheduled_fault(directives.faults, attempt)
    if fault is None and cfg.faults:
        acc = 0.0
        for kind in RANDOM_FAULT_KINDS:
            acc += cfg.faults.get(kind, 0.0)
            if draw < acc:
                fault = kind
                break
    outcome = fault or "ok"
    state.outcomes[outcome] += 1
    state.log.append(
        {
            "t": round(time.monotonic() - state.started, 6),
            "key": key,
            "attempt": attempt,
            "seed": seed,
            "model": body.get("model"),
            "temperature": body.get("temperature"),
            "outcome": outcome,
            "query": dict(request.query),
            "body": body,
        }
    )

    latency = directives.delay if directives.delay is not None else cfg.latency
    await state.sleep(max(0.0, latency + jitter))
    headers = {"x-fake-attempt": str(attempt)}
    echoed = f" [Authorization: {request.headers.get('Authorization', '')}]" \
        if directives.echo_auth else ""

    if fault in ("429", "503", "500", "400", "401"):
        assert fault is not None
        if fault in ("429", "503"):
            retry_after = (
                directives.retry_after if directives.retry_after is not None else cfg.retry_after
            )
            headers["Retry-After"] = _fmt_seconds(retry_after)
        return web.json_response(
            _error_body(fault, (directives.error or _ERROR_MESSAGES[fault]) + echoed),
            status=int(fault), headers=headers,
        )
    if fault == "drop":
        transport = request.transport
        if transport is not None:
            transport.abort()
        return web.Response(status=500)  # never reaches the client: the socket is gone
    if fault == "malformed":
        return web.Response(
            status=200,
            body=b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"mess',
            content_type="application/json",
            headers=headers,
        )
    if fault == "timeout":
        await state.sleep(cfg.hang)

    simulated = None
    if directives.reply is None and directives.replies is None and state.simulator is not None:
        try:
            simulated = state.simulator.reply(body)
        except ValueError as exc:  # a policy that breaks its own constraint: a test bug
            state.outcomes["bad_simulation"] += 1
            return _openai_error(400, f"fakeserver: {exc}", "bad_simulation")
    if directives.reply is not None:
        content = directives.reply
    elif directives.replies is not None:
        cycle_key = last_user
        content = directives.replies[state.reply_cycle[cycle_key] % len(directives.replies)]
        state.reply_cycle[cycle_key] += 1
    elif simulated is not None:
        content = simulated
    else:
        content = "echo: " + directives.clean_text
    content += echoed
    prompt_tokens = sum(
        len(_content_text(m.get("content")).split()) for m in messages if isinstance(m, dict)
    )
    completion_tokens = len(content.split())
    state.next_id += 1
    return web.json_response(
        {
            "id": f"chatcmpl-fake-{state.next_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", MODEL_ID),
            "system_fingerprint": "fp_fakeserver",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
        headers=headers,
    )


async def _models(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "object": "list",
            "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "fakeserver"}],
        }
    )


async def _admin_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[_STATE_KEY].stats())


async def _admin_requests(request: web.Request) -> web.Response:
    return web.json_response(list(request.app[_STATE_KEY].log))


async def _admin_reset(request: web.Request) -> web.Response:
    request.app[_STATE_KEY].reset()
    return web.json_response({"ok": True})


async def _admin_config(request: web.Request) -> web.Response:
    state = request.app[_STATE_KEY]
    try:
        values = await request.json()
        if not isinstance(values, dict):
            raise ValueError("config must be a JSON object")
        old_seed = state.config.seed
        state.config.update(values)
        if state.config.seed != old_seed or "seed" in values:
            state.rng = random.Random(state.config.seed)
    except (ValueError, TypeError) as exc:
        return _openai_error(400, f"fakeserver: bad config: {exc}")
    return web.json_response(asdict(state.config))


# --------------------------------------------------------------------------- fine-tuning API
# Files and fine-tuning jobs as OpenAI's API shapes them. A job validates its training file
# (chat JSONL, at least 10 lines, as OpenAI asks) and advances one state per retrieve —
# validating_files, queued, running, then succeeded with a fine_tuned_model — or fails with
# the reason when the file is not valid.

FINETUNE_MIN_EXAMPLES = 10


async def _file_create(request: web.Request) -> web.Response:
    state = request.app[_STATE_KEY]
    form = await request.post()
    upload, purpose = form.get("file"), form.get("purpose")
    if not isinstance(upload, web.FileField) or purpose != "fine-tune":
        return _openai_error(400, "expected multipart 'file' and purpose 'fine-tune'")
    data = upload.file.read()
    state.next_id += 1
    file_id = f"file-{state.next_id:06d}"
    state.files[file_id] = {"id": file_id, "object": "file", "bytes": len(data),
                            "created_at": int(time.time()), "filename": upload.filename,
                            "purpose": purpose, "status": "processed", "content": data}
    return web.json_response({k: v for k, v in state.files[file_id].items() if k != "content"})


def _training_file_problem(data: bytes) -> str | None:
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    for number, line in enumerate(lines, start=1):
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            return f"line {number} is not JSON"
        if not isinstance(item, dict) or not isinstance(item.get("messages"), list):
            return f"line {number} has no 'messages' list"
    if len(lines) < FINETUNE_MIN_EXAMPLES:
        return f"the training file has {len(lines)} example(s); at least 10 are required"
    return None


def _job_view(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}


async def _job_create(request: web.Request) -> web.Response:
    state = request.app[_STATE_KEY]
    try:
        body = await request.json()
    except ValueError:
        return _openai_error(400, "request body is not JSON")
    if not isinstance(body, dict) or not body.get("model") or not body.get("training_file"):
        return _openai_error(400, "'model' and 'training_file' are required")
    upload = state.files.get(body["training_file"])
    if upload is None:
        return _openai_error(404, f"no file {body['training_file']!r}", "file_not_found")
    state.next_id += 1
    job_id = f"ftjob-{state.next_id:06d}"
    state.jobs[job_id] = {
        "id": job_id, "object": "fine_tuning.job", "created_at": int(time.time()),
        "model": body["model"], "training_file": body["training_file"],
        "validation_file": body.get("validation_file"), "status": "validating_files",
        "fine_tuned_model": None, "finished_at": None, "error": None,
        "hyperparameters": {"n_epochs": (body.get("hyperparameters") or {}).get("n_epochs",
                                                                                 "auto")},
        "organization_id": "org-fake", "result_files": [], "seed": body.get("seed") or 0,
        "trained_tokens": None, "suffix": body.get("suffix"),
        "_problem": _training_file_problem(upload["content"]),
    }
    return web.json_response(_job_view(state.jobs[job_id]))


_JOB_STEPS = {"validating_files": "queued", "queued": "running", "running": "succeeded"}


async def _job_retrieve(request: web.Request) -> web.Response:
    state = request.app[_STATE_KEY]
    job = state.jobs.get(request.match_info["job_id"])
    if job is None:
        return _openai_error(404, "no such fine-tuning job", "not_found")
    if job["status"] in _JOB_STEPS:
        if job["_problem"]:
            job.update(status="failed", finished_at=int(time.time()),
                       error={"code": "invalid_training_file", "message": job["_problem"],
                              "param": "training_file"})
        else:
            job["status"] = _JOB_STEPS[job["status"]]
            if job["status"] == "succeeded":
                suffix = job["suffix"] or "tuned"
                job.update(finished_at=int(time.time()), trained_tokens=1000,
                           fine_tuned_model=f"ft:{job['model']}:fakeserver:{suffix}:"
                                            f"{job['id'][-6:]}")
    return web.json_response(_job_view(job))


def build_app(config: ServerConfig | None = None, simulator: Any = None) -> web.Application:
    """Build the aiohttp application (state lives in ``app[_STATE_KEY]``)."""
    app = web.Application()
    app[_STATE_KEY] = _State(config or ServerConfig(), simulator)
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/chat/completions", _chat)
        app.router.add_get(f"{prefix}/models", _models)
        app.router.add_post(f"{prefix}/files", _file_create)
        app.router.add_post(f"{prefix}/fine_tuning/jobs", _job_create)
        app.router.add_get(f"{prefix}/fine_tuning/jobs/{{job_id}}", _job_retrieve)
    app.router.add_get("/_admin/stats", _admin_stats)
    app.router.add_get("/_admin/requests", _admin_requests)
    app.router.add_post("/_admin/reset", _admin_reset)
    app.router.add_post("/_admin/config", _admin_config)
    return app


async def _start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    # access_log=None: no per-request logging (benchmarks drive 150+ req/s).
    # handler_cancellation: a client that gives up (timeout) frees its handler at once.
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    await site.start()
    bound_port = int(runner.addresses[0][1])
    return runner, bound_port


# --------------------------------------------------------------------------- in-process server


class FakeServer:
    """Runs the fake server on 127.0.0.1 in a background thread with its own event loop.

    Use as a context manager; ``base_url`` is ready for ``openai``/``litellm`` (ends in /v1).
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        jitter: float = 0.0,
        faults: dict[str, float] | None = None,
        retry_after: float = 1.0,
        hang: float = 30.0,
        seed: int = 0,
        port: int = 0,
        simulator: Any = None,
    ) -> None:
        self._config = ServerConfig()
        self._simulator = simulator
        self._config.update(
            {
                "latency": latency,
                "jitter": jitter,
                "faults": faults or {},
                "retry_after": retry_after,
                "hang": hang,
                "seed": seed,
            }
        )
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._state: _State | None = None
        self.port: int = 0
        self.base_url: str = ""

    # -- lifecycle
    def start(self) -> FakeServer:
        """Start serving; returns once the port is bound (raises if binding failed)."""
        if self._thread is not None:
            raise RuntimeError("FakeServer already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        error: list[BaseException] = []

        async def boot() -> None:
            app = build_app(self._config, self._simulator)
            self._state = app[_STATE_KEY]
            self._runner, self.port = await _start_site(app, "127.0.0.1", self._port)

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(boot())
            except BaseException as exc:  # report to the starting thread
                error.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="fakeserver", daemon=True)
        self._thread.start()
        ready.wait()
        if error:
            self._thread.join()
            self._thread = None
            self._loop = None
            raise error[0]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        return self

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers, close the loop and join the thread."""
        if self._thread is None or self._loop is None:
            return
        loop = self._loop

        async def shutdown() -> None:
            assert self._state is not None and self._runner is not None
            self._state.stopping.set()
            await self._runner.cleanup()
            current = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not current]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=10)
            self._thread = None
            self._loop = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- control (thread-safe: runs on the server loop)
    def _call(self, fn: Any) -> Any:
        if self._loop is None or self._state is None:
            raise RuntimeError("FakeServer is not running")

        async def call() -> Any:
            return fn(self._state)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=10)

    def stats(self) -> dict[str, Any]:
        """Snapshot: total, outcomes, per-key attempts, in_flight, max_in_flight, config."""
        return self._call(lambda s: json.loads(json.dumps(s.stats())))

    def requests(self) -> list[dict[str, Any]]:
        """Recent chat requests (up to 10 000): key, attempt, seed, model, outcome, body."""
        return self._call(lambda s: list(s.log))

    def reset(self) -> None:
        """Clear counters, per-key attempts, reply cycles and the log; reseed the RNG."""
        self._call(lambda s: s.reset())

    def simulate(self, simulator: Any) -> None:
        """Answer from a :class:`~workbench.testing.simulated.SimulatedModel` from now on
        (None: echo again)."""
        self._simulator = simulator

        def apply(s: _State) -> None:
            s.simulator = simulator

        self._call(apply)

    def configure(self, **kw: Any) -> dict[str, Any]:
        """Change global config at runtime (same keys as the constructor, minus port)."""

        def apply(s: _State) -> dict[str, Any]:
            s.config.update(kw)
            if "seed" in kw:
                s.rng = random.Random(s.config.seed)
            return asdict(s.config)

        return self._call(apply)


# --------------------------------------------------------------------------- subprocess server



def _http_json(url: str, payload: dict[str, Any] | None = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(
        url,
        data=data,
        method="GET" if payload is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - localhost only
        return json.loads(resp.read())


class FakeServerProcess:
    """Runs ``python -m workbench.testing.fakeserver`` in a subprocess (its own core, for bench).

    Same control surface as FakeServer (stats/requests/reset/configure) over the admin API.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        jitter: float = 0.0,
        faults: dict[str, float] | None = None,
        retry_after: float = 1.0,
        hang: float = 30.0,
        seed: int = 0,
        port: int = 0,
        startup_timeout: float = 15.0,
    ) -> None:
        self.args = [
            "--port", str(port),
            "--latency", str(latency),
            "--jitter", str(jitter),
            "--retry-after", str(retry_after),
            "--hang", str(hang),
            "--seed", str(seed),
        ]  # fmt: skip
        if faults:
            self.args += ["--faults", ",".join(f"{k}={v}" for k, v in faults.items())]
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.admin_url = ""

    def start(self) -> FakeServerProcess:
        """Spawn the server and wait for its ``listening`` line."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.testing.fakeserver", *self.args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], self.startup_timeout)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"fakeserver subprocess did not start (got {line!r})")
        self.base_url = line.split(" ", 1)[1]
        self.admin_url = self.base_url.removesuffix("/v1") + "/_admin"
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the server and wait; returns its exit code."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        return proc.returncode

    def __enter__(self) -> FakeServerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        """Same snapshot as FakeServer.stats(), fetched over HTTP."""
        return _http_json(self.admin_url + "/stats")

    def requests(self) -> list[dict[str, Any]]:
        """Recent chat requests, fetched over HTTP."""
        return _http_json(self.admin_url + "/requests")

    def reset(self) -> None:
        """Clear the server's counters."""
        _http_json(self.admin_url + "/reset", {})

    def configure(self, **kw: Any) -> dict[str, Any]:
        """Change global config at runtime."""
        return _http_json(self.admin_url + "/config", kw)


# --------------------------------------------------------------------------- CLI


async def _serve_forever(config: ServerConfig, host: str, port: int) -> None:
    app = build_app(config)
    state = app[_STATE_KEY]
    runner, bound = await _start_site(app, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"listening http://{host}:{bound}/v1", flush=True)
    try:
        await stop.wait()
    finally:
        state.stopping.set()
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: ``python -m workbench.testing.fakeserver --port 0 --latency 0.2``."""
    parser = argparse.ArgumentParser(
        prog="python -m workbench.testing.fakeserver",
        description="Fake OpenAI-compatible chat server.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per response")
    parser.add_argument("--jitter", type=float, default=0.0, help="± uniform seconds on latency")
    parser.add_argument("--faults", default="", help="random fault rates, e.g. 429=0.2,500=0.05")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds")
    parser.add_argument("--hang", type=float, default=30.0, help="seconds a 'timeout' hangs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault RNG")
    ns = parser.parse_args(argv)
    config = ServerConfig()
    try:
        config.update(
            {
                "latency": ns.latency,
                "jitter": ns.jitter,
                "faults": parse_faults(ns.faults),
                "retry_after": ns.retry_after,
                "hang": ns.hang,
                "seed": ns.seed,
            }
        )
    except ValueError as exc:
        parser.error(str(exc))
    asyncio.run(_serve_forever(config, ns.host, ns.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
