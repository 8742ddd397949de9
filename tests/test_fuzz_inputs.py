"""Property: whatever a suite, a prompt file or a cases file holds, the CLI answers with exit
code 0, 1 or 2 — never a traceback, never "internal error", never a hang.

Hypothesis builds two hundred projects (seeded, so every run tries the same ones): a
prompt version and a suite made of valid parts mixed with hostile values (wrong types,
dates, huge numbers, control characters, templates that reach for internals or build
without end, paths out of the project, routing parameters, regexes that backtrack), then
sometimes corrupts the bytes of a file. Each project is validated and its prompt rendered;
when it validates, it is run against the fake server. The corpus in
``tests/hostile_inputs.py`` pins the exact messages; this test looks for the inputs nobody
thought of.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli_inprocess import call_main
from workbench.testing.fakeserver import FakeServer

EXAMPLES = 200
SECONDS = 20.0  # per command: the budgets end any render or match within a few seconds

TEMPLATES = [
    "Ticket: {{ ticket }}", "{{ ticket|upper }} {{ ticket|length }}", "{{ missing }}",
    "{{ ticket }", "{% for x in ticket %}{{ x }}{% endfor %}", "{{ ''.__class__.__mro__ }}",
    "{{ lipsum.__globals__ }}", "{{ 'a' * 10**9 }}", "{{ range(10**9)|list }}",
    "{% set s = 'ab' * 50000 %}{% for c in s %}{% for d in s %}{% endfor %}{% endfor %}",
    "{% set a = 'x' * 100000 %}{{ a|replace('x', a) }}", "{{ lipsum(10**7) }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{{ facts }} {{ ticket }}",
    "{% set ns = namespace(n=9) %}{% for i in range(30) %}{% set ns.n = ns.n * ns.n %}"
    "{% endfor %}{{ ns.n }}", "{{ '%s' % ticket }}{{ '{0}'.format(ticket) }}", "\x00\x1b[2J",
    "{% include 'x' %}", "{{ ticket|tojson }}", "[[reply:billing]] {{ ticket }}",
]
HOSTILE_SCALARS: list[Any] = [
    None, True, False, "", " ", "\x00", "\ufeff", "é", "💥", "\x1b[31m", "-1", 0, -1, 1, 7,
    10**20, -(10**20), 1e308, 0.5, "2024-01-01", "../../etc/passwd", "/dev/zero", "~/x.csv",
    "x.csv", "x.jsonl", "checks.py", "s.json", "(a|aa)+$", "(\\w+\\s?)+$", "[", "%s", "{0}",
    "v2", "@two", "echo@2", "echo@production", "local/smollm2", "openai/fake", "a" * 300,
    "http://evil.example/v1", "file:///etc/passwd", "sk-proj-" + "x" * 40,
]
ROUTING_KEYS = ["api_base", "base_url", "extra_headers", "api_key", "aws_region_name",
                "temperature", "max_tokens", "seed", "top_p", "stop", "stream", "n"]


def scalar() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(HOSTILE_SCALARS), st.text(max_size=20),
                     st.integers(), st.floats(allow_nan=True, allow_infinity=True))


def value() -> st.SearchStrategy[Any]:
    return st.recursive(scalar(), lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
        max_leaves=6)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a valid value, sometimes anything."""
    return st.one_of(valid, valid, valid, value())


def params() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(ROUTING_KEYS), scalar(), max_size=2)


def message() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"role": maybe(st.sampled_from(["user", "system"])),
                                  "content": maybe(st.sampled_from(TEMPLATES))})


def parse_spec() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.just({"type": "label", "choices": ["billing", "shipping"]}),
        st.builds(lambda p: {"type": "regex", "pattern": p, "group": 0},
                  st.sampled_from(["(a|aa)+$", "(\\w+\\s?)+$", "bill(ing)", "("])),
        st.just({"type": "json", "path": "$.a[0]"}), st.just({"type": "number"}),
        st.dictionaries(st.sampled_from(["type", "choices", "pattern", "path", "group"]),
                        scalar(), max_size=3))


def prompt() -> st.SearchStrategy[dict[str, Any]]:
    single = st.fixed_dictionaries(
        {"kind": maybe(st.just("zero-shot")), "messages": maybe(st.lists(message(), min_size=1,
                                                                         max_size=2))},
        optional={"params": params(), "parse": parse_spec(), "model": scalar(),
                  "examples": value(), "description": scalar()})
    chain = st.fixed_dictionaries(
        {"kind": st.just("chain"),
         "steps": st.lists(st.fixed_dictionaries(
             {"output": st.sampled_from(["facts", "answer", "ticket"]),
              "messages": st.lists(message(), min_size=1, max_size=1)},
             optional={"params": params(), "parse": parse_spec()}), min_size=1, max_size=2)})
    return st.one_of(single, single, chain)


