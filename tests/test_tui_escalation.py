"""The Escalation section: the verdict, trend and reasons of a suite's stored history.

The history is written straight into a real SQLite store (``tests/histories.py``), the same
plateau the library tests use, so the screen must show the verdict the library reaches and
the numbers behind it.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, OptionList, Static
from textual_plotext import PlotextPlot

from tests.histories import Case, Version, add_run, few_shot, zero_shot
from tests.test_tui import table_text, text_of, wait_for
from workbench.store.database import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.escalation import EscalationScreen, trend_series

LABELS = ["billing", "shipping", "technical"]
# The versions at temperature 0 also hold the model to the labels (the output-format lever).
VERSIONS = [zero_shot(0.7), few_shot(0.7), few_shot(0, constrain=True),
            few_shot(0, note="reworded", constrain=True),
            few_shot(0, note="reworded again", constrain=True)]


def _plateau_answers(cases: list[Case]) -> list[dict[str, list[str | None]]]:
    """Two sampled versions (3/5 or 2/5 right per case), then three at temperature 0 that get
    the same half right every time: a plateau below a 0.8 pass^5 target."""
    half = len(cases) // 2
    sampled = {c.id: [c.expected] * (3 if i < half else 2) + ["account"] * (2 if i < half else 3)
               for i, c in enumerate(cases)}
    cold = {c.id: [c.expected if i < half else "account"] * 5 for i, c in enumerate(cases)}
    return [sampled, sampled, cold, cold, cold]


def project_with_history(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "prompts" / "p").mkdir(parents=True)
    for number, text in enumerate(VERSIONS, start=1):
        (root / "prompts" / "p" / f"v{number}.yaml").write_text(text)
    cases = [Case(f"c{i:02d}", LABELS[i % 3]) for i in range(20)]
    suites = root / "suites"
    suites.mkdir()
    (suites / "tickets.yaml").write_text(
        "name: tickets\nprompts: [p@1, p@2, p@3, p@4, p@5]\ncases:\n"
        + "".join(f"  - {{id: {c.id}, vars: {{ticket: t}}, expected: {c.expected}}}\n"
                  for c in cases)
        + "escalation: {target: 0.9, pass_hat_k: 0.8}\n")
    (suites / "unrun.yaml").write_text(
        "name: unrun\nprompts: [p@1]\ncases:\n  - {id: a, vars: {ticket: t}, expected: billing}\n")
    versions = [Version("p", n, text, answers) for n, (text, answers)
                in enumerate(zip(VERSIONS, _plateau_answers(cases), strict=True), start=1)]
    with Store(root / ".workbench" / "workbench.db") as store:
        add_run(store, "tickets", cases, versions)
        # A second model that measured only the first two versions: still iterating.
        add_run(store, "tickets", cases, versions[:2], model="local/other")
    return root


async def test_escalation_shows_verdict_trend_and_reasons(tmp_path: Path) -> None:
    app = WorkbenchApp(project_with_history(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        screen = app.screen
        assert isinstance(screen, EscalationScreen)
        await wait_for(pilot, lambda: screen.report is not None, what="escalation report")
        verdict = text_of(screen.query_one("#esc-verdict", Static))
        assert verdict.splitlines()[:3] == [
            "tickets  2 run(s) · target 0.90 (modal share)",
            "▶ local/smollm2: FINE-TUNE",
            "  local/other: KEEP ITERATING",
        ]
        rows = table_text(screen.query_one("#esc-table", DataTable))
        assert [r[0] for r in rows] == ["p@1", "p@2", "p@3 ★", "p@4", "p@5"]
        assert rows[2][1:4] == ["few-shot", "0", "50% (26%–74%)"]  # t(.975, 19): was 28%–72%
        details = text_of(screen.query_one("#esc-details", Static))
        assert ("✓ plateau: none of the last 2 versions improved on the best version "
                "before it") in details
        assert "✓ enough examples" in details
        labels, series = trend_series(screen.report.assessments[0])
        assert labels == ["p@1", "p@2", "p@3", "p@4", "p@5"]
        assert series["pass rate"] == [0.5, 0.5, 0.5, 0.5, 0.5]
        assert series["consistency"] == [0.6, 0.6, 1.0, 1.0, 1.0]
        assert screen.query_one("#esc-trend", PlotextPlot).plt is not None

        await pilot.press("m")  # the other model's assessment
        verdict = text_of(screen.query_one("#esc-verdict", Static))
        assert "▶ local/other: KEEP ITERATING" in verdict
        assert [r[0] for r in table_text(screen.query_one("#esc-table", DataTable))] == [
            "p@1 ★", "p@2"]  # equal numbers: the earlier version is the best

        suites = screen.query_one("#esc-suites", OptionList)
        suites.focus()
        await pilot.press("down")  # the suite that never ran
        await wait_for(pilot, lambda: screen.report is None, what="empty suite")
        verdict = text_of(screen.query_one("#esc-verdict", Static))
        assert verdict == "no stored runs of suite 'unrun' yet (run it first on Suites (2))"
        assert screen.query_one("#esc-table", DataTable).row_count == 0


# -- fine-tuning from the Escalation screen ------------------------------------------------
# The training itself is the library's (tests/test_finetune_train.py runs it for real); here
# a stand-in for finetune_suite reports progress the way it does, so the screen's part —
# start, show the step and loss, cancel, show the comparison when it ends — is what is tested.


def _progress(step: int, total: int = 40):
    from workbench.finetune.train import TrainProgress

    return TrainProgress(step, total, 1, 2.0 / step, 80.0, step * 0.1, (total - step) * 0.1)


async def test_escalation_fine_tune_shows_progress_and_cancel_keeps_nothing(
        tmp_path: Path, monkeypatch) -> None:
    import threading

    import workbench.finetune.loop as loop
    from workbench.finetune.train import TrainingCancelled

    started = threading.Event()

    def training(db, suite, *, on_progress, on_cell, stop, **kw):
        step = 0
        while not stop():
            step += 1
            on_progress(_progress(step))
            started.set()
            threading.Event().wait(0.02)
        raise TrainingCancelled()

    monkeypatch.setattr(loop, "finetune_suite", training)
    app = WorkbenchApp(project_with_history(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        screen = app.screen
        await wait_for(pilot, lambda: screen.report is not None, what="escalation report")
        await pilot.press("t")
        status = screen.query_one("#esc-finetune", Static)
        await wait_for(pilot, lambda: "loss" in text_of(status) and "ETA" in text_of(status),
                       what="training progress")
        assert "(x cancels)" in text_of(status) and "step " in text_of(status)
        await pilot.press("x")
        await wait_for(pilot, lambda: "nothing was kept" in text_of(status), what="cancel")
        assert not screen._tuning


async def test_escalation_shows_the_comparison_when_fine_tuning_ends(
        tmp_path: Path, monkeypatch) -> None:
    import workbench.finetune.loop as loop
    from tests.test_adapters import comparison
    from workbench.models.adapters import AdapterInfo, load_adapter, write_comparison, write_info

    root = project_with_history(tmp_path)
    monkeypatch.setenv("WORKBENCH_ADAPTERS", str(tmp_path / "adapters"))

    def training(db, suite, *, on_progress, on_cell, stop, **kw):
        for step in (1, 2):
            on_progress(_progress(step, 2))
        folder = tmp_path / "adapters" / "t"
        write_info(folder, AdapterInfo(name="t", suite="tickets", prompt="p@3",
                                       losses=(2.0, 1.0)))
        write_comparison(folder, comparison("t", 9.0))
        return loop.FinetuneOutcome(load_adapter(folder), None, comparison("t", 9.0), 2)

    monkeypatch.setattr(loop, "finetune_suite", training)
    app = WorkbenchApp(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        screen = app.screen
        await wait_for(pilot, lambda: screen.report is not None, what="escalation report")
        assert "After fine-tuning" not in text_of(screen.query_one("#esc-details", Static))
        await pilot.press("t")
        details = screen.query_one("#esc-details", Static)
        await wait_for(pilot, lambda: "After fine-tuning" in text_of(details),
                       what="the comparison")
        text = text_of(details)
        assert "After fine-tuning: FINE-TUNING HELPED" in text
        assert "pass rate" in text and "+0.30 [+0.10, +0.50]" in text
        assert "local/smollm2+t" in text_of(screen.query_one("#esc-finetune", Static))
