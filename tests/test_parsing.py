"""Answer extraction: what is compared across reruns and against `expected`."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workbench.checks.jsonpath import parse_path as split_path
from workbench.checks.parsing import ParseSpec, answer_key, parse_output

LABELS = ParseSpec(type="label", choices=["billing", "shipping", "technical", "account"])


@pytest.mark.parametrize(("text", "answer"), [
    ("billing", "billing"),
    ("  Billing.\n", "billing"),
    ("The team is SHIPPING, not billing", "shipping"),   # earliest mention wins
    ("Team: technical-support", None),                   # no whole-word match
    ("account", "account"),
    ("I think it's about the bill", None),
])
def test_label(text, answer):
    parsed = parse_output(LABELS, text)
    assert parsed.ok is (answer is not None)
    assert parsed.answer == answer


def test_label_prefers_longer_choice_at_same_position():
    spec = ParseSpec(type="label", choices=["pro", "pro plan"])
    assert parse_output(spec, "pro plan please").answer == "pro plan"


def test_raw_strips_and_empty_is_failure():
    assert parse_output(ParseSpec(), "  hi there \n").answer == "hi there"
    assert not parse_output(ParseSpec(), "   ").ok


def test_regex_group_number_and_name():
    spec = ParseSpec(type="regex", pattern=r"answer:\s*(\w+)")
    assert parse_output(spec, "Answer: Yes").answer == "Yes"
    named = ParseSpec(type="regex", pattern=r"(?P<n>\d+) items", group="n")
    assert parse_output(named, "there are 12 items").answer == "12"
    assert not parse_output(spec, "nothing").ok


@pytest.mark.parametrize(("text", "number"), [
    ("3", 3), ("The answer is 54 dollars.", 54), ("-2.5", -2.5), ("1,200 units", 1200),
    ("about 1e3", 1000), ("3.0", 3),
])
def test_number(text, number):
    parsed = parse_output(ParseSpec(type="number"), text)
    assert parsed.ok and parsed.answer == number and type(parsed.answer) is type(number)


def test_number_missing():
    assert parse_output(ParseSpec(type="number"), "none at all").error == "no number found"


def test_json_whole_fenced_embedded_and_path():
    spec = ParseSpec(type="json", path="$.result.labels[1]")
    assert parse_output(spec, '{"result": {"labels": ["a", "b"]}}').answer == "b"
    assert parse_output(spec, 'Sure!\n```json\n{"result": {"labels": ["x", "y"]}}\n```').answer \
        == "y"
    assert parse_output(spec, 'Here: {"result": {"labels": [1, 2]}} ok').answer == 2
    missing = parse_output(spec, '{"result": {}}')
    assert not missing.ok and missing.error == "path $.result.labels[1] not found in JSON"
    assert not parse_output(ParseSpec(type="json"), "no json here").ok


def test_split_path():
    assert split_path("$.a.b[0]") == ["a", "b", 0]
    assert split_path('a["x y"].c') == ["a", "x y", "c"]
    with pytest.raises(ValueError):
        split_path("a..b")


def test_answer_key_is_canonical():
    assert answer_key("x") == "x"
    assert answer_key({"b": 1, "a": 2}) == answer_key({"a": 2, "b": 1}) == '{"a": 2, "b": 1}'
    assert answer_key(3) == "3"


@pytest.mark.parametrize(("spec", "message"), [
    ({"type": "label"}, "type 'label' needs 'choices'"),
    ({"type": "label", "choices": ["A", "a"]}, "'choices' must be distinct"),
    ({"type": "regex"}, "type 'regex' needs 'pattern'"),
    ({"type": "regex", "pattern": "(a)", "group": 2}, "group 2 does not exist"),
    ({"type": "json", "path": "a..b"}, "'path': cannot read"),
    ({"type": "xml"}, "Input should be 'raw', 'label', 'regex', 'json' or 'number'"),
])
def test_invalid_specs(spec, message):
    with pytest.raises(ValidationError, match=message):
        ParseSpec.model_validate(spec)
