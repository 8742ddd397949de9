"""``workbench finetune --provider openai``: the command-line shell of
:func:`workbench.finetune.hosted.hosted_finetune`."""

from __future__ import annotations

import argparse
import os
import sys

from workbench.errors import InputError, Problem, display_path


def hosted_from_cli(args: argparse.Namespace) -> int:
    from workbench.cli.escalate import run_it_first
    from workbench.cli.run import store_path
    from workbench.finetune.hosted import HostedJobFailed, JobStatus, hosted_finetune
    from workbench.redaction import remember

    if not args.base_model:
        raise InputError(Problem("--provider openai needs --base-model",
                                 hint="the provider's model to fine-tune, e.g. "
                                      "--base-model gpt-4o-mini-2024-07-18"))
    key = os.environ.get(args.api_key_env)
    if not key:
        raise InputError(Problem(f"environment variable {args.api_key_env} is not set",
                                 hint=f"export {args.api_key_env}=... and run again"))
    remember(key)
    if not args.poll > 0:
        raise InputError("--poll must be above 0 seconds")

    def status(s: JobStatus) -> None:
        print(f"job {s.job_id}: {s.status} ({s.elapsed:.0f}s)", file=sys.stderr, flush=True)

    try:
        with run_it_first(args.suite):
            adapter = hosted_finetune(
                store_path(args), args.suite, base_model=args.base_model, api_key=key,
                api_base=args.api_base, prompt=args.prompt, name=args.name,
                holdout=args.holdout, seed=args.seed,
                epochs=args.epochs if args.epochs != 3 else None, poll=args.poll,
                on_status=status)
    except HostedJobFailed as exc:
        print(f"error: fine-tuning failed: {exc}", file=sys.stderr)
        return 1
    info = adapter.info
    print(f"fine-tuned model {info.remote_model} (job {info.remote_job}), recorded in "
          f"{display_path(adapter.folder)}/")
    print(f"trained on {len(info.train_cases)} example(s) from {info.prompt}; "
          f"{len(info.heldout_cases)} held out. Compare on them with: workbench run SUITE "
          f"--model openai/{info.remote_model}")
    return 0
