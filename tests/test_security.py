"""Security: the template sandbox, API keys, and escape sequences in model output.

Templates. Why: prompt files are shared and reviewed like code, but they are rendered by the tool,
so a template must never reach Python internals (the classic Jinja2 SSTI payloads) nor
take the machine down with one expression. Each payload goes through the real CLI
(``workbench validate`` and ``workbench prompts show --vars``) and must be refused with
exit code 2 and one message naming the prompt file and line, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.bad_inputs import ECHO_V1, SUITE
from workbench.analysis.results import load_results
from workbench.cli.main import main
from workbench.errors import InputError
from workbench.reports import render_summary
from workbench.store.database import Store
from workbench.testing.fakeserver import FakeServer

# (payload, what the message must say). The payload replaces "{{ ticket }}" on line 4.
SSTI_PAYLOADS: list[tuple[str, str]] = [
    # Reaching object internals through any value
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "attribute '__class__' of 'str'"),
    ("{{ ticket.__class__.__base__.__subclasses__() }}", "attribute '__class__' of 'str'"),
    ("{{ ().__class__.__bases__[0].__subclasses__() }}", "attribute '__class__' of 'tuple'"),
    ("{{ dict.__base__.__subclasses__() }}", "attribute '__base__' of 'type'"),
    ("{{ ticket.__len__() }}", "attribute '__len__' of 'str'"),
    ("{{ ticket['__class__'] }}", "attribute '__class__' of 'str'"),
    # Jinja's own globals lead to module globals (os, builtins)
    ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "attribute '__init__'"),
    ("{{ joiner.__init__.__globals__ }}", "attribute '__init__'"),
    ("{{ namespace.__init__.__globals__ }}", "attribute '__init__'"),
    ("{{ lipsum.__globals__['os'].system('id') }}", "attribute '__globals__' of 'function'"),
    ("{{ lipsum|attr('__globals__') }}", "attribute '__globals__' of 'function'"),
    ("{{ self.__init__.__globals__.__builtins__ }}", "attribute '__init__'"),
    ("{{ self._TemplateReference__context }}", "attribute '_TemplateReference__context'"),
    # Filter and format-string tricks
    ("{{ ''|attr('__class__') }}", "attribute '__class__' of 'str'"),
    ("{{ ticket|attr('\\x5f\\x5fclass\\x5f\\x5f') }}", "attribute '__class__' of 'str'"),
    ("{{ '{0.__class__}'.format(ticket) }}", "attribute '__class__' of 'str'"),
    ("{{ '{x.__class__}'.format_map({'x': ticket}) }}", "attribute '__class__' of 'str'"),
    ("{{ '{0.__class__.__mro__}'.format(ticket) }}", "attribute '__class__' of 'str'"),
    ("{{ '%s'|format(ticket.__class__) }}", "attribute '__class__' of 'str'"),
    # Flask-style objects do not exist here; mutation is blocked
    ("{{ request.application.__globals__ }}", "template variable 'request' is undefined"),
    ("{{ config.items() }}", "template variable 'config' is undefined"),
    ("{{ url_for.__globals__ }}", "template variable 'url_for' is undefined"),
    ("{% set l = [] %}{{ l.append(1) }}", "attribute 'append' of 'list'"),
    ("{% set d = {} %}{{ d.update(a=1) }}", "attribute 'update' of 'dict'"),
    # No loader: nothing can be included or imported
    ("{% include '/etc/passwd' %}", "no loader for this environment"),
    ("{% import 'os' as os %}", "no loader for this environment"),
    ("{% extends 'base.txt' %}", "no loader for this environment"),
    # Memory and CPU bombs: refused before they allocate
    ("{{ range(10**9)|list }}", "range of 1,000,000,000 items is too large"),
    ("{{ 'a' * 10**10 }}", "'*' would build 10,000,000,000 items"),
    ("{{ [0] * 10**10 }}", "'*' would build 10,000,000,000 items"),
    ("{{ 10 ** 1000000 }}", "10 ** 1000000 is too large"),
    ("{{ 'x'|center(10**10) }}", "center(width=…) 10,000,000,000 is too large"),
    ("{{ ticket|indent(10**10) }}", "indent(width=…) 10,000,000,000 is too large"),
    ("{{ [1]|batch(10**10, 0)|list }}", "batch(linecount=…) 10,000,000,000 is too large"),
    ("{{ [1, 2]|tojson(10**9) }}", "tojson(indent=…) 1,000,000,000 is too large"),
    ("{{ 'x'.ljust(10**10) }}", "argument of ljust() 10,000,000,000 is too large"),
    ("{{ 'x'.zfill(10**10) }}", "argument of zfill() 10,000,000,000 is too large"),
    ("{{ '%10000000000d' % 1 }}", "format width 10,000,000,000 is too large"),
    ("{{ '%*d' % (10**10, 1) }}", "format width 10,000,000,000 is too large"),
    ("{{ '%10000000000d'|format(1) }}", "format width 10,000,000,000 is too large"),
    ("{{ '{:10000000000}'.format(1) }}", "format width 10,000,000,000 is too large"),
    ("{{ '{:{w}}'.format(1, w=10**10) }}", "format width 10,000,000,000 is too large"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     "loops in this template use more than 1,000,000 range items"),
    ("{% for i in range(100000) %}{{ 'a' * 100000 }}{% endfor %}",
     "the rendered message is longer than 10,000,000 characters"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "it recurses too deeply"),
]


def make_project(root: Path, template: str) -> None:
    """The bad-input project with ``prompts/echo/v2.yaml`` whose line 4 is ``template``."""
    (root / "prompts" / "echo").mkdir(parents=True)
    (root / "suites").mkdir()
    (root / "prompts" / "echo" / "v1.yaml").write_text(ECHO_V1)
    # A YAML single-quoted scalar keeps every payload literal (quotes doubled).
    quoted = "'Ticket: " + template.replace("'", "''") + "'"
    (root / "prompts" / "echo" / "v2.yaml").write_text(
        ECHO_V1.replace('"Ticket: {{ ticket }}"', quoted))
    (root / "suites" / "s.yaml").write_text(SUITE)


@pytest.mark.parametrize(("payload", "says"), SSTI_PAYLOADS,
                         ids=[p for p, _ in SSTI_PAYLOADS])
@pytest.mark.parametrize("command", ["validate", "show"])
def test_template_payload_is_refused_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    payload: str, says: str, command: str,
) -> None:
    make_project(tmp_path, payload)
    monkeypatch.chdir(tmp_path)
    argv = (["validate", "suites/s.yaml"] if command == "validate"
            else ["prompts", "show", "echo@2", "--vars", '{"ticket": "hello"}'])

    code = main(argv)

    out, err = capsys.readouterr()
    assert code == 2, out
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    if command == "validate" and says.endswith("is undefined"):
        # An unknown name is a variable the case lacks: validate points at the case.
        name = says.split("'")[1]
        assert lines[0].startswith(f"error: suites/s.yaml:4: case 'a' has no var '{name}', "
                                   "which prompt echo@2 uses"), err
    else:
        assert lines[0].startswith("error: prompts/echo/v2.yaml:4: "), err
        assert says in err
    assert "Traceback" not in err


def test_benign_templates_still_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The limits sit far above what prompts use: ordinary formatting is untouched."""
    template = ("{{ '{:,}'.format(1234567) }} {{ '%05d' % 42 }} {{ 'ab' * 3 }} {{ 2 ** 10 }} "
                "[{{ ticket|center(9) }}] {{ '%-*s|' % (4, 'a') }} {{ '%s+%s'|format(1, 2) }} "
                "{% for i in range(3) %}{{ i }}{% endfor %} {{ [1, 2, 3]|batch(2)|list }}")
    make_project(tmp_path, template)
    monkeypatch.chdir(tmp_path)
    assert main(["prompts", "show", "echo@2", "--vars", '{"ticket": "hello"}']) == 0
    assert capsys.readouterr().out == (
        "[user]\nTicket: 1,234,567 00042 ababab 1024 [  hello  ] a   | 1+2 012 "
        "[[1, 2], [3]]\n\n")


