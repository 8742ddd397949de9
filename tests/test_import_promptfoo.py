"""``workbench import promptfoo``: real-world-shaped configs imported, validated and run
against the fake server; the round trip against what promptfoo itself rendered; the table;
the writing rules; and hostile references.

Why: users move in with one command and must lose nothing silently — every config item is
imported, converted or reported — and an imported suite must send the model the same
messages promptfoo sent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from workbench.cli.main import main
from workbench.engine.session import run_suite
from workbench.importers.promptfoo import plan_import, write_plan
from workbench.importers.promptfoo.nunjucks import to_jinja
from workbench.store.database import Store
from workbench.suites.spec import ModelSpec
from workbench.testing.fakeserver import FakeServer

DATA = Path(__file__).resolve().parent / "data" / "promptfoo"
KEY_ENV = "FAKE_KEY"

# config folder → (unsupported rows, cases, prompts) the import must report.
CONFIGS: dict[str, tuple[int, int, int]] = {
    "translation": (0, 3, 2),
    "chat-json": (0, 2, 1),
    "csv-tests": (1, 6, 1),
    "multi-provider": (1, 2, 1),
    "nunjucks-loops": (0, 2, 2),
    "file-refs": (0, 3, 3),
    "json-output": (0, 2, 1),
    "python-asserts": (0, 2, 1),
    "repeat-thresholds": (0, 2, 1),
    "unsupported": (16, 1, 1),
    "jsonl-tests": (1, 2, 2),
}


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key")


def copy_config(name: str, dest: Path, base_url: str = "http://127.0.0.1:9/v1") -> Path:
    """The config folder copied to ``dest``, its FAKE_BASE pointed at ``base_url``."""
    shutil.copytree(DATA / name, dest)
    for path in dest.rglob("promptfooconfig.*"):
        path.write_text(path.read_text().replace("FAKE_BASE", base_url)
                        .replace("http://127.0.0.1:8000/v1", base_url))
    return next(dest.glob("promptfooconfig.*"))


def new_project(root: Path) -> Path:
    (root / "prompts").mkdir(parents=True)
    (root / "suites").mkdir()
    return root


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, KEY_ENV: "test-key", "PYTHONPATH": str(Path(__file__).parent.parent)}
    return subprocess.run([sys.executable, "-P", "-m", "workbench", *args], cwd=project,
                          env=env, capture_output=True, text=True, timeout=120)


# ------------------------------------------------------------------ the configs, run


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_imports_validates_and_runs(name: str, tmp_path: Path,
                                           fake_server: FakeServer) -> None:
    unsupported, case_count, prompt_count = CONFIGS[name]
    config = copy_config(f"configs/{name}", tmp_path / "cfg", fake_server.base_url)
    project = new_project(tmp_path / "project")
    plan = plan_import(config, project)
    assert plan.problems == [], plan.problems
    assert plan.outcome.counts()["unsupported"] == unsupported, [
        r for r in plan.outcome.rows if r.status == "unsupported"]
    assert all(r.where and r.where.split(":")[-1].isdigit() for r in plan.outcome.rows), (
        "every row names a file and line")
    write_plan(plan, project)
    suite_text = (project / plan.suite_path).read_text()
    assert "&id" not in suite_text  # no YAML anchors: each case reads on its own
    models = None
    if name == "multi-provider":  # its providers are real services: run it on the fake one
        models = [ModelSpec(name="openai/fake", api_base=fake_server.base_url,
                            api_key_env=KEY_ENV)]
    with Store(tmp_path / "wb.db") as store:
        run_id = run_suite(store, project / plan.suite_path, models=models, reruns=2)
        cells = list(store.cells(run_id))
    assert len(cells) == case_count * prompt_count * 2
    assert [c for c in cells if c.error] == []
    assert fake_server.stats()["total"] >= len(cells)


def test_csv_expected_cells_become_assertions(tmp_path: Path) -> None:
    config = copy_config("configs/csv-tests", tmp_path / "cfg")
    plan = plan_import(config, new_project(tmp_path / "p"))
    suite = plan.files[-1].text
    for expected in ("- type: contains\n    value: Paris", "type: not-contains",
                     "type: regex\n    value: \\b4\\b", "expected: 'echo: Say hello'",
                     "type: contains-any\n    value:\n    - red\n    - blue\n    - yellow\n"
                     "    ignore_case: true", "type: llm-rubric", "type: starts-with"):
        assert expected in suite, expected
    [row] = [r for r in plan.outcome.rows if r.status == "unsupported"]
    assert (row.item, row.where) == ("test 'javascript' assert javascript", "tests.csv:7")


def test_python_checks_keep_promptfoo_semantics(tmp_path: Path,
                                                fake_server: FakeServer) -> None:
    config = copy_config("configs/python-asserts", tmp_path / "cfg", fake_server.base_url)
    project = new_project(tmp_path / "p")
    write_plan(plan := plan_import(config, project), project)
    checks = sorted(p.name for p in (project / "suites" / f"{plan.name}-checks").iterdir())
    assert checks == ["assert_1.py", "assert_2.py", "checks.py", "checks_2.py"]
    with Store(tmp_path / "wb.db") as store:
        cells = list(store.cells(run_suite(store, project / plan.suite_path, reruns=1)))
    results = {(c.case_id, a.reason) for c in cells for a in c.assertions}
    assert results == {
        ("inline-expression", "check() returned True"),  # one line: an expression
        ("inline-expression", "5 words"),  # a body returning a dict; extra keys dropped
        ("file-checks", "check() returned True"),  # file://checks.py → get_assert
        ("file-checks", "check() scored 1.00 (>= threshold 0.50)"),  # :length_score
    }
    assert all(c.passed for c in cells), [(c.case_id, c.assertions) for c in cells]


def test_provider_mapping(tmp_path: Path) -> None:
    config = copy_config("configs/multi-provider", tmp_path / "cfg")
    plan = plan_import(config, new_project(tmp_path / "p"))
    suite = plan.files[-1].text
    for name in ("openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-20241022",
                 "ollama_chat/llama3.1", "vertex_ai/gemini-1.5-flash",
                 "bedrock/anthropic.claude-3-haiku-20240307-v1:0", "azure/my-deployment",
                 "groq/llama-3.1-8b-instant", "openai/local-model"):
        assert f"name: {name}\n" in suite, name
    assert "api_base: https://myres.openai.azure.com\n" in suite
    assert "api_version: '2024-02-01'" in suite
    assert "vertex_project: my-project" in suite and "vertex_location: us-central1" in suite
    assert "aws_region_name: us-east-1" in suite
    assert "api_base: http://localhost:8000/v1\n  api_key_env: VLLM_KEY" in suite
    assert "max_tokens: 128" in suite and "max_tokens: 100" in suite  # num_predict, Gemini
    assert "sk-should-not-be-copied" not in suite


# ------------------------------------------------------------------ the round trip


def test_round_trip_sends_what_promptfoo_rendered(tmp_path: Path,
                                                  fake_server: FakeServer) -> None:
    """The imported suite's cells send exactly the messages promptfoo sent (rendered.json,
    captured from `promptfoo eval --output`; see tests/data/promptfoo/roundtrip/README.md)."""
    config = copy_config("roundtrip", tmp_path / "cfg", fake_server.base_url)
    project = new_project(tmp_path / "project")
    done = cli(project, "import", "promptfoo", str(config), "--strict")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 unsupported" in done.stdout
    with Store(tmp_path / "wb.db") as store:
        run_suite(store, project / "suites" / "cfg.yaml")
    sent = Counter(json.dumps(r["body"]["messages"]) for r in fake_server.requests())
    rendered = json.loads((DATA / "roundtrip" / "rendered.json").read_text())["results"]
    assert len(rendered) == 12
    expected = Counter(json.dumps(promptfoo_messages(r["rendered"])) for r in rendered)
    assert sent == expected


def promptfoo_messages(rendered: str) -> list[dict[str, str]]:
    """What promptfoo's OpenAI provider sends for a rendered prompt: a JSON message list as
    it is, any other text as one user message."""
    try:
        value = json.loads(rendered)
    except ValueError:
        return [{"role": "user", "content": rendered}]
    return value if isinstance(value, list) else [{"role": "user", "content": rendered}]


# ------------------------------------------------------------------ the command


def test_dry_run_writes_nothing_and_prints_the_plan(tmp_path: Path) -> None:
    config = copy_config("configs/translation", tmp_path / "cfg")
    project = new_project(tmp_path / "project")
    done = cli(project, "import", "promptfoo", str(config), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert list(project.rglob("*.yaml")) == []
    out = done.stdout
    assert "converted  provider openai:chat:gpt-4o-mini" in out
    assert "promptfooconfig.yaml:7" in out
    assert ("converted  config key outputPath                            promptfooconfig.yaml:2"
            "   not needed: reports are written by workbench run --json/--html/--md F") in out
    assert "would write prompts/cfg-p1/v1.yaml\nwould write prompts/cfg-p2/v1.yaml\n" \
           "would write suites/cfg.yaml\n" in out
    assert "--- suites/cfg.yaml\n" in out
    assert out.rstrip().endswith("dry run: nothing written; suite suites/cfg.yaml validates; "
                                 "run it with: workbench run suites/cfg.yaml")


def test_strict_refuses_unsupported_and_writes_nothing(tmp_path: Path) -> None:
    config = copy_config("configs/unsupported", tmp_path / "cfg")
    project = new_project(tmp_path / "project")
    done = cli(project, "import", "promptfoo", str(config), "--strict", "--name", "u")
    assert done.returncode == 2
    assert done.stderr == (f"error: --strict: 16 item(s) of {config} cannot be imported "
                           "(listed above); nothing was written\n")
    assert "unsupported  test 'everything unsupported at once' assert ja" in done.stdout
    assert list(project.rglob("*.*")) == []


def test_never_overwrites_and_writes_the_next_version(tmp_path: Path) -> None:
    config = copy_config("configs/chat-json", tmp_path / "cfg")
    project = new_project(tmp_path / "project")
    args = ["--project", str(project), "import", "promptfoo", str(config), "--name", "support"]
    assert main(args) == 0
    suite = project / "suites" / "support.yaml"
    before = suite.read_text()
    assert main(args) == 2  # the suite exists: refused, nothing touched
    assert suite.read_text() == before
    assert "v1.yaml" in {p.name for p in (project / "prompts" / "support").iterdir()}
    suite.unlink()  # the same prompt again: the identical version is reused
    assert main(args) == 0
    assert sorted(p.name for p in (project / "prompts" / "support").iterdir()) == ["v1.yaml"]
    assert "- support@1\n" in suite.read_text()
    suite.unlink()  # an edited prompt: the next version, the old one untouched
    prompt = tmp_path / "cfg" / "prompt.json"
    prompt.write_text(prompt.read_text().replace("helpful", "friendly"))
    v1 = (project / "prompts" / "support" / "v1.yaml").read_text()
    assert main(args) == 0
    assert (project / "prompts" / "support" / "v1.yaml").read_text() == v1
    assert "friendly" in (project / "prompts" / "support" / "v2.yaml").read_text()
    assert "- support@2\n" in suite.read_text()


def test_refusal_message_for_an_existing_suite(tmp_path: Path, capsys) -> None:
    config = copy_config("configs/chat-json", tmp_path / "cfg")
    project = new_project(tmp_path / "project")
    (project / "suites" / "cfg.yaml").write_text("name: mine\n")
    assert main(["--project", str(project), "import", "promptfoo", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.endswith("suites/cfg.yaml already exists; an import never overwrites a suite "
                        "(choose another name with --name, or remove it)\n")
    assert (project / "suites" / "cfg.yaml").read_text() == "name: mine\n"


# ------------------------------------------------------------------ hostile input


@pytest.mark.parametrize(("reference", "message"), [
    ("file://../outside.txt", "file://../outside.txt climbs out of the config's folder with "
                              "'..' (copy the file into the config's folder)"),
    ("file:///etc/hostname", "file:///etc/hostname is an absolute path (refer to files "
                             "relative to the config's folder)"),
    ("file://link.txt", "file://link.txt leads outside the config's folder (through a link) "
                        "(copy the file into the config's folder)"),
    ("file://zero.txt", "file://zero.txt leads outside the config's folder (through a link) "
                        "(copy the file into the config's folder)"),
    ("file://missing.txt", "file://missing.txt: file not found"),
    ("file://fifo.txt", "file://fifo.txt is a FIFO, not a regular file"),
    ("file://sub", "file://sub is a folder, not a file"),
    ("file://huge.txt", "file://huge.txt is 12.0 MB; the limit is 10 MB"),
])
def test_references_stay_inside_the_config_folder(tmp_path: Path, capsys, reference: str,
                                                  message: str) -> None:
    (tmp_path / "outside.txt").write_text("secret\n")
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "link.txt").symlink_to(tmp_path / "outside.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.txt")  # opening it would block for ever
    (folder / "sub").mkdir()
    with open(folder / "huge.txt", "wb") as handle:
        handle.truncate(12 * 1024 * 1024)
    config = folder / "promptfooconfig.yaml"
    config.write_text("prompts: ['Say {{ x }}']\nproviders: [openai:gpt-4o-mini]\n"
                      f"tests:\n  - vars:\n      x: {reference}\n")
    project = new_project(tmp_path / "project")
    assert main(["--project", str(project), "import", "promptfoo", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert ":5: " in err and message in err, err
    assert list(project.rglob("*.*")) == []


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "q.txt").write_bytes(b"fine\nbad \xff byte\n")
    config = folder / "promptfooconfig.yaml"
    config.write_text("prompts: ['Say {{ x }}']\nproviders: [openai:gpt-4o-mini]\n"
                      "tests:\n  - vars:\n      x: file://q.txt\n")
    project = new_project(tmp_path / "project")
    assert main(["--project", str(project), "import", "promptfoo", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "q.txt:2: not UTF-8 text" in err, err


def test_bad_yaml_is_one_located_message(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "promptfooconfig.yaml").write_text("prompts: [a\nproviders: []\n")
    project = new_project(tmp_path / "project")
    done = cli(project, "import", "promptfoo", str(folder / "promptfooconfig.yaml"))
    assert done.returncode == 2
    assert "promptfooconfig.yaml:2: invalid YAML" in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_an_import_that_does_not_validate_says_why(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "promptfooconfig.yaml").write_text(
        "prompts: ['{{ x | int + }}']\nproviders: [openai:gpt-4o-mini]\n"
        "tests:\n  - vars: {x: '1'}\n")
    project = new_project(tmp_path / "project")
    assert main(["--project", str(project), "import", "promptfoo",
                 str(folder / "promptfooconfig.yaml"), "--dry-run"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: ") and "prompts/cfg/v1.yaml:5: template syntax error" in err[0]
    assert err[1] == "error: the imported suite does not validate (1 problem(s))"


# ------------------------------------------------------------------ Nunjucks → Jinja2


@pytest.mark.parametrize(("nunjucks", "jinja"), [
    ("Hi {{ name }}", "Hi {{ name }}"),
    ("{% if a === 1 %}x{% elseif b !== null %}y{% endif %}",
     "{% if a == 1 %}x{% elif b != none %}y{% endif %}"),
    ("{% for k, v in obj %}{{ k }}{% endfor %}",
     "{% for k, v in ((obj)|items if (obj) is mapping else (obj)) %}{{ k }}{% endfor %}"),
    ("{{ data | dump(2) }}", "{{ data | tojson(indent=2) }}"),
    ("{{ 'urgent' if flag -}}", "{{ 'urgent' if flag else '' -}}"),
    ("{% verbatim %}{{ x }}{% endverbatim %}", "{% raw %}{{ x }}{% endraw %}"),
    ("{% raw %}{{ x === y }}{% endraw %}", "{% raw %}{{ x === y }}{% endraw %}"),
    ("{% asyncEach i in items %}{{ loop.index }}{% endeach %}",
     "{% for i in items %}{{ loop.index }}{% endfor %}"),
    ("{{ '}}' + x }}", "{{ '}}' + x }}"),
])
def test_nunjucks_to_jinja(nunjucks: str, jinja: str) -> None:
    converted = to_jinja(nunjucks)
    assert converted.text == jinja
    assert converted.unsupported == []


def test_nunjucks_that_cannot_be_converted_is_reported() -> None:
    converted = to_jinja("{% include 'x.njk' %}{{ a | load }}{{ env.KEY }}{{ b | shout }}"
                         "{{ s | replace(r/a+/g, 'b') }}")
    assert converted.unsupported == [
        "{% include %} reads other template files; inline them",
        "filter load: promptfoo's load filter (JSON.parse) has no Jinja2 equivalent",
        "env (promptfoo's environment variables) is not available to templates; pass the "
        "value as a var",
        "filter shout is not a Jinja2 filter (custom nunjucksFilters are JavaScript)",
        "regex literal r/a+/g has no Jinja2 equivalent",
    ]
