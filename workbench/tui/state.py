"""What the sections share, and the messages that change it: attributes down, messages up.

The app owns the shared state as reactive attributes (:class:`~workbench.tui.app.WorkbenchApp`:
the project, the selected prompt version and suite, the current run, a run request not yet
taken). Screens read
them, and watch them where they must follow a change; they never assign them. A screen posts
one of the messages below instead: it bubbles up to the app, which updates its attributes and
switches sections. So every change of shared state has one handler, in the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from workbench.suites.spec import ModelSpec


@dataclass(frozen=True, eq=False)  # identity: the same picks twice are two runs
class RunRequest:
    """A run for the Run screen to start (the suite and the picks; None: as written in the
    suite), or the stored run to resume instead."""

    suite: Path | None = None
    prompts: list[str] | None = None
    models: list[str | ModelSpec] | None = None
    reruns: int | None = None
    resume: str | None = None  # a run id: finish its missing cells instead


@dataclass
class PromptSelected(Message):
    """The user moved to a prompt version (on Prompts, or by saving one): the Playground
    opens on it."""

    name: str
    version: int


@dataclass
class SuitePicked(Message):
    """The user moved to a suite: Run's ``r`` runs it, Escalation opens on it."""

    suite: Path


@dataclass
class RunRequested(Message):
    """Start (or resume) a run: the app hands it to the Run screen and shows that screen."""

    request: RunRequest


@dataclass
class RunRequestTaken(Message):
    """The Run screen took the pending request: it is no longer pending."""

    request: RunRequest


@dataclass
class RunStarted(Message):
    """A run is recorded and its cells are running: it becomes the current run."""

    run_id: str


@dataclass
class RunFinished(Message):
    """A run stopped: ``status`` is finished, interrupted or what made it fail."""

    run_id: str
    suite: str
    status: str


@dataclass
class RunSelected(Message):
    """The user chose a run to look at; ``open_results`` also opens it on Results."""

    run_id: str
    open_results: bool = False
