"""One JSON path grammar for the ``json`` parse spec and the ``json-path`` assertion.

Why: the two used to have separate grammars, so ``items[-1]`` worked in an assertion and
was refused in a prompt's ``parse``. These tests pin the grammar once, then check that both
consumers accept exactly the same paths and read the same value.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from workbench.checks.assertions import Context, Output, evaluate, parse_assertion
from workbench.checks.jsonpath import (
    PathMissing,
    PathSyntaxError,
    parse_path,
    resolve_path,
)
from workbench.checks.parsing import ParseSpec, parse_output

GRAMMAR = [
    ("$", []),
    ("a", ["a"]),
    (".a", ["a"]),
    ("$.a.b", ["a", "b"]),
    ("a.b[0]", ["a", "b", 0]),
    ("a[-1]", ["a", -1]),
    ("$[0][1]", [0, 1]),
    ("a[ 2 ]", ["a", 2]),
    ('a["key with space"]', ["a", "key with space"]),
    ("a['single']", ["a", "single"]),
    ('a["it\'s"]', ["a", "it's"]),
    (r'a["say \"hi\""]', ["a", 'say "hi"']),
    (r'a["back\\slash"]', ["a", "back\\slash"]),
    (r'a["C:\temp"]', ["a", "C:\\temp"]),  # a backslash escapes only a quote or a backslash
    ('[""]', [""]),
    ("a.$id", ["a", "$id"]),
    ("a.0", ["a", "0"]),
    ("a-b.c_d", ["a-b", "c_d"]),
    ("a[0]b", ["a", 0, "b"]),  # the parse spec always accepted a name right after ]
    ("  $.a  ", ["a"]),
]

REFUSED = [
    ("", "path is empty"),
    ("a..b", "expected a key name at position 2 of 'a..b'"),
    ("a.", "expected a key name at position 2 of 'a.'"),
    ("a b", "expected '.' or '[' at position 1 of 'a b'"),
    ("a[]", "expected [number] or [\"key\"] at position 1 of 'a[]'"),
    ("a[x]", "expected [number] or [\"key\"] at position 1 of 'a[x]'"),
    ("$$", "expected '.' or '[' at position 1 of '$$'"),
    ("$id", "expected '.' or '[' at position 1 of '$id'"),
    ("[\"x']", "expected [number] or [\"key\"] at position 0 of '[\"x\\']'"),
]


@pytest.mark.parametrize(("path", "segments"), GRAMMAR)
def test_grammar(path: str, segments: list[str | int]) -> None:
    assert parse_path(path) == segments


@pytest.mark.parametrize(("path", "message"), REFUSED)
def test_refused_paths_say_where(path: str, message: str) -> None:
    with pytest.raises(PathSyntaxError) as info:
        parse_path(path)
    assert str(info.value) == message


def test_dollar_name_is_refused_not_guessed() -> None:
    """``$id`` could mean the key "$id" or ``$.id``; reading it as ``$.id`` (as the parse
    spec's grammar once did) silently picks the other key."""
    doc = {"$id": 1, "id": 2}
    assert resolve_path(doc, parse_path('$["$id"]')) == 1
    assert resolve_path(doc, parse_path("$.id")) == 2
    with pytest.raises(ValueError):
        parse_path("$id")


def test_resolve_indexes_keys_and_says_where_it_stopped() -> None:
    doc = {"order": {"items": [{"sku": "A1"}, {"sku": "B2"}], "0": "zero"}}
    assert resolve_path(doc, parse_path("order.items[-1].sku")) == "B2"
    assert resolve_path(doc, parse_path('order.items["0"].sku')) == "A1"  # numeric key text
    assert resolve_path(doc, parse_path("order[0]")) == "zero"  # an index finds key "0"
    with pytest.raises(PathMissing, match=r"index -3 is out of range for the array at "
                                          r"\$\.order\.items \(length 2\)"):
        resolve_path(doc, parse_path("order.items[-3]"))
    with pytest.raises(PathMissing, match=r"\$\.order\.items\[0\]\.sku is a string, it has no"):
        resolve_path(doc, parse_path("order.items[0].sku.x"))


# ------------------------------------------------------------------ both consumers


def parse_spec_accepts(path: str) -> bool:
    try:
        ParseSpec(type="json", path=path)
    except ValidationError:
        return False
    return True


def assertion_accepts(path: str) -> bool:
    try:
        parse_assertion({"type": "json-path", "path": path})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("path", [p for p, _ in GRAMMAR + REFUSED if p.strip()])
def test_parse_spec_and_json_path_accept_the_same_paths(path: str) -> None:
    assert parse_spec_accepts(path) == assertion_accepts(path)


def test_negative_index_through_the_parse_spec() -> None:
    spec = ParseSpec(type="json", path="result.labels[-1]")
    assert parse_output(spec, '{"result": {"labels": ["a", "b", "c"]}}').answer == "c"
    fenced = 'Sure:\n```json\n{"result": {"labels": ["x", "y"]}}\n```'
    assert parse_output(spec, fenced).answer == "y"
    missing = parse_output(spec, '{"result": {"labels": []}}')
    assert (missing.ok, missing.error) == (False, "path result.labels[-1] not found in JSON")
    spaced = ParseSpec(type="json", path='$["odd key"][0]')
    assert parse_output(spaced, 'Here you go: {"odd key": [7]} — done').answer == 7


async def test_same_path_same_value_in_parse_spec_and_assertion() -> None:
    text = '{"a": {"b": [1, {"c": "deep"}]}}'
    path = "a.b[-1].c"
    answer = parse_output(ParseSpec(type="json", path=path), text).answer
    ctx = Context(vars={}, expected=None, base_dir=Path("."))
    [result] = await evaluate(
        [parse_assertion({"type": "json-path", "path": path, "value": answer})],
        Output(text, None, True, 1.0, 0.0),
        ctx,
    )
    assert (answer, result.passed, result.reason) == ("deep", True, "a.b[-1].c is 'deep'")


def test_parse_spec_path_message_says_where() -> None:
    with pytest.raises(ValidationError) as info:
        ParseSpec(type="json", path="a..b")
    [error] = info.value.errors()
    assert error["msg"] == (
        "Value error, 'path': cannot read 'a..b' at position 2: expected a key name "
        '(use a.b[0], a[-1], a["odd key"] or $.a.b[0])'
    )


def test_blank_parse_spec_path_means_the_whole_value() -> None:
    for path in ("", "  "):
        assert parse_output(ParseSpec(type="json", path=path), "[1, 2]").answer == [1, 2]
