"""The TUI's escalation report is rebuilt only when what it is built from changed: the suite
file's settings, or the suite's stored runs (a new run, a status, more cells)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.histories import Case, Version, add_run, few_shot
from tests.test_tui_escalation import project_with_history
from workbench.errors import InputError
from workbench.store.database import Store
from workbench.tui._project import Project


def test_report_is_cached_until_the_settings_or_the_runs_change(tmp_path: Path) -> None:
    root = project_with_history(tmp_path)
    project = Project(root)
    suite = root / "suites" / "tickets.yaml"
    first = project.escalation(suite)
    assert project.escalation(suite) is first  # nothing changed: the same report

    suite.write_text(suite.read_text().replace("target: 0.9", "target: 0.8"))
    changed = project.escalation(suite)
    assert changed is not first and changed.settings.target == 0.8
    assert project.escalation(suite) is changed

    cases = [Case(f"c{i:02d}", ["billing", "shipping", "technical"][i % 3]) for i in range(20)]
    with Store(root / ".workbench" / "workbench.db") as store:
        add_run(store, "tickets", cases, [Version("p", 6, few_shot(0, note="v6"),
                                                  {c.id: [c.expected] * 5 for c in cases})])
    rerun = project.escalation(suite)
    assert rerun is not changed and len(rerun.runs) == 3
    assert [t.ref for t in rerun.assessments[0].trend][-1] == "p@6"


def test_suite_without_runs_says_so(tmp_path: Path) -> None:
    root = project_with_history(tmp_path)
    with pytest.raises(InputError) as info:
        Project(root).escalation(root / "suites" / "unrun.yaml")
    assert str(info.value) == "no stored runs of suite 'unrun' yet (run it first on Suites (2))"