def assertion() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(lambda t, v: {"type": t, "value": v},
                  st.sampled_from(["contains", "not-icontains", "regex", "equals", "one-of"]),
                  scalar()),
        st.builds(lambda f: {"type": "python", "file": f}, scalar()),
        st.builds(lambda f: {"type": "json-schema", "schema_file": f}, scalar()),
        st.dictionaries(st.sampled_from(["type", "value", "weight", "on", "flags"]), scalar(),
                        max_size=3))


def case() -> st.SearchStrategy[Any]:
    inline = st.fixed_dictionaries(
        {"id": maybe(st.sampled_from(["a", "b", "c"])),
         "vars": maybe(st.fixed_dictionaries({"ticket": maybe(st.just("billing please"))}))},
        optional={"expected": scalar(), "assert": st.lists(assertion(), max_size=2)})
    return st.one_of(inline, inline, st.builds(lambda f: {"file": f}, scalar()))


def suite(base_url: str) -> st.SearchStrategy[dict[str, Any]]:
    model = {"name": "openai/fake", "api_base": base_url, "transport": "direct"}
    return st.fixed_dictionaries(
        {"name": maybe(st.just("fuzz")),
         "prompts": maybe(st.just(["p"])),
         "models": st.one_of(st.just([model]), st.just([model]), value()),
         "reruns": maybe(st.integers(1, 2)),
         "cases": maybe(st.lists(case(), min_size=1, max_size=3))},
        optional={"params": params(), "thresholds": st.dictionaries(
            st.sampled_from(["pass_rate", "k", "consistency"]), scalar(), max_size=2),
            "seed": scalar(), "timeout": st.just(5), "concurrency": scalar(),
            "defaults": st.builds(lambda a: {"assert": a}, st.lists(assertion(), max_size=1)),
            "judge": scalar(), "unknown": scalar()})


def corrupt(data: bytes, edits: list[tuple[int, bytes]]) -> bytes:
    """Insert each edit's bytes at its position (modulo the length)."""
    for position, insert in edits:
        at = position % (len(data) + 1)
        data = data[:at] + insert + data[at:]
    return data


EDITS = st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(
    [b"\xff", b"\x00", b"'", b'"', b"[", b"{", b"&a ", b"*a", b"!!binary ", b"\n  - ", b": ",
     b"<<: *a\n", b"\t", b"{{", b"%}", b"\xef\xbb\xbf"])), max_size=2)


def dump(data: Any) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="wb-fuzz-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_suite_or_prompt_gets_an_answer(data: st.DataObject, server: FakeServer,
                                            scratch: Path) -> None:
    root = Path(tempfile.mkdtemp(dir=scratch))
    (root / "prompts" / "p").mkdir(parents=True)
    (root / "suites").mkdir()
    prompt_bytes = corrupt(dump(data.draw(prompt(), "prompt")), data.draw(EDITS, "prompt edits"))
    suite_bytes = corrupt(dump(data.draw(suite(server.base_url), "suite")),
                          data.draw(EDITS, "suite edits"))
    (root / "prompts" / "p" / "v1.yaml").write_bytes(prompt_bytes)
    (root / "suites" / "s.yaml").write_bytes(suite_bytes)
    (root / "suites" / "x.csv").write_bytes(corrupt(b"id,ticket,expected\nq,hi,billing\n",
                                                    data.draw(EDITS, "csv edits")))
    (root / "suites" / "checks.py").write_text("def check(output, context):\n    return True\n")

    commands = [["validate", "suites/s.yaml"],
                ["prompts", "show", "p", "--vars", '{"ticket": "x", "facts": "y"}']]
    validated = False
    for argv in commands:
        code, out, err = call_main(argv, root, seconds=SECONDS)
        assert code in (0, 1, 2), (argv, code, err)
        assert "Traceback" not in err and "internal error" not in err, (argv, err)
        validated = validated or (argv[0] == "validate" and code == 0)
    if validated:
        code, out, err = call_main(["run", "suites/s.yaml", "--quiet", "--reruns", "1"], root,
                                   seconds=SECONDS * 2)
        assert code in (0, 1, 2), ("run", code, err)
        assert "Traceback" not in err and "internal error" not in err, ("run", err)
