"""The Jinja2 sandbox prompt templates render in: no Python internals, no memory bombs.

Jinja's ``ImmutableSandboxedEnvironment`` already blocks underscore attributes, mutating
methods and ``str.format`` attribute tricks, and caps ``range`` at 100,000 items. It does
not stop a template from asking for a huge allocation in one expression —
``'a' * 10**10``, ``10 ** 10 ** 10`` (folded at *compile* time), ``'x'.ljust(10**10)``,
``'%10000000000d' % 1``, ``[1]|batch(10**10, 0)`` — nor a loop from producing gigabytes.
A prompt file is shared like code, so rendering it must never take the machine down.

Here every operation that allocates in proportion to a number checks that number first,
the ranges of one render share a budget (nested loops cannot multiply it), and the
rendered text of one message is capped. A breach raises :class:`TemplateLimitError`, which
the template module reports like any unsafe template: file, line, what to change.
"""

from __future__ import annotations

import contextvars
import inspect
import re
import string
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_SIZE = 100_000  # items or characters one operation may produce (Jinja's MAX_RANGE)
MAX_POWER_BITS = 100_000  # an integer power of more bits than this is refused (~30,000 digits)
RANGE_BUDGET = 1_000_000  # range items per render, all ranges together
MAX_RENDERED = 10_000_000  # characters of one rendered message (~2.5M tokens)

_SEQUENCES = (str, bytes, list, tuple)
# printf-style conversions: %(name)-08.3f and friends; group 1 = width, group 2 = precision
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_DIGITS = re.compile(r"\d+")

_range_left: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "workbench_range_left", default=None
)


class TemplateLimitError(SecurityError):
    """A template asked for more than the sandbox allows (memory or loop budget)."""


def _refuse(what: str) -> TemplateLimitError:
    return TemplateLimitError(f"{what}; templates are limited to {MAX_SIZE:,} items per value")


def _check_size(name: str, value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SIZE:
        raise _refuse(f"{name} {value:,} is too large")


def _check_percent_format(fmt: str, args: Any) -> None:
    """``'%10000000000d' % 1`` allocates the width: check widths and ``*`` arguments."""
    star = False
    for width, precision in _PERCENT_SPEC.findall(fmt):
        for part in (width, precision):
            if part == "*":
                star = True
            elif part:
                _check_size("format width", int(part))
    if star:
        for arg in args if isinstance(args, tuple) else (args,):
            _check_size("format width", arg)


def _check_format_specs(fmt: str) -> bool:
    """Check ``str.format`` specs like ``{:10000000000}``; True if a spec is nested."""
    nested = False
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return False  # str.format will raise its own, clear error
    for _, _, spec, _ in fields:
        if spec:
            nested = nested or "{" in spec
            for digits in _DIGITS.findall(spec):
                _check_size("format width", int(digits))
    return nested


def _budgeted_range(*args: int) -> range:
    """``range`` drawing on the render's budget, so nested loops cannot multiply it."""
    rng = range(*args)
    if len(rng) > MAX_SIZE:
        raise _refuse(f"range of {len(rng):,} items is too large")
    left = _range_left.get()
    if left is not None:
        left[0] -= len(rng)
        if left[0] < 0:
            raise TemplateLimitError(
                f"loops in this template use more than {RANGE_BUDGET:,} range items in one "
                "render"
            )
    return rng


def _limit_filter(func: Callable[..., Any], *params: str) -> Callable[..., Any]:
    """Wrap a built-in filter so the named size parameters are checked before it runs."""
    signature = inspect.signature(func)

    @wraps(func)  # keeps Jinja's pass_context/pass_eval_context marker
    def checked(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        for name in params:
            if name in bound.arguments:
                _check_size(f"{func.__name__.removeprefix('do_')}({name}=…)",
                            bound.arguments[name])
        return func(*args, **kwargs)

    return checked


def _format_filter(value: Any, *args: Any, **kwargs: Any) -> str:
    _check_percent_format(str(value), tuple(args))
    return jinja2.filters.do_format(value, *args, **kwargs)


class PromptSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox plus size limits on everything that can allocate."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _budgeted_range
        for name, params in (("center", ("width",)), ("indent", ("width",)),
                             ("batch", ("linecount",)), ("slice", ("slices",)),
                             ("tojson", ("indent",))):
            self.filters[name] = _limit_filter(self.filters[name], *params)
        self.filters["format"] = _format_filter

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any,
                   right: Any) -> Any:
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if (isinstance(seq, _SEQUENCES) and isinstance(count, int)
                        and len(seq) * count > MAX_SIZE):
                    raise _refuse(f"'*' would build {len(seq) * count:,} items")
        elif operator == "**":
            if (isinstance(left, int) and isinstance(right, int) and right > 0
                    and left.bit_length() * right > MAX_POWER_BITS):
                raise TemplateLimitError(f"{left} ** {right} is too large to compute in a template")
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: jinja2.runtime.Context, __obj: Any,  # noqa: N805
             *args: Any, **kwargs: Any) -> Any:
        # String methods allocate by their numeric arguments: 'x'.ljust(10**10).
        if isinstance(getattr(__obj, "__self__", None), (str, bytes)):
            for value in (*args, *kwargs.values()):
                _check_size(f"argument of {getattr(__obj, '__name__', 'a method')}()", value)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        nested = _check_format_specs(value.__self__)
        if not nested:
            return wrapper

        def checked(*args: Any, **kwargs: Any) -> str:
            values = list(args) + list(kwargs.values())
            if value.__name__ == "format_map" and args and isinstance(args[0], Mapping):
                values = list(args[0].values())
            for item in values:
                _check_size("format width", item)
            return wrapper(*args, **kwargs)

        return checked


def render_limited(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """Render with a fresh range budget and the output cap; raises TemplateLimitError."""
    token = _range_left.set([RANGE_BUDGET])
    try:
        parts: list[str] = []
        size = 0
        chunks: Iterable[str] = template.generate(**context)
        for chunk in chunks:
            size += len(chunk)
            if size > MAX_RENDERED:
                raise TemplateLimitError(
                    f"the rendered message is longer than {MAX_RENDERED:,} characters")
            parts.append(chunk)
        return "".join(parts)
    finally:
        _range_left.reset(token)
