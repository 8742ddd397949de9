"""Per-screen stylesheets, loaded with their screen (``CSS_PATH``) rather than at start-up, so
the first paint parses only ``workbench.tcss`` (the frame and the Prompts screen)."""

from pathlib import Path

STYLES = Path(__file__).resolve().parent
