"""Calling the CLI's ``main()`` in this process the way a user's shell would, with a timer.

Why: interpreter start costs a subprocess about a second on a busy machine; tests that run
hundreds of commands (the hostile-input corpus, the property test) call ``main()`` directly
and still see what a user would: the exit code, stdout, stderr, and any traceback that
escapes. A hang is stopped by SIGALRM at ``seconds`` (so this must run in the main thread).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import traceback
from pathlib import Path

from workbench.cli.main import main


class Hang(BaseException):
    """The time is up (a BaseException: main() must not turn it into a message)."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def call_main(argv: list[str], root: Path, *, stdin: bytes = b"",
              seconds: float = 20.0) -> tuple[int | None, str, str]:
    """``main(argv)`` run in ``root`` with ``stdin``; returns (exit code, stdout, stderr).

    The code is None when the timer fired, -1 when an exception escaped main() (its
    traceback is then appended to stderr, as a user would see it).
    """
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    old_stdin, old_handler = sys.stdin, signal.signal(signal.SIGALRM, _alarm)
    os.chdir(root)
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code: int | None = main(argv)
    except Hang:
        code = None
    except SystemExit as exc:  # argparse usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # noqa: BLE001 - what a user would see as a traceback
        code = -1
        err.write(traceback.format_exc())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        sys.stdin = old_stdin
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()
