"""Scale: a run's memory and store size as the number of cells grows.

Each size runs in a fresh subprocess (so one run's peak cannot hide another's) against
``FakeServerProcess`` with no latency, and reports, per phase:

* setup — litellm imported, the suite loaded and validated (every case rendered), the run
  recorded: this grows with the number of *cases*, the input itself;
* run — the Runner executing every cell, each committed to SQLite as it finishes: this must
  stay flat in the number of *cells* (a fixed pool of workers, cells streamed from the plan);
* report — the step after the run: grouping every stored cell and writing JSON, JUnit and
  Markdown, which holds the run in memory and so grows with the cells;
* the store's size on disk.

By default the case count is fixed and reruns vary (2,000 vs 20,000 cells = 1,000 cases × 2
vs × 20), so the run figures isolate the effect of cells; ``--vary cases`` keeps reruns at 2
and varies the cases instead, to show what the input costs.

Run: ``.venv/bin/python bench/scale.py [--cells 2000 20000] [--cases 1000] [--vary reruns]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _fixtures import conditions, make_project, peak_rss_mib, reset_peak_rss, rss_mib

from workbench.testing.fakeserver import FakeServerProcess

CONCURRENCY = 64


def child(cells: int, cases: int, base_url: str, folder: Path) -> dict[str, float]:
    """One size, in this (fresh) process: returns its figures."""
    from workbench.analysis.results import load_results
    from workbench.cli.run import write_reports
    from workbench.engine.plan import make_plan
    from workbench.engine.runner import Runner
    from workbench.engine.session import record_run
    from workbench.models import litellm_module
    from workbench.store.database import Store
    from workbench.suites.loader import load_suite

    litellm_module()
    figures: dict[str, float] = {"base_mib": rss_mib()}
    reset_peak_rss()
    suite = load_suite(make_project(folder, base_url, cases=cases, reruns=cells // cases,
                                    concurrency=CONCURRENCY))
    db = folder / "wb.db"
    store = Store(db)
    plan = make_plan(suite)
    run_id = record_run(suite, store, plan)
    runner = Runner(plan, {v.ref: v for v in suite.variants}, store, run_id)
    figures["setup_peak_mib"] = peak_rss_mib()
    figures["setup_mib"] = rss_mib()

    reset_peak_rss()
    started = time.perf_counter()
    ran = asyncio.run(runner.run())
    figures["run_s"] = time.perf_counter() - started
    figures["run_peak_mib"] = peak_rss_mib()
    assert ran == cells == store.count_cells(run_id), (ran, cells)
    store.set_status(run_id, "finished")

    reset_peak_rss()
    started = time.perf_counter()
    results = load_results(store, run_id)
    write_reports(results, json_path=str(folder / "r.json"), junit_path=str(folder / "r.xml"),
                  md_path=str(folder / "r.md"))
    figures["report_s"] = time.perf_counter() - started
    figures["report_peak_mib"] = peak_rss_mib()
    del results
    store.close()  # checkpoints the WAL into the database file
    figures["store_mib"] = sum(p.stat().st_size for p in folder.glob("wb.db*")) / 2**20
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--cases", type=int, default=1000,
                        help="cases when reruns vary; reruns are 2 when cases vary")
    parser.add_argument("--vary", choices=["reruns", "cases"], default="reruns")
    parser.add_argument("--child", nargs=4, metavar=("CELLS", "CASES", "URL", "DIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        cells, cases, url, folder = args.child
        print(json.dumps(child(int(cells), int(cases), url, Path(folder))))
        return 0

    print(f"{conditions()}; concurrency {CONCURRENCY}, server latency 0")
    print(f"{'cells':>7} {'shape':>13} {'run s':>7} {'cells/s':>8} {'base':>6} {'setup':>6} "
          f"{'run peak':>9} {'report peak':>12} {'store MiB':>10}")
    rows: list[dict[str, float]] = []
    with FakeServerProcess(latency=0.0) as server:
        for cells in args.cells:
            cases = args.cases if args.vary == "reruns" else cells // 2
            if cells % cases:
                parser.error(f"{cells} cells is not a multiple of {cases} cases")
            with tempfile.TemporaryDirectory(prefix="wb-scale-") as tmp:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(cells), str(cases),
                     server.base_url, tmp],
                    capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(out.stderr[-3000:], file=sys.stderr)
                return 1
            f = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(f)
            print(f"{cells:>7} {f'{cases}×{cells // cases}':>13} {f['run_s']:>7.1f} "
                  f"{cells / f['run_s']:>8.0f} {f['base_mib']:>6.0f} {f['setup_mib']:>6.0f} "
                  f"{f['run_peak_mib']:>9.0f} {f['report_peak_mib']:>12.0f} "
                  f"{f['store_mib']:>10.1f}", flush=True)
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        growth = args.cells[-1] / args.cells[0]
        print(f"from {args.cells[0]:,} to {args.cells[-1]:,} cells (×{growth:g}): run peak "
              f"{last['run_peak_mib'] - first['run_peak_mib']:+.1f} MiB, report peak "
              f"{last['report_peak_mib'] - first['report_peak_mib']:+.1f} MiB, store "
              f"{last['store_mib'] - first['store_mib']:+.1f} MiB")
    print("MiB of RSS: base = litellm imported; setup = suite loaded and run recorded; "
          "run peak / report peak = the peak within that phase")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
