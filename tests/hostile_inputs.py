# ruff: noqa: E501  (exact one-line messages are the data under test)
"""The hostile-input corpus: what a suite, a prompt file or a flag can hold, and what the
CLI must answer — exit code, the exact message, within a time bound.

Each entry is one row: the files written into a fresh project (on top of the base project
below), the command, the expected exit code and stderr, and how long it may take. Bad input
(exit 2) must also leave every file and the store exactly as they were; ``tests/
test_hostile_inputs.py`` runs each row as a real ``python -m workbench`` subprocess.

A file's content is text, bytes, or one of the specials: :class:`Dir` (a folder),
:class:`Fifo`, :class:`Link` (a symlink), :class:`Sparse` (a file of that many bytes that
takes no disk). ``@BASE@`` in a file is replaced by the fake server's URL.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tests.bad_inputs import CORPUS as EARLIER
from tests.bad_inputs import ECHO_V1, SUITE


@dataclass(frozen=True)
class Dir:
    """A folder at this path."""


@dataclass(frozen=True)
class Fifo:
    """A named pipe at this path (opening it for reading would block forever)."""


@dataclass(frozen=True)
class Link:
    """A symlink to ``target`` (relative to the link's folder, or absolute)."""

    target: str


@dataclass(frozen=True)
class Sparse:
    """A file of ``size`` zero bytes that takes no disk space."""

    size: int


@dataclass(frozen=True)
class ForeignDb:
    """Another program's SQLite database (one table of its own)."""


File = str | bytes | Dir | Fifo | Link | Sparse | ForeignDb


@dataclass(frozen=True)
class Row:
    id: str
    files: dict[str, File]
    argv: list[str]
    code: int
    err: str  # exact stderr
    # Another stderr as good as ``err``: two budgets race (a loop budget and a clock), and
    # which one stops the render first depends on the machine's speed.
    or_err: str | None = None
    out: str | None = None  # a part stdout must contain (None: not checked)
    stdin: bytes | None = None
    seconds: float = 20.0  # time bound, including interpreter start on a busy machine
    seeded: bool = True  # the project has a store with one run, which must stay as it was
    unchanged: bool = True  # every file and the store stay exactly as they were
    # A real `python -m workbench` process (else main() in-process, with a timer): for rows
    # whose failure would be a hang in C code or a blown-up process, and runs.
    process: bool = False


RUN_ID = "20240101-000000-seed"  # the run the seeded store holds (of suites/s.yaml)
MB = 1024 * 1024

# A suite that really runs: one case on the fake server, through the direct transport.
RUNNABLE = """name: r
prompts: [echo]
models:
  - name: openai/fake
    api_base: "@BASE@"
    transport: direct
reruns: 1
cases:
  - id: a
    vars: {ticket: "billing please"}
    expected: billing
"""


def prompt_with(template: str, extra: str = "") -> str:
    """The echo prompt with line 4's template replaced (single-quoted: any text fits)."""
    quoted = "'Ticket: " + template.replace("'", "''") + "'"
    return ECHO_V1.replace('"Ticket: {{ ticket }}"', quoted) + extra


def refused(rid: str, template: str, says: str) -> Row:
    """A template the sandbox must refuse on ``validate``, naming v2's line 4."""
    return Row(f"template-{rid}", {"prompts/echo/v2.yaml": prompt_with(template)},
               ["validate", "suites/s.yaml"], 2, says, process=True)


def suite_plus(extra: str) -> dict[str, File]:
    return {"suites/s.yaml": SUITE + extra}


def cases_file(name: str, content: File) -> dict[str, File]:
    return {"suites/s.yaml": SUITE + f"  - file: {name}\n", f"suites/{name}": content}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


ALIAS_BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
)
CHAIN = """kind: chain
steps:
  - output: facts
    messages:
      - role: user
        content: "Facts of {{ ticket }} {{ LATER }}"
  - output: summary
    messages:
      - role: user
        content: "Summary of {{ facts }}"
"""
CHECK_EXITS = "import sys\n\nsys.exit(0)\n\n\ndef check(output, context):\n    return True\n"
CHECK_WRITES = ("import pathlib\n\npathlib.Path('pwned').write_text('ran')\n\n\n"
                "def check(output, context):\n    return True\n")
REFUSED_PARAM = ("a prompt may not set where requests go or what credentials and headers "
                 "they carry; the suite does, per model (api_base, api_key_env)")

TEMPLATE_HINT = (" (a template may not build huge values or loop without end; pass large text in "
                 "as a variable instead)\n")


def template_refused(what: str) -> str:
    return "error: prompts/echo/v2.yaml:4: template refused: " + what + TEMPLATE_HINT


