"""How long the Results screen takes to show a big run: 500 cases × 4 variants × 5 reruns.

Writes the run straight into a temporary SQLite store
(``workbench.testing.projects.big_project``), then times (1) ``load_results`` alone —
grouping and statistics, including the paired bootstrap of each comparison — and (2) the
TUI from pressing ``4`` to the filled matrix, then a re-filter and a re-sort of the 500 rows.

Run: ``python bench/tui_results.py [--cases 500] [--variants 4] [--reruns 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from _fixtures import conditions

from workbench.analysis.results import load_results
from workbench.store.database import Store
from workbench.testing.projects import BIG_RUN_ID, big_project
from workbench.tui.app import WorkbenchApp


async def through_tui(project: Path) -> tuple[float, float, float]:
    app = WorkbenchApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        start = time.perf_counter()
        await pilot.press("4")
        screen = app.screen
        while screen.results is None:
            await pilot.pause(0.01)
        shown = time.perf_counter() - start
        start = time.perf_counter()
        screen.needle = "case-04"  # the matrix follows the filter at once
        await pilot.pause()
        filtered = time.perf_counter() - start
        start = time.perf_counter()
        await pilot.press("s")
        await pilot.pause()
        sorted_ = time.perf_counter() - start
        return shown, filtered, sorted_


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--reruns", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        project, db = big_project(Path(tmp), args.cases, args.variants, args.reruns)
        written = time.perf_counter() - start
        os.chdir(project)
        start = time.perf_counter()
        with Store(db) as store:
            load_results(store, BIG_RUN_ID)
        loaded = time.perf_counter() - start
        shown, filtered, sorted_ = asyncio.run(through_tui(project))
    cells = args.cases * args.variants * args.reruns
    print(f"results of {args.cases} cases × {args.variants} variants × {args.reruns} reruns "
          f"({cells} cells):")
    print(f"  store written directly   {written:6.2f} s")
    print(f"  load_results             {loaded:6.2f} s")
    print(f"  TUI: key 4 → matrix      {shown:6.2f} s  (loaded in a worker; the UI stays live)")
    print(f"  TUI: re-filter           {filtered * 1000:6.0f} ms")
    print(f"  TUI: re-sort             {sorted_ * 1000:6.0f} ms")
    print(conditions())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
