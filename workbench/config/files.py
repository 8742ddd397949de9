"""Reading a file the user named, as if a stranger had written it.

Suites and prompt files are shared between people and repositories, so every path they name
is untrusted: ``file: ../../.ssh/id_rsa``, a symlink to ``/dev/zero``, a FIFO that never
ends, a 10 GB "CSV". Every file the workbench reads on a suite's or a prompt's say comes in
through here, which

- resolves it (symlinks included) and refuses anything outside the project folder;
- refuses what is not a regular file (folders, devices, FIFOs, sockets) before opening it;
- caps its size, and reads line-oriented files (CSV, JSONL) as a stream.

Problems are :class:`FileRefused`: the reason, and the file and line it is about when the
problem is inside the file (not UTF-8) rather than in the name that pointed to it.
"""

from __future__ import annotations

import codecs
import stat
from collections.abc import Iterator
from pathlib import Path

from workbench.errors import Problem, display_path

MB = 1024 * 1024
MAX_YAML_BYTES = 10 * MB  # a suite, a prompt version, labels.yaml, a schema file
MAX_CASES_BYTES = 50 * MB  # one CSV or JSONL file of cases
MAX_SOURCE_BYTES = 1 * MB  # a python check file


class FileRefused(ValueError):
    """A file that may not or cannot be read. ``file``/``line`` are set when the problem is
    in its content (then the problem points there, not at whoever named the file)."""

    def __init__(self, reason: str, file: str | None = None, line: int | None = None,
                 hint: str | None = None):
        super().__init__(reason)
        self.reason, self.file, self.line, self.hint = reason, file, line, hint

    def problem(self, file: str | None = None, line: int | None = None) -> Problem:
        """As a located problem: at its own file and line, else at the given ones."""
        if self.file:
            return Problem(self.reason, self.file, self.line, self.hint)
        return Problem(self.reason, file, line, self.hint)


def resolve_inside(root: Path, base_dir: Path, name: str) -> Path:
    """``name`` (relative to ``base_dir``) as a real path inside ``root``, or FileRefused.

    Absolute paths and ``~`` are refused even when they would land inside: a shared suite
    must not depend on where its reader keeps their files. ``..`` is fine while the result
    stays inside; a symlink is followed and must end inside ``root`` too.
    """
    if not name.strip():
        raise FileRefused("the path is empty")
    if "\x00" in name:
        raise FileRefused(f"{name!r} contains a NUL character")
    if name.startswith("~") or Path(name).is_absolute():
        raise FileRefused(f"{name!r} is an absolute path",
                          hint="files a suite names are relative to the suite file and "
                          "inside the project")
    root = root.resolve()
    try:
        real = (base_dir / name).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise FileRefused(f"{name!r} cannot be resolved: {exc}") from None
    if real != root and root not in real.parents:
        raise FileRefused(f"{name!r} is outside the project folder {display_path(root)}",
                          hint="files a suite names must be inside the project")
    return real


def check_regular(path: Path, limit: int) -> int:
    """The size of ``path`` if it is a regular file of at most ``limit`` bytes.

    Checked with ``stat`` before anything opens it: opening a FIFO blocks, and a device such
    as ``/dev/zero`` never ends. Raises FileNotFoundError or FileRefused.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise FileRefused(f"cannot read it: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise FileRefused("is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else
                "a socket" if stat.S_ISSOCK(info.st_mode) else "a device")
        raise FileRefused(f"is {kind}, not a regular file")
    if info.st_size > limit:
        raise FileRefused(f"is {info.st_size / MB:.1f} MB; the limit is {limit // MB} MB")
    return info.st_size


def read_bytes(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (checked again while reading,
    in case it grew). Raises FileNotFoundError or FileRefused."""
    check_regular(path, limit)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise FileRefused(f"cannot read it: {exc.strerror}") from None
    if len(data) > limit:
        raise FileRefused(f"is larger than the limit of {limit // MB} MB")
    return data


def decode_text(data: bytes, shown: str | None = None) -> str:
    """UTF-8 text (a leading byte-order mark dropped), or FileRefused naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRefused(f"not UTF-8 text ({exc.reason})", shown, line,
                          "save it as UTF-8") from None


def read_text(path: Path, limit: int = MAX_YAML_BYTES) -> str:
    """A regular UTF-8 text file of at most ``limit`` bytes."""
    return decode_text(read_bytes(path, limit), display_path(path))


def stream_lines(path: Path, limit: int = MAX_CASES_BYTES) -> Iterator[str]:
    """The lines of a UTF-8 file, read incrementally (each with its ``\\n``; a BOM dropped).

    Memory stays at one line however large the file; reading stops with FileRefused past
    ``limit`` bytes or at the first byte that is not UTF-8 (naming its line).
    """
    check_regular(path, limit)
    shown = display_path(path)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    total = number = 0
    pending = ""
    try:
        with open(path, "rb") as handle:
            for raw in iter(lambda: handle.read(1 << 16), b""):
                total += len(raw)
                if total > limit:
                    raise FileRefused(f"is larger than the limit of {limit // MB} MB")
                try:
                    pending += decoder.decode(raw)
                except UnicodeDecodeError as exc:
                    line = number + pending.count("\n") + raw[: exc.start].count(b"\n") + 1
                    raise FileRefused(f"not UTF-8 text ({exc.reason})", shown, line,
                                      "save it as UTF-8") from None
                *lines, pending = pending.split("\n")
                for text in lines:
                    number += 1
                    yield text + "\n"
            try:
                pending += decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                raise FileRefused(f"not UTF-8 text ({exc.reason})", shown, number + 1,
                                  "save it as UTF-8") from None
    except OSError as exc:
        raise FileRefused(f"cannot read it: {exc.strerror}") from None
    if pending:
        yield pending
