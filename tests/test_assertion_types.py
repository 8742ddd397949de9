"""Assertion types as classes: the registry, the union's front door, the stored plan form.

Why: each type's keys, checks, description and handler live in one class registered once,
so adding a type must not need edits elsewhere; the union must keep the located messages
of the suite loader; and plans (which store assertions as JSON) must keep loading, across
versions, into the same assertions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from tests.test_runner import KEY_ENV, make_suite, new_runner
from workbench.checks.assertions import (
    TYPES,
    Assertion,
    BaseAssertion,
    Contains,
    Context,
    Outcome,
    Output,
    Problems,
    ReadsOutput,
    Registry,
    evaluate,
    parse_assertion,
    verdict,
)
from workbench.store.database import Store
from workbench.testing.fakeserver import FakeServer

README = Path(__file__).resolve().parent.parent / "README.md"
CTX = Context(vars={}, expected=None, base_dir=Path("."))


def errors(validate: Any, data: Any) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        validate(data)
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


# ------------------------------------------------------------------ one class per type


async def test_a_new_type_is_one_class_registered_once() -> None:
    registry = Registry()

    @registry.register
    class Shouts(ReadsOutput):
        """The output is written in capitals."""

        type: Literal["shouts"]
        min_letters: int = Field(description="how many letters at least")

        @classmethod
        def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
            value = data.get("min_letters", 1)
            if not isinstance(value, int) or value < 1:
                problems.add("min_letters", f"'min_letters' must be >= 1, got {value!r}")

        def detail(self) -> str:
            return f" >= {self.min_letters} letters"

        async def check(self, output: Output, ctx: Context) -> Outcome:
            text = self.subject(output)
            loud = sum(c.isalpha() for c in text) >= self.min_letters and text.isupper()
            return verdict(self.negate, loud, yes="it shouts", no="it does not shout",
                           neg_yes="expected it NOT to shout, but it does")

    validate = TypeAdapter(registry.union()).validate_python
    shout = validate({"type": "not-shouts", "min_letters": 3, "weight": 2})
    assert isinstance(shout, Shouts)
    assert shout.describe() == "not-shouts >= 3 letters (weight 2)"
    [result] = await evaluate([shout], Output("HEY YOU", "HEY YOU", True, 1.0, 0.0), CTX)
    assert (result.type, result.negated, result.passed, result.reason) == (
        "shouts", True, False, "expected it NOT to shout, but it does")

    assert errors(validate, {"type": "shouts", "min_leters": 3, "on": "loud"}) == [
        (("min_leters",), "unknown key 'min_leters' (did you mean 'min_letters'? keys for "
                          "'shouts' assertions: type, negate, weight, on, min_letters)"),
        (("on",), "'on' must be one of: raw, answer; got 'loud'"),
        ((), "'shouts' assertion is missing 'min_letters' (how many letters at least)"),
    ]
    assert errors(validate, {"type": "shouts", "min_letters": 0}) == [
        (("min_letters",), "'min_letters' must be >= 1, got 0")]
    assert errors(validate, {"type": "contains", "value": "x"}) == [
        (("type",), "unknown assertion type 'contains' (known types: shouts; prefix any with "
                    "'not-' to negate)"),
        (("value",), "unknown key 'value' (keys for assertions: min_letters, negate, on, type, "
                     "weight)"),
    ]
    assert "shouts" not in TYPES


def test_register_refuses_no_handler_no_name_and_twice() -> None:
    registry = Registry()

    class Silent(ReadsOutput):
        type: Literal["silent"]

    with pytest.raises(TypeError, match="'silent' .* has no check\\(\\) handler"):
        registry.register(Silent)

    class Nameless(ReadsOutput):
        async def check(self, output: Output, ctx: Context) -> Outcome:
            return Outcome(True, 1.0, "ok")

    with pytest.raises(TypeError, match="must be Literal"):
        registry.register(Nameless)

    class Once(ReadsOutput):
        type: Literal["once"]

        async def check(self, output: Output, ctx: Context) -> Outcome:
            return Outcome(True, 1.0, "ok")

    registry.register(Once)
    with pytest.raises(TypeError, match="'once' is registered twice"):
        registry.register(Once)
    with pytest.raises(TypeError, match="Contains already belongs to another registry"):
        registry.register(Contains)
    assert Contains.registry is TYPES


def test_every_type_has_its_name_handler_and_docstring() -> None:
    for name, cls in TYPES.items():
        assert cls.type_name() == name
        assert cls.check is not BaseAssertion.check, name
        assert cls.__doc__, name  # a class's docstring is its own, never inherited


def test_the_union_is_discriminated_on_type() -> None:
    schema = TypeAdapter(Assertion).json_schema()
    assert schema["discriminator"]["propertyName"] == "type"
    assert set(schema["discriminator"]["mapping"]) == set(TYPES)


def test_a_type_class_validates_with_the_same_messages() -> None:
    assert Contains(value="x").type == "contains"
    assert Contains.model_validate({"type": "not-contains", "value": 3}).negate
    item = {"type": "contains", "value": "", "weight": -1}
    assert errors(Contains.model_validate, item) == errors(parse_assertion, item)
    assert errors(Contains.model_validate, {"type": "regex", "value": "x"}) == [
        (("type",), "'type' must be 'contains' for Contains"),
    ]


def test_one_problem_per_key_even_when_the_key_does_not_apply() -> None:
    """A key that does not apply is reported once, not also checked as if it did."""
    keys = "type, negate, weight, on, value, ignore_case"
    assert errors(parse_assertion, {"type": "contains", "value": "x", "threshold": 2}) == [
        (("threshold",), f"'threshold' does not apply to 'contains' assertions "
                         f"(keys for contains: {keys})"),
    ]
    assert errors(parse_assertion, {"type": "latency", "max_ms": 5, "on": "sideways"}) == [
        (("on",), "'on' does not apply to 'latency' assertions "
                  "(keys for latency: type, negate, weight, max_ms)"),
    ]


# ------------------------------------------------------------------ the stored plan form

SAMPLES: dict[str, list[dict[str, Any]]] = {
    "equals": [{"type": "equals", "value": {"a": [1]}, "ignore_case": True, "on": "raw"},
               {"type": "not-equals", "value": None, "weight": 0}],
    "contains": [{"type": "contains", "value": ["a", 2], "ignore_case": True}],
    "icontains": [{"type": "icontains", "value": "refund", "negate": True}],
    "regex": [{"type": "regex", "value": r"\d+", "flags": "si"}],
    "one-of": [{"type": "one-of", "value": ["a", 1, True]}],
    "starts-with": [{"type": "starts-with", "value": "Dear", "ignore_case": True}],
    "contains-any": [{"type": "not-contains-any", "value": ["sorry", 3]}],
    "contains-all": [{"type": "contains-all", "value": ["a", "b"], "ignore_case": True}],
    "contains-json": [{"type": "contains-json"},
                      {"type": "contains-json", "schema": {"type": "object"}},
                      {"type": "contains-json", "schema_file": "s.json"}],
    "is-json": [{"type": "is-json", "on": "answer"}],
    "json-schema": [{"type": "json-schema", "schema": {"type": "object"}},
                    {"type": "json-schema", "schema_file": "s.json"}],
    "json-path": [{"type": "json-path", "path": "a[-1]", "value": None},
                  {"type": "json-path", "path": "$.a"}],
    "length": [{"type": "length", "min": 1, "max": 4.0, "unit": "words"}],
    "similar": [{"type": "similar", "value": "ref", "threshold": 0.5, "method": "embedding",
                 "model": "emb"}],
    "latency": [{"type": "latency", "max_ms": 250}],
    "cost": [{"type": "cost", "max": 0}],
    "python": [{"type": "python", "file": "c.py", "function": "score", "threshold": 0.7}],
    "llm-rubric": [{"type": "llm-rubric", "value": "polite", "model": "j", "threshold": 0.8}],
}


def test_every_type_round_trips_through_the_plan_form() -> None:
    assert set(SAMPLES) == set(TYPES)  # a new type adds its sample here
    for raw in (item for items in SAMPLES.values() for item in items):
        assertion = parse_assertion(raw)
        stored = json.loads(json.dumps(assertion.to_dict()))
        again = parse_assertion(stored)
        assert type(again) is type(assertion), raw
        assert again.to_dict() == stored, raw
        assert again.describe() == assertion.describe(), raw
        assert again.model_fields_set == assertion.model_fields_set, raw


# What the previous code stored in plans (model_dump(exclude_defaults) of one flat model).
EARLIER_PLANS = [
    {"type": "contains", "negate": True, "weight": 2.0, "value": "sorry"},
    {"type": "length", "weight": 0.0, "max": 60.0},
    {"type": "length", "min": 3.0, "unit": "words"},
    {"type": "json-schema", "json_schema": {"type": "object", "required": ["a"]}},
    {"type": "json-schema", "on": "answer", "schema_file": "s.json"},
    {"type": "regex", "value": "\\d+", "flags": "i"},
    {"type": "json-path", "value": 1, "path": "a.b"},
    {"type": "python", "threshold": 0.7, "file": "c.py", "function": "score"},
    {"type": "llm-rubric", "value": "polite", "threshold": 0.8, "model": "j"},
    {"type": "equals", "on": "raw", "value": "x", "ignore_case": True},
    {"type": "latency", "max_ms": 500.0},
    {"type": "cost", "max": 0.01},
    {"type": "similar", "value": "ref", "threshold": 0.5, "method": "embedding", "model": "e"},
    {"type": "one-of", "value": ["a", 1]},
    {"type": "is-json"},
    {"type": "icontains", "value": ["a", "b"]},
]


@pytest.mark.parametrize("stored", EARLIER_PLANS, ids=lambda d: d["type"])
def test_plans_stored_by_earlier_versions_load_unchanged(stored: dict[str, Any]) -> None:
    assert parse_assertion(stored).to_dict() == stored


async def test_an_explicit_null_value_survives_the_plan(
    tmp_path: Path, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``value: null`` used to vanish from the stored plan: json-path then only checked that
    the path exists, and an ``equals`` could not be read back at all."""
    monkeypatch.setenv(KEY_ENV, "test-key")
    checks = [{"type": "json-path", "path": "a", "value": None},
              {"type": "not-equals", "value": None, "on": "raw"}]
    suite = make_suite(tmp_path, fake_server.base_url,
                       [{"id": "c", "vars": {"q": '[[reply:{"a": null}]]'}, "assert": checks}])
    with Store(tmp_path / "wb.db") as store:
        runner = new_runner(suite, store)
        assert await runner.run() == 1
        [cell] = store.cells(runner.run_id)
    assert [(a.passed, a.reason) for a in cell.assertions] == [
        (True, "a is null"),
        (True, "output is '{\"a\": null}', not 'null'"),
    ]


# ------------------------------------------------------------------ README


def readme_table() -> list[tuple[list[str], list[str]]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Assertions", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    table = []
    for row in rows:
        kinds, fields = row.split("|")[1:3]
        table.append((re.findall(r"`([^`]+)`", kinds), re.findall(r"`([^`]+)`", fields)))
    return table


def test_readme_assertion_table_lists_every_type_and_its_keys() -> None:
    common = {"type", "negate", "weight", "on"}
    every = set(TYPES.all_keys())
    table = readme_table()
    assert [kind for kinds, _ in table for kind in kinds] == list(TYPES)
    for kinds, fields in table:
        listed = {f for f in fields if f in every}
        for kind in kinds:
            assert listed == set(TYPES[kind].suite_keys()) - common, kind
