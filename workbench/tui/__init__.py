"""The Textual app: prompts, suites, live runs, results and charts over the library.

Importing this package is cheap; :func:`run_tui` imports Textual and the app on demand so
``workbench --help`` stays instant, and litellm is imported only when a run starts.
"""

from __future__ import annotations

from pathlib import Path


def run_tui(project: Path, *, db: Path | None = None) -> int:
    """Open the app on ``project`` (the folder holding prompts/ and suites/); blocks."""
    from workbench.tui.app import WorkbenchApp

    WorkbenchApp(project, db=db).run()
    return 0
