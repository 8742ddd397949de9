"""Phrase assertions: starts-with, contains-any, contains-all.

Why separate types rather than options of ``contains``: they are the names promptfoo users
already write, so an imported suite reads the same as the config it came from, and each
says in one word what it checks. They search the raw output by default.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from workbench.checks.assertions._base import (
    REGISTRY,
    Problems,
    ReadsOutput,
    got,
    is_number,
    value_detail,
)
from workbench.checks.assertions._fields import check_bool, check_text_value
from workbench.checks.assertions._outcome import Context, Outcome, Output, verdict
from workbench.checks.values import as_text, show, show_list


@REGISTRY.register
class StartsWith(ReadsOutput):
    """The output starts with ``value`` (optionally ignoring case)."""

    type: Literal["starts-with"]
    value: str = Field(description="the text the output must start with")
    ignore_case: bool = False

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        check_bool(data, "ignore_case", problems)
        check_text_value("starts-with", "non-blank text", data, problems)

    def detail(self) -> str:
        return value_detail(self.value)

    async def check(self, output: Output, ctx: Context) -> Outcome:
        what = self.subject_name
        text = as_text(self.subject(output))
        if self.ignore_case:
            holds = text.casefold().startswith(self.value.casefold())
        else:
            holds = text.startswith(self.value)
        case = " (ignoring case)" if self.ignore_case else ""
        return verdict(
            self.negate,
            holds,
            yes=f"{what} starts with {show(self.value)}{case}",
            no=f"{what} does not start with {show(self.value)}{case}: "
            f"it starts {show(text[: max(len(self.value), 20)])}",
            neg_yes=f"expected {what} NOT to start with {show(self.value)}{case}, but it does",
        )


class _Phrases(ReadsOutput):
    """A list of phrases searched in the output, case-sensitive unless ``ignore_case``."""

    value: list[str] = Field(description="a list of texts")
    ignore_case: bool = False

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        check_bool(data, "ignore_case", problems)
        if "value" not in data:
            return
        kind, value = data["type"], data["value"]
        items = value if isinstance(value, list) else None
        texts = [str(v) if is_number(v) else v for v in items or []]
        if not texts or any(not isinstance(t, str) or not t for t in texts):
            problems.add(
                "value", f"'value' of '{kind}' must be a non-empty list of texts, got {got(value)}"
            )
            return
        data["value"] = texts

    def detail(self) -> str:
        return value_detail(self.value)

    def found(self, output: Output) -> tuple[list[str], list[str], str]:
        """(present phrases, missing phrases, the ' (ignoring case)' suffix or '')."""
        text = as_text(self.subject(output))
        fold = self.ignore_case
        hay = text.casefold() if fold else text
        present = [p for p in self.value if (p.casefold() if fold else p) in hay]
        missing = [p for p in self.value if p not in present]
        return present, missing, " (ignoring case)" if fold else ""


@REGISTRY.register
class ContainsAny(_Phrases):
    """The output contains at least one of the phrases in ``value``."""

    type: Literal["contains-any"]

    async def check(self, output: Output, ctx: Context) -> Outcome:
        what = self.subject_name
        present, _, case = self.found(output)
        listed = show_list(self.value)
        return verdict(
            self.negate,
            bool(present),
            yes=f"{what} contains {show_list(present)}{case} (any of {listed})",
            no=f"{what} contains none of {listed}{case}",
            neg_yes=f"expected {what} to contain none of {listed}{case}, "
            f"but it contains {show_list(present)}",
        )


@REGISTRY.register
class ContainsAll(_Phrases):
    """The output contains every phrase in ``value``; negated, it lacks at least one."""

    type: Literal["contains-all"]

    async def check(self, output: Output, ctx: Context) -> Outcome:
        what = self.subject_name
        present, missing, case = self.found(output)
        listed = show_list(self.value)
        return verdict(
            self.negate,
            not missing,
            score=len(present) / len(self.value),
            yes=f"{what} contains all of {listed}{case}",
            no=f"{what} lacks {show_list(missing)}{case} (needs all of {listed})",
            neg_yes=f"expected {what} to lack at least one of {listed}{case}, "
            "but it contains them all",
        )
