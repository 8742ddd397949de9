"""Suite loading: inline, CSV and JSONL cases, defaults, overrides and the example suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import InputError
from workbench.suites.loader import load_suite

REPO = Path(__file__).resolve().parents[1]


def test_example_suites_validate():
    clf = load_suite(REPO / "suites" / "ticket-classifier.yaml")
    assert len(clf.cases) >= 100  # enough for a fine-tuning set and a held-out split
    assert all(c.expected in {"billing", "shipping", "technical", "account"} for c in clf.cases)
    assert [v.ref for v in clf.variants] == [
        "ticket-classifier@2", "ticket-classifier@4", "ticket-classifier-fewshot@4",
        "ticket-classifier-fewshot@5"]
    # the format lever: the history's later versions hold the answer to the labels
    assert [bool(v.spec.parse and v.spec.parse.constrain) for v in clf.variants] == [
        False, True, True, True]
    assert clf.variants[-1].spec.params["temperature"] == 0 and not clf.spec.params
    assert clf.spec.escalation.pass_hat_k == 0.5
    assert [m.name for m in clf.models] == ["local/smollm2"]
    chain = load_suite(REPO / "suites" / "order-qa.yaml")
    assert len(chain.cases) >= 10
    assert chain.variants[0].spec.kind == "chain"
    assert chain.call_count() == 2 * 12 * 5


def _project(tmp_path: Path, suite: str, **files: str) -> Path:
    (tmp_path / "prompts" / "p").mkdir(parents=True)
    (tmp_path / "prompts" / "p" / "v1.yaml").write_text(
        "kind: zero-shot\nmessages:\n  - role: user\n    content: '{{ q }}'\n")
    (tmp_path / "prompts" / "p" / "v2.yaml").write_text(
        "kind: zero-shot\nmessages:\n  - role: user\n    content: 'Q: {{ q }}'\n")
    (tmp_path / "suites").mkdir()
    for name, text in files.items():
        (tmp_path / "suites" / name.replace("_", ".")).write_text(text)
    path = tmp_path / "suites" / "s.yaml"
    path.write_text(suite)
    return path


def test_cases_from_csv_and_jsonl_with_defaults(tmp_path):
    path = _project(tmp_path, """name: s
prompts: [p@1, p]
models: [openai/a, {name: openai/b, api_base: "http://127.0.0.1:1/v1", params: {top_p: 0.5}}]
reruns: 3
defaults:
  assert: [{type: icontains, value: x}]
cases:
  - id: inline
    vars: {q: one}
    assert: [{type: not-contains, value: "?"}]
  - file: more.csv
  - file: more.jsonl
""", more_csv='id,q,expected\nc1,"two, three",x\n,four,\n',
        more_jsonl='{"id": "j1", "vars": {"q": "five"}, "expected": "y"}\n\n')
    suite = load_suite(path)
    assert [c.id for c in suite.cases] == ["inline", "c1", "more-3", "j1"]
    assert suite.cases[1].vars == {"q": "two, three"} and suite.cases[1].expected == "x"
    assert suite.cases[2].expected == ""
    assert [a.type for a in suite.cases[0].assertions] == ["icontains", "contains"]
    assert suite.cases[0].assertions[1].negate is True
    assert [m.name for m in suite.models] == ["openai/a", "openai/b"]
    assert suite.models[1].params == {"top_p": 0.5}
    assert suite.call_count() == 2 * 2 * 4 * 3


def test_cli_overrides_replace_variants_and_models(tmp_path):
    path = _project(tmp_path, "name: s\nprompts: [p]\ncases:\n  - id: a\n    vars: {q: x}\n")
    suite = load_suite(path, prompts=["p@1"], models=["openai/x"])
    assert [v.ref for v in suite.variants] == ["p@1"]
    assert [m.name for m in suite.models] == ["openai/x"]
    with pytest.raises(InputError, match="--prompt nope: unknown prompt 'nope'"):
        load_suite(path, prompts=["nope"])


def test_same_version_listed_twice_is_refused(tmp_path):
    path = _project(tmp_path, "name: s\nprompts: [p, p@2]\ncases:\n  - id: a\n    vars: {q: x}\n")
    with pytest.raises(InputError, match="'p@2' is the same version as 'p'"):
        load_suite(path)


def test_without_models_each_variant_runs_on_its_own_model(tmp_path):
    path = _project(tmp_path, "name: s\nprompts: [p@1, p@2]\ncases:\n  - id: a\n    vars: {q: x}\n")
    v2 = tmp_path / "prompts" / "p" / "v2.yaml"
    v2.write_text("model: openai/gpt-x\n" + v2.read_text())
    suite = load_suite(path)
    assert [(v.ref, m.name) for v, m in suite.pairs] == [
        ("p@1", "local/smollm2"), ("p@2", "openai/gpt-x")]
    assert suite.call_count(reruns=3) == 2 * 1 * 3
