"""The row of sections under the header: where you are, and the key for everywhere else."""

from __future__ import annotations

from textual.widgets import Static


class SectionBar(Static):
    """``1 Prompts  2 Suites  …`` with the current section highlighted; each is clickable."""

    def __init__(self, active: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.active = active

    def on_mount(self) -> None:
        # Titles are the app's own constants (never user or model text), so markup is safe.
        # No empty style tag for the inactive ones: Textual's markup parser runs a fuzzy
        # suggestion search (difflib) for a tag it does not know, a few milliseconds of the
        # first frame.
        parts = []
        for section in self.app.sections:
            label = f" [b]{section.key}[/b] {section.title} "
            if section.id == self.active:
                label = f"[reverse bold]{label}[/]"
            parts.append(f"[@click=app.section('{section.id}')]{label}[/]")
        self.update(" ".join(parts))
