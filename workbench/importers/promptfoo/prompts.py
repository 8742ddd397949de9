"""promptfoo prompts → prompt version files.

promptfoo accepts a prompt as inline text, a chat array (JSON text, or YAML text starting
``- role:``), a ``file://`` reference (``.txt`` split on ``---`` lines, ``.json``/``.yaml``
chat files, ``.jsonl`` one prompt per line, ``.md``/``.j2`` text, globs), an object
``{id|raw, label, config}``, or a mapping of text to label. Each becomes one zero-shot
prompt: its messages with the templates converted to Jinja2, its ``config`` as params.
Prompts written as code (``.py``, ``.js``, ``exec:``) cannot be imported and are reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import yaml

from workbench.config.yaml import Loc, Located
from workbench.importers.promptfoo.files import FILE_PREFIX, GLOB_CHARS, Folder, Spot, spot
from workbench.importers.promptfoo.nunjucks import to_jinja
from workbench.importers.promptfoo.outcome import Outcome
from workbench.importers.promptfoo.params import provider_params

ROLES = {"system", "user", "assistant"}
_PARSER = jinja2.Environment()  # parsing only: finding the variables a template reads
CODE_SUFFIXES = {".py", ".js", ".cjs", ".mjs", ".ts", ".sh", ".bash", ".rb", ".pl", ".exe"}
TEXT_SUFFIXES = {".txt", ".md", ".j2", ".njk", ".prompt", ""}


@dataclass
class PromptDraft:
    """One prompt to write: its label (for the name), messages and params."""

    label: str | None
    messages: list[dict[str, str]]
    params: dict[str, Any]
    where: Spot
    origin: str
    names_used: set[str] = field(default_factory=set)

    def variables(self) -> set[str]:
        """The variables its templates read (loop variables and ``set`` names excluded)."""
        names: set[str] = set()
        for message in self.messages:
            try:
                names |= jinja2.meta.find_undeclared_variables(_PARSER.parse(message["content"]))
            except jinja2.TemplateSyntaxError:
                continue  # validation reports it, located in the written file
        return names

    def spec(self, description: str) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": "zero-shot", "description": description}
        if self.params:
            data["params"] = self.params
        data["messages"] = self.messages
        return data


def read_prompts(doc: Located, folder: Folder, outcome: Outcome) -> list[PromptDraft]:
    """Every prompt of the config, in order; unsupported ones are reported and left out."""
    raw = doc.data.get("prompts")
    if raw is None:
        raise spot(doc, ()).problem("the config has no 'prompts'",
                                    "promptfoo configs list their prompts under 'prompts:'")
    entries: list[tuple[Any, Loc]]
    if isinstance(raw, str):
        entries = [(raw, ("prompts",))]
    elif isinstance(raw, list):
        entries = [(item, ("prompts", i)) for i, item in enumerate(raw)]
    elif isinstance(raw, dict):  # {text or file: label}
        entries = [({"raw": text, "label": label}, ("prompts", text))
                   for text, label in raw.items()]
    else:
        raise spot(doc, ("prompts",)).problem("'prompts' must be text, a list or a mapping")
    drafts: list[PromptDraft] = []
    for item, loc in entries:
        drafts.extend(_entry(item, doc, loc, folder, outcome))
    return drafts


def _entry(item: Any, doc: Located, loc: Loc, folder: Folder,
           outcome: Outcome) -> list[PromptDraft]:
    where = spot(doc, loc)
    label: str | None = None
    params: dict[str, Any] = {}
    if isinstance(item, list):  # a chat array written in the config itself
        return _draft(None, json.dumps(item), {}, where, "inline chat", outcome)
    if isinstance(item, dict):
        if "role" in item and "content" in item:
            return _draft(None, json.dumps([item]), {}, where, "inline message", outcome)
        text = item.get("raw", item.get("id"))
        label = item.get("label") if isinstance(item.get("label"), str) else None
        if isinstance(text, list):
            text = json.dumps(text)
        if not isinstance(text, str):
            outcome.unsupported("prompt", str(where), "a prompt object needs 'raw' or 'id' text")
            return []
        for key in sorted(set(item) - {"raw", "id", "label", "config"}):
            outcome.unsupported(f"prompt key {key}", str(spot(doc, (*loc, key))),
                                "not used by the workbench")
        if isinstance(item.get("config"), dict):
            params = provider_params(item["config"], doc, (*loc, "config"), folder, outcome,
                                     "prompt config")
        item = text
    if not isinstance(item, str) or not item.strip():
        outcome.unsupported("prompt", str(where), "a prompt must be text")
        return []
    if item.startswith("exec:") or item.startswith(("langfuse://", "portkey://", "helicone://")):
        outcome.unsupported(f"prompt {_short(item)}", str(where),
                            "prompts produced by a program or a prompt service cannot be "
                            "imported; paste the prompt text")
        return []
    if item.startswith(FILE_PREFIX):
        return _from_files(item, label, params, where, folder, outcome)
    return _draft(label, item, params, where, "inline", outcome)


def _from_files(ref: str, label: str | None, params: dict[str, Any], where: Spot,
                folder: Folder, outcome: Outcome) -> list[PromptDraft]:
    name, _, function = ref.removeprefix(FILE_PREFIX).partition(":")
    suffix = Path(name).suffix.lower()
    if suffix in CODE_SUFFIXES or function:
        outcome.unsupported(f"prompt {ref}", str(where),
                            "a prompt function (Python/JavaScript/executable) cannot be "
                            "imported; render it once and paste the text")
        return []
    paths = (folder.glob(ref, where) if GLOB_CHARS & set(name)
             else [folder.resolve(ref, where)])
    drafts: list[PromptDraft] = []
    for path in paths:
        shown = folder.relative(path)
        text = folder.read_text(path)
        stem = label or path.stem
        if suffix in (".json", ".yaml", ".yml") or path.suffix.lower() in (".json", ".yaml",
                                                                           ".yml"):
            drafts += _draft(stem, _chat_file_text(path, text, where), params, where,
                             shown, outcome)
        elif path.suffix.lower() == ".jsonl":
            lines = [line for line in text.splitlines() if line.strip()]
            for i, line in enumerate(lines, start=1):
                drafts += _draft(f"{stem}-{i}" if len(lines) > 1 else stem, line, params,
                                 where, f"{shown} line {i}", outcome)
        elif path.suffix.lower() in TEXT_SUFFIXES:
            parts = _split_text(text) if path.suffix.lower() == ".txt" else [text]
            for i, part in enumerate(parts, start=1):
                drafts += _draft(f"{stem}-{i}" if len(parts) > 1 else stem, part, params,
                                 where, f"{shown} part {i}" if len(parts) > 1 else shown,
                                 outcome)
        else:
            outcome.unsupported(f"prompt {ref}", str(where),
                                f"prompt files of type {path.suffix or '(none)'} are not read")
    return drafts


def _chat_file_text(path: Path, text: str, where: Spot) -> str:
    """A .json/.yaml prompt file as promptfoo uses it: parsed, then as JSON text."""
    if path.suffix.lower() == ".json":
        return text
    try:
        return json.dumps(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise where.problem(f"{path.name} is not valid YAML: {exc}") from None


def _split_text(text: str) -> list[str]:
    """promptfoo splits a .txt prompt file on lines that are exactly ``---``."""
    parts, buffer = [], []
    for line in re.split(r"\r?\n", text):
        if line.strip() == "---":
            parts.append("\n".join(buffer).strip())
            buffer = []
        else:
            buffer.append(line)
    parts.append("\n".join(buffer).strip())
    return [p for p in parts if p]


def _draft(label: str | None, text: str, params: dict[str, Any], where: Spot, origin: str,
           outcome: Outcome) -> list[PromptDraft]:
    item = f"prompt {label or _short(text)}"
    messages = _chat_messages(text)
    problems: list[str] = []
    notes: list[str] = []
    if messages is None:
        messages = [{"role": "user", "content": text}]
        kind = "text prompt → one user message"
    else:
        kind = f"chat prompt, {len(messages)} message(s)"
    converted: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) - {"role", "content", "name"}:
            problems.append(f"message {i + 1} is not {{role, content}}")
            continue
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            problems.append(f"message {i + 1} has role {role!r} (the workbench has "
                            "system, user and assistant)")
            continue
        if not isinstance(content, str):
            problems.append(f"message {i + 1} has non-text content (images, parts)")
            continue
        conversion = to_jinja(content)
        problems += conversion.unsupported
        notes += [n for n in conversion.changes if n not in notes]
        if content != content.strip():
            note = "leading/trailing whitespace is dropped (the workbench strips messages)"
            if note not in notes:
                notes.append(note)
        converted.append({"role": role, "content": conversion.text})
    if not problems and not any(m["role"] == "user" for m in converted):
        problems.append("it has no user message")
    if problems:
        outcome.unsupported(item, str(where), f"{origin}: " + "; ".join(problems))
        return []
    if any("loop." in m["content"] for m in converted):
        notes.append("loop.index, loop.first … mean the same in Jinja2")
    if notes:
        outcome.converted(item, str(where), f"{origin}, {kind}: " + "; ".join(notes))
    else:
        outcome.imported(item, str(where), f"{origin}, {kind}")
    return [PromptDraft(label, converted, params, where, origin)]


def _chat_messages(text: str) -> list[Any] | None:
    """The message list of a chat prompt (JSON or ``- role:`` YAML text), or None for text."""
    stripped = text.strip()
    if stripped.startswith("- role:"):
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            return None
        return value if isinstance(value, list) else None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict) and "role" in value:
        return [value]
    return value if isinstance(value, list) else None


def _short(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= 40 else one[:39] + "…"
