"""Text assertions: equals, contains, icontains, regex, one-of.

``equals`` and ``one-of`` compare canonical text (``3`` = ``3.0`` = ``"3"``) and read the
parsed answer by default; the others search the raw output by default.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field

from workbench.checks.assertions._base import (
    REGISTRY,
    On,
    Problems,
    ReadsOutput,
    got,
    is_number,
    value_detail,
)
from workbench.checks.assertions._fields import check_bool, check_json_value, check_text_value
from workbench.checks.assertions._outcome import CannotCheck, Context, Outcome, Output, verdict
from workbench.checks.patterns import PatternTimeout, compile_pattern, search
from workbench.checks.values import as_text, canonical, plain, show, show_list

FLAG_LETTERS = "imsx"


@REGISTRY.register
class Equals(ReadsOutput):
    """The answer equals ``value`` exactly, on canonical text (optionally ignoring case)."""

    type: Literal["equals"]
    value: Any = Field(description="the expected answer")
    ignore_case: bool = False

    default_on: ClassVar[On] = "answer"

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        check_bool(data, "ignore_case", problems)
        check_json_value(data, problems)

    def detail(self) -> str:
        return value_detail(self.value)

    async def check(self, output: Output, ctx: Context) -> Outcome:
        what = self.subject_name
        actual = canonical(self.subject(output))
        wanted = canonical(self.value)
        holds = actual.casefold() == wanted.casefold() if self.ignore_case else actual == wanted
        return verdict(
            self.negate,
            holds,
            yes=f"{what} equals {show(wanted)}",
            no=f"expected {show(wanted)}, got {show(actual)}",
            neg_yes=f"expected {what} NOT to equal {show(wanted)}, but it does",
            neg_no=f"{what} is {show(actual)}, not {show(wanted)}",
        )


class _Needles(ReadsOutput):
    """contains / icontains: a list value means every item; negated, none of them."""

    value: str | list[str] = Field(description="text, or a list of texts that must all appear")

    @property
    def folds(self) -> bool:
        """Whether case is ignored."""
        return False

    @classmethod
    def check_needles(cls, data: dict[str, Any], problems: Problems) -> None:
        if "value" not in data:
            return
        kind, value = data["type"], data["value"]
        items = value if isinstance(value, list) else [value]
        if not items:
            problems.add("value", f"'value' of '{kind}' must not be an empty list")
            return
        texts: list[str] = []
        for item in items:
            if is_number(item):
                item = str(item)
            if not isinstance(item, str) or not item:
                problems.add(
                    "value",
                    f"'value' of '{kind}' must be non-empty text or a list "
                    f"of texts, got {got(value)}",
                )
                return
            texts.append(item)
        data["value"] = texts if isinstance(value, list) else texts[0]

    def detail(self) -> str:
        return value_detail(self.value)

    async def check(self, output: Output, ctx: Context) -> Outcome:
        what = self.subject_name
        text = as_text(self.subject(output))
        needles = self.value if isinstance(self.value, list) else [self.value]
        fold = self.folds
        hay = text.casefold() if fold else text
        present = [n for n in needles if (n.casefold() if fold else n) in hay]
        missing = [n for n in needles if n not in present]
        case = " (ignoring case)" if fold else ""
        single = len(needles) == 1
        if not self.negate:
            score = len(present) / len(needles)
            if not missing:
                reason = (
                    f"{what} contains {show(needles[0])}{case}"
                    if single
                    else f"{what} contains all of {show_list(needles)}{case}"
                )
                return Outcome(True, 1.0, reason)
            reason = (
                f"{what} does not contain {show(needles[0])}{case}"
                if single
                else f"{what} does not contain {show_list(missing)}{case} "
                f"(needs all of {show_list(needles)})"
            )
            return Outcome(False, score, reason)
        score = len(missing) / len(needles)
        if not present:
            reason = (
                f"{what} does not contain {show(needles[0])}{case}"
                if single
                else f"{what} contains none of {show_list(needles)}{case}"
            )
            return Outcome(True, 1.0, reason)
        reason = (
            f"expected {what} NOT to contain {show(needles[0])}{case}, but it does"
            if single
            else f"expected {what} to contain none of {show_list(needles)}{case}, "
            f"but it contains {show_list(present)}"
        )
        return Outcome(False, score, reason)


@REGISTRY.register
class Contains(_Needles):
    """The output contains ``value`` (every item of a list), case-sensitive by default."""

    type: Literal["contains"]
    ignore_case: bool = False

    @property
    def folds(self) -> bool:
        return self.ignore_case

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        check_bool(data, "ignore_case", problems)
        cls.check_needles(data, problems)


@REGISTRY.register
class IContains(_Needles):
    """``contains``, ignoring case."""

    type: Literal["icontains"]

    @property
    def folds(self) -> bool:
        return True

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        cls.check_needles(data, problems)


@REGISTRY.register
class Regex(ReadsOutput):
    """The pattern ``value`` is found (``re.search``) with ``flags`` from ``imsx``."""

    type: Literal["regex"]
    value: str = Field(description="the pattern")
    flags: str | None = None

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        check_text_value("regex", "a pattern", data, problems, numbers=False)
        if "flags" in data:
            flags = data["flags"]
            if not isinstance(flags, str) or any(c not in FLAG_LETTERS for c in flags):
                problems.add(
                    "flags",
                    f"'flags' must be letters from i (ignore case), m (multiline), s (dot "
                    f"matches newline), x (verbose); got {got(flags)}",
                )
            else:
                data["flags"] = "".join(sorted(set(flags), key=FLAG_LETTERS.index))
        if isinstance(data.get("value"), str):
            flags = data.get("flags") if isinstance(data.get("flags"), str) else ""
            try:
                compile_pattern(data["value"], flags if set(flags) <= set(FLAG_LETTERS) else "")
            except re.error as exc:
                problems.add("value", f"invalid regex {data['value']!r}: {exc}")

    def detail(self) -> str:
        return value_detail(self.value)

    async def check(self, output: Output, ctx: Context) -> Outcome:
        what = self.subject_name
        text = as_text(self.subject(output))
        flags = self.flags or ""
        shown = f"/{self.value}/{flags}"
        try:
            match = search(self.value, text, flags)
        except PatternTimeout as exc:
            raise CannotCheck(str(exc)) from None
        found = show(match.group(0), 60) if match else ""
        return verdict(
            self.negate,
            match is not None,
            yes=f"{what} matches {shown} (matched {found})",
            no=f"{what} does not match {shown}",
            neg_yes=f"expected {what} NOT to match {shown}, but it does (matched {found})",
        )


@REGISTRY.register
class OneOf(ReadsOutput):
    """The answer is one of the listed answers (canonical text, optionally ignoring case)."""

    type: Literal["one-of"]
    value: list[Any] = Field(description="the list of allowed answers")
    ignore_case: bool = False

    default_on: ClassVar[On] = "answer"

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        check_bool(data, "ignore_case", problems)
        if "value" not in data:
            return
        value = data["value"]
        if (
            not isinstance(value, list)
            or not value
            or any(isinstance(v, dict | list) for v in value)
        ):
            problems.add(
                "value",
                "'value' of 'one-of' must be a non-empty list of allowed "
                f"answers (text, numbers, true/false), got {got(value)}",
            )
            return
        try:
            data["value"] = plain(value)
        except TypeError as exc:
            problems.add("value", f"'value' of 'one-of' is not plain data: {exc}")

    def detail(self) -> str:
        return value_detail(self.value)

    async def check(self, output: Output, ctx: Context) -> Outcome:
        what = self.subject_name
        actual = canonical(self.subject(output))
        options = [canonical(v) for v in self.value]
        if self.ignore_case:
            holds = actual.casefold() in {o.casefold() for o in options}
        else:
            holds = actual in options
        listed = show_list(options)
        return verdict(
            self.negate,
            holds,
            yes=f"{what} {show(actual)} is one of {listed}",
            no=f"expected one of {listed}, got {show(actual)}",
            neg_yes=f"expected {what} NOT to be one of {listed}, but it is {show(actual)}",
            neg_no=f"{what} {show(actual)} is none of {listed}",
        )
