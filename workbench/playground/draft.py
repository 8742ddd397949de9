"""A draft: a prompt text edited from a saved version, before it becomes the next one.

A draft has no version number. Runs know it by its content hash — the hash the text will
have as a version file, so a saved draft is recognised — and by the version it was edited
from (``name@N``). Drafts are kept outside the versioned files, one per edited version
under ``.workbench/drafts/`` in the project, so an edit survives a restart without ever
touching ``prompts/``.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.atomic import atomic_write_text
from workbench.prompts.version import PromptVersion, content_hash, parse_version_text

DRAFTS_DIR = Path(".workbench") / "drafts"


def file_text(text: str) -> str:
    """The text as :meth:`PromptLibrary.save` writes it: ending with one newline."""
    return text if text.endswith("\n") else text + "\n"


@dataclass(frozen=True)
class Draft:
    """An edit of ``name@parent``; ``text`` is the YAML as typed."""

    name: str
    parent: int
    text: str

    @property
    def parent_ref(self) -> str:
        return f"{self.name}@{self.parent}"

    @property
    def hash(self) -> str:
        """The content hash the text will have once saved as a version."""
        return content_hash(file_text(self.text))

    @property
    def ref(self) -> str:
        """How a run names the draft until it is saved: ``ticket@draft:1a2b3c4d5e6f``.

        A colon cannot appear in a label, so this never names a saved version.
        """
        return f"{self.name}@draft:{self.hash[:12]}"

    def version(self, path: Path) -> PromptVersion:
        """The draft validated like a version file (version 0: it has no number yet);
        problems point at ``path``, the file the draft is kept in. Raises ``InputError``."""
        return parse_version_text(file_text(self.text), path, self.name, 0)


def is_draft_ref(ref: str) -> bool:
    return "@draft:" in ref


_SAFE = re.compile(r"[^A-Za-z0-9_.@-]")


class DraftBook:
    """The drafts of one project, autosaved under ``.workbench/drafts/``.

    One draft per version edited (``ticket@2.yaml``: the text exactly as typed, so it can
    also be opened in any editor), and the playground's picks per prompt
    (``ticket.picks.json``), so both survive a restart.
    """

    def __init__(self, project: Path):
        self.folder = Path(project) / DRAFTS_DIR

    def path(self, name: str, parent: int) -> Path:
        return self.folder / _SAFE.sub("_", f"{name}@{parent}.yaml")

    def load(self, name: str, parent: int) -> Draft | None:
        try:
            text = self.path(name, parent).read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        return Draft(name, parent, text)

    def save(self, draft: Draft) -> Path:
        return atomic_write_text(self.path(draft.name, draft.parent), draft.text)

    def discard(self, name: str, parent: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(name, parent).unlink()

    def picks_path(self, name: str) -> Path:
        return self.folder / _SAFE.sub("_", f"{name}.picks.json")

    def load_picks(self, name: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self.picks_path(name).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def save_picks(self, name: str, picks: dict[str, Any]) -> Path:
        return atomic_write_text(self.picks_path(name), json.dumps(picks, indent=1) + "\n")
