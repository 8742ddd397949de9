"""The files a promptfoo config refers to, read as untrusted input.

A config comes from someone else's repository, so every ``file://`` reference must stay
inside the config's own folder tree: no absolute paths, no ``..`` that climbs out, no
symlink that leads out, nothing but regular files (no devices or FIFOs), and no file larger
than :data:`MAX_BYTES`. The name rules are the importer's own (stricter than a suite's:
no ``..`` at all); the file itself is checked and read by :mod:`workbench.config.files`, like
every other file the workbench reads. YAML and JSON go through the project's located loader
(safe loading, duplicate keys refused, lines kept for messages).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from workbench.config.files import MAX_YAML_BYTES, FileRefused, check_regular, read_text
from workbench.config.yaml import Loc, Located, load_yaml
from workbench.errors import InputError, Problem, display_path

MAX_BYTES = MAX_YAML_BYTES
GLOB_CHARS = set("*?[")
FILE_PREFIX = "file://"


@dataclass(frozen=True)
class Spot:
    """Where something was read: a file and a line, shown as ``file:line``."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def problem(self, message: str, hint: str | None = None) -> InputError:
        return InputError(Problem(message, self.file, self.line, hint))


def spot(doc: Located, loc: Loc) -> Spot:
    return Spot(doc.file, doc.line(loc))


def is_file_ref(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FILE_PREFIX)


class Folder:
    """The config's folder: the only tree its references may read from."""

    def __init__(self, root: Path):
        self.root = root.resolve()

    def resolve(self, ref: str, where: Spot) -> Path:
        """The regular file a ``file://`` reference (or plain relative path) names."""
        name = ref.removeprefix(FILE_PREFIX)
        self._check_name(name, ref, where)
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root):
            raise where.problem(f"{ref} leads outside the config's folder (through a link)",
                                "copy the file into the config's folder")
        try:
            check_regular(path, MAX_BYTES)
        except FileNotFoundError:
            raise where.problem(f"{ref}: file not found (looked for {display_path(path)})",
                                ) from None
        except FileRefused as exc:
            raise where.problem(f"{ref} {exc.reason}", exc.hint or
                                "refer to a regular text or data file") from None
        return path

    def glob(self, ref: str, where: Spot) -> list[Path]:
        """The regular files a ``file://`` glob matches, sorted; refused like :meth:`resolve`."""
        name = ref.removeprefix(FILE_PREFIX)
        self._check_name(name, ref, where)
        found = sorted(p for p in self.root.glob(name)
                       if p.resolve().is_relative_to(self.root) and p.is_file())
        if not found:
            raise where.problem(f"{ref}: no file matches")
        return [self.resolve(str(p.relative_to(self.root)), where) for p in found]

    def _check_name(self, name: str, ref: str, where: Spot) -> None:
        pure = PurePosixPath(name.replace("\\", "/"))
        if not name.strip():
            raise where.problem(f"'{ref}' names no file")
        if pure.is_absolute() or name.startswith("~") or (len(name) > 1 and name[1] == ":"):
            raise where.problem(f"{ref} is an absolute path",
                                "refer to files relative to the config's folder")
        if ".." in pure.parts:
            raise where.problem(f"{ref} climbs out of the config's folder with '..'",
                                "copy the file into the config's folder")

    def show(self, path: Path) -> str:
        return display_path(path)

    def relative(self, path: Path) -> str:
        """A path as the config names it: relative to the config's folder."""
        return path.resolve().relative_to(self.root).as_posix()

    def read_text(self, path: Path) -> str:
        """The file as UTF-8 text (a byte-order mark dropped), re-checked while it is read."""
        try:
            return read_text(path, MAX_BYTES)
        except FileNotFoundError:
            raise InputError(Problem("file not found", self.show(path))) from None
        except FileRefused as exc:
            raise InputError(exc.problem(self.show(path))) from None

    def load_doc(self, path: Path) -> Located:
        """A YAML or JSON file with the line of each value."""
        return load_yaml(path, self.read_text(path))

    def jsonl_rows(self, path: Path) -> list[tuple[Any, Spot]]:
        """One JSON value per non-blank line, each with its line."""
        shown = self.show(path)
        rows = []
        for number, line in enumerate(self.read_text(path).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append((json.loads(line), Spot(shown, number)))
            except json.JSONDecodeError as exc:
                raise InputError(Problem(f"invalid JSON: {exc.msg}", shown, number)) from None
        return rows

    def csv_rows(self, path: Path) -> list[tuple[dict[str, str], Spot]]:
        """Rows as {column: text} with the line each row starts on (a BOM is dropped)."""
        shown = self.show(path)
        text = self.read_text(path).removeprefix("\ufeff")
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputError(Problem("CSV file is empty", shown, 1)) from None
        rows = []
        start = reader.line_num + 1
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    if len(row) != len(header):
                        raise InputError(Problem(
                            f"row has {len(row)} fields but the header has {len(header)}",
                            shown, start, "quote fields that contain commas"))
                    rows.append((dict(zip(header, row, strict=True)), Spot(shown, start)))
                start = reader.line_num + 1
        except csv.Error as exc:
            raise InputError(Problem(f"invalid CSV: {exc}", shown, reader.line_num)) from None
        return rows
