"""``workbench optimize``: the command-line shell of :func:`workbench.optimize.run_search`
(flags in; a table per round, the summary, report files and an exit code out)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.errors import InputError, display_path

# Named here, not imported, so that ``--help`` stays instant; tests/test_optimize.py checks
# they match the library's.
OBJECTIVE_CHOICES = ("pass_hat_k", "consistency", "pass_rate")
GENERATOR_NAMES = ("few-shot-similar", "few-shot-random", "format-instruction",
                   "format-constrained", "temperature-0", "rewrite-opro", "rewrite-ape")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("optimize", help="search for a more consistent prompt version: "
                                        "candidates measured with reruns, the best confirmed "
                                        "on held-out cases")
    p.add_argument("suite", metavar="SUITE", help="path to a suite YAML file")
    p.add_argument("--prompt", metavar="REF", help="the version to start from (default: the "
                   "best one measured, else the suite's last prompt)")
    p.add_argument("--model", metavar="M", help="the model (default: the suite's first)")
    p.add_argument("--budget", type=int, default=600, metavar="CALLS",
                   help="model calls the whole search may make, the held-out check and "
                        "proposer calls included (default 600)")
    p.add_argument("--max-cost", type=float, metavar="USD", help="stop before spending more")
    p.add_argument("--rounds", type=int, default=3, metavar="R", help="rounds (default 3)")
    p.add_argument("--objective", choices=OBJECTIVE_CHOICES, default="pass_hat_k",
                   help="what to maximise (default pass_hat_k at the suite's k)")
    p.add_argument("--holdout", type=float, default=0.3, metavar="FRACTION",
                   help="share of cases held out for the final check (default 0.3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and random choices")
    p.add_argument("--examples", type=int, default=4, metavar="K",
                   help="few-shot examples to add (default 4)")
    p.add_argument("--generators", metavar="LIST",
                   help="comma-separated strategies (default all: "
                        f"{', '.join(GENERATOR_NAMES)})")
    p.add_argument("--proposer", metavar="MODEL",
                   help="the model that rewrites instructions (default: the suite's model)")
    p.add_argument("--label", metavar="L", help="point this label at the best version when "
                   "the held-out check confirms it (e.g. optimized)")
    p.add_argument("--md", metavar="F", help="write the summary as Markdown here")
    p.add_argument("--html", metavar="F", help="write the summary as HTML here")
    p.add_argument("--json", metavar="F", help="write the summary as JSON here")
    p.add_argument("--db", metavar="F", help="store (default: .workbench/workbench.db)")
    p.add_argument("--quiet", action="store_true", help="print only the final summary")
    return p


def optimize_from_cli(args: argparse.Namespace) -> int:
    from workbench.cli.run import open_store
    from workbench.optimize.generators import GENERATORS
    from workbench.optimize.search import Event, SearchSettings, run_search
    from workbench.reports.optimize import (
        render_optimize_text,
        render_round_text,
        write_optimize,
    )

    generators = tuple(g.strip() for g in args.generators.split(",") if g.strip()) \
        if args.generators is not None else tuple(GENERATORS)
    suite = Path(args.suite)
    if not suite.is_file():
        raise InputError(f"{args.suite}: no such suite file")
    settings = SearchSettings(
        suite_path=suite, prompt=args.prompt, model=args.model, budget=args.budget,
        max_cost=args.max_cost, rounds=args.rounds, objective=args.objective,
        held_out=args.holdout, seed=args.seed, examples=args.examples, generators=generators,
        proposer=args.proposer, label=args.label)
    color = sys.stdout.isatty()

    def show(event: Event) -> None:
        if args.quiet:
            return
        if event.kind == "start":
            s = event.state
            print(f"search {s.id}: {s.suite} from {s.start} on {s.model}; "
                  f"{len(s.search_cases)} search cases, {len(s.held_out_cases)} held out; "
                  f"budget {args.budget} calls (spent so far {s.spent_calls})",
                  file=sys.stderr, flush=True)
        elif event.kind == "measured" and event.candidate is not None:
            c = event.candidate
            value = (c.score or {}).get("value")
            shown = f"{value:.2f}" if value is not None else c.status
            print(f"  measured {c.version or c.ref} ({c.generator}): {shown}",
                  file=sys.stderr, flush=True)
        elif event.kind == "round":
            print(render_round_text(event.state, event.round, color=color), end="", flush=True)
            if event.message and event.round:
                print(f"  {event.message}\n", flush=True)

    with open_store(args) as store:
        state = run_search(settings, store, on_event=show)
    written = write_optimize(state, md=args.md, html=args.html, json_path=args.json)
    print(render_optimize_text(state, color=color), end="", flush=True)
    for path in written:
        print(f"wrote {display_path(path)}", file=sys.stderr)
    return 0
