"""starts-with, contains-any, contains-all and contains-json: pass, fail, negation, reasons,
validation messages, and the bounded JSON search.

Why: these are the types promptfoo configs use most that the workbench lacked; an imported
suite must judge outputs the way its config did.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from workbench.checks.assertions import AssertionResult, Context, Output, evaluate, parse_assertion
from workbench.checks.assertions.contains_json import MAX_CANDIDATES, json_values

CTX = Context(vars={}, expected=None, base_dir=Path("."))


def out(raw: str) -> Output:
    return Output(raw, raw, True, 10.0, 0.0)


async def check(spec: dict[str, Any], raw: str, ctx: Context = CTX) -> AssertionResult:
    [result] = await evaluate([parse_assertion(spec)], out(raw), ctx)
    return result


def errors_of(data: Any) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        parse_assertion(data)
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


async def test_starts_with() -> None:
    spec = {"type": "starts-with", "value": "Dear"}
    assert (await check(spec, "Dear Sam, thanks")).reason == "output starts with 'Dear'"
    result = await check(spec, "Hello Sam")
    assert (result.passed, result.reason) == (
        False, "output does not start with 'Dear': it starts 'Hello Sam'")
    assert not (await check(spec, "dear Sam")).passed
    assert (await check({**spec, "ignore_case": True}, "dear Sam")).passed
    negated = await check({"type": "not-starts-with", "value": "Dear"}, "Dear Sam")
    assert (negated.passed, negated.reason) == (
        False, "expected output NOT to start with 'Dear', but it does")


async def test_contains_any() -> None:
    spec = {"type": "contains-any", "value": ["refund", "credit"]}
    result = await check(spec, "We issued a credit.")
    assert (result.passed, result.reason) == (
        True, "output contains 'credit' (any of 'refund', 'credit')")
    result = await check(spec, "No money for you.")
    assert (result.passed, result.reason) == (False, "output contains none of 'refund', 'credit'")
    assert (await check({**spec, "ignore_case": True}, "REFUND sent")).passed
    negated = await check({**spec, "type": "not-contains-any"}, "refund and credit")
    assert (negated.passed, negated.reason) == (
        False, "expected output to contain none of 'refund', 'credit', but it contains "
               "'refund', 'credit'")
    assert (await check({**spec, "type": "not-contains-any"}, "nothing")).passed


async def test_contains_all_scores_the_share_found() -> None:
    spec = {"type": "contains-all", "value": ["red", "blue", "green", "pink"]}
    result = await check(spec, "red or blue")
    assert (result.passed, result.score, result.reason) == (
        False, 0.5, "output lacks 'green', 'pink' (needs all of 'red', 'blue', 'green', 'pink')")
    assert (await check(spec, "pink green blue red")).passed
    negated = await check({**spec, "type": "not-contains-all"}, "red or blue")
    assert (negated.passed, negated.score) == (True, 0.5)
    assert not (await check({**spec, "type": "not-contains-all"}, "pinkgreenbluered")).passed


def test_phrase_lists_are_validated() -> None:
    assert errors_of({"type": "contains-any", "value": "refund"}) == [
        (("value",), "'value' of 'contains-any' must be a non-empty list of texts, got 'refund'")]
    assert errors_of({"type": "contains-all", "value": []}) == [
        (("value",), "'value' of 'contains-all' must be a non-empty list of texts, got []")]
    assert errors_of({"type": "starts-with", "value": " "}) == [
        (("value",), "'value' of 'starts-with' must be non-blank text, got ' '")]
    assert parse_assertion({"type": "contains-any", "value": [1, "x"]}).value == ["1", "x"]


async def test_contains_json_finds_json_in_prose() -> None:
    spec = {"type": "contains-json"}
    result = await check(spec, 'Sure! Here it is: {"city": "Paris"} Anything else?')
    assert (result.passed, result.reason) == (
        True, "output contains a JSON object (1 JSON value(s) found)")
    result = await check(spec, "No JSON {here, sorry")
    assert (result.passed, result.reason) == (False, "output contains no JSON object or array")
    negated = await check({"type": "not-contains-json"}, "[1, 2]")
    assert not negated.passed


async def test_contains_json_with_a_schema_needs_one_valid_value() -> None:
    schema = {"type": "object", "required": ["city"]}
    spec = {"type": "contains-json", "schema": schema}
    text = 'first {"town": "Lyon"} then {"city": "Paris"}'
    result = await check(spec, text)
    assert (result.passed, result.reason) == (
        True, 'output contains JSON matching the schema: {"city": "Paris"}')
    result = await check(spec, 'only {"town": "Lyon"}')
    assert not result.passed
    assert result.reason == ("none of the 1 JSON value(s) in output matches the schema "
                             '(first: {"town": "Lyon"}: \'city\' is a required property)')


async def test_contains_json_schema_file(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps({"type": "array", "minItems": 2}))
    ctx = Context(vars={}, expected=None, base_dir=tmp_path)
    spec = {"type": "contains-json", "schema_file": "s.json"}
    assert (await check(spec, "x [1, 2] y", ctx)).passed
    assert not (await check(spec, "x [1] y", ctx)).passed
    assert parse_assertion({**spec, "schema_file": "missing.json"}).file_problems(tmp_path) == [
        f"schema file 'missing.json' not found (looked for {tmp_path / 'missing.json'})"]
    assert errors_of({"type": "contains-json", "schema": {"type": 3}})[0][0] == ("schema",)


def test_contains_json_search_is_bounded() -> None:
    """A hostile output of many unbalanced brackets gives up after MAX_CANDIDATES tries."""
    hostile = "[" * 200_000 + "]" * 200_000  # valid JSON, nested too deep to decode
    started = time.perf_counter()
    assert json_values(hostile) == []
    assert json_values("[" * 200_000) == []
    assert time.perf_counter() - started < 5
    many = " ".join("[1]" for _ in range(MAX_CANDIDATES + 50))
    assert len(json_values(many)) == MAX_CANDIDATES
