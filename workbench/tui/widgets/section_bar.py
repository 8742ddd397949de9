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
        parts = []
        for section in self.app.sections:
            style = "reverse bold" if section.id == self.active else ""
            parts.append(f"[@click=app.section('{section.id}')][{style or 'none'}]"
                         f" [b]{section.key}[/b] {section.title} [/][/]")
        self.update(" ".join(parts))
