"""Benchmark LoRA training of the embedded model: time, throughput and peak memory.

Trains on a synthetic four-label ticket task (short chat examples, the loss on the reply
only, as ``workbench finetune`` does) and prints the time to load the base model, the time
per step, tokens per second, the total, and the process's peak RSS, with the load average
before and after (the machine is shared: figures only mean something beside it).

Run: ``.venv/bin/python bench/finetune_train.py [--examples N] [--epochs E] [--threads T]``
(needs the ``finetune`` extra).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _fixtures import conditions, peak_rss_mib

from workbench.finetune.train import (
    TrainConfig,
    TrainProgress,
    missing_training_modules,
    train_lora,
)
from workbench.models.local import resolve_model_path
from workbench.testing.tickets import WORDS


def examples(n: int) -> list[list[dict[str, str]]]:
    out = []
    labels = list(WORDS)
    for i in range(n):
        label = labels[i % 4]
        word = WORDS[label][(i // 4) % 8]
        out.append([
            {"role": "system", "content": "Route the support ticket to one team: billing, "
                                          "bug, feature or account. Reply with the team only."},
            {"role": "user", "content": f"Ticket #{i}: I have a question about my {word}, "
                                        "please help."},
            {"role": "assistant", "content": label},
        ])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    missing = missing_training_modules()
    if missing:
        print(f"needs the finetune extra ({', '.join(missing)})", file=sys.stderr)
        return 2
    print(f"before: {conditions()}")
    steps: list[float] = []
    last = [time.perf_counter()]

    def progress(p: TrainProgress) -> None:
        now = time.perf_counter()
        steps.append(now - last[0])
        last[0] = now
        print(f"  step {p.step}/{p.total_steps} loss {p.loss:.3f} "
              f"{p.tokens_per_second:.0f} tok/s", flush=True)

    config = TrainConfig(epochs=args.epochs, rank=args.rank, batch_size=args.batch_size,
                         threads=args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        adapter = Path(tmp) / "adapter.gguf"
        started = time.perf_counter()
        last[0] = started
        result = train_lora(examples(args.examples), adapter, config, resolve_model_path(),
                            on_progress=progress)
        total = time.perf_counter() - started
        size = adapter.stat().st_size
    steps = steps[1:] or steps  # the first step includes loading the base model
    train_s = total - result.load_seconds
    print(f"{args.examples} examples × {args.epochs} epoch(s), batch {args.batch_size}, "
          f"rank {args.rank}, threads {args.threads or 'all'}")
    print(f"load base model: {result.load_seconds:.1f} s")
    print(f"train: {result.steps} steps, {result.tokens} tokens in {train_s:.1f} s "
          f"({result.tokens / train_s:.0f} tok/s; median step "
          f"{sorted(steps)[len(steps) // 2]:.2f} s)")
    print(f"total (load, train, write the GGUF adapter): {total:.1f} s; adapter "
          f"{size / 1e6:.1f} MB")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")
    print(f"loss: {result.losses[0]:.3f} → {result.losses[-1]:.3f}")
    print(f"after: {conditions()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
