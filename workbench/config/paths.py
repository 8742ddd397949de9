"""Where a project lives: the folder that holds ``prompts/``."""

from __future__ import annotations

from pathlib import Path


def find_project_root(start: Path) -> Path:
    """The folder holding ``prompts/`` (the suite's parent's parent by convention)."""
    for folder in [start, *start.parents]:
        if (folder / "prompts").is_dir():
            return folder
    return start
