"""Playground: time from ctrl+r to the first output on the embedded model.

Drives the TUI headless (Textual's Pilot, 120×40) on a project whose suite runs ticket@2 on
``local/smollm2``: opens the Playground, waits for the embedded model it loads in the
background, then for each sample edits the draft (a new text each time, so its cells are
not reused) and presses ctrl+r. Measured from the moment the app handles ctrl+r:

* first output: the first finished cell drawn (the parent's cells run first in a plan, but
  after the first sample they are reused, so from then on this is the draft's first cell);
* first draft output: the first cell of the draft itself;
* whole run: every cell of the draft (2 cases × N=3) and the parent;
* a bare call: the same request straight to ``LocalChatModel.chat``, timed between samples,
  so the first output can be read against what the model itself takes on this machine now.

Run: ``python bench/playground_first_output.py [--samples 5] [--max-tokens 8]``. The model's
speed is the other engineers' and the machine's: read the figures with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from _fixtures import conditions

from workbench.models import local
from workbench.testing.projects import make_project
from workbench.tui.app import WorkbenchApp

CASES = [("charge", "You charged my card twice this month.", "billing"),
         ("parcel", "My parcel is three days late.", "shipping")]


async def measure(project: Path, samples: int, max_tokens: int) -> list[dict[str, float]]:
    from workbench.tui.screens.playground import CaseBlock, PlaygroundScreen

    app = WorkbenchApp(project)
    results: list[dict[str, float]] = []
    async with app.run_test(size=(120, 40)) as pilot:
        while app.selected_prompt != ("ticket", 2):
            await pilot.pause(0.02)
        await pilot.press("7")
        screen = app.screen
        assert isinstance(screen, PlaygroundScreen)
        while not (screen.query("#pg-editor") and screen.workload is not None
                   and len(screen.query(CaseBlock)) == len(CASES)):
            await pilot.pause(0.02)
        loading = time.perf_counter()
        while not local.is_local_model_loaded():  # loaded in the background on opening
            await pilot.pause(0.02)
        print(f"opened; the embedded model was ready {time.perf_counter() - loading:.2f} s "
              "after the playground's first frame")

        marks: dict[str, float] = {}
        run = screen.action_run
        cell_done = PlaygroundScreen.on_playground_screen_cell_done

        def timed_run() -> None:
            marks["ctrl+r"] = time.perf_counter()
            run()

        def timed_cell(self: PlaygroundScreen, message: PlaygroundScreen.CellDone) -> None:
            cell_done(self, message)  # drawn first, then timed
            now = time.perf_counter()
            marks.setdefault("first", now)
            if message.cell.variant == self.board.draft:
                marks.setdefault("draft", now)

        screen.action_run = timed_run  # actions are looked up on the instance
        # Message handlers on the class (Textual looks them up there).
        PlaygroundScreen.on_playground_screen_cell_done = timed_cell
        editor = screen.query_one("#pg-editor")
        model = local.LocalChatModel()
        messages = screen.origin.render(screen.workload.cases[0].vars)
        params = {**screen.origin.spec.params, "max_tokens": max_tokens}
        for sample in range(samples):
            editor.move_cursor((0, 0))
            editor.insert(f"# sample {sample} {time.time()}\n")
            await pilot.pause(0.05)
            marks.clear()
            await pilot.press("ctrl+r")
            while screen.live or screen.status in {"idle", "starting"}:
                await pilot.pause(0.01)
            if screen.status != "finished":
                raise SystemExit(f"the run ended {screen.status}")
            end = time.perf_counter()
            started = time.perf_counter()
            model.chat(messages, seed=sample, **params)
            results.append({"first": marks["first"] - marks["ctrl+r"],
                            "draft": marks["draft"] - marks["ctrl+r"],
                            "run": end - marks["ctrl+r"],
                            "bare": time.perf_counter() - started,
                            "reused": screen.draft_run.reused,
                            "cells": screen.board.total})
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp), reruns=3, cases=CASES, suite_extra={
            "prompts": ["ticket@2"], "models": ["local/smollm2"], "concurrency": 1,
            "params": {"max_tokens": args.max_tokens}})
        results = asyncio.run(measure(project, args.samples, args.max_tokens))
    print(f"ctrl+r → output on local/smollm2 (2 cases × N=3, draft and parent, max_tokens "
          f"{args.max_tokens}, {args.samples} samples; the first sample also runs the "
          "parent's cells, later ones reuse them):")
    for i, r in enumerate(results):
        print(f"  sample {i}: first output {r['first']:.2f} s · first draft output "
              f"{r['draft']:.2f} s · whole run {r['run']:.2f} s ({r['reused']:.0f} of "
              f"{r['cells']:.0f} cells reused) · a bare call {r['bare']:.2f} s")
    later = results[1:] or results
    for key, label in (("first", "first output"), ("draft", "first draft output"),
                       ("run", "whole run"), ("bare", "a bare model call")):
        values = [r[key] for r in later]
        print(f"  {label:<19} median {statistics.median(values):.2f} s   min "
              f"{min(values):.2f}   max {max(values):.2f}   (samples after the first)")
    print(conditions())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
