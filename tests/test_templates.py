"""Prompt versions: immutability, labels, references, diff, and rendering of each kind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.cli.main import main
from workbench.errors import InputError
from workbench.prompts.library import PromptLibrary, Ref

REPO = Path(__file__).resolve().parents[1]

V1 = """kind: zero-shot
description: first
messages:
  - role: system
    content: You classify.
  - role: user
    content: "Ticket: {{ ticket }}"
parse:
  type: label
  choices: [billing, shipping]
"""


@pytest.fixture
def library(tmp_path: Path) -> PromptLibrary:
    lib = PromptLibrary(tmp_path / "prompts")
    lib.save("clf", V1)
    return lib


def test_save_writes_next_version_and_never_touches_old(library):
    v1_path = library.path_of("clf", 1)
    before = v1_path.read_bytes()
    v2 = library.save("clf", V1.replace("first", "second"))
    assert v2.version == 2 and v2.path.name == "v2.yaml"
    assert v1_path.read_bytes() == before
    assert library.versions("clf") == [1, 2]
    assert library.resolve("clf").version == 2  # bare name = latest


def test_save_refuses_identical_content(library):
    with pytest.raises(InputError, match="nothing to save: identical to version 1"):
        library.save("clf", V1)


def test_save_validates_before_writing(library):
    with pytest.raises(InputError):
        library.save("clf", "kind: zero-shot\n")
    assert library.versions("clf") == [1]


def test_labels_and_references(library):
    library.save("clf", V1.replace("first", "second"))
    library.set_label("clf", "production", 1)
    assert library.labels("clf") == {"production": 1}
    assert library.resolve("clf@production").version == 1
    assert library.resolve("clf@2").version == 2
    assert library.resolve("clf@v2").version == 2
    library.set_label("clf", "production", 2)
    assert library.resolve("clf@production").version == 2
    with pytest.raises(InputError, match="no label 'staging'"):
        library.resolve("clf@staging")
    with pytest.raises(InputError, match="has no version 3"):
        library.resolve("clf@3")
    with pytest.raises(InputError, match="not a valid label"):
        library.set_label("clf", "7", 1)


def test_ref_parsing():
    assert Ref.parse("clf") == Ref("clf", None)
    assert Ref.parse("clf@3") == Ref("clf", "3")
    assert Ref.parse("clf@production") == Ref("clf", "production")
    with pytest.raises(ValueError):
        Ref.parse("Bad Name")


def test_hash_tracks_content(library):
    v1 = library.resolve("clf@1")
    assert len(v1.hash) == 64
    assert library.resolve("clf@1").hash == v1.hash
    library.path_of("clf", 1).write_text(V1 + "# edited\n")
    assert library.resolve("clf@1").hash != v1.hash


def test_diff_between_versions(library):
    library.save("clf", V1.replace("description: first", "description: second"))
    diff = library.diff("clf", 1, 2)
    assert "--- clf/v1.yaml" in diff and "+++ clf/v2.yaml" in diff
    assert "-description: first" in diff and "+description: second" in diff
    assert library.diff("clf", 1, 1) == ""


def test_cli_diff_of_two_prompts_is_the_library_diff(library, tmp_path, monkeypatch, capsys):
    library.save("clf-short", V1.replace("You classify.", "Classify."))
    monkeypatch.chdir(tmp_path)
    assert main(["prompts", "diff", "clf@1", "clf-short@1"]) == 0
    out = capsys.readouterr().out
    assert out == library.diff("clf", 1, 1, other="clf-short")
    assert out.startswith("--- clf/v1.yaml\n+++ clf-short/v1.yaml\n")
    assert "-    content: You classify.\n+    content: Classify.\n" in out
    assert main(["prompts", "diff", "clf@1", "1"]) == 0
    assert capsys.readouterr().out == "clf@1 and clf@1 are identical\n"


def test_zero_shot_rendering(library):
    messages = library.resolve("clf").render({"ticket": "refund please"})
    assert messages == [
        {"role": "system", "content": "You classify."},
        {"role": "user", "content": "Ticket: refund please"},
    ]


def test_few_shot_examples_become_turns_before_final_user_message(tmp_path):
    lib = PromptLibrary(tmp_path)
    text = V1.replace("zero-shot", "few-shot") + """examples:
  - vars: {ticket: charged twice}
    output: billing
  - input: "Ticket: box lost"
    output: shipping
"""
    prompt = lib.save("fs", text)
    assert prompt.render({"ticket": "where is it"}) == [
        {"role": "system", "content": "You classify."},
        {"role": "user", "content": "Ticket: charged twice"},
        {"role": "assistant", "content": "billing"},
        {"role": "user", "content": "Ticket: box lost"},
        {"role": "assistant", "content": "shipping"},
        {"role": "user", "content": "Ticket: where is it"},
    ]


def test_few_shot_examples_as_template_variable(tmp_path):
    lib = PromptLibrary(tmp_path)
    text = """kind: few-shot
