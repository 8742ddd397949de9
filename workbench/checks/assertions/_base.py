"""What every assertion type shares, and the registry that turns suite items into them.

An assertion type is one class, registered once with ``@REGISTRY.register``:

- its pydantic fields are the keys a suite may write (a required field's ``description``
  is the hint shown when it is missing);
- ``check_fields`` checks and normalises those keys' raw values;
- ``detail`` is its part of :meth:`BaseAssertion.describe`;
- ``check`` is its handler, and ``file_problems`` checks files it names.

Why a front door before pydantic: a suite author should see *every* problem of an item
at once, each at the offending key, with the allowed values ("unknown key 'valeu' (did you
mean 'value'? …)"). Pydantic's own union errors would be generic and name union members.
:meth:`Registry.check` produces exactly those messages; the discriminated union
(:meth:`Registry.union`) then only dispatches already-checked data on ``type``.
"""

from __future__ import annotations

import difflib
import math
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from workbench.checks.assertions._outcome import Context, Outcome, Output
from workbench.checks.values import show
from workbench.config.files import FileRefused, resolve_inside
from workbench.config.paths import find_project_root

On = Literal["raw", "answer"]
T = TypeVar("T", bound="type[BaseAssertion]")


def got(value: Any) -> str:
    """How a bad value is quoted in a validation message."""
    return show(value, 60)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Problems:
    """Collects located problems and raises them as one pydantic ValidationError."""

    def __init__(self, data: Any):
        self.data = data
        self.items: list[InitErrorDetails] = []

    def add(self, key: str | None, message: str) -> None:
        loc: tuple[str, ...] = (key,) if key else ()
        value = self.data.get(key) if key and isinstance(self.data, dict) else self.data
        # "value_error" so the suite loader shows the message as written (no "Value error,").
        self.items.append(
            InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=value)
        )

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationError.from_exception_data("Assertion", self.items)


class _Checked(dict[str, Any]):
    """A raw item the front door has checked and normalised: validated once, not twice."""


