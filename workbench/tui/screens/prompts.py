"""Prompts: every prompt with its versions and labels; view, edit, diff and label a version."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static, Tree

from workbench.errors import InputError
from workbench.tui.app import WorkbenchApp
from workbench.tui.render import MUTED, POOR, inert
from workbench.tui.screens.base import SectionScreen


@dataclass(frozen=True)
class VersionRef:
    name: str
    version: int


@dataclass
class PromptEntry:
    """A prompt as the list shows it; ``problem`` is set when its latest file is broken."""

    name: str
    versions: list[int]
    labels: dict[str, int]
    kind: str | None
    problem: str | None = None


def scan_prompts(library) -> list[PromptEntry]:
    """Names, versions, labels and kinds; a broken file is reported, not fatal."""
    entries = []
    for name in library.names():
        versions = library.versions(name)
        problem = None
        try:
            labels = library.labels(name)
        except InputError as exc:
            labels, problem = {}, str(exc)
        try:
            kind = library.load(name, versions[-1]).spec.kind
        except InputError as exc:
            kind, problem = None, problem or str(exc)
        entries.append(PromptEntry(name, versions, labels, kind, problem))
    return entries


def describe(prompt) -> Text:
    """The header above a version's text: ref, kind, labels, what it contains."""
    spec = prompt.spec
    out = Text()
    out.append(prompt.ref, style="bold")
    out.append(f"  {spec.kind}", style="italic")
    out.append(f"  sha256:{prompt.hash[:12]}\n", style=MUTED)
    if spec.description:
        out.append_text(inert(spec.description.strip(), limit=200))
        out.append("\n")
    parts = []
    if spec.steps:
        parts.append(f"{len(spec.steps)} steps: " + " → ".join(s.output for s in spec.steps))
    else:
        parts.append(f"{len(spec.messages or [])} messages")
    if spec.examples:
        parts.append(f"{len(spec.examples)} examples")
    parse = spec.parse.type + (f"({', '.join(spec.parse.choices)})" if spec.parse.choices else "")
    parts.append(f"parse {parse}")
    variables = sorted(prompt.variables())
    parts.append("vars " + (", ".join(variables) if variables else "none"))
    if spec.model:
        parts.append(f"model {spec.model}")
    out.append_text(inert(" · ".join(parts)))
    return out


