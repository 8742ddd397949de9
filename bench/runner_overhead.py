"""Benchmark the run engine's own overhead against a fake server with fixed latency.

Runs ``--calls`` cells through the real Runner + Store (a temporary SQLite file) + Gateway
against ``FakeServerProcess`` (its own process, so the server's CPU is not ours), once per
transport — ``wb direct`` (one JSON POST per call to the OpenAI-compatible server) and
``wb litellm`` (``litellm.acompletion``) — and compares the wall time with the ideal
``ceil(calls / concurrency) × latency`` (what the fake server's fixed latency allows at that
concurrency) and with the *floor*: the same requests from a plain asyncio loop over
``openai.AsyncOpenAI`` (no engine).

Run: ``.venv/bin/python bench/runner_overhead.py [--calls 2000] [--concurrency 8 32 128]
[--latency 0.2]``. Add ``--baseline`` to also time bare ``litellm.acompletion`` calls (no
Runner, Store or Gateway): between it and the floor is litellm's cost, between it and the
``wb litellm`` row the engine's own. Add ``--profile FILE`` to write a cProfile of the last
direct-transport run for ``python -m pstats``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import math
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from _fixtures import (
    SYSTEM,
    conditions,
    make_project,
    peak_rss_mib,
    question,
    reset_peak_rss,
    rss_mib,
)

from workbench.engine.plan import make_plan
from workbench.engine.runner import Runner
from workbench.engine.session import record_run
from workbench.models import litellm_module
from workbench.store.database import Store
from workbench.suites.loader import load_suite
from workbench.testing.fakeserver import FakeServerProcess


@dataclass
class Result:
    concurrency: int
    calls: int
    wall: float
    ideal: float
    errors: int
    cpu: float  # this process's CPU seconds during the run
    peak_mib: float  # peak RSS during the run

    @property
    def overhead(self) -> float:
        return self.wall / self.ideal - 1

    @property
    def rate(self) -> float:
        return self.calls / self.wall


def measure(calls: int, concurrency: int, latency: float,
            run: Callable[[], Awaitable[int]]) -> Result:
    """Time one asyncio run of ``run`` (which returns its error count)."""
    reset_peak_rss()
    started, cpu = time.perf_counter(), time.process_time()
    errors = asyncio.run(run())
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Result(concurrency, calls, wall, math.ceil(calls / concurrency) * latency, errors,
                  cpu, peak_rss_mib())


def run_once(root: Path, base_url: str, calls: int, concurrency: int, latency: float,
             profile: cProfile.Profile | None, transport: str = "litellm") -> Result:
    """One full run through the engine; the clock covers the run only, not setup."""
    name = f"bench-{transport}-{concurrency}"
    suite = load_suite(make_project(root, base_url, cases=calls, concurrency=concurrency,
                                    name=name, transport=transport))
    plan = make_plan(suite)
    with Store(root / f"{name}.db") as store:
        run_id = record_run(suite, store, plan)
        runner = Runner(plan, {v.ref: v for v in suite.variants}, store, run_id)

        async def run() -> int:
            if profile is not None:
                profile.enable()
            try:
                ran = await runner.run()
            finally:
                if profile is not None:
                    profile.disable()
            assert ran == calls, (ran, calls)
            return 0

        result = measure(calls, concurrency, latency, run)
        result.errors = sum(c.status == "error" for c in store.cells(run_id))
        assert store.count_cells(run_id) == calls
    return result


def _pool(calls: int, concurrency: int, call: Callable[[int], Awaitable[object]]):
    """A fixed pool of workers pulling call numbers from one iterator (as the Runner does)."""

    async def run() -> int:
        numbers = iter(range(calls))

        async def worker() -> None:
            for n in numbers:
                await call(n)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return 0

    return run


def _messages(n: int) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question(n)}]


def run_bare_litellm(base_url: str, calls: int, concurrency: int, latency: float) -> Result:
    """The same calls through bare ``litellm.acompletion`` (no Runner, Store or Gateway)."""
    litellm = litellm_module()

    async def call(n: int) -> object:
        return await litellm.acompletion(
            model="openai/fake", api_base=base_url, api_key="bench", seed=n, temperature=0.7,
            max_tokens=16, timeout=30, max_retries=0, caching=False, messages=_messages(n))

    return measure(calls, concurrency, latency, _pool(calls, concurrency, call))


def run_floor(base_url: str, calls: int, concurrency: int, latency: float) -> Result:
    """The floor: a plain asyncio loop over ``openai.AsyncOpenAI``, nothing else."""
    import httpx
    import openai

    async def run() -> int:
        # httpx's own pool slows down badly past ~100 connections, so the floor uses openai's
        # aiohttp transport (as litellm does), its pool sized to the concurrency.
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with openai.AsyncOpenAI(
            base_url=base_url, api_key="bench", max_retries=0, timeout=30,
            http_client=openai.DefaultAioHttpClient(limits=limits),
        ) as client:

            async def call(n: int) -> object:
                return await client.chat.completions.create(
                    model="fake", messages=_messages(n), seed=n,  # type: ignore[arg-type]
                    temperature=0.7, max_tokens=16)

            return await _pool(calls, concurrency, call)()

    return measure(calls, concurrency, latency, run)


def row(label: str, r: Result, floor: Result | None = None) -> str:
    ratio = f"{r.wall / floor.wall:>6.2f}×" if floor else f"{'':>7}"
    return (f"{label:<14} {r.concurrency:>5} {r.wall:>8.2f} {r.ideal:>8.2f} {r.overhead:>8.1%} "
            f"{ratio} {r.rate:>8.1f} {r.cpu / r.calls * 1000:>8.2f} {r.peak_mib:>8.0f} "
            f"{r.errors:>6}")


def warm_up(root: Path, base_url: str) -> None:
    """Import litellm and make a few calls, so no measured run pays one-off costs."""
    litellm_module()
    run_once(root / "warmup", base_url, 8, 4, 0.0, None)
    run_once(root / "warmup", base_url, 8, 4, 0.0, None, transport="direct")
    run_floor(base_url, 8, 4, 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--latency", type=float, default=0.2, help="server latency, seconds")
    parser.add_argument("--baseline", action="store_true",
                        help="also time bare litellm.acompletion calls (no engine)")
    parser.add_argument("--profile", metavar="FILE",
                        help="write a cProfile of the last direct-transport run")
    args = parser.parse_args(argv)

    with FakeServerProcess(latency=args.latency) as server, \
            tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        warm_up(root, server.base_url)
        print(f"litellm import + first calls: {time.perf_counter() - t0:.2f} s; "
              f"RSS after warm-up {rss_mib():.0f} MiB")
        print(f"{args.calls} calls per run, server latency {args.latency:g} s; {conditions()}")
        print(f"{'path':<14} {'conc':>5} {'wall s':>8} {'ideal s':>8} {'overhead':>9} "
              f"{'÷floor':>7} {'calls/s':>8} {'cpu ms':>8} {'peak MiB':>8} {'errors':>6}")
        for i, concurrency in enumerate(args.concurrency):
            last = i == len(args.concurrency) - 1
            profile = cProfile.Profile() if args.profile and last else None
            server.reset()
            floor = run_floor(server.base_url, args.calls, concurrency, args.latency)
            served = server.stats()["total"]
            for transport in ("direct", "litellm"):
                server.reset()
                r = run_once(root, server.base_url, args.calls, concurrency, args.latency,
                             profile if transport == "direct" else None, transport)
                stats = server.stats()
                assert served == stats["total"] == args.calls, (served, stats["total"])
                print(row(f"wb {transport}", r, floor)
                      + f"   (max in flight {stats['max_in_flight']})")
            if args.baseline:
                print(row("bare litellm", run_bare_litellm(server.base_url, args.calls,
                                                           concurrency, args.latency), floor))
            print(row("floor (openai)", floor))
            if profile is not None:
                profile.dump_stats(args.profile)
                print(f"profile written to {args.profile}")
    print("overhead = wall / ideal - 1; ÷floor = wall / the plain openai loop's wall; "
          "cpu ms = this process's CPU per call; peak MiB = peak RSS during that run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
