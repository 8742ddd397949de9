"""Prompt files, their immutable versions, labels, references and rendering.

A prompt lives in ``prompts/<name>/`` as ``v1.yaml``, ``v2.yaml``, … plus ``labels.yaml``.
Versions are never rewritten: an edit is saved as the next version, so every stored run
can name exactly the text it used (its content hash is stored with the run).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.atomic import atomic_create_text
from workbench.config.files import MAX_YAML_BYTES, FileRefused, read_text
from workbench.config.yaml import dump_yaml, load_yaml
from workbench.errors import InputError, Problem, display_path
from workbench.prompts.version import PromptVersion, content_hash, parse_version_text

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
VERSION_FILE_RE = re.compile(r"^v([1-9][0-9]*)\.yaml$")
# What a version file name looks like when it is almost right: v0.yaml, v01.yaml, V2.yml.
_NEAR_VERSION_RE = re.compile(r"^[vV][0-9]+\.ya?ml$")
_VERSION_LIKE_LABEL = re.compile(r"^v[0-9]+$")
_NUMBER_WORDS = {w: i for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"])}


class UnknownRef(InputError):
    """A reference names no prompt, version or label: the fault is in who wrote it."""


def label_problem(label: str) -> str | None:
    """Why ``label`` cannot name a label, or None: a label must be usable as ``name@label``."""
    if label.isdigit() or not NAME_RE.match(label):
        return f"'{label}' is not a valid label (lower-case letters, not a number)"
    if _VERSION_LIKE_LABEL.match(label):
        return (f"'{label}' is not a valid label: name@{label} means version "
                f"{int(label[1:])}, so the label could never be used")
    return None


# -- the library -------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    name: str
    selector: str | None  # None = latest, digits = version, else a label

    @classmethod
    def parse(cls, text: str) -> Ref:
        name, _, selector = text.strip().partition("@")
        if not NAME_RE.match(name):
            raise ValueError(
                f"'{text}' is not a prompt reference (use name, name@3 or name@label; "
                "names are lower-case letters, digits, '-', '_' and '.')"
            )
        if selector.startswith("v") and selector[1:].isdigit():
            selector = selector[1:]
        return cls(name, selector or None)


class PromptLibrary:
    """The folder of prompts: list, resolve, save new versions, label, diff."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name)
        )

    def folder(self, name: str) -> Path:
        return self.root / name

    def versions(self, name: str) -> list[int]:
        folder = self.folder(name)
        if not folder.is_dir():
            return []
        found = []
        for p in folder.iterdir():
            match = VERSION_FILE_RE.match(p.name)
            if match:
                found.append(int(match.group(1)))
        return sorted(found)

    def labels(self, name: str) -> dict[str, int]:
        path = self.folder(name) / "labels.yaml"
        if not path.exists():
            return {}
        doc = load_yaml(path)
        if doc.data is None:
            return {}
        problems = []
        if not isinstance(doc.data, dict):
            raise InputError(doc.problem((), "labels.yaml must map labels to versions"))
        known = set(self.versions(name))
        for label, version in doc.data.items():
            if not isinstance(label, str) or label.isdigit() or not NAME_RE.match(label):
                problems.append(doc.problem((label,), f"'{label}' is not a valid label name"))
            elif _VERSION_LIKE_LABEL.match(label):
                problems.append(doc.problem((label,), label_problem(label) or ""))
            elif not isinstance(version, int) or isinstance(version, bool):
                problems.append(
                    doc.problem((label,), f"label '{label}' must map to a version number")
                )
            elif version not in known:
                problems.append(
                    doc.problem(
                        (label,),
                        f"label '{label}' points to version {version}, which does not exist",
                        f"versions: {', '.join(map(str, sorted(known))) or 'none'}",
                    )
                )
        if problems:
            raise InputError(problems)
        return dict(doc.data)

    def path_of(self, name: str, version: int) -> Path:
        return self.folder(name) / f"v{version}.yaml"

    def misnamed(self, name: str) -> list[Path]:
        """Files in the prompt's folder that look like versions but are not named as one
        (``v0.yaml``, ``v01.yaml``, ``V2.yml``): they are never read, so say so."""
        folder = self.folder(name)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir()
                      if _NEAR_VERSION_RE.match(p.name) and not VERSION_FILE_RE.match(p.name))

    def _misnamed_problems(self, name: str) -> list[Problem]:
        return [Problem("not a version file name, so it is never read", display_path(p),
                        hint="versions are v1.yaml, v2.yaml, … numbered from 1, without "
                        "leading zeros") for p in self.misnamed(name)]

    def load(self, name: str, version: int) -> PromptVersion:
        path = self.path_of(name, version)
        try:
            text = read_text(path, MAX_YAML_BYTES)
        except FileNotFoundError:
            raise InputError(Problem(f"prompt {name} has no version {version}",
                                     display_path(path))) from None
        except FileRefused as exc:
            raise InputError(exc.problem(display_path(path))) from None
        return parse_version_text(text, path, name, version)

    def resolve(self, ref: str | Ref) -> PromptVersion:
        """``name`` → latest, ``name@3`` → v3, ``name@production`` → the labelled version."""
        if isinstance(ref, str):
            try:
                ref = Ref.parse(ref)
            except ValueError as exc:
                raise UnknownRef(str(exc)) from None
        versions = self.versions(ref.name)
        missing = ref.selector is None or (ref.selector.isdigit()
                                           and int(ref.selector) not in versions)
        if missing and self.misnamed(ref.name):
            raise InputError(self._misnamed_problems(ref.name))
        if not versions:
            known = self.names()
            close = difflib.get_close_matches(ref.name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else (
                f"known prompts: {', '.join(known)}" if known else "no prompts yet"
            )
            raise UnknownRef(Problem(f"unknown prompt '{ref.name}'", display_path(self.root),
                                     hint=hint))
        if ref.selector is None:
            return self.load(ref.name, versions[-1])
        if ref.selector.isdigit():
            version = int(ref.selector)
            if version not in versions:
                raise UnknownRef(
                    Problem(
                        f"prompt '{ref.name}' has no version {version}",
                        display_path(self.folder(ref.name)),
                        hint=f"versions: {', '.join(map(str, versions))}",
                    )
                )
            return self.load(ref.name, version)
        labels = self.labels(ref.name)
        if ref.selector not in labels:
            hint = f"labels: {', '.join(sorted(labels)) or 'none'}"
            number = _NUMBER_WORDS.get(ref.selector.lower())
            if number is not None or ref.selector.lower().lstrip("v").isdigit():
                number = number if number is not None else int(ref.selector.lower().lstrip("v"))
                hint += (f"; a version is a number: {ref.name}@{number}"
                         f" (versions: {', '.join(map(str, versions))})")
            raise UnknownRef(
                Problem(
                    f"prompt '{ref.name}' has no label '{ref.selector}'",
                    display_path(self.folder(ref.name) / "labels.yaml"),
                    hint=hint,
                )
            )
        return self.load(ref.name, labels[ref.selector])

    def save(self, name: str, text: str, source: Path | None = None) -> PromptVersion:
        """Validate ``text`` and write it as the next version; existing files are never touched.

        ``source`` is where the text came from, so problems point at the file being edited.
        """
        if not NAME_RE.match(name):
            raise InputError(f"'{name}' is not a valid prompt name (lower-case, digits, - _ .)")
        versions = self.versions(name)
        number = (versions[-1] + 1) if versions else 1
        path = self.path_of(name, number)
        prompt = parse_version_text(text, source or path, name, number)
        if versions:
            latest = self.load(name, versions[-1]).text
            if content_hash(latest) == prompt.hash or content_hash(latest) == content_hash(
                text + "\n"
            ):
                raise InputError(
                    Problem(
                        f"nothing to save: identical to version {versions[-1]}",
                        display_path(self.path_of(name, versions[-1])),
                    )
                )
        # Whole or not at all, and never over an existing file: two concurrent saves can
        # never overwrite each other's version.
        atomic_create_text(path, text if text.endswith("\n") else text + "\n")
        return self.load(name, number)

    def set_label(self, name: str, label: str, version: int) -> None:
        problem = label_problem(label)
        if problem:
            raise InputError(problem)
        if version not in self.versions(name):
            raise InputError(f"prompt '{name}' has no version {version}")
        labels = self.labels(name)
        labels[label] = version
        path = self.folder(name) / "labels.yaml"
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(dump_yaml(dict(sorted(labels.items()))), encoding="utf-8")
        tmp.replace(path)

    def diff(self, name: str, a: int, b: int, *, other: str | None = None) -> str:
        """Unified diff of two version files: ``name`` v``a`` against v``b`` of the same
        prompt, or of the prompt ``other``; empty when the texts are identical."""
        right_name = other or name
        left, right = self.load(name, a), self.load(right_name, b)
        return "".join(
            difflib.unified_diff(
                left.text.splitlines(keepends=True),
                right.text.splitlines(keepends=True),
                fromfile=f"{name}/v{a}.yaml",
                tofile=f"{right_name}/v{b}.yaml",
            )
        )
