"""Atomic file writes: a reader never sees half a report, a crash keeps the previous one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """A UTF-8 text file written via a temp file in the same folder and ``os.replace``.

    Why: a CI job (or a second ``workbench`` process) reading the report never sees a
    half-written file, and a crash mid-write leaves the previous report intact.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # errors="replace": a lone surrogate in model output must not abort the report.
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="\n") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; a report is meant to be read by others (CI, web servers).
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically (see :func:`atomic_writer`); returns the path."""
    with atomic_writer(path) as fh:
        fh.write(text)
    return Path(path)


def atomic_create_text(path: str | os.PathLike[str], text: str) -> Path:
    """Create a UTF-8 text file whole or not at all, never replacing one that exists.

    Why: a prompt version is immutable. The text is written to a temporary file and
    hard-linked to its name, which fails with ``FileExistsError`` if the name is taken (two
    concurrent saves cannot overwrite each other), and a crash never leaves half a version.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.link(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return target
