"""Prompt Workbench: version prompts, run suites through litellm, measure output variance."""

__version__ = "0.1.0"
