"""The ``python`` assertion: the user's own function judges the output.

Security note: this imports and runs a ``.py`` file named in the suite — the user's own
code, with this process's privileges, exactly like running their tests. Suites from
untrusted sources should be read before they are run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import math
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import Field

from workbench.checks.assertions._base import (
    REGISTRY,
    Problems,
    ReadsOutput,
    got,
    resolve_file,
)
from workbench.checks.assertions._fields import check_threshold
from workbench.checks.assertions._outcome import CannotCheck, Context, Outcome, Output, verdict
from workbench.checks.values import as_text, show, show_list

_modules: dict[tuple[str, int], ModuleType] = {}


def load_module(path: Path) -> ModuleType:
    """Import a user's check file by path, once per (path, mtime).

    This executes the user's own code with the tool's privileges — the same trust as running
    their test suite. Editing the file makes the next evaluation load the new version.
    """
    resolved = path.resolve()
    key = (str(resolved), resolved.stat().st_mtime_ns)
    module = _modules.get(key)
    if module is not None:
        return module
    digest = hashlib.sha1(f"{key[0]}:{key[1]}".encode()).hexdigest()[:12]
    name = f"_workbench_check_{resolved.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {resolved}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    _modules[key] = module
    return module


def load_function(base_dir: Path, file: str, function: str) -> Callable[..., Any]:
    """The user's check function; raises LookupError/ImportError/OSError with a clear text."""
    path = resolve_file(base_dir, file)
    if not path.is_file():
        raise FileNotFoundError(f"python file {file!r} not found (looked for {path})")
    module = load_module(path)
    func = getattr(module, function, None)
    if func is None:
        found = sorted(
            n
            for n, v in vars(module).items()
            if callable(v) and inspect.isfunction(v) and v.__module__ == module.__name__
        )
        listed = ", ".join(found) if found else "none"
        raise LookupError(f"{file} has no function {function!r} (functions defined: {listed})")
    if not callable(func):
        raise LookupError(f"{file}: {function!r} is a {type(func).__name__}, not a function")
    return func


def signature_problem(func: Callable[..., Any], name: str) -> str | None:
    """Whether ``func`` can be called as ``func(output, context)``."""
    try:
        inspect.signature(func).bind("", {})
    except TypeError:
        return f"{name}() must accept two arguments (output, context)"
    except ValueError:  # builtins without a signature: give them the benefit of the doubt
        return None
    return None


def _user_error(exc: BaseException, path: Path, function: str) -> str:
    """``check() raised ValueError: boom (checks.py:12)`` — the user's line, not ours."""
    where = ""
    try:
        resolved = str(path.resolve())
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == resolved]
        if frames:
            where = f" ({path.name}:{frames[-1].lineno})"
    except OSError:
        pass
    return f"{function}() raised {type(exc).__name__}: {exc}{where}"


def _interpret(result: Any, threshold: float, function: str) -> tuple[bool, float, str]:
    """bool → pass; number → score vs threshold; dict {pass, score?, reason?}."""
    name = f"{function}()"
    if isinstance(result, bool):
        return result, 1.0 if result else 0.0, f"{name} returned {result}"
    if isinstance(result, int | float):
        score = float(result)
        if math.isnan(score):
            raise CannotCheck(f"{name} returned NaN")
        clamped = min(1.0, max(0.0, score))
        cmp = ">=" if score >= threshold else "<"
        return (
            score >= threshold,
            clamped,
            f"{name} scored {score:.2f} ({cmp} threshold {threshold:.2f})",
        )
    if isinstance(result, dict):
        unknown = set(result) - {"pass", "score", "reason"}
        if unknown:
            raise CannotCheck(
                f"{name} returned a dict with unknown keys {show_list(sorted(map(str, unknown)))}"
                " (allowed: pass, score, reason)"
            )
        score_raw = result.get("score")
        if score_raw is not None and (
            isinstance(score_raw, bool)
            or not isinstance(score_raw, int | float)
            or math.isnan(score_raw)
        ):
            raise CannotCheck(f"{name} returned a non-numeric score {show(score_raw)}")
        if "pass" in result:
            if not isinstance(result["pass"], bool):
                raise CannotCheck(f"{name} returned 'pass': {show(result['pass'])}, not a bool")
            passed = result["pass"]
        elif score_raw is not None:
            passed = score_raw >= threshold
        else:
            raise CannotCheck(f"{name} returned a dict without 'pass' or 'score'")
        score = (
            min(1.0, max(0.0, float(score_raw)))
            if score_raw is not None
            else (1.0 if passed else 0.0)
        )
        reason = result.get("reason")
        text = str(reason) if reason else f"{name} returned pass={passed}"
        return passed, score, text
    if result is None:
        raise CannotCheck(
            f"{name} returned None; return a bool, a score or {{pass, score, reason}}"
        )
    raise CannotCheck(
        f"{name} returned a {type(result).__name__}; return a bool, a score or "
        "{pass, score, reason}"
    )


@REGISTRY.register
class Python(ReadsOutput):
    """``function(output, context)`` from ``file`` returns a bool, a score or a dict."""

    type: Literal["python"]
    file: str = Field(description="a .py file relative to the suite file")
    function: str | None = None
    threshold: float | None = None

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        check_threshold(data, problems)
        if "file" in data:
            file = data["file"]
            if not isinstance(file, str) or not file.strip().endswith(".py"):
                problems.add(
                    "file",
                    f"'file' must be the path of a .py file (relative to the "
                    f"suite file), got {got(file)}",
                )
        if "function" in data:
            function = data["function"]
            if not isinstance(function, str) or not function.isidentifier():
                problems.add(
                    "function", f"'function' must be a Python function name, got {got(function)}"
                )

    def detail(self) -> str:
        return f" {self.file}:{self.function or 'check'}"

    def file_problems(self, base_dir: Path) -> list[str]:
        """Import the file now, so a missing or broken check is reported before any call."""
        function = self.function or "check"
        try:
            func = load_function(base_dir, self.file, function)
        except (OSError, LookupError) as exc:
            return [str(exc)]
        except Exception as exc:  # the user's module failed while importing
            return [f"cannot import {self.file}: {type(exc).__name__}: {exc}"]
        problem = signature_problem(func, function)
        return [f"{self.file}: {problem}"] if problem else []

    async def check(self, output: Output, ctx: Context) -> Outcome:
        """Run the user's function. Any exception it raises fails the assertion with its text."""
        function = self.function or "check"
        file = self.file
        try:
            func = load_function(ctx.base_dir, file, function)
        except Exception as exc:  # import errors are the user's code failing, not ours
            reason = (
                str(exc)
                if isinstance(exc, OSError | LookupError)
                else (f"cannot load {file}: {type(exc).__name__}: {exc}")
            )
            raise CannotCheck(reason) from None
        context = {
            "vars": dict(ctx.vars),
            "expected": ctx.expected,
            "answer": output.answer,
            "raw": output.raw,
            "latency_ms": output.latency_ms,
            "cost": output.cost,
        }
        text = as_text(self.subject(output))
        try:
            result = func(text, context)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            path = resolve_file(ctx.base_dir, file)
            raise CannotCheck(_user_error(exc, path, function)) from None
        threshold = 0.5 if self.threshold is None else self.threshold
        passed, score, reason = _interpret(result, threshold, function)
        return verdict(
            self.negate,
            passed,
            score=score,
            yes=reason,
            no=reason,
            neg_yes=f"expected {function}() to fail, but it passed: {reason}",
            neg_no=f"{function}() failed as required: {reason}",
        )
