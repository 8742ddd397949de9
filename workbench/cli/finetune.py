"""``workbench finetune``: the command-line shell of :func:`workbench.finetune.loop.finetune_suite`
(flags in; a progress line while it trains and re-runs; the before/after table out)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from workbench.errors import InputError, display_path


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class ProgressLine:
    """One line rewritten in place on a terminal; on a pipe, a line every 10% (logs stay
    short)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.last_decile = -1
        self.cells = 0
        self.started = time.monotonic()

    def _show(self, text: str, fraction: float) -> None:
        if self.tty:
            self.out.write("\r\x1b[2K" + text)
            self.out.flush()
            return
        decile = int(fraction * 10)
        if decile != self.last_decile:
            self.last_decile = decile
            print(text, file=self.out, flush=True)

    def training(self, p) -> None:  # p: TrainProgress
        width = 24
        done = int(width * p.step / max(1, p.total_steps))
        bar = "█" * done + "░" * (width - done)
        self._show(f"training {bar} step {p.step}/{p.total_steps} · epoch {p.epoch} · "
                   f"loss {p.loss:.3f} · {p.tokens_per_second:.0f} tok/s · "
                   f"ETA {_duration(p.eta)}", p.step / max(1, p.total_steps))
        if p.step == p.total_steps:
            self.end()

    def cell(self, _cell: object) -> None:
        self.cells += 1
        self._show(f"re-running held-out cases on the tuned model: {self.cells} call(s)", 0.0)

    def end(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()


def finetune_from_cli(args: argparse.Namespace) -> int:
    from workbench.cli.escalate import run_it_first
    from workbench.cli.run import store_path
    from workbench.finetune.loop import finetune_suite
    from workbench.finetune.train import TrainConfig
    from workbench.reports.escalation_text import (
        FINETUNE_HEADER,
        finetune_rows,
        finetune_summary,
        finetune_verdict,
    )
    from workbench.reports.format import Paint

    if args.provider != "local":
        from workbench.cli.hosted import hosted_from_cli

        return hosted_from_cli(args)
    config = TrainConfig(epochs=args.epochs, rank=args.rank, lr=args.lr,
                         batch_size=args.batch_size, max_steps=args.max_steps,
                         threads=args.threads, seed=args.seed)
    progress = ProgressLine(sys.stderr)
    print("fine-tuning: building the training set and loading the base model…",
          file=sys.stderr, flush=True)
    with run_it_first(args.suite):
        outcome = finetune_suite(store_path(args), args.suite, prompt=args.prompt, name=args.name,
                                 config=config, holdout=args.holdout, seed=args.seed,
                                 reruns=args.reruns, on_progress=progress.training,
                                 on_cell=progress.cell, compare_after=not args.no_compare)
    if outcome.comparison is not None:
        progress.end()
    info = outcome.adapter.info
    paint = Paint(sys.stdout.isatty())
    print(f"adapter {info.name}: {display_path(outcome.adapter.folder)}/ — use it as "
          f"model {info.model}")
    losses = info.losses
    print(f"trained on {len(info.train_cases)} example(s) from {info.prompt}, "
          f"{len(losses)} step(s) in {_duration(info.seconds)}; loss "
          f"{losses[0]:.3f} → {losses[-1]:.3f}" if losses else "no steps")
    c = outcome.comparison
    if c is None:
        print("no held-out cases: nothing to compare (use --holdout to keep some out)")
        return 0
    print()
    print(paint(f"After fine-tuning: {finetune_verdict(c).upper()}", "bold"))
    print(finetune_summary(c))
    rows = [FINETUNE_HEADER, *finetune_rows(c)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(FINETUNE_HEADER))]
    for row in rows:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
              .rstrip())
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``finetune`` on the command's subparsers."""
    from workbench.finetune.train import DEFAULT_HOLDOUT, TrainConfig

    d = TrainConfig()
    ft = sub.add_parser("finetune", help="fine-tune the embedded model on the suite (LoRA, on "
                                         "the CPU) and measure the change on held-out cases")
    ft.add_argument("suite", metavar="SUITE", help="suite file, or the name of a suite with runs")
    ft.add_argument("--prompt", metavar="REF",
                    help="build the training set from this version instead of the best one")
    ft.add_argument("--name", metavar="N",
                    help="adapter name (default: the suite's name and the time); the tuned "
                         "model is local/smollm2+N")
    ft.add_argument("--epochs", type=int, default=d.epochs, metavar="E",
                    help=f"passes over the training set (default {d.epochs})")
    ft.add_argument("--rank", type=int, default=d.rank, metavar="R",
                    help=f"LoRA rank (default {d.rank})")
    ft.add_argument("--lr", type=float, default=d.lr, metavar="X",
                    help=f"learning rate (default {d.lr:g})")
    ft.add_argument("--batch-size", type=int, default=d.batch_size, metavar="B",
                    help=f"examples per step (default {d.batch_size})")
    ft.add_argument("--max-steps", type=int, metavar="S", help="stop training after S steps")
    ft.add_argument("--threads", type=int, metavar="T", help="CPU threads (default: all)")
    ft.add_argument("--holdout", type=float, default=DEFAULT_HOLDOUT, metavar="FRACTION",
                    help=f"share of cases kept out of training and compared on "
                         f"(default {DEFAULT_HOLDOUT:g})")
    ft.add_argument("--seed", type=int, default=0, help="seed of the split and of training")
    ft.add_argument("--reruns", type=int, metavar="N",
                    help="reruns per held-out case on the tuned model (default: as the best "
                         "version's run)")
    ft.add_argument("--no-compare", action="store_true",
                    help="train and register only; no re-run")
    ft.add_argument("--provider", choices=["local", "openai"], default="local",
                    help="local: LoRA on the embedded model; openai: a hosted fine-tuning job "
                         "through an OpenAI-compatible fine-tuning API")
    ft.add_argument("--base-model", metavar="M",
                    help="--provider openai: the model to fine-tune (e.g. gpt-4o-mini-2024-07-18)")
    ft.add_argument("--api-base", metavar="URL",
                    help="--provider openai: the API's base URL (default: the SDK's)")
    ft.add_argument("--api-key-env", metavar="VAR", default="OPENAI_API_KEY",
                    help="--provider openai: the variable holding the key")
    ft.add_argument("--poll", type=float, default=10.0, metavar="S",
                    help="--provider openai: seconds between status checks")
    ft.add_argument("--db", metavar="F", help="store (default: .workbench/workbench.db)")
    ft.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace) -> int:
    if args.holdout is not None and not 0.0 <= args.holdout < 1.0:
        raise InputError("--holdout is the held-out fraction: at least 0 and below 1 "
                         "(e.g. --holdout 0.25)")
    return finetune_from_cli(args)