messages:
  - role: user
    content: |
      {% for ex in examples %}{{ ex.input }} => {{ ex.output }}
      {% endfor %}{{ ticket }} =>
examples:
  - input: a
    output: "1"
  - input: b
    output: "2"
"""
    prompt = lib.save("fsv", text)
    assert prompt.render({"ticket": "c"}) == [
        {"role": "user", "content": "a => 1\nb => 2\nc =>"}
    ]
    assert prompt.variables() == {"ticket"}


def test_chain_renders_step_by_step_with_earlier_outputs(tmp_path):
    lib = PromptLibrary(tmp_path)
    text = """kind: chain
steps:
  - output: facts
    params: {max_tokens: 10}
    messages:
      - role: user
        content: "Facts of: {{ note }}"
  - output: answer
    model: openai/other
    messages:
      - role: user
        content: "Given {{ facts }}, answer {{ question }}"
parse: {type: number}
"""
    prompt = lib.save("ch", text)
    assert prompt.step_count() == 2
    assert prompt.variables() == {"note", "question"}
    first = prompt.render_step(0, {"note": "N", "question": "Q"})
    assert first.output == "facts" and first.params == {"max_tokens": 10}
    assert first.messages == [{"role": "user", "content": "Facts of: N"}]
    second = prompt.render_step(1, {"note": "N", "question": "Q"}, {"facts": "F1"})
    assert second.model == "openai/other"
    assert second.messages == [{"role": "user", "content": "Given F1, answer Q"}]


def test_missing_variable_names_file_line_and_variable(library):
    prompt = library.resolve("clf")
    with pytest.raises(InputError) as info:
        prompt.render({})
    problem = info.value.problems[0]
    assert problem.line == 7
    assert problem.file.endswith("clf/v1.yaml")
    assert "template variable 'ticket' is undefined" in problem.message


@pytest.mark.parametrize("payload", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].system('id') }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ request.application.__globals__ }}",
    "{{ ticket.__class__.__base__.__subclasses__() }}",
    "{{ namespace.__init__.__globals__ }}",
    "{% set x = [].append(1) %}{{ x }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ config.items() }}",
])
def test_sandbox_refuses_ssti_payloads(tmp_path, payload):
    lib = PromptLibrary(tmp_path)
    prompt = lib.save("p", "kind: zero-shot\nmessages:\n  - role: user\n    content: |\n"
                      f"      {payload}\n")
    with pytest.raises(InputError) as info:
        prompt.render({"ticket": "t"})
    message = str(info.value)
    assert "p/v1.yaml:5:" in message
    assert "unsafe template" in message or "is undefined" in message


def test_example_library_loads_and_renders():
    lib = PromptLibrary(REPO / "prompts")
    assert set(lib.names()) >= {"ticket-classifier", "ticket-classifier-fewshot",
                                "order-qa-chain"}
    kinds = {lib.resolve(n).spec.kind for n in lib.names()}
    assert kinds == {"zero-shot", "few-shot", "chain"}
    assert lib.labels("ticket-classifier")["production"] in lib.versions("ticket-classifier")
    assert len(lib.versions("ticket-classifier")) >= 2
    assert len(lib.versions("ticket-classifier-fewshot")) >= 2


def test_cli_prompts_round_trip(tmp_path, monkeypatch, capsys):
    shutil.copytree(REPO / "prompts", tmp_path / "prompts")
    monkeypatch.chdir(tmp_path)
    assert main(["prompts", "list"]) == 0
    out = capsys.readouterr().out
    assert "ticket-classifier " in out and "[production→v2]" in out
    edited = tmp_path / "edit.yaml"
    edited.write_text((tmp_path / "prompts/ticket-classifier/v3.yaml").read_text()
                      .replace("Route the ticket to one team.", "Route the ticket."))
    assert main(["prompts", "save", "ticket-classifier", str(edited), "--label", "staging"]) == 0
    assert "saved ticket-classifier@5" in capsys.readouterr().out
    assert main(["prompts", "diff", "ticket-classifier@3", "5"]) == 0
    out = capsys.readouterr().out
    assert "-      Route the ticket to one team." in out and "+      Route the ticket." in out
    assert main(["prompts", "show", "ticket-classifier@staging", "--vars",
                 '{"ticket": "refund"}']) == 0
    assert "Ticket: refund" in capsys.readouterr().out
    assert main(["prompts", "label", "ticket-classifier", "production", "5"]) == 0
    assert PromptLibrary(tmp_path / "prompts").labels("ticket-classifier") == {
        "production": 5, "staging": 5}
