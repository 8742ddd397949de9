"""Benchmark the embedded model's reruns: prompt reuse, batching, and CPU contention.

Side by side in one run, for a 5-rerun classifier case and a 5-rerun few-shot case:

* ``today``: llama-cpp-python's ``create_chat_completion`` per rerun from an empty KV cache,
  every core a thread, OpenMP's default (spinning) waits: what each call did before;
* ``fresh``: the engine evaluating the prompt again for every rerun, with the thread policy:
  what prompt reuse alone saves is ``reuse`` against this (the ``of fresh`` column);
* ``reuse``: the reruns one after the other from the prompt evaluated once;
* ``batched``: the reruns decoded together as one batch (the default);
* ``cases``: the case and two like it (another ticket each) decoded together, as the runner's
  cases in flight are (the default when several are waiting); figures per case;

as calls/s, ms per call, and what reruns 2..N cost each, as a share of today's per-call time.
Then the slowdown of a call with one and with two competing CPU-bound processes (busy loops):
today's settings, ``auto`` threads with passive waits (the previous default), and the default
policy (``auto`` threads, idle threads spinning briefly before they sleep).

Every path runs in a fresh process (OpenMP reads its wait policy once, when llama.cpp loads),
and each figure is printed with the load average at the time: on a shared machine, read them
with it. Run: ``.venv/bin/python bench/local_reruns.py [--rounds N] [--reruns N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CLASSIFIER = [
    {"role": "system", "content": "You are a support-ticket router. You answer with one word."},
    {"role": "user", "content": "Which team should handle this ticket? Answer with exactly one "
                                "of: billing, shipping, technical.\n\nTicket: My parcel never "
                                "arrived and tracking has not moved for a week.\nTeam:"},
]
FEW_SHOT = [{"role": "system", "content": "You route support tickets. Reply with one word - "
                                          "billing, shipping or technical."}]
for _text, _label in [
    ("I was charged twice for my subscription this month.", "billing"),
    ("My parcel says delivered but nothing arrived.", "shipping"),
    ("The app crashes every time I open settings.", "technical"),
    ("The invoice shows the wrong amount of tax for my country.", "billing"),
    ("The courier left my package outside in the rain.", "shipping"),
    ("I get an error 500 when I try to upload a photo.", "technical"),
]:
    FEW_SHOT += [{"role": "user", "content": f"Ticket: {_text}"},
                 {"role": "assistant", "content": _label}]
FEW_SHOT.append({"role": "user", "content": "Ticket: You charged my card twice for the same "
                                            "order, please fix it."})
CASES = {"classifier": CLASSIFIER, "few-shot": FEW_SHOT}
PARAMS = {"temperature": 0.7, "max_tokens": 8}
OTHER = [{"role": "user", "content": "Say hello."}]  # takes the context between rounds


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}"


# --------------------------------------------------------------------------- worker side


def worker(path: str, case: str, rounds: int, reruns: int, single: bool) -> dict[str, object]:
    """Time one path on one case in this process: seconds per case (all its reruns), and for
    the grouped paths seconds for the same case with one rerun (the prompt plus one sample)."""
    messages = CASES[case]
    if path == "today":
        import llama_cpp

        from workbench.models.local import N_CTX, resolve_model_path, thread_count

        llm = llama_cpp.Llama(model_path=str(resolve_model_path()), n_ctx=N_CTX,
                              n_threads=thread_count(), verbose=False)

        def run(seeds: list[int]) -> None:
            for seed in seeds:
                llm.reset()
                llm.create_chat_completion(messages=messages, seed=seed, **PARAMS)

        def other() -> None:
            pass
    elif path == "fresh":
        from workbench.models import _local
        from workbench.models.local import LocalChatModel

        model = LocalChatModel()

        def run(seeds: list[int]) -> None:
            for seed in seeds:
                _local._get_engine().main.prompt = []  # forget the prompt: evaluate it again
                model.chat_many(messages, [seed], batch=False, **PARAMS)

        def other() -> None:
            pass
    else:
        from workbench.models.local import LocalChatModel

        model = LocalChatModel()
        batch = path != "reuse"
        # "cases": the case and two more like it (another ticket each) decoded together, as
        # the runner's cases in flight are; its time is per case
        variants = [messages] + [messages[:-1] + [{
            "role": "user", "content": messages[-1]["content"].replace("Ticket:", f"Ticket {k}:")}]
            for k in (2, 3)]

        def run(seeds: list[int]) -> None:
            if path == "cases":
                model.chat_batch([(m, seeds, PARAMS) for m in variants])
            else:
                model.chat_many(messages, seeds, batch=batch, **PARAMS)

        def other() -> None:  # evict the cases' prompts from both contexts
            model.chat_many(OTHER, [0], max_tokens=2)
            model.chat_many(OTHER, [0, 1], batch=True, max_tokens=2)

    def timed(seeds: list[int]) -> float:
        other()  # the case's prompt is not resident: each round pays for it once
        started = time.perf_counter()
        run(seeds)
        return time.perf_counter() - started

    timed(list(range(reruns)))  # warm-up
    full, one = [], []
    for r in range(rounds):
        seeds = [1000 * (r + 1) + i for i in range(reruns)]
        full.append(timed(seeds))
        if single:
            one.append(timed(seeds[:1]))
    if path == "today":
        llm.close()
    per = 3 if path == "cases" else 1  # seconds per case
    return {"full": statistics.median(full) / per,
            "single": statistics.median(one or [0.0]) / per,
            "load": os.getloadavg()[0]}


# --------------------------------------------------------------------------- driver side


def measure(path: str, case: str, rounds: int, reruns: int, *, single: bool = True,
            env: dict[str, str] | None = None) -> dict[str, float]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", path, "--case", case,
           "--rounds", str(rounds), "--reruns", str(reruns)] + ([] if single else ["--no-single"])
    run_env = dict(os.environ, **(env or {}))
    if path == "today":
        for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
            run_env.pop(name, None)  # OpenMP's default: spin about 3 ms, then sleep
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=run_env,
                         cwd=HERE.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


class Competitors:
    """``n`` CPU-bound processes (busy loops) for the duration of a ``with`` block."""

    def __init__(self, n: int):
        self.n = n
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Competitors:
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                      for _ in range(self.n)]
        time.sleep(1.0)  # let the scheduler see them
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--worker", choices=["today", "fresh", "reuse", "batched", "cases"])
    parser.add_argument("--case", choices=sorted(CASES), default="classifier")
    parser.add_argument("--no-single", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-contention", action="store_true",
                        help="only the rerun figures, not the slowdown under contention")
    parser.add_argument("--contention-rounds", type=int, default=1,
                        help="rounds per contention figure (today's path is slow there)")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.case, args.rounds, args.reruns,
                                not args.no_single)))
        return 0

    n = args.reruns
    print(f"{n} reruns per case, max_tokens {PARAMS['max_tokens']}, median of {args.rounds} "
          f"rounds; cores: {os.cpu_count()}; {load()} at start")
    print(f"\n{'case':<11} {'path':<8} {'calls/s':>8} {'ms/call':>8} {'reruns 2..N':>12} "
          f"{'of today':>9} {'of fresh':>9}  load")
    for case in CASES:
        today_per_call = None
        fresh_per_call = None
        for path in ("today", "fresh", "reuse", "batched", "cases"):
            r = measure(path, case, args.rounds, n, single=path in ("reuse", "batched", "cases"))
            per_call = r["full"] / n
            if path in ("today", "fresh"):
                extra = per_call  # every rerun pays the whole call
                if path == "today":
                    today_per_call = per_call
                else:
                    fresh_per_call = per_call
            else:
                extra = (r["full"] - r["single"]) / (n - 1)
            share = extra / today_per_call if today_per_call else float("nan")
            of_fresh = extra / fresh_per_call if fresh_per_call else float("nan")
            print(f"{case:<11} {path:<8} {n / r['full']:8.2f} {per_call * 1000:8.0f} "
                  f"{extra * 1000:10.0f}ms {share:9.0%} {of_fresh:9.0%}  {r['load']:.2f}",
                  flush=True)

    if args.no_contention:
        print(f"\n{load()} at the end")
        return 0
    print("\ncontention: ms per call of the classifier case with k busy-loop processes")
    print(f"{'settings':<36} {'k=0':>7} {'k=1':>7} {'k=2':>7}  {'x1':>5} {'x2':>5}  "
          "load at k=0/1/2")
    settings = (("today (all cores, spinning waits)", "today", {}),
                ("auto threads, passive waits", "batched", {"OMP_WAIT_POLICY": "passive"}),
                ("default (auto threads, short spins)", "batched", {}))
    for label, path, env in settings:
        times, loads = [], []
        for k in (0, 1, 2):
            with Competitors(k):
                r = measure(path, "classifier", args.contention_rounds, n, single=False,
                            env=env)
            times.append(r["full"] / n)
            loads.append(r["load"])
        print(f"{label:<36} {times[0] * 1000:7.0f} {times[1] * 1000:7.0f} {times[2] * 1000:7.0f}"
              f"  {times[1] / times[0]:5.1f} {times[2] / times[0]:5.1f}  "
              + "/".join(f"{x:.2f}" for x in loads), flush=True)
    print(f"\n{load()} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
