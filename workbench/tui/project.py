"""The project folder the app works in: its paths, its prompt library and its stored runs.

Screens talk to the library through this object only; it imports the library modules on
first use, so the first screen paints before pydantic, Jinja2 or litellm are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.analysis.results import RunResults
    from workbench.escalation.pipeline import ReportCache
    from workbench.escalation.report import EscalationReport
    from workbench.prompts.library import PromptLibrary
    from workbench.store.database import Store


@dataclass
class Project:
    """Paths of one project: ``prompts/``, ``suites/`` and the store."""

    root: Path
    db: Path | None = None
    _library: PromptLibrary | None = field(default=None, repr=False)
    _results: dict[str, tuple[int, str, int | None, RunResults]] = field(default_factory=dict,
                                                                           repr=False)
    _escalations: ReportCache = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def prompts_dir(self) -> Path:
        return self.root / "prompts"

    @property
    def suites_dir(self) -> Path:
        return self.root / "suites"

    @property
    def db_path(self) -> Path:
        if self.db is not None:
            return Path(self.db)
        from workbench.store.database import default_db_path

        return default_db_path(self.root)

    @property
    def library(self) -> PromptLibrary:
        if self._library is None:
            from workbench.prompts.library import PromptLibrary

            self._library = PromptLibrary(self.prompts_dir)
        return self._library

    def suite_files(self) -> list[Path]:
        """Suite files under ``suites/`` (``.yaml``/``.yml``), by name."""
        if not self.suites_dir.is_dir():
            return []
        return sorted(p for p in self.suites_dir.iterdir()
                      if p.suffix in {".yaml", ".yml"} and p.is_file())

    def has_store(self) -> bool:
        return self.db_path.exists()

    def open_store(self) -> Store:
        """A new connection (SQLite connections stay in the thread that opened them)."""
        from workbench.store.database import Store

        return Store(self.db_path)

    def results(self, run_id: str | None = None) -> RunResults | None:
        """A run's grouped results (default: the newest run), recomputed only when it changed.

        Call from a worker thread: a large run takes a moment to group and measure.
        """
        if not self.has_store():
            return None
        from workbench.analysis.results import load_results

        with self.open_store() as store:
            info = store.run(run_id) if run_id else store.latest_run()
            if info is None:
                return None
            count = store.count_cells(info.id)
            # A playground run attached to a saved version names that version from then on.
            state = (count, info.status, info.attached_version)
            cached = self._results.get(info.id)
            if cached is not None and cached[:3] == state:
                return cached[3]
            results = load_results(store, info.id)
            self._results[info.id] = (*state, results)
            return results

    def escalation(self, suite_file: Path) -> EscalationReport:
        """The escalation report of a suite file's stored history (its settings come from
        the file), rebuilt only when the file's settings or the suite's runs changed. Raises
        ``InputError`` when the suite is invalid or has no stored runs.

        Call from a worker thread: every stored run of the suite is grouped and measured.
        """
        from workbench.errors import InputError, Problem
        from workbench.escalation.history import NoHistoryError
        from workbench.escalation.pipeline import assess_suite

        try:
            return assess_suite(self.db_path, suite_file, cache=self._escalations)
        except NoHistoryError as exc:
            if exc.ran:  # runs without results: the store's own message says what to do
                raise
            raise InputError(Problem(f"no stored runs of suite '{exc.suite}' yet",
                                     hint="run it first on Suites (2)")) from None
