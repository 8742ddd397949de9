"""The ``python`` assertion: the user's own function judges the output.

Security note: scoring a cell imports and runs a ``.py`` file named in the suite — the
user's own code, with this process's privileges, exactly like running their tests. Suites
from untrusted sources should be read before they are run. Validation (``workbench
validate``, and every run's checks before the first call) never imports it: it reads the
file's syntax tree to check that the function exists and takes ``(output, context)``.
"""

from __future__ import annotations

import ast
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
from workbench.config.files import MAX_SOURCE_BYTES, FileRefused, check_regular, read_text

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
    except SystemExit as exc:  # must not end the run, let alone with exit code 0
        sys.modules.pop(name, None)
        raise ImportError(f"{path.name} called sys.exit({exc.code!r}) while importing") from None
    except BaseException:
        sys.modules.pop(name, None)
        raise
    _modules[key] = module
    return module


def check_source(base_dir: Path, file: str) -> Path:
    """The check file's path: inside the project, a regular file of at most
    ``MAX_SOURCE_BYTES``; raises FileNotFoundError or FileRefused (a ValueError)."""
    path = resolve_file(base_dir, file, "python file")
    try:
        check_regular(path, MAX_SOURCE_BYTES)
    except FileNotFoundError:
        raise FileNotFoundError(f"python file {file!r} not found (looked for {path})") from None
    except FileRefused as exc:
        raise FileRefused(f"python file {file!r} {exc.reason}") from None
    return path


def load_function(base_dir: Path, file: str, function: str) -> Callable[..., Any]:
    """The user's check function; raises LookupError/ImportError/OSError/ValueError with a
    clear text."""
    path = check_source(base_dir, file)
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


def _top_level(tree: ast.Module) -> dict[str, ast.AST]:
    """Names a module binds at import time (in ``if``/``try`` blocks too), with their node."""
    found: dict[str, ast.AST] = {}
    body = list(tree.body)
    while body:
        node = body.pop(0)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        found[name.id] = node
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                found[(alias.asname or alias.name).split(".")[0]] = node
        elif isinstance(node, ast.If | ast.Try | ast.With):
            body[:0] = [*node.body, *getattr(node, "orelse", []),
                        *getattr(node, "finalbody", []),
                        *(s for h in getattr(node, "handlers", []) for s in h.body)]
    return found


def _takes_two(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether ``def`` can be called as ``f(output, context)``."""
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    required = len(positional) - len(args.defaults)
    kw_required = any(d is None for d in args.kw_defaults)
    return (len(positional) >= 2 or args.vararg is not None) and required <= 2 and not kw_required


def static_problems(base_dir: Path, file: str, function: str) -> list[str]:
    """Problems with a check file found without running it: missing, not Python, no such
    function, or one that cannot take ``(output, context)``."""
    try:
        path = check_source(base_dir, file)
        source = read_text(path, MAX_SOURCE_BYTES)
    except (OSError, ValueError) as exc:
        return [str(exc)]
    try:
        tree = ast.parse(source, filename=file)
    except SyntaxError as exc:
        return [f"cannot import {file}: SyntaxError: {exc.msg} (line {exc.lineno})"]
    except (ValueError, RecursionError, MemoryError) as exc:
        return [f"cannot import {file}: {type(exc).__name__}: {exc}"]
    names = _top_level(tree)
    node = names.get(function)
    if node is None:
        defined = sorted(n for n, v in names.items()
                         if isinstance(v, ast.FunctionDef | ast.AsyncFunctionDef))
        listed = ", ".join(defined) if defined else "none"
        return [f"{file} has no function {function!r} (functions defined: {listed})"]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not _takes_two(node):
        return [f"{file}: {function}() must accept two arguments (output, context)"]
    return []


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
        """Check the file without running it, so a missing or broken check is reported
        before any call (validation runs no user code)."""
        return static_problems(base_dir, self.file, self.function or "check")

    async def check(self, output: Output, ctx: Context) -> Outcome:
        """Run the user's function. Any exception it raises fails the assertion with its text."""
        function = self.function or "check"
        file = self.file
        try:
            func = load_function(ctx.base_dir, file, function)
        except Exception as exc:  # import errors are the user's code failing, not ours
            reason = (
                str(exc)
                if isinstance(exc, OSError | LookupError | FileRefused)
                else (f"cannot load {file}: {type(exc).__name__}: {exc}")
            )
            raise CannotCheck(reason) from None
        problem = signature_problem(func, function)
        if problem:
            raise CannotCheck(f"{file}: {problem}")
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
        except SystemExit as exc:  # must not end the run
            raise CannotCheck(f"{function}() called sys.exit({exc.code!r})") from None
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
