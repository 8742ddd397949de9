"""Writing candidates as prompt versions with their ``origin`` block.

A candidate is measured first and saved after, so its version file carries the scores it was
chosen on: its parent, the generator that proposed it, the search, the round, and the search
split's objective with its interval and the paired difference against the parent. Versions
are written through :meth:`workbench.prompts.library.PromptLibrary.save`: the next number,
validated, created atomically and never over an existing file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.config.yaml import dump_yaml
from workbench.prompts.library import PromptLibrary
from workbench.prompts.version import PromptVersion, content_hash, parse_version_text


def identity(data: dict[str, Any]) -> str:
    """What makes two candidates the same prompt: their data, without any origin."""
    return content_hash(dump_yaml({k: v for k, v in data.items() if k != "origin"}))


def origin(parent: str, generator: str, search: str, round_: int, note: str,
           scores: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"parent": parent, "generator": generator, "search": search,
                             "round": round_, "note": note}
    if scores is not None:
        block["scores"] = scores
    return block


def version_text(data: dict[str, Any], origin_block: dict[str, Any]) -> str:
    body = {k: v for k, v in data.items() if k != "origin"}
    return dump_yaml({**body, "origin": origin_block})


def draft_version(name: str, text: str, path: Path) -> PromptVersion:
    """The candidate validated as a version file (version 0: it has no number yet)."""
    return parse_version_text(text, path, name, 0)


def save_version(library: PromptLibrary, name: str, text: str) -> PromptVersion:
    return library.save(name, text)
