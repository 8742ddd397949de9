"""CLI start-up: how long ``workbench --help`` and friends take, and what they import.

litellm takes seconds to import, so the commands that do not call a model must never
import it: ``--help`` should answer in well under a second. Each command
runs ``--runs`` times in a fresh interpreter (the first run warms the OS file cache and is
not counted); the median wall time is reported, with litellm's own import time for scale,
and every heavy package the command imported is named.

Run: ``.venv/bin/python bench/cli_startup.py [--runs 7]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _fixtures import REPO, conditions

HEAVY = ("litellm", "openai", "textual", "llama_cpp", "scipy", "numpy", "aiohttp", "jinja2")
COMMANDS = {
    "workbench --help": ["--help"],
    "workbench run --help": ["run", "--help"],
    "workbench --version": ["--version"],
}
# Runs the CLI as `python -m workbench` would, then reports which heavy packages it loaded.
PROBE = """
import runpy, sys
sys.argv = ["workbench", *sys.argv[1:]]
try:
    runpy.run_module("workbench", run_name="__main__")
except SystemExit:
    pass
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
print("LOADED", ",".join(loaded), file=sys.stderr)
"""


def timed(args: list[str], runs: int) -> list[float]:
    times = []
    for i in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(args, cwd=REPO, capture_output=True, check=True)
        if i:  # the first run only warms the file cache
            times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    print(conditions())
    python = [sys.executable]
    baseline = statistics.median(timed([*python, "-c", "pass"], args.runs))
    print(f"{'python -c pass':<24} {baseline:6.3f} s  (the interpreter alone)")
    litellm = statistics.median(timed(
        [*python, "-c", "import os; os.environ['LITELLM_LOCAL_MODEL_COST_MAP'] = 'True'; "
                        "import litellm"], max(1, args.runs // 2)))
    print(f"{'import litellm':<24} {litellm:6.3f} s  (what the CLI must not pay for --help)")
    for label, cli_args in COMMANDS.items():
        median = statistics.median(timed([*python, "-m", "workbench", *cli_args], args.runs))
        probe = subprocess.run(
            [*python, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}", *cli_args],
            cwd=REPO, capture_output=True, text=True, check=True)
        loaded = probe.stderr.rsplit("LOADED ", 1)[-1].strip() or "none"
        print(f"{label:<24} {median:6.3f} s  heavy imports: {loaded}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
