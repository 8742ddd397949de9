"""Every bad input gets one clear message naming file and line, exit code 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bad_inputs import CORPUS, ECHO_V1, SUITE
from workbench.cli.main import main


def make_project(root: Path, files: dict[str, str]) -> None:
    (root / "prompts" / "echo").mkdir(parents=True)
    (root / "suites").mkdir()
    (root / "prompts" / "echo" / "v1.yaml").write_text(ECHO_V1)
    (root / "suites" / "s.yaml").write_text(SUITE)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 25
    assert len({case[0] for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("files", "argv", "expected"),
                         [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_bad_input(tmp_path, monkeypatch, capsys, files, argv, expected):
    make_project(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == expected
    assert "Traceback" not in captured.err + captured.out
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before, "a failed command must not change any file"


def test_no_traceback_through_the_real_entry_point(tmp_path):
    make_project(tmp_path, {"prompts/echo/v2.yaml": ECHO_V1.replace(
        "{{ ticket }}", "{{ ''.__class__.__mro__ }}")})
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "validate", "suites/s.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: prompts/echo/v2.yaml:4: unsafe template: access to "
                                  "attribute '__class__' of 'str' object is unsafe.")
    assert "Traceback" not in proc.stderr


def test_all_problems_reported_at_once(tmp_path, monkeypatch, capsys):
    """One pass reports every problem, so one edit fixes them all."""
    bad = SUITE.replace("[echo]", "[ecko, echo@9]") + "rerunz: 3\n"
    make_project(tmp_path, {"suites/s.yaml": bad})
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "suites/s.yaml"]) == 2
    lines = capsys.readouterr().err.splitlines()
    # Schema problems come first (the document is unusable until they are fixed).
    assert lines == ["error: suites/s.yaml:7: unknown key 'rerunz' (did you mean 'reruns'? "
                     "allowed keys: name, description, prompts, models, reruns, params, "
                     "concurrency, timeout, max_attempts, seed, judge, defaults, cases, "
                     "thresholds, escalation)"]
    make_project(tmp_path / "two", {"suites/s.yaml": SUITE.replace("[echo]", "[ecko, echo@9]")
                                    + "  - id: a\n    vars: {ticket: x}\n"})
    monkeypatch.chdir(tmp_path / "two")
    assert main(["validate", "suites/s.yaml"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "error: suites/s.yaml:2: prompts[0]: unknown prompt 'ecko' (did you mean 'echo'?)",
        "error: suites/s.yaml:2: prompts[1]: prompt 'echo' has no version 9 (versions: 1)",
        "error: suites/s.yaml:7: duplicate case id 'a' (first at suites/s.yaml:4) "
        "(case ids must be unique; rename one)",
    ]


def test_a_refused_run_leaves_no_store_behind(tmp_path, monkeypatch, capsys):
    """The suite is validated before the store is opened: nothing to clean up after a typo."""
    make_project(tmp_path, {"suites/s.yaml": "name: x\nprompts: [echo]\n"})
    monkeypatch.chdir(tmp_path)
    assert main(["run", "suites/s.yaml"]) == 2
    assert "cases: required key is missing" in capsys.readouterr().err
    assert not (tmp_path / ".workbench").exists()
