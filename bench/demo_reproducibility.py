"""Is the demo's escalation verdict reproducible? Run its history twice with different base
seeds on the embedded model and compare the verdicts.

The demo suite (the one ``make demo`` escalates, read from the Makefile; or ``--suite``) is
copied with the project's prompts into a fresh folder per seed, its ``seed`` set, run with
``workbench run`` and judged with ``workbench escalate --json``, each in its own process and
store. Reproducible means the same verdict under every seed — or *inconclusive* under all of
them when the evidence is borderline. Prints the verdicts, the numbers behind them, the wall
time and the load average; exits 0 either way (a benchmark reports, it does not gate).

    .venv/bin/python bench/demo_reproducibility.py [--seeds 0 1] [--suite suites/X.yaml]
                                                   [--keep DIR]

``--keep DIR`` leaves each seed's project (prompts, suites, store, escalation.json) under DIR,
e.g. to write the escalation report of a run with ``workbench escalate``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def demo_suite() -> str:
    """The suite ``make demo`` escalates."""
    match = re.search(r"workbench escalate (\S+)", (ROOT / "Makefile").read_text())
    if not match:
        raise SystemExit("no 'workbench escalate SUITE' in the Makefile: pass --suite")
    return match.group(1)


def workbench(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-P", "-m", "workbench", *args], cwd=project,
                          capture_output=True, text=True, check=False)


def run_once(suite: str, seed: int, work: Path) -> dict[str, Any]:
    """Run the suite's history under one base seed; the escalation report as JSON."""
    project = work / f"seed-{seed}"
    shutil.copytree(ROOT / "prompts", project / "prompts")
    shutil.copytree(ROOT / "suites", project / "suites")
    path = project / suite
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec["seed"] = seed
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    started = time.perf_counter()
    run = workbench(project, "run", suite, "--quiet")
    if run.returncode not in (0, 1):
        raise SystemExit(f"seed {seed}: workbench run failed ({run.returncode}):\n{run.stderr}")
    seconds = time.perf_counter() - started
    esc = workbench(project, "escalate", suite, "--json", "escalation.json")
    if esc.returncode != 0:
        raise SystemExit(f"seed {seed}: workbench escalate failed:\n{esc.stderr}")
    report = json.loads((project / "escalation.json").read_text(encoding="utf-8"))
    report["seconds"] = seconds
    return report


def describe(a: dict[str, Any]) -> str:
    best = next(t for t in a["trend"] if t["ref"] == a["best"])
    return (f"{a['verdict']:<28} best {a['best']}: pass rate {best['pass_rate']['value']:.2f}, "
            f"modal share {best['modal_share']:.2f}, parse rate {best['parse_rate']:.2f}, "
            f"pass^{best['k']} {best['pass_hat_k']['value']:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--suite", default=None, help="default: the suite make demo escalates")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep each seed's project folder under this directory")
    ns = parser.parse_args()
    suite = ns.suite or demo_suite()
    print(f"{suite}: seeds {', '.join(map(str, ns.seeds))} · "
          f"load average {os.getloadavg()[0]:.2f} at start")
    if ns.keep is not None:
        ns.keep.mkdir(parents=True, exist_ok=True)
        reports = {seed: run_once(suite, seed, ns.keep) for seed in ns.seeds}
    else:
        with tempfile.TemporaryDirectory(prefix="wb-repro-") as tmp:
            reports = {seed: run_once(suite, seed, Path(tmp)) for seed in ns.seeds}
    verdicts: dict[str, list[str]] = {}
    for seed, report in reports.items():
        print(f"\nseed {seed} ({report['seconds']:.0f} s, {len(report['runs'])} run(s)):")
        for a in report["assessments"]:
            verdicts.setdefault(a["model"], []).append(a["verdict"])
            print(f"  {a['model']}: {describe(a)}")
            for check in a["checks"]:
                print(f"    {'✓' if check['ok'] else '✗'} {check['name']}: {check['detail']}")
    print()
    for model, seen in verdicts.items():
        same = len(set(seen)) == 1
        print(f"{model}: {' | '.join(seen)} → "
              + ("reproducible" + (" (inconclusive under every seed)"
                                   if seen[0] == "inconclusive" else "") if same
                 else "NOT reproducible: the verdict depends on the seed"))
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
