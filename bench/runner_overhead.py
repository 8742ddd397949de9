"""Benchmark the run engine's own overhead against a fake server with fixed latency.

Runs ``--calls`` cells through the real Runner + Store (a temporary SQLite file) + Gateway +
litellm against ``FakeServerProcess`` (its own process, so the server's CPU is not ours) and
compares the wall time with the ideal ``ceil(calls / concurrency) × latency`` (DESIGN.md §9).

Run: ``python bench/runner_overhead.py [--calls 2000] [--concurrency 8 32 128] [--latency 0.2]``
Add ``--baseline`` to also time bare ``litellm.acompletion`` calls with the same concurrency
(no Runner, Store or Gateway): the difference is the engine's own overhead, the rest is
litellm's. Add ``--profile FILE`` to write a cProfile of the (last) run for ``python -m pstats``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import math
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the cost map
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakeserver import FakeServerProcess  # noqa: E402
from workbench.models.gateway import litellm_module  # noqa: E402
from workbench.runner import Runner, make_plan, start_run  # noqa: E402
from workbench.store import Store  # noqa: E402
from workbench.suites import load_suite  # noqa: E402

KEY_ENV = "WORKBENCH_BENCH_KEY"
PROMPT = """kind: zero-shot
params:
  temperature: 0.7
  max_tokens: 16
messages:
  - role: system
    content: You answer in one word.
  - role: user
    content: "Question {{ n }}: what colour is the sky?"
"""


@dataclass
class Result:
    concurrency: int
    calls: int
    wall: float
    ideal: float
    errors: int
    cpu: float  # this process's CPU seconds during the run

    @property
    def overhead(self) -> float:
        return self.wall / self.ideal - 1

    @property
    def rate(self) -> float:
        return self.calls / self.wall


def make_project(root: Path, base_url: str, calls: int, concurrency: int) -> Path:
    """A prompt and a suite of ``calls`` single-rerun cases; returns the suite path."""
    (root / "prompts" / "bench").mkdir(parents=True, exist_ok=True)
    (root / "prompts" / "bench" / "v1.yaml").write_text(PROMPT, encoding="utf-8")
    (root / "suites").mkdir(exist_ok=True)
    (root / "suites" / "cases.jsonl").write_text(
        "".join(f'{{"id": "c{i}", "vars": {{"n": {i}}}}}\n' for i in range(calls)),
        encoding="utf-8",
    )
    suite = root / "suites" / f"bench-{concurrency}.yaml"
    suite.write_text(
        f"""name: bench-{concurrency}
prompts: [bench]
models:
  - name: openai/fake
    api_base: {base_url}
    api_key_env: {KEY_ENV}
reruns: 1
concurrency: {concurrency}
timeout: 30
cases:
  - file: cases.jsonl
""",
        encoding="utf-8",
    )
    return suite


def run_once(root: Path, base_url: str, calls: int, concurrency: int, latency: float,
             profile: cProfile.Profile | None) -> Result:
    """One full run through the engine; the wall clock covers the run only, not setup."""
    suite = load_suite(make_project(root, base_url, calls, concurrency))
    plan = make_plan(suite)
    with Store(root / f"bench-{concurrency}.db") as store:
        run_id = start_run(suite, store, plan)
        runner = Runner(plan, {v.ref: v for v in suite.variants}, store, run_id)
        if profile is not None:
            profile.enable()
        started, cpu = time.perf_counter(), time.process_time()
        ran = asyncio.run(runner.run())
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        if profile is not None:
            profile.disable()
        errors = sum(c.status == "error" for c in store.cells(run_id))
        assert ran == calls == store.count_cells(run_id), (ran, calls)
    ideal = math.ceil(calls / concurrency) * latency
    return Result(concurrency, calls, wall, ideal, errors, cpu)


def run_bare_litellm(base_url: str, calls: int, concurrency: int, latency: float) -> Result:
    """The same calls through bare ``litellm.acompletion`` from a pool of workers."""
    litellm = litellm_module()

    async def pool() -> None:
        numbers = iter(range(calls))

        async def worker() -> None:
            for n in numbers:
                await litellm.acompletion(
                    model="openai/fake", api_base=base_url, api_key="bench", seed=n,
                    temperature=0.7, max_tokens=16, timeout=30, max_retries=0, caching=False,
                    messages=[{"role": "system", "content": "You answer in one word."},
                              {"role": "user",
                               "content": f"Question {n}: what colour is the sky?"}])

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    started, cpu = time.perf_counter(), time.process_time()
    asyncio.run(pool())
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Result(concurrency, calls, wall, math.ceil(calls / concurrency) * latency, 0, cpu)


def row(label: str, r: Result) -> str:
    return (f"{label:<14} {r.concurrency:>5} {r.wall:>8.2f} {r.ideal:>8.2f} {r.overhead:>8.1%} "
            f"{r.rate:>8.1f} {r.calls / r.ideal:>8.1f} {r.cpu / r.calls * 1000:>9.2f} "
            f"{r.errors:>6}")


def warm_up(root: Path, base_url: str) -> None:
    """Import litellm and make one call, so the first measured run pays no one-off costs."""
    litellm_module()
    run_once(root / "warmup", base_url, 4, 4, 0.0, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32])
    parser.add_argument("--latency", type=float, default=0.2, help="server latency, seconds")
    parser.add_argument("--baseline", action="store_true",
                        help="also time bare litellm.acompletion calls (no engine)")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the last run")
    args = parser.parse_args(argv)
    os.environ[KEY_ENV] = "bench"

    results: list[Result] = []
    with FakeServerProcess(latency=args.latency) as server, \
            tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        warm_up(root, server.base_url)
        print(f"litellm import + first call: {time.perf_counter() - t0:.2f} s")
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"{args.calls} calls, server latency {args.latency:g} s, "
              f"cpus {os.cpu_count()}, load average {load}")
        print(f"{'path':<14} {'conc':>5} {'wall s':>8} {'ideal s':>8} {'overhead':>9} "
              f"{'calls/s':>8} {'ideal/s':>8} {'cpu ms/call':>11} {'errors':>6}")
        for i, concurrency in enumerate(args.concurrency):
            profile = cProfile.Profile() if args.profile and i == len(args.concurrency) - 1 \
                else None
            server.reset()
            r = run_once(root, server.base_url, args.calls, concurrency, args.latency, profile)
            stats = server.stats()
            results.append(r)
            print(row("workbench", r) + f"   (server: {stats['total']} requests, "
                  f"max in flight {stats['max_in_flight']})")
            if args.baseline:
                print(row("bare litellm", run_bare_litellm(server.base_url, args.calls,
                                                           concurrency, args.latency)))
            if profile is not None:
                profile.dump_stats(args.profile)
                print(f"profile written to {args.profile}")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS: {peak_kib / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
