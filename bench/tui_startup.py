"""Cold start of the TUI: a fresh interpreter, to the first frame of the Prompts screen.

Each sample starts a new Python process that opens ``WorkbenchApp`` headless at 120×40 on a
project folder and exits on Textual's ``Ready`` event (sent once the first frame has been
composited). The figure is wall time from just before the process is spawned to that event,
so it includes interpreter start-up and every import. The child also reports whether
litellm, the validation and template libraries or the Playground were imported (none may
be: they load after the first frame, or when a run starts or the Playground opens). A
minimal Textual app is timed the same way, interleaved, as the floor under the same machine
load; the target is a first frame within 1.2× of its.

Run: ``python bench/tui_startup.py [--project DIR] [--samples 7]`` (default project: the
repository's own ``prompts/`` and ``suites/``).
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
from typing import Any

# Standard library only; its LITELLM_LOCAL_MODEL_COST_MAP default reaches the children,
# but nothing reads it before litellm is imported, which must not happen before paint.
from _fixtures import REPO, conditions

CHILD = r"""
import json, sys, time
started = time.time()
from workbench.tui.app import WorkbenchApp
imported = time.time()

class Probe(WorkbenchApp):
    def on_ready(self):
        self.painted = time.time()
        self.cpu = time.process_time()
        self.first_screen = type(self.screen).__name__
        self.modules = set(sys.modules)
        self.exit()

app = Probe(sys.argv[1], db=sys.argv[2])
app.run(headless=True, size=(120, 40))
print(json.dumps({"started": started, "imported": imported, "painted": app.painted,
                  "cpu": app.cpu,
                  "litellm": "litellm" in sys.modules,
                  "heavy": sorted(m for m in ("pydantic", "jinja2", "workbench.playground",
                                              "workbench.tui.screens.playground")
                                  if m in app.modules),
                  "screen": app.first_screen}))
"""


# The floor on this machine: the smallest Textual app (header, one line of text, footer),
# timed the same way, so the figure above can be read against what Textual itself costs.
BASELINE = r"""
import json, sys, time
started = time.time()
from textual.app import App
from textual.widgets import Footer, Header, Static
imported = time.time()

class Probe(App):
    def compose(self):
        yield Header()
        yield Static("hello")
        yield Footer()

    def on_ready(self):
        self.painted = time.time()
        self.cpu = time.process_time()
        self.exit()

app = Probe()
app.run(headless=True, size=(120, 40))
print(json.dumps({"started": started, "imported": imported, "painted": app.painted,
                  "cpu": app.cpu, "litellm": False, "heavy": [], "screen": "baseline"}))
"""


def sample(project: Path, db: Path, child: str = CHILD,
           env: dict[str, str] | None = None) -> dict[str, Any]:
    spawned = time.time()
    out = subprocess.run([sys.executable, "-c", child, str(project), str(db)], cwd=REPO,
                         capture_output=True, text=True, check=True, env=env)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "first_paint": data["painted"] - spawned,
        "cpu": data["cpu"],
        "interpreter": data["started"] - spawned,
        "imports": data["imported"] - data["started"],
        "app": data["painted"] - data["imported"],
        "litellm": data["litellm"],
        "heavy": data["heavy"],
        "screen": data["screen"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args()
    db = Path("/nonexistent-workbench-bench/workbench.db")  # no store: Prompts needs none
    # Warm the OS file cache and write the .pyc files, as an installed package has them
    # (even where PYTHONDONTWRITEBYTECODE is set: the Textual baseline's are in site-packages).
    warm_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    sample(args.project, db, env=warm_env)
    sample(args.project, db, BASELINE, env=warm_env)
    runs, baseline = [], []
    for _ in range(args.samples):  # interleaved, so both see the same machine load
        runs.append(sample(args.project, db))
        baseline.append(sample(args.project, db, BASELINE))
    if any(r["litellm"] for r in runs):
        print("FAIL: litellm was imported before the first paint")
        return 1
    heavy = sorted({m for r in runs for m in r["heavy"]})
    if heavy:
        print(f"FAIL: imported before the first paint: {', '.join(heavy)}")
        return 1
    print(f"TUI cold start to first paint ({runs[0]['screen']}, 120×40, "
          f"{args.samples} samples, project {args.project}):")
    for key in ("first_paint", "interpreter", "imports", "app", "cpu"):
        values = [r[key] * 1000 for r in runs]
        print(f"  {key:<12} median {statistics.median(values):6.0f} ms   "
              f"min {min(values):6.0f}   max {max(values):6.0f}")
    print("  (cpu: the child's CPU time at the first paint, interpreter start-up included;\n"
          "   wall time well above it means other processes had the cores)")
    for key in ("first_paint", "cpu"):
        values = [r[key] * 1000 for r in baseline]
        print(f"  baseline {key:<12} median {statistics.median(values):6.0f} ms   "
              f"min {min(values):6.0f}   (a minimal Textual app: header, text, footer)")
    print("  litellm, pydantic, jinja2, the playground imported: no")
    app = statistics.median(r["first_paint"] for r in runs)
    floor = statistics.median(r["first_paint"] for r in baseline)
    cpu = statistics.median(r["cpu"] for r in runs) / statistics.median(
        r["cpu"] for r in baseline)
    ratio = app / floor
    print(f"  ratio to the minimal app: {ratio:.2f}× first paint (target 1.2×: "
          f"{'met' if ratio <= 1.2 else 'NOT met'}), {cpu:.2f}× CPU")
    print(conditions())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
