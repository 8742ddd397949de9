"""The command line: thin shells over the library."""

from workbench.cli.main import main

__all__ = ["main"]
