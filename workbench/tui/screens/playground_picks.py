"""The playground's picks: which cases (a suite's, or typed vars), which models, and N."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import getters, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from workbench.errors import InputError
from workbench.playground.picks import Picks, model_choices, suites_using
from workbench.tui.app import WorkbenchApp
from workbench.tui.render import MUTED, POOR, inert
from workbench.tui.widgets.draft_outputs import value_text

if TYPE_CHECKING:
    from workbench.prompts.version import PromptVersion
    from workbench.suites.loader import Suite

NO_SUITE = "(none: typed vars only)"


def parse_vars(text: str) -> dict[str, Any]:
    """A case's vars typed as a YAML or JSON mapping: ``ticket: my parcel is late``."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"not YAML: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict) or not data or not all(isinstance(k, str) for k in data):
        raise InputError("type the vars as a mapping, e.g. ticket: my parcel is late")
    return data


class PicksScreen(ModalScreen[Picks | None]):
    """Dismisses with the new picks, or None when cancelled."""

    CSS_PATH = Path(__file__).with_name("playground_picks.tcss")
    app = getters.app(WorkbenchApp)
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, parent: PromptVersion, picks: Picks) -> None:
        super().__init__()
        self.parent_version = parent
        self.picks = picks
        self.suite: Suite | None = None
        self.typed: list[dict[str, Any]] = list(picks.typed)

    def compose(self) -> ComposeResult:
        with Vertical(id="picks-dialog", classes="dialog"):
            yield Label(Text.assemble("Run the draft of ", inert(self.parent_version.ref,
                                                                 style="bold"), " on…"),
                        classes="dialog-title")
            with Horizontal(id="picks-columns"):
                with Vertical(id="picks-cases-col"):
                    yield Label("Cases of", classes="muted")
                    yield OptionList(id="picks-suite")
                    yield SelectionList[str](id="picks-cases")
                    yield Label("…and typed vars (a YAML mapping; enter adds a case)",
                                classes="muted")
                    yield Input(placeholder="ticket: my parcel is late", id="picks-typed-input")
                    yield SelectionList[int](id="picks-typed")
                with Vertical(id="picks-models-col"):
                    yield Label("Models", classes="muted")
                    yield SelectionList[str](id="picks-models")
                    yield Label("N (reruns of each case)", classes="muted")
                    yield Input(str(self.picks.reruns), type="integer", id="picks-n")
                    yield Static(id="picks-error")
                    with Horizontal(id="picks-buttons"):
                        yield Button("Apply", variant="primary", id="picks-apply")
                        yield Button("Cancel", id="picks-cancel")

    def on_mount(self) -> None:
        project = self.app.project
        suites = self.query_one("#picks-suite", OptionList)
        self._suite_paths = suites_using(project.root, self.parent_version.name)
        for path in self._suite_paths:
            suites.add_option(Option(inert(path.stem), id=self._relative(path)))
        suites.add_option(Option(Text(NO_SUITE, style=MUTED), id=""))
        current = self.picks.suite or ""
        ids = [self._relative(p) for p in self._suite_paths] + [""]
        suites.highlighted = ids.index(current) if current in ids else 0
        self._fill_typed()
        self.query_one("#picks-cases", SelectionList).focus()

    def _relative(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.app.project.root))
        except ValueError:
            return str(path)

    @on(OptionList.OptionHighlighted, "#picks-suite")
    def _suite_chosen(self, event: OptionList.OptionHighlighted) -> None:
        from workbench.suites.loader import load_suite

        cases = self.query_one("#picks-cases", SelectionList)
        cases.clear_options()
        error = self.query_one("#picks-error", Static)
        error.update("")
        self.suite = None
        relative = event.option.id or ""
        if relative:
            try:
                self.suite = load_suite(self.app.project.root / relative,
                                        self.app.project.library,
                                        prompts=[self.parent_version.ref], check_render=False)
            except InputError as exc:
                error.update(inert(f"{relative}: {exc.problems[0]}", style=POOR))
        same = relative == (self.picks.suite or "")
        if self.suite is not None:
            for case in self.suite.cases:
                label = inert(case.id, style="bold", limit=24)
                for name, value in list(case.vars.items())[:2]:
                    label.append(f" {name}=", style=MUTED)
                    label.append_text(value_text(value, 30))
                cases.add_option((label, case.id,
                                  case.id in self.picks.cases if same else False))
        self._fill_models()

    def _fill_models(self) -> None:
        models = self.query_one("#picks-models", SelectionList)
        chosen = set(models.selected) or set(self.picks.models)
        models.clear_options()
        choices = model_choices(self.suite, self.parent_version)
        if not chosen & {m.name for m in choices}:
            chosen = {choices[0].name}
        for model in choices:
            where = f"  {model.api_base}" if model.api_base else ""
            models.add_option((inert(model.name + where, limit=44), model.name,
                               model.name in chosen))

    def _fill_typed(self) -> None:
        typed = self.query_one("#picks-typed", SelectionList)
        typed.clear_options()
        for i, variables in enumerate(self.typed):
            label = Text(" ").join(Text.assemble((f"{k}=", MUTED), value_text(v, 40))
                                   for k, v in variables.items())
            typed.add_option((label, i, True))

    @on(Input.Submitted, "#picks-typed-input")
    def _add_typed(self, event: Input.Submitted) -> None:
        error = self.query_one("#picks-error", Static)
        try:
            self.typed.append(parse_vars(event.value))
        except InputError as exc:
            error.update(inert(str(exc), style=POOR))
            return
        error.update("")
        event.input.value = ""
        self._fill_typed()

    def chosen(self) -> Picks | None:
        """The picks on screen, or None (with the reason shown) when they cannot be used."""
        error = self.query_one("#picks-error", Static)
        n_text = self.query_one("#picks-n", Input).value.strip()
        if not n_text.isdigit() or int(n_text) < 1:
            error.update(Text("N must be a whole number of at least 1", style=POOR))
            return None
        kept = set(self.query_one("#picks-typed", SelectionList).selected)
        typed = [v for i, v in enumerate(self.typed) if i in kept]
        cases = list(self.query_one("#picks-cases", SelectionList).selected)
        if not cases and not typed:
            error.update(Text("pick at least one case, or type vars", style=POOR))
            return None
        suite = self.query_one("#picks-suite", OptionList)
        option = suite.highlighted_option
        return Picks(suite=(option.id or None) if option is not None and self.suite else None,
                     cases=cases if self.suite else [], typed=typed,
                     models=list(self.query_one("#picks-models", SelectionList).selected),
                     reruns=int(n_text))

    @on(Button.Pressed, "#picks-apply")
    @on(Input.Submitted, "#picks-n")
    def _apply(self) -> None:
        picks = self.chosen()
        if picks is not None:
            self.dismiss(picks)

    @on(Button.Pressed, "#picks-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