def test_refusal_names_the_line_inside_a_multiline_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "prompts" / "p").mkdir(parents=True)
    (tmp_path / "prompts" / "p" / "v1.yaml").write_text(
        "kind: zero-shot\nmessages:\n  - role: user\n    content: |\n"
        "      Ticket: {{ ticket }}\n      Fine so far.\n      {{ 'a' * 10**10 }}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["prompts", "show", "p", "--vars", '{"ticket": "x"}']) == 2
    assert capsys.readouterr().err.startswith("error: prompts/p/v1.yaml:7: template refused: ")


def test_refusal_through_the_real_entry_point(tmp_path: Path) -> None:
    make_project(tmp_path, "{{ lipsum.__globals__['os'].system('touch pwned') }}")
    proc = subprocess.run([sys.executable, "-m", "workbench", "validate", "suites/s.yaml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: prompts/echo/v2.yaml:4: unsafe template: access to "
                                  "attribute '__globals__' of 'function' object is unsafe.")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "pwned").exists()


# --------------------------------------------------------------------------- API keys

# Every report `workbench run` can write: flag → file name. A new report format is one line.
REPORT_FLAGS = {"--json": "report.json", "--junit": "report.xml", "--md": "report.md",
                "--html": "report.html"}
ESCALATE_FLAGS = {"--json": "escalate.json", "--md": "escalate.md", "--html": "escalate.html"}

CHECK_PY = '''import os


def check(output, context):
    # A careless user function that puts a key in its reason.
    return {"pass": True, "reason": "used " + os.environ.get("WB_PROVIDER_CRED", "")}
'''


def run_cli(project: Path, *args: str, env: dict[str, str],
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=timeout)


def write_run_project(root: Path, cases: list[dict], models: list[dict]) -> None:
    """An echo prompt and a suite whose cases come from a JSONL file (any text fits)."""
    (root / "prompts" / "echo").mkdir(parents=True)
    (root / "prompts" / "echo" / "v1.yaml").write_text(
        "kind: zero-shot\nmessages:\n  - role: user\n    content: '{{ q }}'\n")
    (root / "suites").mkdir()
    suite = {"name": "sec", "prompts": ["echo"], "models": models, "reruns": 2,
             "concurrency": 4, "timeout": 5, "max_attempts": 2}
    (root / "suites" / "cases.jsonl").write_text(
        "".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    suite["cases"] = [{"file": "cases.jsonl"}]
    (root / "suites" / "sec.yaml").write_text(yaml.safe_dump(suite), encoding="utf-8")


def test_api_keys_never_reach_the_store_logs_or_reports(
    tmp_path: Path, fake_server: FakeServer
) -> None:
    """The server echoes the Authorization header in replies, errors and judge replies."""
    named_key = "wb-named-" + secrets.token_hex(16)  # sent via api_key_env (a name without KEY)
    env_key = "sk-env-" + secrets.token_hex(16)  # litellm reads OPENAI_API_KEY by itself
    fake_server.configure(retry_after=0.01)
    (tmp_path / "checks.py").write_text(CHECK_PY)
    echo = "[[echo-auth]]"
    cases = [
        {"id": "reply-echo", "vars": {"q": f"[[reply:fine]]{echo}"}, "expected": "fine"},
        {"id": "auth-error", "vars": {"q": f"[[fail:401]]{echo}"}},
        {"id": "retried", "vars": {"q": f"[[fail:500x1]][[reply:ok]]{echo}"}},
        {"id": "overloaded", "vars": {"q": f"[[fail:503]]{echo}"}},
        {"id": "judged", "vars": {"q": "[[reply:fine]]"},
         "assert": [{"type": "llm-rubric", "value": f"[[reply:PASS fine]]{echo}"},
                    {"type": "python", "file": "../checks.py"}]},
    ]
    models = [{"name": "openai/fake", "api_base": fake_server.base_url,
               "api_key_env": "WB_PROVIDER_CRED"},
              {"name": "openai/fake-env", "api_base": fake_server.base_url}]
    write_run_project(tmp_path, cases, models)
    env = {**os.environ, "WB_PROVIDER_CRED": named_key, "OPENAI_API_KEY": env_key,
           "PYTHONUNBUFFERED": "1"}
    outputs = tmp_path / "out"
    report_args = [arg for flag, name in REPORT_FLAGS.items() for arg in (flag, f"out/{name}")]

    run = run_cli(tmp_path, "run", "suites/sec.yaml", *report_args, env=env)
    assert run.returncode == 1, run.stderr  # errors and failures, no crash
    run_id = json.loads((outputs / "report.json").read_text())["run"]["id"]
    report_args = [arg for flag, name in REPORT_FLAGS.items()
                   for arg in (flag, f"out/again-{name}")]
    report = run_cli(tmp_path, "report", run_id, *report_args, env=env)
    assert report.returncode == 1, report.stderr
    escalate_args = [arg for flag, name in ESCALATE_FLAGS.items() for arg in (flag, f"out/{name}")]
    escalation = run_cli(tmp_path, "escalate", "suites/sec.yaml", *escalate_args, env=env)
    assert escalation.returncode == 0, escalation.stderr
    export = run_cli(tmp_path, "export-finetune", "suites/sec.yaml", "-o", "out/train.jsonl",
                     env=env)
    assert export.returncode == 0, export.stderr

    # The echo really happened (so the test cannot pass vacuously), and was masked.
    data = json.loads((outputs / "report.json").read_text())
    reruns = {(g["model"], c["id"]): c["reruns"] for g in data["groups"] for c in g["cases"]}
    assert reruns[("openai/fake", "reply-echo")][0]["output"] == \
        "fine [Authorization: Bearer ***]"
    assert reruns[("openai/fake-env", "reply-echo")][0]["output"] == \
        "fine [Authorization: Bearer ***]"
    assert "[Authorization: Bearer ***]" in reruns[("openai/fake", "auth-error")][0]["error"]
    assert "[Authorization: Bearer ***]" in reruns[("openai/fake", "overloaded")][0]["error"]
    judged = reruns[("openai/fake", "judged")][0]["assertions"]
    assert "***" in judged[0]["reason"] and judged[1]["reason"] == "used ***"

    artefacts = {"run stdout": run.stdout, "run stderr": run.stderr,
                 "report stdout": report.stdout, "report stderr": report.stderr,
                 "escalate stdout": escalation.stdout, "escalate stderr": escalation.stderr,
                 "export stdout": export.stdout, "export stderr": export.stderr}
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"workbench.db", "train.jsonl", *REPORT_FLAGS.values(),
                                       *ESCALATE_FLAGS.values()}
    for path in files:  # the store (db, WAL, shm), every report, everything else
        artefacts[str(path.relative_to(tmp_path))] = path.read_bytes().decode("latin-1")
    for name, text in artefacts.items():
        for key in (named_key, env_key):
            assert key not in text, f"{key[:6]}… leaked into {name}"
            assert key[-16:] not in text, f"part of {key[:6]}… leaked into {name}"


# --------------------------------------------------------------------------- escape sequences

# Model output (and error bodies) a hostile or broken server might send: colour and cursor
# control (CSI), a hyperlink and a clipboard write (OSC 8, OSC 52), the 8-bit CSI, a bell,
# backspaces and a carriage return that overprints the line, a bidi override.
HOSTILE = ("\x1b[2J\x1b[31mRED\x1b[0m \x1b]8;;http://evil.example\x07click\x1b]8;;\x07 "
           "\x1b]52;c;cm0gLXJmIC8=\x07 \x9b31m \x07\x08\x08XX\rOVERPRINT \u202etxt.exe")
CONTROL_CHARS = ["\x1b", "\x07", "\x08", "\r", "\x9b", "\u202e"]


def _json_string(text: str) -> str:
    """A JSON string literal for a fake-server directive: no raw ``]``, no raw controls."""
    return json.dumps(text, ensure_ascii=True).replace("]", "\\u005d")


def test_escape_sequences_in_model_output_are_inert(
    tmp_path: Path, fake_server: FakeServer
) -> None:
    hostile = _json_string(HOSTILE)
    cases = [
        # unstable: one rerun passes, one answers with the hostile text
        {"id": "flaky", "vars": {"q": f'[[replies-json:{_json_string("ok|" + HOSTILE)}]]'},
         "expected": "ok"},
        {"id": "always-hostile", "vars": {"q": f"[[reply-json:{hostile}]]"}, "expected": "ok"},
        {"id": "error-body", "vars": {"q": f"[[fail:400]][[error-json:{hostile}]]"}},
        {"id": "case\x1b[31m-id\x07\r", "vars": {"q": "[[reply:ok]]"}, "expected": "ok"},
    ]
    models = [{"name": "openai/fake", "api_base": fake_server.base_url,
               "api_key_env": "WB_PROVIDER_CRED"}]
    write_run_project(tmp_path, cases, models)
    env = {**os.environ, "WB_PROVIDER_CRED": "test-key", "PYTHONUNBUFFERED": "1"}
    report_args = [arg for flag, name in REPORT_FLAGS.items() for arg in (flag, f"out/{name}")]

    run = run_cli(tmp_path, "run", "suites/sec.yaml", *report_args, env=env)

    assert run.returncode == 1, run.stderr
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    cells = {c["id"]: c for g in data["groups"] for c in g["cases"]}
    # The JSON report is data: it keeps the text exactly, escaped by JSON itself.
    assert HOSTILE in [r["output"] for r in cells["flaky"]["reruns"]]
    assert cells["always-hostile"]["reruns"][0]["output"] == HOSTILE.strip()
    assert HOSTILE.replace("\r", " ").split()[0] in cells["error-body"]["reruns"][0]["error"]
    texts = {
        "summary (stdout)": run.stdout,
        "progress lines (stderr)": run.stderr,
        **{name: (tmp_path / "out" / name).read_text(encoding="utf-8")
           for name in REPORT_FLAGS.values()},
    }
    # Visible text survives, so readers still see what the model said.
    assert "RED" in texts["report.md"] and "OVERPRINT" in texts["report.xml"]
    assert "error-body" in texts["progress lines (stderr)"]
    for name, text in texts.items():
        for char in CONTROL_CHARS:
            if char == "\r" and name == "report.json":
                continue  # JSON escapes CR as \r; it is not a raw control character there
            assert char not in text, f"{char!r} reached {name}"

    # With colour on, the only escape sequences are the summary's own SGR colour codes.
    with Store(tmp_path / ".workbench" / "workbench.db") as store:
        coloured = render_summary(load_results(store, data["run"]["id"]), color=True)
    assert "\x1b[" in coloured
    leftover = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    for char in CONTROL_CHARS:
        assert char not in leftover, f"{char!r} reached the coloured summary"



# --------------------------------------------------------------------------- hostile files
# Prompt files and suites travel between people and repositories: each test below is a
# promise about what one cannot make the tool do (README, "Trust"), and failed on the code
# before it was kept.

PROMPT_V1 = ("kind: zero-shot\nmessages:\n  - role: user\n    content: 'Ticket: {{ ticket }}'\n"
             "parse: {type: label, choices: [billing, shipping]}\n")
ROUTED_SUITE = ("name: s\nprompts: [echo]\nmodels: [openai/gpt-4o-mini]\nreruns: 1\n"
                "timeout: 5\nmax_attempts: 1\ncases:\n  - id: a\n    vars: {ticket: billing}\n")


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("params", [
    "params: {{api_base: '{evil}'}}",
    "params: {{base_url: '{evil}'}}",
    "params:\n  extra_headers: {{X-Upstream: '{evil}'}}\n  api_base: '{evil}'",
])
def test_a_prompt_cannot_send_requests_or_the_key_elsewhere(tmp_path: Path, params: str) -> None:
    """A shared prompt file used to route every call of a model without its own api_base
    to a host of its choosing, with the key from the environment."""
    key = "sk-proj-" + secrets.token_hex(24)
    with FakeServer() as evil:
        write_files(tmp_path, {"prompts/echo/v1.yaml": PROMPT_V1 + params.format(evil=evil.base_url)
                               + "\n", "suites/s.yaml": ROUTED_SUITE})
        env = {**os.environ, "OPENAI_API_KEY": key}
        run = run_cli(tmp_path, "run", "suites/s.yaml", "--quiet", env=env)
        assert run.returncode == 2, run.stdout + run.stderr
        assert run.stderr.startswith("error: prompts/echo/v1.yaml:")
        assert "a prompt may not set where requests go" in run.stderr
        assert evil.requests() == []
        assert key not in run.stdout + run.stderr


KEY_SHAPES = {
    "openai-project": "sk-proj-" + "Ab3" * 16,
    "openai-legacy": "sk-" + "x9Y" * 16,
    "anthropic": "sk-ant-api03-" + "Qw7_" * 20,
    "openrouter": "sk-or-v1-" + "0f" * 32,
    "stripe-live": "sk_live_" + "Zz9" * 8,
    "aws-access-key": "AKIA" + "ABCDEFGHIJKLMNOP",
    "google": "AIza" + "SyD" * 11 + "xy",
    "github-token": "ghp_" + "a1B2" * 9,
    "github-pat": "github_pat_" + "11AB" * 12,
    "huggingface": "hf_" + "PqRs" * 9,
    "slack": "xoxb-" + "1234567890-abcdefABCDEF",
    "gitlab": "glpat-" + "Ab_1" * 6,
    "groq": "gsk_" + "Mn0p" * 13,
    "replicate": "r8_" + "Tu2v" * 10,
    "nvidia": "nvapi-" + "Gh3i" * 16,
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3b3JrYmVuY2gifQ.c2lnbmF0dXJlLXBhcnQtb2YtYS1qd3Q",
}


def test_keys_in_suites_and_replies_never_reach_the_store_logs_or_reports(
    tmp_path: Path, fake_server: FakeServer
) -> None:
    """A key in a model's nested params, in its api_base (password, query string), or any
    reply or error text shaped like a provider's key is masked before anything is stored or
    printed; the run still reaches the server (the key is masked, not lost)."""
    header_key = "hdr-" + secrets.token_hex(16)
    url_password = "pw-" + secrets.token_hex(12)
    query_key = "q-" + secrets.token_hex(12)
    host = fake_server.base_url.split("://", 1)[1]
    cases = [{"id": f"reply-{name}", "vars": {"q": f"[[reply:the key is {shape} ok]]"}}
             for name, shape in KEY_SHAPES.items()]
    cases += [{"id": f"error-{name}",
               "vars": {"q": f'[[fail:400]][[error-json:"bad key {shape}"]]'}}
              for name, shape in list(KEY_SHAPES.items())[:4]]
    models = [{"name": "openai/fake", "transport": "direct",
               "api_base": f"http://wb:{url_password}@{host}",
               "params": {"extra_headers": {"Authorization": f"Bearer {header_key}",
                                            "X-Api-Key": header_key}}},
              {"name": "openai/fake-query", "transport": "direct",
               "api_base": f"{fake_server.base_url}?api_key={query_key}"}]
    write_run_project(tmp_path, cases, models)
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    report_args = [arg for flag, name in REPORT_FLAGS.items() for arg in (flag, f"out/{name}")]

    run = run_cli(tmp_path, "run", "suites/sec.yaml", *report_args, env=env)

    assert run.returncode == 1, run.stderr
    assert fake_server.requests(), "the calls were made"
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    outputs = {c["id"]: c["reruns"][0]["output"] for g in data["groups"] for c in g["cases"]
               if g["model"] == "openai/fake"}
    assert outputs["reply-aws-access-key"] == "the key is *** ok"
    texts = {"stdout": run.stdout, "stderr": run.stderr}
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".jsonl":  # the cases file holds the replies
            texts[str(path.relative_to(tmp_path))] = path.read_bytes().decode("latin-1")
    assert any(name.startswith(".workbench") for name in texts)
    for secret in [header_key, url_password, query_key, *KEY_SHAPES.values()]:
        for name, text in texts.items():
            if name.startswith("suites/"):
                continue  # the suite file is the user's own
            assert secret not in text, f"{secret[:8]}… reached {name}"


def test_a_resume_takes_masked_credentials_back_from_the_suite(
    tmp_path: Path, fake_server: FakeServer
) -> None:
    from workbench.engine.session import resume_run, start_run

    password = "pw-" + secrets.token_hex(12)
    host = fake_server.base_url.split("://", 1)[1]
    models = [{"name": "openai/fake", "transport": "direct",
               "api_base": f"http://wb:{password}@{host}"}]
    write_run_project(tmp_path, [{"id": "a", "vars": {"q": "[[reply:x]]"}}], models)
    with Store(tmp_path / "wb.db") as store:
        run_id = start_run(store, tmp_path / "suites" / "sec.yaml").run_id
        assert store.run(run_id).plan["models"][0]["api_base"] == f"http://***@{host}"
        resumed = resume_run(store, run_id)
        assert resumed.plan.models[0]["api_base"] == f"http://wb:{password}@{host}"
        suite = tmp_path / "suites" / "sec.yaml"
        suite.write_text(suite.read_text().replace(password, "rotated-password"))
        resumed = resume_run(store, run_id)  # a rotated key is the one to use now
        assert resumed.plan.models[0]["api_base"] == f"http://wb:rotated-password@{host}"
        suite.write_text(suite.read_text().replace(host, "127.0.0.2:9"))
        with pytest.raises(InputError, match="no longer has the same ones"):
            resume_run(store, run_id)  # not the server the run started with


@pytest.mark.parametrize(("entry", "files"), [
    ("  - file: '{outside}/secret.csv'", {}),
    ("  - file: ../../outside/secret.csv", {}),
    ("  - file: link.csv", {"link": "suites/link.csv"}),
    ("    assert: [{{type: json-schema, schema_file: '{outside}/secret.json'}}]", {}),
    ("    assert: [{{type: python, file: ../../outside/secret.py}}]", {}),
    ("  - file: pipe.jsonl", {"fifo": "suites/pipe.jsonl"}),
    ("  - file: zero.jsonl", {"link-zero": "suites/zero.jsonl"}),
])
def test_files_a_suite_names_stay_inside_the_project(
    tmp_path: Path, entry: str, files: dict[str, str]
) -> None:
    """Absolute paths, '..' escapes and symlinks out of the project are refused, and so are
    FIFOs and devices (which used to hang): nothing outside the project is read."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("id,ticket\nleak,TOPSECRET-VALUE\n")
    (outside / "secret.json").write_text('{"description": "TOPSECRET-VALUE"}')
    (outside / "secret.py").write_text("open('PWNED', 'w')\n\ndef check(o, c):\n    return True\n")
    project = tmp_path / "project"
    write_files(project, {"prompts/echo/v1.yaml": PROMPT_V1, "suites/s.yaml":
                          ROUTED_SUITE + entry.format(outside=outside) + "\n"})
    for kind, name in files.items():
        if kind == "link":
            (project / name).symlink_to(outside / "secret.csv")
        elif kind == "link-zero":
            (project / name).symlink_to("/dev/zero")
        else:
            os.mkfifo(project / name)
    proc = run_cli(project, "validate", "suites/s.yaml", env=dict(os.environ), timeout=60)
    assert proc.returncode == 2, proc.stdout
    assert re.search(r"is an absolute path|is outside the project|is a FIFO", proc.stderr)
    assert "TOPSECRET" not in proc.stdout + proc.stderr
    assert not list(tmp_path.rglob("PWNED"))


def test_validate_runs_no_user_code(tmp_path: Path, fake_server: FakeServer) -> None:
    """`validate` reads a python check's syntax; only scoring a cell imports it."""
    write_run_project(tmp_path, [{"id": "a", "vars": {"q": "[[reply:x]]"},
                                  "assert": [{"type": "python", "file": "checks.py"}]}],
                      [{"name": "openai/fake", "api_base": fake_server.base_url,
                        "transport": "direct"}])
    (tmp_path / "suites" / "checks.py").write_text(
        "import pathlib\npathlib.Path('imported').write_text('yes')\n\n\n"
        "def check(output, context):\n    return True\n")
    proc = run_cli(tmp_path, "validate", "suites/sec.yaml", env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "imported").exists()
    proc = run_cli(tmp_path, "run", "suites/sec.yaml", "--quiet", env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "imported").exists()  # scoring did run it


@pytest.mark.parametrize(("code", "says"), [
    # ReDoS: a pattern that backtracks exponentially on this text
    ("from workbench.checks.parsing import ParseSpec, parse_output\n"
     "print(parse_output(ParseSpec(type='regex', pattern='(a|aa)+$', group=0), 'a' * 40 + '!'))",
     "took longer than 1 s"),
    ("import asyncio\nfrom workbench.checks.assertions import Context, Output, evaluate, "
     "parse_assertion\nctx = Context(vars={}, expected=None, base_dir=__import__('pathlib')."
     "Path('.'))\nout = Output(raw='a' * 40 + '!', answer=None, parse_ok=False, latency_ms=1, "
     "cost=0)\nprint(asyncio.run(evaluate([parse_assertion({'type': 'regex', 'value': "
     "'(a|aa)+$'})], out, ctx)))", "took longer than 1 s"),
    # A YAML alias bomb: nine levels of nine aliases
    ("from pathlib import Path\nfrom workbench.config.yaml import load_yaml\n"
     "from tests.hostile_inputs import ALIAS_BOMB\ntry:\n"
     "    load_yaml(Path('x.yaml'), ALIAS_BOMB + 'i: [*h, *h, *h, *h, *h, *h, *h, *h, *h]\\n')\n"
     "except Exception as exc:\n    print(exc)", "aliases expand to more than 100,000 values"),
    # Templates that stay within every per-operation cap but loop or build without end
    ("from workbench.prompts.version import _ENV\n"
     "from workbench.prompts._sandbox import render_limited\ntry:\n"
     "    render_limited(_ENV.from_string(\"{% set ns = namespace(s='x' * 100000) %}"
     "{% for i in range(6) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
     "{% for i in range(100000) %}{% if 'y' in ns.s %}{% endif %}{% endfor %}\"), {})\n"
     "except Exception as exc:\n    print(exc)",
     "rendering took longer than 2 s"),
    # Nested loops over a long string: 250 times the loop budget
    ("from workbench.prompts.version import _ENV\n"
     "from workbench.prompts._sandbox import render_limited\ntry:\n"
     "    render_limited(_ENV.from_string(\"{% set s = 'ab' * 50000 %}{% for c in s %}"
     "{% for d in s %}{% endfor %}{% endfor %}\"), {})\nexcept Exception as exc:\n    print(exc)",
     ("loops in this template run more than 10,000,000 times",
      "rendering took longer than 2 s")),
    ("from workbench.prompts.version import _ENV\n"
     "from workbench.prompts._sandbox import render_limited\ntry:\n"
     "    render_limited(_ENV.from_string(\"{% set ns = namespace(s='x' * 100000) %}"
     "{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}\"), {})\n"
     "except Exception as exc:\n    print(exc)", "a template value is limited to 10,000,000"),
])
def test_resource_budgets_stop_hostile_patterns_yaml_and_templates(
    code: str, says: str | tuple[str, ...]
) -> None:
    """Each used to hang or eat memory; now each ends within seconds with a clear reason.

    The nested loops may meet either budget first, depending on the machine's speed; the
    long scan stays far under the loop budget, so only the clock can stop it.
    """
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert proc.returncode == 0, proc.stderr
    reasons = (says,) if isinstance(says, str) else says
    assert any(reason in proc.stdout for reason in reasons), proc.stdout


def test_secrets_in_case_values_are_masked_in_the_store_and_restored_on_resume(
    tmp_path: Path, fake_server: FakeServer
) -> None:
    """A case may carry key-shaped test data (a prompt that detects leaked keys): the stored
    plan masks it, and a resume renders the same text the run started with."""
    from workbench.engine.session import resume_run, start_run

    leaked = "sk-proj-" + secrets.token_hex(20)
    write_run_project(tmp_path, [{"id": "a", "vars": {"q": f"is {leaked} a key?",
                                                      "api_token": "tok-" + "z" * 12}}],
                      [{"name": "openai/fake", "api_base": fake_server.base_url,
                        "transport": "direct"}])
    with Store(tmp_path / "wb.db") as store:
        run_id = start_run(store, tmp_path / "suites" / "sec.yaml").run_id
        stored = store.run(run_id).plan
        assert stored["cases"][0]["vars"] == {"q": "is *** a key?", "api_token": "***"}
        assert stored["extra"]["masked"] == {"models": [], "params": False, "cases": ["a"]}
        resumed = resume_run(store, run_id)
        assert resumed.plan.cases[0].vars == {"q": f"is {leaked} a key?",
                                              "api_token": "tok-" + "z" * 12}
    for path in tmp_path.glob("wb.db*"):  # the store, and its WAL if one is left
        assert leaked.encode() not in path.read_bytes()
