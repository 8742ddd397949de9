"""Benchmark the embedded model: load time, RSS, and generation speed per access path.

Compares llama-cpp-python called directly with the same call through ``LocalChatModel``,
``litellm.completion``, ``litellm.acompletion`` (our custom provider) and the workbench's
``Gateway.complete`` (the path every cell of a run takes: the local transport, retries,
concurrency limit, redaction; no litellm), so the overhead of each layer is visible.

Run: ``.venv/bin/python bench/local_model.py [--runs N] [--max-tokens N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _fixtures import peak_rss_mib, rss_mib  # also: the local cost map

from workbench.models import local

PROMPT = [{"role": "user", "content": "Write a long story about a dragon who learns to bake."}]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    params = {"temperature": 0.8, "max_tokens": args.max_tokens}

    print(f"model file: {local.resolve_model_path()}  threads: {local.thread_count()}")
    rss_before = rss_mib()
    model = local.LocalChatModel()
    load_s = model.load() or 0.0
    print(f"load time: {load_s:.2f} s   RSS: {rss_before:.0f} MiB before, {rss_mib():.0f} after")

    import llama_cpp

    direct = llama_cpp.Llama(
        model_path=str(local.resolve_model_path()),
        n_ctx=local.N_CTX,
        n_threads=local.thread_count(),
        verbose=False,
    )

    decode_rates: list[float] = []  # llama.cpp's own timer: token generation only

    def via_direct(seed: int) -> int:
        llama_cpp.llama_perf_context_reset(direct.ctx)
        out = direct.create_chat_completion(messages=PROMPT, seed=seed, **params)
        perf = llama_cpp.llama_perf_context(direct.ctx)
        if perf.t_eval_ms > 0:
            decode_rates.append(perf.n_eval / perf.t_eval_ms * 1000)
        return out["usage"]["completion_tokens"]

    def via_model(seed: int) -> int:
        return model.chat(PROMPT, seed=seed, **params).completion_tokens

    started = time.perf_counter()
    from workbench.models import Gateway, litellm_module

    litellm = litellm_module()  # configured as for a run, the local provider registered
    gateway = Gateway(timeout=600, max_attempts=1, concurrency=1)
    print(f"litellm import + register: {time.perf_counter() - started:.2f} s")

    def via_litellm(seed: int) -> int:
        out = litellm.completion(model=local.MODEL_NAME, messages=PROMPT, seed=seed, **params)
        return out.usage.completion_tokens

    async def via_alitellm(seed: int) -> int:
        out = await litellm.acompletion(
            model=local.MODEL_NAME, messages=PROMPT, seed=seed, **params
        )
        return out.usage.completion_tokens

    async def via_workbench(seed: int) -> int:
        reply = await gateway.complete(local.MODEL_NAME, PROMPT, {**params, "seed": seed})
        return reply.completion_tokens

    paths: dict[str, Callable[[int], int] | Callable[[int], Awaitable[int]]] = {
        "llama-cpp-python direct": via_direct,
        "LocalChatModel.chat": via_model,
        "litellm.completion": via_litellm,
        "litellm.acompletion": via_alitellm,
        "workbench Gateway.complete": via_workbench,
    }
    rates: dict[str, list[float]] = {name: [] for name in paths}

    async def run_all() -> None:
        # One asyncio.run for everything (sync paths simply block the loop meanwhile): a
        # hand-made loop closed with litellm's logging task still pending segfaults at exit.
        async def timed(call: Callable[[int], Any], seed: int) -> float:
            started = time.perf_counter()
            tokens = call(seed)
            if inspect.isawaitable(tokens):
                tokens = await tokens
            return tokens / (time.perf_counter() - started)

        for call in paths.values():
            await timed(call, 999)  # warm-up: first calls pay one-off costs
        # Interleave the paths round by round so machine noise hits them all alike.
        for seed in range(args.runs):
            for name, call in paths.items():
                rates[name].append(await timed(call, seed))

    try:
        asyncio.run(run_all())
        print(f"generation speed, {args.max_tokens} max tokens, median of {args.runs} runs:")
        direct_rate = statistics.median(rates["llama-cpp-python direct"])
        for name, values in rates.items():
            runs = ", ".join(f"{v:.0f}" for v in values)
            median = statistics.median(values)
            share = median / direct_rate
            print(f"  {name:<26} {median:6.1f} tok/s  {share:5.0%} of direct  ({runs})")
        print(f"  {'llama.cpp decode only':<26} {statistics.median(decode_rates):6.1f} tok/s")
        print(f"peak RSS: {peak_rss_mib():.0f} MiB (two model instances loaded for the comparison)")
    finally:
        direct.close()
        local.close_local_model()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
