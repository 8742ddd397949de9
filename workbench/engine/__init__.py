"""The run engine: a suite frozen into a plan, its cells executed and committed one by one."""

from workbench.engine.plan import Plan, make_plan
from workbench.engine.progress import Progress
from workbench.engine.runner import Runner
from workbench.engine.session import (
    PreparedRun,
    close_run,
    execute,
    resume_run,
    run_suite,
    start_run,
)

__all__ = [
    "Plan",
    "PreparedRun",
    "Progress",
    "Runner",
    "close_run",
    "execute",
    "make_plan",
    "resume_run",
    "run_suite",
    "start_run",
]
