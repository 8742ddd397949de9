"""Finding JSON in model output: one function, strict for format checks, lenient for parsing.

Why two modes of one search: ``is-json`` must fail chatty output (that is what it checks),
while the ``json`` parse spec must find the answer however a small model wrapped it.
"""

from __future__ import annotations

import math

import pytest

from workbench.checks.jsontext import NoJson, extract_json

FENCED = '```json\n{"a": 1}\n```'
CHATTY_FENCE = 'Sure!\n```json\n{"a": 2}\n```\nAnything else?'
EMBEDDED = 'The answer is {"a": 3}, I think.'


def test_strict_takes_the_whole_output_or_one_whole_fence() -> None:
    assert (extract_json(' {"a": 0} ').value, extract_json(' {"a": 0} ').where) == (
        {"a": 0},
        "whole",
    )
    found = extract_json(FENCED)
    assert (found.value, found.fenced) == ({"a": 1}, True)
    assert extract_json("```\n[1]\n```").value == [1]  # an untagged fence too


@pytest.mark.parametrize(("text", "reason"), [
    ("", "output is empty, not JSON"),
    (CHATTY_FENCE, "output is not valid JSON (Expecting value: line 1 column 1 (char 0))"),
    (EMBEDDED, "output is not valid JSON (Expecting value: line 1 column 1 (char 0))"),
    ("```json\n{oops}\n```", "the ```json fenced block is not valid JSON "
     "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    ("NaN", "output is not valid JSON (NaN is not valid JSON)"),
    ("```python\n[1]\n```", "output is not valid JSON (Expecting value: line 1 column 1 (char 0))"),
])
def test_strict_refuses_chatty_or_invalid_output_and_says_why(text: str, reason: str) -> None:
    with pytest.raises(NoJson) as info:
        extract_json(text)
    assert info.value.reason == reason


def test_lenient_also_finds_a_fence_anywhere_then_json_in_prose() -> None:
    assert extract_json(CHATTY_FENCE, lenient=True).value == {"a": 2}
    assert extract_json(CHATTY_FENCE, lenient=True).where == "fence"
    found = extract_json(EMBEDDED, lenient=True)
    assert (found.value, found.where) == ({"a": 3}, "prose")
    # a broken first candidate is skipped, the next one is taken
    assert extract_json("see {bad} and [4, 5]", lenient=True).value == [4, 5]
    # the whole output wins over anything inside it
    assert extract_json('[{"a": 1}]', lenient=True).value == [{"a": 1}]


def test_lenient_reads_python_json_extensions_strict_does_not() -> None:
    assert math.isnan(extract_json('{"x": NaN}', lenient=True).value["x"])
    with pytest.raises(NoJson):
        extract_json('{"x": NaN}')


def test_lenient_without_json_raises() -> None:
    with pytest.raises(NoJson):
        extract_json("no json here", lenient=True)
