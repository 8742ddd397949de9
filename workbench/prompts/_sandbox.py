"""The Jinja2 sandbox prompt templates render in: no Python internals, no memory or CPU bombs.

Jinja's ``ImmutableSandboxedEnvironment`` already blocks underscore attributes, mutating
methods and ``str.format`` attribute tricks, and caps ``range`` at 100,000 items. It does
not stop a template from asking for a huge allocation in one expression —
``'a' * 10**10``, ``10 ** 10 ** 10`` (folded at *compile* time), ``'x'.ljust(10**10)``,
``'%10000000000d' % 1``, ``[1]|batch(10**10, 0)``, ``s|replace('a', s)``, ``lipsum(10**7)``
— nor a template of small steps from building gigabytes (doubling a string in a loop or a
namespace, ``{% set %}`` blocks) or looping for hours over a long string.
A prompt file is shared like code, so rendering it must never take the machine down.

So every operation of a render goes through a budget, enforced *while* it renders:

- an operation whose result grows with a number or a length (``*``, ``%``, widths,
  ``replace``, ``join``, ``indent``, ``wordwrap``, ``lipsum``, conversion to text, …)
  checks the size it would build *before* it runs: no value may exceed
  :data:`MAX_RENDERED` characters or :data:`MAX_ITEMS` items;
- everything built counts against :data:`BUILD_BUDGET` per render, so small steps cannot
  add up to gigabytes; ranges share :data:`RANGE_BUDGET` and loops :data:`LOOP_BUDGET`;
- every call, attribute, operator, filter and loop iteration checks the clock against
  :data:`RENDER_SECONDS`.

A breach raises :class:`TemplateLimitError`, which the template module reports like any
unsafe template: file, line, what to change.
"""

from __future__ import annotations

import contextvars
import inspect
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import generate_lorem_ipsum

MAX_SIZE = 100_000  # items or characters one operation may produce (Jinja's MAX_RANGE)
MAX_POWER_BITS = 100_000  # an integer power of more bits than this is refused (~30,000 digits)
RANGE_BUDGET = 1_000_000  # range items per render, all ranges together
MAX_RENDERED = 10_000_000  # characters of one rendered message, and of any text value
MAX_ITEMS = 1_000_000  # items of any list or mapping a template builds
BUILD_BUDGET = 50_000_000  # characters and items built in one render, all values together
LOOP_BUDGET = 10_000_000  # loop iterations in one render, all loops together
RENDER_SECONDS = 2.0  # wall time of one render

_SEQUENCES = (str, bytes, list, tuple)
# printf-style conversions: %(name)-08.3f and friends; group 1 = width, group 2 = precision
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_DIGITS = re.compile(r"\d+")
# String methods whose result can be longer than the string: how much, at most.
_CASE_METHODS = frozenset({"upper", "lower", "title", "capitalize", "casefold", "swapcase"})
_SPLITTERS = frozenset({"split", "rsplit", "splitlines"})


class TemplateLimitError(SecurityError):
    """A template asked for more than the sandbox allows (memory, loop or time budget)."""


@dataclass
class _Budget:
    """What is left of one render's allowance."""

    deadline: float
    ranges: int = RANGE_BUDGET
    built: int = BUILD_BUDGET
    loops: int = LOOP_BUDGET


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "workbench_render_budget", default=None
)


def _refuse(what: str) -> TemplateLimitError:
    return TemplateLimitError(f"{what}; templates are limited to {MAX_SIZE:,} items per value")


def _tick() -> None:
    """Refuse to go on once the render's time is up (outside a render: no clock)."""
    budget = _budget.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise TemplateLimitError(f"rendering took longer than {RENDER_SECONDS:g} s")


