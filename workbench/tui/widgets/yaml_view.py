"""A TextArea for prompt files: YAML highlighting in a palette that suits the app theme."""

from __future__ import annotations

from textual.theme import Theme
from textual.widgets import TextArea


class YamlArea(TextArea):
    """Read-only viewer by default; ``read_only=False`` makes it the version editor."""

    def __init__(self, text: str = "", *, read_only: bool = True, **kwargs) -> None:
        super().__init__(
            text, language="yaml", read_only=read_only, show_line_numbers=True,
            soft_wrap=read_only, tab_behavior="focus" if read_only else "indent", **kwargs,
        )

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._follow_theme)
        self._follow_theme(self.app.current_theme)

    def _follow_theme(self, theme: Theme) -> None:
        # "css" takes its colours from the app theme but its token colours suit dark
        # backgrounds only; the light theme gets a light syntax palette.
        self.theme = "css" if theme.dark else "github_light"
