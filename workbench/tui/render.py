"""Small renderers shared by the screens: inert text, rate colours, cell glyphs.

Model output and user files are shown only through :func:`inert`, which returns a Rich
``Text`` (never markup) with terminal escape sequences removed, so an output containing
``[bold]`` or ``ESC[2J`` is displayed as the characters it is and cannot restyle the app.
The colours are mid-tones chosen to stay readable on both the dark and the light theme.
"""

from __future__ import annotations

from rich.text import Text

from workbench.text import one_line, strip_terminal

GOOD = "#2e9e4f"
FAIR = "#c88a00"
POOR = "#d03b3b"
MUTED = "#8a8a8a"

# Backgrounds for pass-rate cells, each with a foreground that reads on it.
_RATE_BG = (
    (1.0, "#10140f on #6cc070"),
    (0.5, "#10140f on #e5c07b"),
    (1e-9, "#10140f on #f0a070"),
    (0.0, "#ffffff on #b83a3a"),
)


def inert(text: str | None, *, style: str = "", limit: int | None = None) -> Text:
    """Text shown exactly as written: no markup, no escape sequences, no control chars."""
    clean = strip_terminal(text or "")
    if limit is not None:
        clean = one_line(clean, limit)
    out = Text(clean, no_wrap=limit is not None)
    if style:
        out.stylize(style)  # a span, not the base style: text appended later stays plain
    return out


def rate_style(rate: float) -> str:
    """Background style for a pass rate: green all pass, amber most, orange some, red none."""
    for floor, style in _RATE_BG:
        if rate >= floor:
            return style
    return _RATE_BG[-1][1]


def level_color(value: float) -> str:
    """Foreground colour for a 0–1 score where higher is better (consistency, agreement):
    good from 0.8, fair from 0.6."""
    if value >= 0.8:
        return GOOD
    return FAIR if value >= 0.6 else POOR


def rerun_glyph(passed: bool | None, error: bool = False) -> Text:
    """One rerun in a live row: ✓ passed, ✗ failed, ! error, · not yet run."""
    if passed is None:
        return Text("·", style=MUTED)
    if error:
        return Text("!", style=f"bold {POOR}")
    return Text("✓", style=f"bold {GOOD}") if passed else Text("✗", style=f"bold {POOR}")


def pass_cell(passes: int, n: int, modal_share: float) -> Text:
    """A matrix cell: ``3/5`` on a pass-rate background, then the modal share coloured."""
    rate = passes / n if n else 0.0
    cell = Text()
    cell.append(f" {passes}/{n} ", style=rate_style(rate))
    cell.append(" ")
    cell.append(f"{modal_share:.2f}", style=f"bold {level_color(modal_share)}")
    return cell