def _check_size(name: str, value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SIZE:
        raise _refuse(f"{name} {value:,} is too large")


def _check_text(what: str, estimate: int) -> None:
    """Refuse before building text of ``estimate`` characters if that is over the limit."""
    if estimate > MAX_RENDERED:
        raise TemplateLimitError(f"{what} would build {estimate:,} characters; a template "
                                 f"value is limited to {MAX_RENDERED:,}")


def _charge(value: Any) -> Any:
    """Count a value an operation built against the render's budget; returns it."""
    if isinstance(value, str | bytes):
        size = len(value)
        _check_text("this", size)
    elif isinstance(value, list | tuple | dict | set | frozenset):
        size = len(value)
        if size > MAX_ITEMS:
            raise TemplateLimitError(f"a value of {size:,} items is too large; templates are "
                                     f"limited to {MAX_ITEMS:,} items per value")
    elif isinstance(value, int) and not isinstance(value, bool):
        size = value.bit_length() // 8
    else:
        return value
    budget = _budget.get()
    if budget is not None:
        budget.built -= size
        if budget.built < 0:
            raise TemplateLimitError(f"this template builds more than {BUILD_BUDGET:,} "
                                     "characters and items in one render")
    return value


def _text_size(value: Any, limit: int = MAX_RENDERED) -> int:
    """About how long ``str(value)`` is (never less), walking containers without recursion
    and stopping once past ``limit``."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 2
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 80  # an object's repr
    return total


def _check_percent_format(fmt: str, args: Any) -> None:
    """``'%10000000000d' % 1`` allocates the width; ``'%(a)s' * n % {'a': big}`` repeats an
    argument: check widths, ``*`` arguments and how much text the conversions add."""
    star = False
    specs = _PERCENT_SPEC.findall(fmt)
    for width, precision in specs:
        for part in (width, precision):
            if part == "*":
                star = True
            elif part:
                _check_size("format width", int(part))
    values = args if isinstance(args, tuple) else (args,)
    if star:
        for arg in values:
            _check_size("format width", arg)
    if isinstance(args, Mapping):
        values = tuple(args.values())
    largest = max((_text_size(v) for v in values), default=0)
    _check_text("this format", len(fmt) + len(specs) * largest)


def _check_format_specs(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """``str.format``: widths in specs (``{:10000000000}``, nested ``{:{w}}``) and fields
    that repeat a long argument (``('{0}' * 100000).format(big)``)."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format will raise its own, clear error
    values = [*args, *kwargs.values()]
    nested = False
    for _, _, spec, _ in fields:
        if spec:
            nested = nested or "{" in spec
            for digits in _DIGITS.findall(spec):
                _check_size("format width", int(digits))
    if nested:
        for item in values:
            _check_size("format width", item)
    largest = max((_text_size(v) for v in values), default=0)
    _check_text("this format", len(fmt) + len(fields) * largest)


def _check_str_method(text: str | bytes, name: str, args: tuple[Any, ...],
                      kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Check what a string method would build; returns its arguments (``join``'s iterable
    materialised, so it can be measured and still be joined)."""
    for value in (*args, *kwargs.values()):
        _check_size(f"argument of {name}()", value)
    size = len(text)
    if name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, str | bytes) and isinstance(new, str | bytes):
            hits = size + 1 if not old else text.count(old)
            if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
                hits = min(hits, args[2])
            _check_text("replace()", size + hits * max(len(new) - len(old), 0))
    elif name == "join" and args:
        items = list(args[0])
        _check_text("join()", size * max(len(items) - 1, 0) + sum(
            len(i) if isinstance(i, str | bytes) else 0 for i in items))
        args = (items, *args[1:])
    elif name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tab, int):
            count = text.count("\t" if isinstance(text, str) else b"\t")
            _check_text("expandtabs()", size + count * max(tab, 0))
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        _check_text("translate()", size * max(longest, 1))
    elif name in _CASE_METHODS:
        _check_text(f"{name}()", size * 3)
    elif name == "encode":
        _check_text("encode()", size * 4)
    elif name in _SPLITTERS and size + 1 > MAX_ITEMS:
        raise TemplateLimitError(f"{name}() of {size:,} characters could build more than "
                                 f"{MAX_ITEMS:,} items")
    return args


def _budgeted_range(*args: int) -> range:
    """``range`` drawing on the render's budget, so nested loops cannot multiply it."""
    rng = range(*args)
    if len(rng) > MAX_SIZE:
        raise _refuse(f"range of {len(rng):,} items is too large")
    budget = _budget.get()
    if budget is not None:
        budget.ranges -= len(rng)
        if budget.ranges < 0:
            raise TemplateLimitError(
                f"loops in this template use more than {RANGE_BUDGET:,} range items in one "
                "render"
            )
    return rng


def _budgeted_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every ``{% for %}`` loops over: each iteration counts, and checks the clock."""
    budget = _budget.get()
    for item in iterable:
        if budget is not None:
            budget.loops -= 1
            if budget.loops < 0:
                raise TemplateLimitError(f"loops in this template run more than "
                                         f"{LOOP_BUDGET:,} times in one render")
            if time.monotonic() > budget.deadline:
                raise TemplateLimitError(f"rendering took longer than {RENDER_SECONDS:g} s")
        yield item


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    """Jinja's ``lipsum`` with its size checked first (``lipsum(10**7)`` is gigabytes)."""
    for value in (n, min, max):
        _check_size("lipsum() argument", value)
    words = n * max if isinstance(n, int) and isinstance(max, int) else 0
    if words > MAX_SIZE:
        raise _refuse(f"lipsum() of {n:,} paragraphs of up to {max:,} words is too large")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


# Filters whose output is at most this many times the text size of their input.
_FACTOR_FILTERS = {
    "string": 1, "pprint": 1, "list": 1, "trim": 1, "striptags": 1, "safe": 1,
    "upper": 3, "lower": 3, "title": 3, "capitalize": 3, "escape": 6, "e": 6,
    "forceescape": 6, "urlize": 8, "urlencode": 12, "xmlattr": 12,
}


def _filter_check(name: str, bound: inspect.BoundArguments) -> None:
    """The size a filter would build, checked before it runs (arguments may be replaced)."""
    args = bound.arguments
    value = args.get("value", args.get("s", args.get("iterable")))
    if name == "replace":
        old, new, text = args.get("old"), args.get("new"), value
        if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
            _check_str_method(text, "replace", (old, new, args.get("count") or -1), {})
    elif name == "join":
        items = list(value) if value is not None else []
        args["value"] = items
        sep = str(args.get("d", ""))
        _check_text("join", len(sep) * max(len(items) - 1, 0)
                    + sum(_text_size(i) for i in items))
    elif name == "indent":
        width = args.get("width", 4)
        pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        text = str(value) if isinstance(value, str) else ""
        _check_text("indent", len(text) + (text.count("\n") + 1) * pad)
    elif name == "wordwrap":
        text = value if isinstance(value, str) else ""
        width = args.get("width", 79)
        wrap = args.get("wrapstring") or "\n"
        if isinstance(width, int) and isinstance(wrap, str):
            _check_text("wordwrap", len(text) + (len(text) // max(width, 1) + 1) * len(wrap))
    elif name == "tojson":
        indent = args.get("indent") or 0
        pad = indent if isinstance(indent, int) else 0
        size = _text_size(value)
        _check_text("tojson", 6 * size + pad * size)
    elif name == "sum":
        items = list(value) if value is not None else []
        args["iterable"] = items
        start = args.get("start", 0)
        if not all(isinstance(v, int | float) for v in (start, *items)
                   if args.get("attribute") is None):
            raise TemplateLimitError("sum adds numbers in a template; join text with join")
    elif name == "list" and isinstance(value, str) and len(value) > MAX_ITEMS:
        raise TemplateLimitError(f"list of {len(value):,} characters is too large")
    elif name in _FACTOR_FILTERS:
        _check_text(name, _text_size(value) * _FACTOR_FILTERS[name])


def _guard_filter(name: str, func: Callable[..., Any], *size_params: str) -> Callable[..., Any]:
    """Wrap a filter: the clock, its numeric size parameters, what it would build (checked
    before it runs) and what it built (counted after)."""
    signature = inspect.signature(func)

    @wraps(func)  # keeps Jinja's pass_context/pass_eval_context marker
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return func(*args, **kwargs)  # the filter reports its own usage error
        for param in size_params:
            if param in bound.arguments:
                _check_size(f"{name}({param}=…)", bound.arguments[param])
        _filter_check(name, bound)
        return _charge(func(*bound.args, **bound.kwargs))

    return guarded


_SIZE_PARAMS = {"center": ("width",), "indent": ("width",), "batch": ("linecount",),
                "slice": ("slices",), "tojson": ("indent",), "truncate": ("length",),
                "wordwrap": ("width",)}


def _format_filter(value: Any, *args: Any, **kwargs: Any) -> str:
    _check_percent_format(str(value), tuple(args) if args else kwargs)
    return jinja2.filters.do_format(value, *args, **kwargs)


class _BudgetedCodeGenerator(CodeGenerator):
    """Jinja's code generator with two more hooks: ``~`` joins through
    :meth:`PromptSandbox.join_text` and every ``for`` iterates through the loop budget."""

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.join_text((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        budgeted = nodes.Call(nodes.EnvironmentAttribute("budgeted_iter"), [node.iter], [],
                              None, None, lineno=node.iter.lineno)
        budgeted.set_environment(self.environment)
        copy = nodes.For(node.target, budgeted, node.body, node.else_, node.test,
                         node.recursive, lineno=node.lineno)
        copy.set_environment(self.environment)
        super().visit_For(copy, frame)


class PromptSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox plus size and time limits on everything that can allocate."""

    intercepted_binops = frozenset({"*", "**", "%", "+", "-", "/", "//"})
    code_generator_class = _BudgetedCodeGenerator

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _budgeted_range
        self.globals["lipsum"] = _lipsum
        self.filters["format"] = _format_filter
        for name, func in list(self.filters.items()):
            self.filters[name] = _guard_filter(name, func, *_SIZE_PARAMS.get(name, ()))
        self.finalize = _finalize
        self.concat = _concat  # type: ignore[method-assign]
        self.budgeted_iter = _budgeted_iter

    @staticmethod
    def join_text(parts: tuple[Any, ...]) -> str:
        """``a ~ b``: checked before it is built."""
        _tick()
        _check_text("'~'", sum(_text_size(p) for p in parts))
        return _charge("".join(map(str, parts)))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any,
                   right: Any) -> Any:
        _tick()
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if (isinstance(seq, _SEQUENCES) and isinstance(count, int)
                        and len(seq) * count > MAX_SIZE):
                    raise _refuse(f"'*' would build {len(seq) * count:,} items")
            if (isinstance(left, int) and isinstance(right, int)
                    and left.bit_length() + right.bit_length() > MAX_POWER_BITS):
                raise TemplateLimitError("this product is too large to compute in a template")
        elif operator == "**":
            if (isinstance(left, int) and isinstance(right, int) and right > 0
                    and left.bit_length() * right > MAX_POWER_BITS):
                raise TemplateLimitError(f"{left} ** {right} is too large to compute in a template")
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left, right)
        elif (operator == "+" and isinstance(left, _SEQUENCES)
              and isinstance(right, _SEQUENCES)):
            _check_text("'+'", len(left) + len(right))
        return _charge(super().call_binop(context, operator, left, right))

    def call(__self, __context: jinja2.runtime.Context, __obj: Any,  # noqa: N805
             *args: Any, **kwargs: Any) -> Any:
        _tick()
        # String methods allocate by their arguments: 'x'.ljust(10**10), s.replace('a', s).
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes):
            args = _check_str_method(owner, getattr(__obj, "__name__", "a method"), args,
                                     kwargs)
        return _charge(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            _tick()
            if value.__name__ == "format_map" and args and isinstance(args[0], Mapping):
                _check_format_specs(fmt, (), args[0])
            else:
                _check_format_specs(fmt, args, kwargs)
            return _charge(wrapper(*args, **kwargs))

        return checked


def _finalize(value: Any) -> Any:
    """Every ``{{ … }}`` before it becomes text: no value whose text is over the limit."""
    _tick()
    if not isinstance(value, str):
        _check_text("this expression", _text_size(value))
    return value


def _concat(parts: Iterable[str]) -> str:
    """How ``{% set %}`` blocks, ``{% filter %}`` blocks and macros join their output."""
    _tick()
    parts = list(parts)
    _check_text("this block", sum(len(p) for p in parts))
    return _charge("".join(parts))


def render_limited(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """Render with a fresh budget (time, ranges, loops, building) and the output cap;
    raises TemplateLimitError."""
    token = _budget.set(_Budget(deadline=time.monotonic() + RENDER_SECONDS))
    try:
        parts: list[str] = []
        size = 0
        for chunk in template.generate(**context):
            _tick()
            size += len(chunk)
            if size > MAX_RENDERED:
                raise TemplateLimitError(
                    f"the rendered message is longer than {MAX_RENDERED:,} characters")
            parts.append(chunk)
        return "".join(parts)
    finally:
        _budget.reset(token)