class BaseAssertion(BaseModel):
    """Keys every type takes. Subclasses narrow ``type`` to ``Literal["their-name"]``.

    ``not-X`` is read as ``type=X, negate=True``. Keys that do not apply to a type are
    rejected, not ignored, so a typo never silently weakens a test.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: str
    negate: bool = False
    weight: float = 1.0

    registry: ClassVar[Registry | None] = None  # set by Registry.register

    @classmethod
    def type_name(cls) -> str:
        """The name written in suites, from the ``Literal`` of the ``type`` field."""
        args = typing.get_args(cls.model_fields["type"].annotation)
        if len(args) != 1 or not isinstance(args[0], str):
            raise TypeError(f"{cls.__name__}.type must be Literal['<type name>']")
        return args[0]

    @classmethod
    def suite_keys(cls) -> list[str]:
        """The keys a suite may write for this type, in the order messages list them."""
        return [field.alias or name for name, field in cls.model_fields.items()]

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        """Check this type's keys in ``data`` (present ones only) and normalise their values."""

    @property
    def effective_on(self) -> On | None:
        """What the check reads: raw output or parsed answer (None: neither, e.g. latency)."""
        return None

    @property
    def label(self) -> str:
        """The type as a user would write it, e.g. ``not-contains``."""
        return f"not-{self.type}" if self.negate else self.type

    def describe(self) -> str:
        """One line for lists and reports, e.g. ``not-icontains 'refund' (weight 2)``."""
        weight = f" (weight {self.weight:g})" if self.weight != 1 else ""
        return f"{self.label}{self.detail()}{weight}"

    def detail(self) -> str:
        """This type's part of :meth:`describe`, with a leading space (or empty)."""
        return ""

    async def check(self, output: Output, ctx: Context) -> Outcome:
        """The handler: judge one cell's output (negation applied to the outcome)."""
        raise NotImplementedError(f"{type(self).__name__} has no handler")

    def file_problems(self, base_dir: Path) -> list[str]:
        """Problems with files this assertion names, relative to the suite file's folder."""
        return []

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping a plan stores; validating it gives this assertion back."""
        return self.model_dump(mode="json", exclude_defaults=True)

    @model_validator(mode="wrap")
    @classmethod
    def _front_door(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(data, cls | _Checked):
            return handler(data)
        if cls.registry is None:
            raise TypeError(f"{cls.__name__} is not a registered assertion type")
        return handler(cls.registry.check(data, expect=cls))


class ReadsOutput(BaseAssertion):
    """A type that reads the output: ``on`` picks the raw text or the parsed answer."""

    on: On | None = None

    default_on: ClassVar[On] = "raw"

    @property
    def effective_on(self) -> On:
        return self.on or self.default_on

    @property
    def subject_name(self) -> str:
        return "answer" if self.effective_on == "answer" else "output"

    def subject(self, output: Output) -> Any:
        return output.answer if self.effective_on == "answer" else (output.raw or "")


class Registry(Mapping[str, type[BaseAssertion]]):
    """Every assertion type by name, in registration order (the order messages list them)."""

    def __init__(self) -> None:
        self._types: dict[str, type[BaseAssertion]] = {}

    def __getitem__(self, name: str) -> type[BaseAssertion]:
        return self._types[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def register(self, cls: T) -> T:
        """Class decorator: add a type. Refuses a nameless type, a duplicate, no handler, or
        a class of another registry (its messages would list that registry's types)."""
        name = cls.type_name()
        if name in self._types:
            raise TypeError(f"assertion type {name!r} is registered twice")
        if vars(cls).get("registry") is not None:
            raise TypeError(f"{cls.__name__} already belongs to another registry")
        if cls.check is BaseAssertion.check:
            raise TypeError(f"assertion type {name!r} ({cls.__name__}) has no check() handler")
        cls.registry = self
        self._types[name] = cls
        return cls

    def all_keys(self) -> list[str]:
        return sorted({key for cls in self._types.values() for key in cls.suite_keys()})

    def union(self) -> Any:
        """The discriminated union of the registered types, behind :meth:`check`."""
        members = tuple(self._types.values())
        if len(members) == 1:
            return Annotated[members[0], WrapValidator(self._front_door)]
        return Annotated[
            Union[members],  # noqa: UP007 - a runtime tuple of classes
            Field(discriminator="type"),
            WrapValidator(self._front_door),
        ]

    def _front_door(self, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(data, BaseAssertion):
            return data
        return handler(self.check(data))

    def check(self, data: Any, expect: type[BaseAssertion] | None = None) -> _Checked:
        """Check a raw item and normalise it; every problem is raised together, located.

        ``expect``: the class being validated directly (its name is the default type).
        """
        problems = Problems(data)
        if not isinstance(data, dict):
            problems.add(
                None,
                "an assertion must be a mapping like {type: contains, value: ...}, "
                f"got {got(data)}",
            )
            problems.raise_if_any()
        data = dict(data)
        if "json_schema" in data and "schema" not in data:  # Python callers may use the name
            data["schema"] = data.pop("json_schema")
        if expect is not None:
            data.setdefault("type", expect.type_name())
        cls = self._check_type(data, problems)
        if expect is not None and cls not in (None, expect):
            problems.add("type", f"'type' must be '{expect.type_name()}' for {expect.__name__}")
            cls = None
        self._check_keys(cls, data, problems)
        _check_common(cls, data, problems)
        if cls is not None:
            _check_required(cls, data, problems)
            cls.check_fields(data, problems)
        problems.raise_if_any()
        return _Checked(data)

    def _check_type(self, data: dict[str, Any], problems: Problems) -> type[BaseAssertion] | None:
        """The class ``type`` names; ``not-X`` becomes ``type: X, negate: true``."""
        known = ", ".join(self)
        kind = data.get("type")
        if kind is None:
            problems.add(None, f"assertion is missing 'type' (known types: {known})")
            return None
        if not isinstance(kind, str):
            problems.add("type", f"'type' must be text, one of: {known}; got {got(kind)}")
            return None
        name = kind.strip()
        base = name.removeprefix("not-")
        if base not in self._types:
            candidates = [*self, *(f"not-{t}" for t in self)]
            close = difflib.get_close_matches(name, candidates, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            problems.add(
                "type",
                f"unknown assertion type '{kind}' ({hint}known types: {known}; "
                "prefix any with 'not-' to negate)",
            )
            return None
        data["type"] = base
        if name.startswith("not-"):
            if data.get("negate") is True:
                problems.add(
                    "negate",
                    f"'{name}' is already negated; remove 'negate: true' or write type '{base}'",
                )
            elif data.get("negate") is False:
                problems.add(
                    "negate", f"'negate: false' contradicts type '{name}'; write type '{base}'"
                )
            data["negate"] = True
        return self._types[base]

    def _check_keys(
        self, cls: type[BaseAssertion] | None, data: dict[str, Any], problems: Problems
    ) -> None:
        """Unknown keys, and known keys that belong to another type."""
        every = self.all_keys()
        allowed = cls.suite_keys() if cls else every
        kind = cls.type_name() if cls else None
        for key in list(data):
            if key in allowed:
                continue
            if not isinstance(key, str):
                problems.add(None, f"assertion keys must be text, got {got(key)}")
                continue
            if kind and key in every:
                problems.add(
                    key,
                    f"'{key}' does not apply to '{kind}' assertions "
                    f"(keys for {kind}: {', '.join(allowed)})",
                )
            else:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                what = f"'{kind}' assertions" if kind else "assertions"
                problems.add(
                    key, f"unknown key '{key}' ({hint}keys for {what}: {', '.join(allowed)})"
                )


def _check_common(
    cls: type[BaseAssertion] | None, data: dict[str, Any], problems: Problems
) -> None:
    """``negate``, ``weight`` and ``on`` (``on`` only where it applies: one problem per key)."""
    if "negate" in data and not isinstance(data["negate"], bool):
        problems.add("negate", f"'negate' must be true or false, got {got(data['negate'])}")
    if "weight" in data:
        weight = data["weight"]
        if not is_number(weight) or weight < 0:
            problems.add("weight", f"'weight' must be a number >= 0, got {got(weight)}")
    takes_on = cls is None or "on" in cls.model_fields
    if takes_on and "on" in data and data["on"] not in ("raw", "answer"):
        problems.add("on", f"'on' must be one of: raw, answer; got {got(data['on'])}")


def _check_required(cls: type[BaseAssertion], data: dict[str, Any], problems: Problems) -> None:
    kind = cls.type_name()
    for name, field in cls.model_fields.items():
        key = field.alias or name
        if name != "type" and field.is_required() and key not in data:
            hint = f" ({field.description})" if field.description else ""
            problems.add(None, f"'{kind}' assertion is missing '{key}'{hint}")


def value_detail(value: Any) -> str:
    """The usual :meth:`BaseAssertion.detail`: the value, shortened (nothing for None)."""
    return f" {show(value, 40)}" if value is not None else ""


def resolve_file(base_dir: Path, name: str, what: str = "file") -> Path:
    """A file a suite names: relative to the suite file's folder, inside the project
    (symlinks followed); raises FileRefused (a ValueError) otherwise."""
    try:
        return resolve_inside(find_project_root(base_dir.resolve()), base_dir, name)
    except FileRefused as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        raise FileRefused(f"{what} {exc.reason}{hint}") from None


REGISTRY = Registry()
"""The assertion types suites may use; each type module registers its classes here."""