ROWS: list[Row] = [
    # ---------------------------------------------------------------- tracebacks before
    Row("prompt-not-utf8-list", {"prompts/echo/v1.yaml": b"kind: zero-shot\n\xff\xfe\n"},
        ["prompts", "list"], 2, "error: prompts/echo/v1.yaml:2: not UTF-8 text (invalid start byte) (save it as UTF-8)\n", process=True),
    Row("prompt-not-utf8-validate", {"prompts/echo/v2.yaml": ECHO_V1.encode() + b"# caf\xe9\n"},
        ["validate", "suites/s.yaml"], 2, "error: prompts/echo/v2.yaml:8: not UTF-8 text (invalid continuation byte) (save it as UTF-8)\n"),
    Row("prompt-not-utf8-show", {"prompts/echo/v2.yaml": b"\xc3"},
        ["prompts", "show", "echo@2"], 2, "error: prompts/echo/v2.yaml:1: not UTF-8 text (unexpected end of data) (save it as UTF-8)\n"),
    Row("version-is-a-folder-list", {"prompts/echo/v2.yaml": Dir()},
        ["prompts", "list"], 2, "error: prompts/echo/v2.yaml: is a folder, not a file\n"),
    Row("version-is-a-folder-validate", {"prompts/echo/v2.yaml": Dir()},
        ["validate", "suites/s.yaml"], 2, "error: prompts/echo/v2.yaml: is a folder, not a file\n"),
    Row("version-is-a-fifo", {"prompts/echo/v2.yaml": Fifo()},
        ["validate", "suites/s.yaml"], 2, "error: prompts/echo/v2.yaml: is a FIFO, not a regular file\n", process=True),
    Row("labels-not-utf8", {"prompts/echo/labels.yaml": b"production: 1 \xff\n"},
        ["prompts", "list"], 2, "error: prompts/echo/labels.yaml:1: not UTF-8 text (invalid start byte) (save it as UTF-8)\n"),
    Row("labels-is-a-folder", {"prompts/echo/labels.yaml": Dir()},
        ["prompts", "list"], 2, "error: prompts/echo/labels.yaml: is a folder, not a file\n"),
    Row("suite-deep-yaml", {"suites/s.yaml": "name: " + nested(5000) + "\n"},
        ["validate", "suites/s.yaml"], 2, "error: suites/s.yaml:1: invalid YAML: nested deeper than 100 levels\n", process=True),
    Row("suite-deep-block-yaml", {"suites/s.yaml": "".join("  " * i + f"k{i}:\n" for i in range(400))},
        ["validate", "suites/s.yaml"], 2, "error: suites/s.yaml:100: invalid YAML: nested deeper than 100 levels\n"),
    Row("prompt-deep-yaml", {"prompts/echo/v2.yaml": ECHO_V1 + "description: " + nested(3000) + "\n"},
        ["prompts", "show", "echo"], 2, "error: prompts/echo/v2.yaml:8: invalid YAML: nested deeper than 100 levels\n"),
    Row("jsonl-deep-json", cases_file("more.jsonl", '{"id": "b", "vars": {"ticket": ' + nested(100000) + "}}\n"),
        ["validate", "suites/s.yaml"], 2, "error: suites/more.jsonl:1: invalid case: nested deeper than 50 levels\n", process=True),
    Row("jsonl-vars-too-deep", cases_file("more.jsonl", '{"id": "b", "vars": {"ticket": ' + nested(60) + "}}\n"),
        ["validate", "suites/s.yaml"], 2, "error: suites/more.jsonl:1: vars: nested deeper than 50 levels\n"),
    Row("schema-file-deep", {**suite_plus("    assert: [{type: json-schema, schema_file: deep.json}]\n"),
                             "suites/deep.json": '{"items": ' * 3000 + "{}" + "}" * 3000},
        ["validate", "suites/s.yaml"], 2, "error: suites/s.yaml:7: schema file 'deep.json' is nested too deeply\n", process=True),
    Row("date-in-vars-runs", {"suites/r.yaml": RUNNABLE.replace('"billing please"', "2024-01-01").replace("expected: billing", "expected: 2024-01-01").replace("echo]", "raw]"),
                              "prompts/raw/v1.yaml": "kind: zero-shot\nmessages:\n  - role: user\n    content: '[[reply:{{ ticket }}]]'\n"},
        ["run", "suites/r.yaml", "--quiet"], 0, "", out="1/1 cells", unchanged=False, process=True),
    Row("date-in-expected-validates", suite_plus("  - id: d\n    vars: {ticket: x}\n    expected: 2024-01-01 10:00:00\n"),
        ["validate", "suites/s.yaml"], 0, "", out="suites/s.yaml: OK"),
    Row("foreign-sqlite-db", {"other.db": ForeignDb()},
        ["run", "suites/s.yaml", "--db", "other.db"], 2, "error: other.db: not a workbench store: this SQLite database holds other tables (contacts) (give --db a new file name (or set WORKBENCH_DB); the workbench does not add its tables to another program's database)\n", process=True),
    Row("db-is-a-folder", {"store": Dir()},
        ["run", "suites/s.yaml", "--db", "store"], 2, "error: --db store: is a folder (give a file name)\n"),
    Row("db-parent-is-a-file", {"notes.txt": "x"},
        ["report", RUN_ID, "--db", "notes.txt/wb.db"], 2, "error: --db notes.txt/wb.db: notes.txt is not a folder\n"),
    Row("json-is-a-folder", {"out": Dir()},
        ["run", "suites/s.yaml", "--json", "out"], 2, "error: --json out: is a folder (give a file name)\n"),
    Row("html-is-a-folder", {"out": Dir()},
        ["report", RUN_ID, "--html", "out"], 2, "error: --html out: is a folder (give a file name)\n"),
    Row("md-parent-is-a-file", {"notes.txt": "x"},
        ["report", RUN_ID, "--md", "notes.txt/summary.md"], 2, "error: --md notes.txt/summary.md: notes.txt is not a folder\n"),
    Row("junit-is-a-fifo", {"pipe": Fifo()},
        ["report", RUN_ID, "--junit", "pipe"], 2, "error: --junit pipe: is not a regular file (give a file name)\n", process=True),
    Row("export-output-is-a-folder", {"out": Dir()},
        ["export-finetune", "suites/s.yaml", "-o", "out", "--prompt", "echo"], 2, "error: -o out: is a folder (give a file name)\n"),
    Row("export-holdout-out-is-a-folder", {"out": Dir()},
        ["export-finetune", "suites/s.yaml", "-o", "x.jsonl", "--holdout-out", "out"], 2, "error: --holdout-out out: is a folder (give a file name)\n"),
    Row("escalate-json-is-a-folder", {"out": Dir()},
        ["escalate", "suites/s.yaml", "--json", "out"], 2, "error: --json out: is a folder (give a file name)\n"),
    Row("stdin-not-utf8", {}, ["prompts", "save", "echo", "-"], 2,
        "error: <stdin>:2: not UTF-8 text (invalid start byte) (save it as UTF-8)\n", stdin=b"kind: zero-shot\n\xff\n", process=True),
    Row("seed-huge", suite_plus("seed: 100000000000000000000\n"), ["run", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: seed: input should be less than or equal to 9007199254740 (got 100000000000000000000)\n", process=True),
    Row("seed-huge-in-prompt-params", {"prompts/echo/v2.yaml": ECHO_V1 + "params: {seed: 100000000000000000000}\n"},
        ["validate", "suites/s.yaml"], 2, "error: prompts/echo/v2.yaml:8: params.seed: must be a whole number from -9,007,199,254,740 to 9,007,199,254,740, got 100000000000000000000\n"),
    Row("vars-nan", suite_plus("  - id: n\n    vars: {ticket: .nan}\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:8: cases[1].vars: not JSON-like data: numbers must be finite\n"),
    Row("expected-infinite", suite_plus("  - id: n\n    vars: {ticket: x}\n    expected: .inf\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:9: cases[1].expected: not JSON-like data: numbers must be finite\n"),
    Row("binary-in-vars", suite_plus("  - id: n\n    vars: {ticket: !!binary aGVsbG8=}\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:8: binary values (!!binary) are not supported (write the value as text)\n"),
    Row("python-tag", suite_plus("  - id: n\n    vars: {ticket: !!python/object/apply:os.system [id]}\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:8: invalid YAML value: unsupported tag 'tag:yaml.org,2002:python/object/apply:os.system' (write plain mappings and lists)\n", process=True),
    Row("complex-mapping-key", {"suites/s.yaml": "? [a, b]\n: 1\n"}, ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:1: mapping keys must be plain text\n"),
    Row("nul-byte-in-suite", {"suites/s.yaml": "name: s\x00\n"}, ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:1: invalid YAML: unacceptable character #x0000 (special characters are not allowed) (remove it, or write it as an escape in double quotes)\n"),
    Row("timeout-infinite", suite_plus("timeout: .inf\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: timeout: input should be less than or equal to 86400 (got inf)\n"),
    Row("vars-flag-deep", {}, ["prompts", "show", "echo", "--vars", nested(5000)], 2,
        "error: --vars is nested too deeply\n"),
    # ---------------------------------------------------------------- hangs and memory
    Row("suite-alias-bomb", {"suites/s.yaml": SUITE + ALIAS_BOMB}, ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: invalid YAML: aliases expand to more than 100,000 values (write the values out)\n", process=True),
    Row("prompt-alias-bomb", {"prompts/echo/v2.yaml": ECHO_V1 + ALIAS_BOMB}, ["prompts", "list"], 2,
        "error: prompts/echo/v2.yaml:8: invalid YAML: aliases expand to more than 100,000 values (write the values out)\n", process=True),
    Row("recursive-alias", {"suites/s.yaml": SUITE + "x: &x [*x]\n"}, ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: invalid YAML: an alias refers to the value that contains it\n", process=True),
    refused("namespace-doubling", "{% set ns = namespace(s='x' * 100000) %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            template_refused("'~' would build 12,800,004 characters; a template value is limited to 10,000,000")),
    refused("replace-filter", "{% set a = 'x' * 100000 %}{{ a|replace('x', a) }}",
            template_refused("replace() would build 10,000,000,000 characters; a template value is limited to 10,000,000")),
    refused("replace-method", "{% set a = 'x' * 100000 %}{{ a.replace('x', a) }}",
            template_refused("replace() would build 10,000,000,000 characters; a template value is limited to 10,000,000")),
    refused("set-block", "{% set a = 'x' * 100000 %}{% set b %}{% for i in range(100000) %}{{ a }}{% endfor %}{% endset %}{{ b }}",
            template_refused("this block would build 10,000,000,000 characters; a template value is limited to 10,000,000")),
    replace(refused("loop-over-long-strings", "{% set s = 'ab' * 50000 %}{% for c in s %}{% for d in s %}{% endfor %}{% endfor %}",
                    template_refused("rendering took longer than 2 s")),
            or_err=template_refused("loops in this template run more than 10,000,000 times in one render")),
    refused("lipsum-huge", "{{ lipsum(10**7) }}",
            template_refused("lipsum() argument 10,000,000 is too large; templates are limited to 100,000 items per value")),
    refused("lipsum-many", "{{ lipsum(5000, max=100) }}",
            template_refused("lipsum() of 5,000 paragraphs of up to 100 words is too large; templates are limited to 100,000 items per value")),
    refused("integer-squaring", "{% set ns = namespace(n=10) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
            template_refused("this product is too large to compute in a template")),
    refused("list-accumulation", "{% set a = 'x' * 100000 %}{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = ns.l + [a ~ i] %}{% endfor %}",
            template_refused("this template builds more than 50,000,000 characters and items in one render")),
    refused("join", "{% set a = 'x' * 100000 %}{{ ([a] * 100000)|join }}",
            template_refused("join would build 10,000,200,000 characters; a template value is limited to 10,000,000")),
    refused("list-repr", "{% set a = 'x' * 100000 %}{{ [a] * 100000 }}",
            template_refused("this expression would build 10,000,198 characters; a template value is limited to 10,000,000")),
    refused("format-repeat", "{% set a = 'x' * 100000 %}{{ ('{0}' * 30000).format(a) }}",
            template_refused("this format would build 3,000,150,000 characters; a template value is limited to 10,000,000")),
    refused("indent", "{% set a = 'x\\n' * 50000 %}{{ a|indent(100000) }}",
            template_refused("indent would build 5,000,200,000 characters; a template value is limited to 10,000,000")),
    refused("wordwrap-wrapstring", "{% set a = 'x' * 100000 %}{{ a|wordwrap(1, true, a) }}",
            template_refused("wordwrap would build 10,000,200,000 characters; a template value is limited to 10,000,000")),
    refused("expandtabs", "{% set a = 'x\\t' * 50000 %}{{ a.expandtabs(100000) }}",
            template_refused("expandtabs() would build 5,000,100,000 characters; a template value is limited to 10,000,000")),
    refused("tojson-indent", "{% set a = 'x' * 100000 %}{{ {'k': a}|tojson(100000) }}",
            template_refused("tojson would build 10,001,700,066 characters; a template value is limited to 10,000,000")),
    refused("nested-list-repr", "{% set a = 'x' * 100000 %}{{ [[a] * 1000] * 100 }}",
            template_refused("this expression would build 10,002,404 characters; a template value is limited to 10,000,000")),
    refused("sum-of-lists", "{{ [[1, 2]]|sum(start=[]) }}",
            template_refused("sum adds numbers in a template; join text with join")),
    Row("redos-parse-pattern", {"suites/r.yaml": RUNNABLE.replace("billing please", "[[reply:" + "a" * 40 + "!]]").replace("expected: billing", "expected: aaa"),
                                "prompts/echo/v2.yaml": ECHO_V1.replace("  type: label\n  choices: [billing, shipping]\n", "  type: regex\n  pattern: '(a|aa)+$'\n  group: 0\n")},
        ["run", "suites/r.yaml", "--quiet"], 1, "", out="1/1 cells", seconds=30, unchanged=False, process=True),
    Row("redos-assertion", {"suites/r.yaml": RUNNABLE.replace("billing please", "billing [[reply:billing " + "a" * 40 + "!]]")
                            + "    assert: [{type: regex, value: '(a|aa)+$'}]\n"},
        ["run", "suites/r.yaml", "--quiet"], 1, "", out="1/1 cells", seconds=30, unchanged=False, process=True),
    Row("nested-quantifier-is-fast", {"suites/r.yaml": RUNNABLE.replace("billing please", "billing [[reply:billing " + "word " * 30 + "!]]")
                                      + "    assert: [{type: regex, value: '(\\w+\\s?)+$'}]\n"},
        ["run", "suites/r.yaml", "--quiet"], 1, "", out="1/1 cells", seconds=20, unchanged=False, process=True),
    Row("cases-symlink-to-dev-zero", cases_file("zero.jsonl", Link("/dev/zero")), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: cases file 'zero.jsonl' is outside the project folder . (files a suite names must be inside the project)\n", process=True),
    Row("cases-fifo", cases_file("pipe.jsonl", Fifo()), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: cases file suites/pipe.jsonl is a FIFO, not a regular file\n", process=True),
    Row("cases-too-large", cases_file("big.csv", Sparse(51 * MB)), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: cases file suites/big.csv is 51.0 MB; the limit is 50 MB\n", process=True),
    Row("suite-too-large", {"suites/s.yaml": Sparse(11 * MB)}, ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml: is 11.0 MB; the limit is 10 MB\n", process=True),
    Row("prompt-too-large", {"prompts/echo/v2.yaml": Sparse(11 * MB)}, ["prompts", "list"], 2,
        "error: prompts/echo/v2.yaml: is 11.0 MB; the limit is 10 MB\n", process=True),
    Row("reruns-flag-huge", {}, ["run", "suites/s.yaml", "--reruns", "1000000000"], 2,
        "error: --reruns must be from 1 to 1,000 (got 1,000,000,000)\n", process=True),
    Row("reruns-flag-zero", {}, ["run", "suites/s.yaml", "--reruns", "0"], 2,
        "error: --reruns must be from 1 to 1,000 (got 0)\n"),
    Row("concurrency-flag-huge", {}, ["run", "suites/s.yaml", "--concurrency", "100000"], 2,
        "error: --concurrency must be from 1 to 1,024 (got 100,000)\n"),
    Row("concurrency-flag-on-resume", {}, ["run", "suites/s.yaml", "--resume", RUN_ID, "--concurrency", "0"], 2,
        "error: --concurrency must be from 1 to 1,024 (got 0)\n"),
    # ---------------------------------------------------------------- bad input accepted before
    Row("csv-header-only", cases_file("more.csv", "id,ticket,expected\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/more.csv:1: cases file has no cases, only a header row (add a row per case below the header)\n"),
    Row("jsonl-blank-only", cases_file("more.jsonl", "\n\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/more.jsonl: cases file has no cases\n"),
    Row("csv-with-bom", cases_file("more.csv", "\ufeffticket,expected\nhi,billing\n"), ["validate", "suites/s.yaml"], 0,
        "", out="suites/s.yaml: OK — 1 variant × model pair(s) × 2 case(s)"),
    Row("jsonl-with-bom", cases_file("more.jsonl", '\ufeff{"id": "b", "vars": {"ticket": "x"}}\n'), ["validate", "suites/s.yaml"], 0,
        "", out="× 2 case(s)"),
    Row("csv-not-utf8", cases_file("more.csv", b"id,ticket\nb,caf\xe9\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/more.csv:2: not UTF-8 text (invalid continuation byte) (save it as UTF-8)\n"),
    Row("jsonl-not-utf8", cases_file("more.jsonl", b'{"id": "b", "vars": {"ticket": "x"}}\n{"id": "c", "vars": {"ticket": "\xff"}}\n'), ["validate", "suites/s.yaml"], 2,
        "error: suites/more.jsonl:2: not UTF-8 text (invalid start byte) (save it as UTF-8)\n"),
    Row("jsonl-case-not-an-object", cases_file("more.jsonl", "[1, 2]\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/more.jsonl:1: each case must be a JSON object\n"),
    Row("chain-uses-later-output", {"prompts/chain/v1.yaml": CHAIN.replace("LATER", "summary"), "suites/s.yaml": SUITE.replace("[echo]", "[chain]")},
        ["validate", "suites/s.yaml"], 2, "error: prompts/chain/v1.yaml:6: step 1 (facts) uses 'summary', the output of step 2, which runs after it (a step sees only the outputs of the steps before it)\n"),
    Row("chain-uses-own-output", {"prompts/chain/v1.yaml": CHAIN.replace("LATER", "facts"), "suites/s.yaml": SUITE.replace("[echo]", "[chain]")},
        ["validate", "suites/s.yaml"], 2, "error: prompts/chain/v1.yaml:6: step 1 (facts) uses 'facts', its own output (a step sees only the outputs of the steps before it)\n"),
    Row("python-check-exits-on-validate", {**suite_plus("    assert: [{type: python, file: checks.py}]\n"), "suites/checks.py": CHECK_EXITS},
        ["validate", "suites/s.yaml"], 0, "", out="suites/s.yaml: OK", process=True),
    Row("python-check-not-run-by-validate", {**suite_plus("    assert: [{type: python, file: checks.py}]\n"), "suites/checks.py": CHECK_WRITES},
        ["validate", "suites/s.yaml"], 0, "", out="suites/s.yaml: OK", process=True),
    Row("python-check-exits-on-run", {"suites/r.yaml": RUNNABLE + "    assert: [{type: python, file: checks.py}]\n", "suites/checks.py": CHECK_EXITS},
        ["run", "suites/r.yaml", "--quiet"], 1, "", out="1/1 cells", unchanged=False, process=True),
    Row("python-check-wrong-arity", {**suite_plus("    assert: [{type: python, file: checks.py}]\n"), "suites/checks.py": "def check(output):\n    return True\n"},
        ["validate", "suites/s.yaml"], 2, "error: suites/s.yaml:7: checks.py: check() must accept two arguments (output, context)\n"),
    Row("k-above-reruns", suite_plus("reruns: 3\nthresholds:\n  k: 5\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:9: thresholds.k: 5 is more than reruns (3); pass^k needs k <= reruns\n"),
    Row("k-above-reruns-flag", suite_plus("thresholds:\n  k: 4\n"), ["run", "suites/s.yaml", "--reruns", "2"], 2,
        "error: --reruns 2 is below the suite's thresholds.k (4): pass^k needs k <= reruns\n"),
    Row("blank-model-name", suite_plus("models: ['  ']\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: models[0].name: '  ' is not a model name (e.g. openai/gpt-4o-mini)\n"),
    Row("blank-model-flag", {}, ["run", "suites/s.yaml", "--model", ""], 2,
        "error: --model '': '' is not a model name (e.g. openai/gpt-4o-mini)\n"),
    Row("model-name-with-space", suite_plus("models: [openai/gpt 4]\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: models[0].name: 'openai/gpt 4' is not a model name (e.g. openai/gpt-4o-mini)\n"),
    Row("blank-judge", suite_plus("judge: ''\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: judge: '' is not a model name (e.g. openai/gpt-4o-mini)\n"),
    Row("blank-prompt-model", {"prompts/echo/v2.yaml": ECHO_V1 + "model: ' '\n"}, ["validate", "suites/s.yaml"], 2,
        "error: prompts/echo/v2.yaml:8: model: ' ' is not a model name (e.g. openai/gpt-4o-mini)\n"),
    Row("temperature-hot", suite_plus("params: {temperature: hot}\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: params.temperature: must be a number from 0 to 2, got 'hot'\n"),
    Row("temperature-in-prompt", {"prompts/echo/v2.yaml": ECHO_V1 + "params:\n  temperature: 7\n"}, ["validate", "suites/s.yaml"], 2,
        "error: prompts/echo/v2.yaml:9: params.temperature: must be a number from 0 to 2, got 7\n"),
    Row("temperature-yes", suite_plus("models:\n  - name: openai/x\n    params: {temperature: yes}\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:9: models[0].params.temperature: must be a number from 0 to 2, got True\n"),
    Row("max-tokens-zero", suite_plus("params: {max_tokens: 0}\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: params.max_tokens: must be a whole number of at least 1, got 0\n"),
    Row("stream-true", suite_plus("params: {stream: true}\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: params.stream: streaming is not supported: every cell stores the whole reply, got True\n"),
    Row("stop-not-text", suite_plus("params: {stop: [1, 2]}\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: params.stop: must be text or a list of texts, got [1, 2]\n"),
    Row("resume-another-suites-run", {"suites/t.yaml": SUITE.replace("name: s", "name: t")},
        ["run", "suites/t.yaml", "--resume", RUN_ID], 2,
        f"error: run {RUN_ID} is a run of suite 's' (suites/s.yaml), not of suites/t.yaml (resume it with: workbench run suites/s.yaml --resume {RUN_ID})\n", process=True),
    Row("resume-percent", {}, ["run", "suites/s.yaml", "--resume", "%"], 2,
        f"error: .workbench/workbench.db: no run '%' in the store (recent runs: {RUN_ID})\n"),
    Row("resume-without-store", {}, ["run", "suites/s.yaml", "--resume", RUN_ID], 2,
        "error: .workbench/workbench.db: no store here yet (run a suite first: workbench run SUITE)\n", seeded=False),
    Row("report-without-store", {}, ["report", "anything"], 2,
        "error: .workbench/workbench.db: no store here yet (run a suite first: workbench run SUITE)\n", seeded=False),
    Row("compare-without-store", {}, ["compare", "a", "b"], 2,
        "error: .workbench/workbench.db: no store here yet (run a suite first: workbench run SUITE)\n", seeded=False),
    Row("label-like-a-version", {}, ["prompts", "label", "echo", "v2", "1"], 2,
        "error: 'v2' is not a valid label: name@v2 means version 2, so the label could never be used\n"),
    Row("label-like-a-version-in-file", {"prompts/echo/labels.yaml": "production: 1\nv2: 1\n", "suites/s.yaml": SUITE.replace("[echo]", "[echo@production]")},
        ["validate", "suites/s.yaml"], 2, "error: prompts/echo/labels.yaml:2: 'v2' is not a valid label: name@v2 means version 2, so the label could never be used\n"),
    Row("save-label-number-writes-nothing", {"new.yaml": ECHO_V1.replace("Ticket", "Case")},
        ["prompts", "save", "echo", "new.yaml", "--label", "2"], 2,
        "error: --label: '2' is not a valid label (lower-case letters, not a number)\n"),
    Row("save-label-version-like-writes-nothing", {"new.yaml": ECHO_V1.replace("Ticket", "Case")},
        ["prompts", "save", "echo", "new.yaml", "--label", "v3"], 2,
        "error: --label: 'v3' is not a valid label: name@v3 means version 3, so the label could never be used\n"),
    Row("save-from-a-folder", {"new.yaml": Dir()}, ["prompts", "save", "echo", "new.yaml"], 2,
        "error: new.yaml: is a folder, not a file\n"),
    Row("project-mistyped-run", {}, ["--project", "nope", "run", "suites/s.yaml"], 2,
        "error: --project nope: no such folder\n", process=True),
    Row("project-mistyped-list", {}, ["--project", "nope", "prompts", "list"], 2,
        "error: --project nope: no such folder\n"),
    # ---------------------------------------------------------------- messages
    Row("unterminated-quote-suite", {"suites/s.yaml": 'name: "s\nprompts: [echo]\ncases:\n  - id: a\n'},
        ["validate", "suites/s.yaml"], 2, "error: suites/s.yaml:1: invalid YAML: this quoted text never ends (close the quote)\n"),
    Row("unterminated-quote-prompt", {"prompts/echo/v2.yaml": ECHO_V1.replace('"Ticket: {{ ticket }}"', '"Ticket: {{ ticket }}')},
        ["validate", "suites/s.yaml"], 2, "error: prompts/echo/v2.yaml:4: invalid YAML: this quoted text never ends (close the quote)\n"),
    Row("version-zero", {"prompts/other/v0.yaml": ECHO_V1, "suites/s.yaml": SUITE.replace("[echo]", "[other]")},
        ["validate", "suites/s.yaml"], 2, "error: prompts/other/v0.yaml: not a version file name, so it is never read (versions are v1.yaml, v2.yaml, … numbered from 1, without leading zeros)\n"),
    Row("version-leading-zero", {"prompts/echo/v02.yaml": ECHO_V1 + "description: x\n"},
        ["validate", "suites/s.yaml"], 2, "error: prompts/echo/v02.yaml: not a version file name, so it is never read (versions are v1.yaml, v2.yaml, … numbered from 1, without leading zeros)\n"),
    Row("version-as-a-word", {"suites/s.yaml": SUITE.replace("[echo]", "[echo@two]")}, ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:2: prompts[0]: prompt 'echo' has no label 'two' (labels: none; a version is a number: echo@2 (versions: 1))\n"),
    # ---------------------------------------------------------------- routing and credentials
    Row("prompt-api-base", {"prompts/echo/v2.yaml": ECHO_V1 + "params:\n  api_base: http://evil.example/v1\n"},
        ["validate", "suites/s.yaml"], 2, "error: prompts/echo/v2.yaml:9: params.api_base: " + REFUSED_PARAM + "\n", process=True),
    Row("prompt-base-url", {"prompts/echo/v2.yaml": ECHO_V1 + "params: {base_url: 'http://evil.example'}\n"},
        ["prompts", "show", "echo"], 2, "error: prompts/echo/v2.yaml:8: params.base_url: " + REFUSED_PARAM + "\n"),
    Row("prompt-extra-headers", {"prompts/echo/v2.yaml": ECHO_V1 + "params:\n  extra_headers:\n    X-Forward-To: evil.example\n"},
        ["validate", "suites/s.yaml"], 2, "error: prompts/echo/v2.yaml:9: params.extra_headers: " + REFUSED_PARAM + "\n"),
    Row("prompt-nested-authorization", {"prompts/echo/v2.yaml": ECHO_V1 + "params:\n  extra_body:\n    Authorization: Bearer x\n"},
        ["validate", "suites/s.yaml"], 2, "error: prompts/echo/v2.yaml:10: params.extra_body.Authorization: " + REFUSED_PARAM + "\n"),
    Row("prompt-custom-provider", {"prompts/echo/v2.yaml": ECHO_V1 + "params: {custom_llm_provider: openai}\n"},
        ["validate", "suites/s.yaml"], 2, "error: prompts/echo/v2.yaml:8: params.custom_llm_provider: " + REFUSED_PARAM + "\n"),
    Row("prompt-aws-region", {"prompts/echo/v2.yaml": ECHO_V1 + "params: {aws_region_name: us-east-1}\n"},
        ["validate", "suites/s.yaml"], 2, "error: prompts/echo/v2.yaml:8: params.aws_region_name: " + REFUSED_PARAM + "\n"),
    Row("chain-step-api-base", {"prompts/chain/v1.yaml": CHAIN.replace(" {{ LATER }}", "") + "    params: {api_base: 'http://evil.example'}\n",
                                "suites/s.yaml": SUITE.replace("[echo]", "[chain]")},
        ["validate", "suites/s.yaml"], 2, "error: prompts/chain/v1.yaml:11: steps[1].params.api_base: " + REFUSED_PARAM + "\n"),
    Row("suite-api-base-not-http", suite_plus("models:\n  - name: openai/x\n    api_base: file:///etc/passwd\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:9: models[0].api_base: api_base must be an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1\n"),
    Row("cases-absolute-path", suite_plus("  - file: /etc/passwd.csv\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: cases file '/etc/passwd.csv' is an absolute path (files a suite names are relative to the suite file and inside the project)\n"),
    Row("cases-home-path", suite_plus("  - file: ~/cases.csv\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: cases file '~/cases.csv' is an absolute path (files a suite names are relative to the suite file and inside the project)\n"),
    Row("cases-dotdot-escape", suite_plus("  - file: ../../outside.csv\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: cases file '../../outside.csv' is outside the project folder . (files a suite names must be inside the project)\n"),
    Row("cases-symlink-escape", cases_file("link.csv", Link("/etc/hostname")), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: cases file 'link.csv' is outside the project folder . (files a suite names must be inside the project)\n", process=True),
    Row("cases-dotdot-inside-is-fine", {**suite_plus("  - file: ../data/more.csv\n"), "data/more.csv": "id,ticket\nb,hi\n"},
        ["validate", "suites/s.yaml"], 0, "", out="× 2 case(s)"),
    Row("cases-file-is-a-folder", cases_file("more.csv", Dir()), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: cases file suites/more.csv is a folder, not a file\n"),
    Row("schema-file-absolute", suite_plus("    assert: [{type: json-schema, schema_file: /etc/passwd}]\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: schema file '/etc/passwd' is an absolute path (files a suite names are relative to the suite file and inside the project)\n"),
    Row("schema-file-escape", suite_plus("    assert: [{type: json-schema, schema_file: ../../s.json}]\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: schema file '../../s.json' is outside the project folder . (files a suite names must be inside the project)\n"),
    Row("schema-file-fifo", {**suite_plus("    assert: [{type: json-schema, schema_file: s.json}]\n"), "suites/s.json": Fifo()}, ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: schema file 's.json' is a FIFO, not a regular file\n", process=True),
    Row("python-file-absolute", suite_plus("    assert: [{type: python, file: /tmp/x.py}]\n"), ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: python file '/tmp/x.py' is an absolute path (files a suite names are relative to the suite file and inside the project)\n"),
    Row("python-file-symlink-escape", {**suite_plus("    assert: [{type: python, file: c.py}]\n"), "suites/c.py": Link("/usr/lib/python3/dist-packages/README.py")},
        ["validate", "suites/s.yaml"], 2,
        "error: suites/s.yaml:7: python file 'c.py' is outside the project folder . (files a suite names must be inside the project)\n"),
]

# Today's earlier corpus (tests/bad_inputs.py) runs here too, as subprocesses, in a project
# without a store (its escalate rows need one without runs).
EARLIER_ROWS: list[Row] = [
    Row(f"earlier-{cid}", dict(files), list(argv), 2, err, seeded=False)
    for cid, files, argv, err in EARLIER
]

ALL_ROWS: list[Row] = [*ROWS, *EARLIER_ROWS]

