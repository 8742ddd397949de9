"""The TUI's escalation report is rebuilt only when what it is built from changed: the suite
file's settings, or the suite's stored runs (a new run, a status, more cells)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.histories import Case, Version, add_run, few_shot
from tests.test_tui_escalation import project_with_history
from workbench.errors import InputError
from workbench.store.database import Store
from workbench.tui.project import Project


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


def test_runs_without_results_and_a_missing_store_are_told_apart(tmp_path: Path) -> None:
    """A suite that ran but stored nothing yet gets the store's own advice (finish the run); a
    missing store is never created by reading it."""
    from tests.test_tui_escalation import VERSIONS
    from workbench.engine.plan import Plan, PlanCase, PlanVariant
    from workbench.errors import display_path
    from workbench.prompts.version import content_hash

    root = project_with_history(tmp_path)
    suite = root / "suites" / "unrun.yaml"
    elsewhere = tmp_path / "elsewhere.db"
    with pytest.raises(InputError) as info:
        Project(root, db=elsewhere).escalation(root / "suites" / "tickets.yaml")
    assert str(info.value) == ("no stored runs of suite 'tickets' yet "
                               "(run it first on Suites (2))")
    assert not elsewhere.exists()

    db = root / ".workbench" / "workbench.db"
    plan = Plan("unrun", "suites/unrun.yaml", str(root / "suites"),
                [PlanVariant("p@1", "p", 1, content_hash(VERSIONS[0]), "prompts/p/v1.yaml")],
                [{"name": "local/smollm2"}], [("p@1", "local/smollm2")],
                [PlanCase("a", {"ticket": "t"}, "billing", [], None)], 1, {}, 0, 1, 30.0, 1,
                None, {})
    with Store(db) as store:  # started, then interrupted before its first cell
        store.create_run("r-empty", "unrun", plan.suite_path, plan.to_dict(), plan.total_cells)
    with pytest.raises(InputError) as info:
        Project(root).escalation(suite)
    assert str(info.value) == (f"{display_path(db)}: the runs of suite 'unrun' have no results "
                               "yet (finish one: workbench run SUITE --resume RUN)")