class PromptsScreen(SectionScreen):
    SECTION = "prompts"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", "Edit → new version"),
        Binding("d", "diff", "Diff versions"),
        Binding("l", "label", "Set label"),
        Binding("f5", "reload", "Reload"),
    ]

    def compose_body(self) -> ComposeResult:
        # The first frame is the frame and "Reading prompts…": the list (a Tree) is mounted
        # just after it, and the YAML viewer (a TextArea with tree-sitter) with the first
        # version shown. Neither has anything to show before the library is read.
        with Horizontal(id="prompts-body"):
            with Vertical(id="prompt-list-pane", classes="pane"):
                yield Label("Prompts", classes="pane-title")
            with Vertical(id="prompt-detail", classes="pane"):
                yield Static(id="prompt-info")

    @dataclass
    class Scanned(Message):
        """The worker's scan of the library; ``select``: the version to show after it."""

        entries: list[PromptEntry]
        select: VersionRef | None

    def on_mount(self) -> None:
        self.query_one("#prompt-info", Static).update(Text("Reading prompts…", style=MUTED))
        self.app.after_first_paint(lambda: self.call_later(self._show_list))
        # A version saved elsewhere (the Playground) is selected: list and show it.
        self.watch(self.app, "selected_prompt", self._follow, init=False)

    async def _show_list(self) -> None:
        tree: Tree[VersionRef | str] = Tree(Text("prompts"), id="prompt-tree")
        tree.show_root = False
        tree.guide_depth = 2
        await self.query_one("#prompt-list-pane").mount(tree)
        tree.focus()
        # Off the UI thread: the first scan imports the template engine and the validation
        # models.
        self.reload()

    def _follow(self, selected: tuple[str, int] | None) -> None:
        ref = VersionRef(*selected) if selected else None
        found = self.query("#prompt-tree")
        if ref is None or not found:
            return
        tree = found.first(Tree)
        listed = {leaf.data for node in tree.root.children for leaf in node.children}
        if listed and ref not in listed:
            self.reload(ref)

    # -- data --------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def reload(self, select: VersionRef | None = None) -> None:
        self.post_message(self.Scanned(scan_prompts(self.app.project.library), select))

    def on_prompts_screen_scanned(self, message: Scanned) -> None:
        entries, select = message.entries, message.select
        tree = self.query_one("#prompt-tree", Tree)
        tree.clear()
        if not entries:
            self.query_one("#prompt-info", Static).update(
                inert(f"No prompts yet in {self.app.project.prompts_dir.name}/. Create "
                      "prompts/<name>/v1.yaml, or save one with 'workbench prompts save'."))
            return
        target = None
        for entry in entries:
            label = inert(entry.name, style="bold")
            label.append(f"  {entry.kind or 'broken'}", style=MUTED if entry.kind else POOR)
            node = tree.root.add(label, data=entry.name, expand=True)
            by_version: dict[int, list[str]] = {}
            for name, version in entry.labels.items():
                by_version.setdefault(version, []).append(name)
            for version in reversed(entry.versions):
                text = Text(f"v{version}")
                tags = sorted(f"@{t}" for t in by_version.get(version, []))
                if version == entry.versions[-1]:
                    tags.insert(0, "latest")
                if tags:
                    text.append("  " + " ".join(tags), style=MUTED)
                leaf = node.add_leaf(text, data=VersionRef(entry.name, version))
                if target is None or leaf.data == select:
                    target = leaf
        self.call_after_refresh(self._select, target)

    def _select(self, node) -> None:
        if node is not None:
            self.query_one("#prompt-tree", Tree).move_cursor(node)
            self.show_version(node.data)

    @property
    def selected(self) -> VersionRef | None:
        found = self.query("#prompt-tree")
        node = found.first(Tree).cursor_node if found else None
        if node is None:
            return None
        if isinstance(node.data, VersionRef):
            return node.data
        if isinstance(node.data, str):
            versions = self.app.project.library.versions(node.data)
            return VersionRef(node.data, versions[-1]) if versions else None
        return None

    def show_version(self, ref: VersionRef | None) -> None:
        if ref is None:
            return
        from workbench.tui.state import PromptSelected  # after the first paint

        self.post_message(PromptSelected(ref.name, ref.version))  # the Playground edits it
        info = self.query_one("#prompt-info", Static)
        library = self.app.project.library
        path = library.path_of(ref.name, ref.version)
        try:
            prompt = library.load(ref.name, ref.version)
        except InputError as exc:
            message = Text(f"{ref.name}@{ref.version} has problems:\n", style=f"bold {POOR}")
            for problem in exc.problems:
                message.append_text(inert(f"  {problem}\n"))
            info.update(message)
            try:
                self._view_text(path.read_text(encoding="utf-8"))
            except OSError:
                self._view_text("")
            return
        info.update(describe(prompt))
        self._view_text(prompt.text)

    def _view_text(self, text: str) -> None:
        # Imported here, after the first frame: TextArea and tree-sitter cost ~60 ms to import.
        from workbench.tui.widgets.yaml_view import YamlArea

        found = self.query("#prompt-text")
        if found:
            found.first(YamlArea).load_text(text)
        else:
            self.query_one("#prompt-detail").mount(YamlArea(text, id="prompt-text"))

    @on(Tree.NodeHighlighted, "#prompt-tree")
    def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        self.show_version(self.selected)

    # -- actions -----------------------------------------------------------------------

    def action_reload(self) -> None:
        self.reload(self.selected)

    def action_edit(self) -> None:
        ref = self.selected
        if ref is None:
            return
        from workbench.tui.screens.prompt_editor import PromptEditorScreen

        text = self.app.project.library.path_of(ref.name, ref.version).read_text(encoding="utf-8")

        def saved(version: int | None) -> None:
            if version is not None:
                self.reload(VersionRef(ref.name, version))
                self.notify(f"saved {ref.name}@{version}", title="New version")

        self.app.push_screen(PromptEditorScreen(ref.name, ref.version, text), saved)

    def action_diff(self) -> None:
        ref = self.selected
        if ref is None:
            return
        versions = self.app.project.library.versions(ref.name)
        if len(versions) < 2:
            self.notify(f"{ref.name} has only one version", severity="warning")
            return
        from workbench.tui.screens.diff import DiffScreen

        older = [v for v in versions if v < ref.version]
        left = older[-1] if older else ref.version
        right = ref.version if older else versions[versions.index(ref.version) + 1]
        self.app.push_screen(DiffScreen(ref.name, versions, left, right))

    def action_label(self) -> None:
        ref = self.selected
        if ref is None:
            return

        def done(label: str | None) -> None:
            if label:
                self.reload(ref)
                self.notify(f"{ref.name}@{label} → v{ref.version}", title="Label set")

        self.app.push_screen(LabelScreen(ref), done)


class LabelScreen(ModalScreen[str | None]):
    """Ask for a label name and point it at the version; errors stay in the dialog."""
    CSS_PATH = Path(__file__).with_name("dialogs.tcss")
    app = getters.app(WorkbenchApp)

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, ref: VersionRef) -> None:
        super().__init__()
        self.ref = ref

    def compose(self) -> ComposeResult:
        with Vertical(id="label-dialog", classes="dialog"):
            yield Label(f"Point a label at {self.ref.name}@{self.ref.version}",
                        classes="dialog-title")
            labels = self.app.project.library.labels(self.ref.name)
            current = ", ".join(f"{k}→v{v}" for k, v in sorted(labels.items())) or "none"
            yield Static(Text(f"current labels: {current}", style=MUTED))
            yield Input(placeholder="label, e.g. production", id="label-input")
            yield Static(id="label-error")
            yield Static(Text("enter: set · escape: cancel", style=MUTED))

    @on(Input.Submitted, "#label-input")
    def _submit(self, event: Input.Submitted) -> None:
        label = event.value.strip()
        try:
            self.app.project.library.set_label(self.ref.name, label, self.ref.version)
        except InputError as exc:
            self.query_one("#label-error", Static).update(inert(str(exc), style=POOR))
            return
        self.dismiss(label)

    def action_cancel(self) -> None:
        self.dismiss(None)
