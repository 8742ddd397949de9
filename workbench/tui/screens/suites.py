"""Suites: the suite files, their cases, and which variants and models to run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from workbench.errors import InputError
from workbench.tui.render import MUTED, POOR, inert
from workbench.tui.screens.base import SectionScreen
from workbench.tui.state import RunRequest, RunRequested, SuitePicked


def compact(value: Any, limit: int = 60) -> Text:
    """A var or expected value on one line: strings as they are, the rest as JSON."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return inert(text, limit=limit)


def problems_text(exc: InputError, heading: str) -> Text:
    out = Text(heading + "\n", style=f"bold {POOR}")
    for problem in exc.problems:
        out.append_text(inert(f"• {problem}\n"))
    return out


class SuitesScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("suites.tcss")
    SECTION = "suites"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run", "Run with picks"),
        Binding("v", "validate", "Validate picks"),
        Binding("f5", "reload", "Reload"),
        # Not in the footer: the footer's keys are the picks' (README: Optimize).
        Binding("o", "optimize", "Optimize this suite", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.suite = None  # the loaded Suite, or None if it has problems
        self.suite_path: Path | None = None
        self._default_prompts: list[str] = []
        self._default_models: list[str] = []
        self._model_specs: dict[str, Any] = {}

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="suites-body"):
            with Vertical(id="suite-list-pane", classes="pane"):
                yield Label("Suites", classes="pane-title")
                yield OptionList(id="suite-list")
            with Vertical(id="suite-detail", classes="pane"):
                yield Static(id="suite-info")
                yield Static(id="suite-problems")
                table: DataTable = DataTable(id="case-table", cursor_type="row", zebra_stripes=True)
                yield table
            with Vertical(id="pick-pane", classes="pane"):
                yield Label("Run with", classes="pane-title")
                yield Label("Variants", classes="muted")
                yield SelectionList[str](id="pick-prompts")
                yield Label("Models", classes="muted")
                yield SelectionList[str](id="pick-models")
                with Horizontal(id="reruns-row"):
                    yield Label("Reruns")
                    yield Input(id="reruns", type="integer", compact=False)
                yield Static(Text("r: run these · v: validate", style=MUTED))

    def on_mount(self) -> None:
        table = self.query_one("#case-table", DataTable)
        table.add_columns("case", "expected", "vars", "assertions")
        self.reload()

    def reload(self) -> None:
        options = self.query_one("#suite-list", OptionList)
        options.clear_options()
        files = self.app.project.suite_files()
        for path in files:
            options.add_option(Option(inert(path.stem), id=str(path)))
        if not files:
            self.query_one("#suite-info", Static).update(
                inert("No suites yet: add a YAML file under suites/ (see the README)."))
            return
        wanted = self.app.selected_suite or self.suite_path
        index = next((i for i, p in enumerate(files) if p == wanted), 0)
        options.highlighted = index
        options.focus()

    @on(OptionList.OptionHighlighted, "#suite-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self.show_suite(Path(event.option.id))

    def show_suite(self, path: Path) -> None:
        from workbench.suites.loader import load_suite
        from workbench.suites.spec import DEFAULT_MODEL

        self.suite_path = path
        self.post_message(SuitePicked(path))
        info = self.query_one("#suite-info", Static)
        problems = self.query_one("#suite-problems", Static)
        table = self.query_one("#case-table", DataTable)
        table.clear()
        problems.remove_class("shown")
        try:
            suite = load_suite(path)
        except InputError as exc:
            self.suite = None
            info.update(inert(path.name, style="bold"))
            problems.update(problems_text(exc, f"{path.name} cannot run until these are fixed:"))
            problems.add_class("shown")
            self.query_one("#pick-prompts", SelectionList).clear_options()
            self.query_one("#pick-models", SelectionList).clear_options()
            return
        self.suite = suite
        spec = suite.spec
        head = inert(spec.name, style="bold")
        head.append(f"  {len(suite.cases)} cases × {spec.reruns} reruns × "
                    f"{len(suite.pairs)} variant·model pairs = {suite.call_count()} calls",
                    style=MUTED)
        if spec.description:
            head.append("\n")
            head.append_text(inert(" ".join(spec.description.split()), limit=220))
        thresholds = spec.thresholds.model_dump(exclude_none=True)
        head.append("\nthresholds: ", style=MUTED)
        head.append(", ".join(f"{k} {v:g}" for k, v in thresholds.items()) or "none (every "
                    "cell must pass)")
        info.update(head)
        rows = []
        for case in suite.cases:
            vars_text = Text(" ").join(
                Text.assemble((f"{k}=", MUTED), compact(v, 40)) for k, v in case.vars.items())
            kinds = [a.type for a in case.assertions if a.weight > 0]
            rows.append((inert(case.id, limit=28),
                         compact(case.expected, 20) if case.expected is not None else Text("–"),
                         vars_text, inert(", ".join(kinds) or "–", limit=30)))
        table.add_rows(rows)
        self._fill_picks(suite, DEFAULT_MODEL)

    def _fill_picks(self, suite, default_model: str) -> None:
        library = self.app.project.library
        prompts = self.query_one("#pick-prompts", SelectionList)
        prompts.clear_options()
        chosen = {(v.name, v.version) for v in suite.variants}
        self._default_prompts = list(suite.spec.prompts)
        for ref, variant in zip(suite.spec.prompts, suite.variants, strict=False):
            label = ref if ref == variant.ref else f"{ref} (v{variant.version})"
            prompts.add_option((inert(label), ref, True))
        for name in dict.fromkeys(v.name for v in suite.variants):
            for version in reversed(library.versions(name)):
                if (name, version) not in chosen:
                    prompts.add_option((inert(f"{name}@{version}"), f"{name}@{version}", False))
        models = self.query_one("#pick-models", SelectionList)
        models.clear_options()
        self._model_specs = {m.name: m for m in suite.models}
        self._default_models = [m.name for m in suite.models]
        for model in suite.models:
            where = f"  {model.api_base}" if model.api_base else ""
            models.add_option((inert(model.name + where, limit=40), model.name, True))
        if default_model not in self._model_specs:
            models.add_option((inert(default_model), default_model, False))
        self.query_one("#reruns", Input).value = str(suite.spec.reruns)

    # -- picks -------------------------------------------------------------------------

    def picks(self) -> RunRequest:
        """The run the pick pane describes; unchanged picks mean "the suite as written"."""
        prompts = list(self.query_one("#pick-prompts", SelectionList).selected)
        models = list(self.query_one("#pick-models", SelectionList).selected)
        reruns_text = self.query_one("#reruns", Input).value.strip()
        reruns = int(reruns_text) if reruns_text.lstrip("-").isdigit() else None
        same_prompts = prompts == self._default_prompts
        same_models = models == self._default_models
        return RunRequest(
            suite=self.suite_path,
            prompts=None if same_prompts else prompts,
            models=None if same_models else [self._model_specs.get(m, m) for m in models],
            reruns=None if self.suite and reruns == self.suite.spec.reruns else reruns,
        )

    def check(self, request: RunRequest) -> bool:
        """Validate the picks as the run would; show every problem and return False if any."""
        from workbench.suites.loader import load_suite

        problems = self.query_one("#suite-problems", Static)
        problems.remove_class("shown")
        if request.suite is None:
            return False
        if request.prompts == [] or request.models == []:
            what = "variant" if request.prompts == [] else "model"
            problems.update(Text(f"Pick at least one {what} to run.", style=f"bold {POOR}"))
            problems.add_class("shown")
            return False
        if request.reruns is not None and request.reruns < 1:
            problems.update(Text("Reruns must be at least 1.", style=f"bold {POOR}"))
            problems.add_class("shown")
            return False
        try:
            load_suite(request.suite, prompts=request.prompts, models=request.models)
        except InputError as exc:
            problems.update(problems_text(exc, "These picks cannot run:"))
            problems.add_class("shown")
            return False
        return True

    def action_validate(self) -> None:
        if self.check(self.picks()):
            self.notify("the picks are valid", title="Validate")

    def action_run(self) -> None:
        request = self.picks()
        if self.check(request):
            self.post_message(RunRequested(request))

    def action_reload(self) -> None:
        self.reload()

    def action_optimize(self) -> None:
        """Open the prompt search on this suite: the one variant picked (else the search's
        own choice) on the first model picked."""
        from workbench.tui.screens.optimize import OptimizeScreen

        if self.suite_path is None or self.suite is None:
            return
        request = self.picks()
        prompts = request.prompts if request.prompts is not None else self._default_prompts
        models = list(self.query_one("#pick-models", SelectionList).selected)
        self.app.push_screen(OptimizeScreen(
            self.suite_path, prompt=prompts[0] if len(prompts) == 1 else None,
            model=models[0] if models else None))
