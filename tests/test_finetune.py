"""export-finetune: chat-format JSONL from the best version, validated line by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.histories import Case, Version, add_run, few_shot, pattern, zero_shot
from workbench.cli.main import main
from workbench.finetune.export import (
    Example,
    build_examples,
    check_example,
    holdout_path,
    split_holdout,
    validate_jsonl,
    write_jsonl,
)
from workbench.prompts.library import PromptLibrary
from workbench.prompts.version import parse_version_text
from workbench.store.database import Store
from workbench.store.records import CellRecord, StepRecord

LABELS = ["billing", "shipping", "technical"]
SYSTEM = "You route support tickets. One word."


def _project(tmp_path: Path, cases: list[Case], extra: str = "") -> Path:
    (tmp_path / "prompts" / "p").mkdir(parents=True)
    for v, text in enumerate([zero_shot(0.7), few_shot(0)], start=1):
        (tmp_path / "prompts" / "p" / f"v{v}.yaml").write_text(text)
    (tmp_path / "suites").mkdir()
    suite = tmp_path / "suites" / "tickets.yaml"
    lines = "".join(
        f"  - {{id: {c.id}, vars: {{ticket: {json.dumps(c.ticket)}}}"
        + (f", expected: {c.expected}" if c.expected is not None else "") + "}\n"
        for c in cases)
    suite.write_text(f"name: tickets\nprompts: [p@1, p@2]\ncases:\n{lines}{extra}")
    return suite


def _cases(n: int = 20) -> list[Case]:
    return [Case(f"c{i:02d}", LABELS[i % 3], f"Ticket number {i} <b>&\"quoted\"</b> ✓")
            for i in range(n)]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cases = _cases()
    suite = _project(tmp_path, cases)
    monkeypatch.chdir(tmp_path)
    with Store(tmp_path / ".workbench" / "workbench.db") as store:
        add_run(store, "tickets", cases, [
            Version("p", 1, zero_shot(0.7), pattern(cases, 2)),
            Version("p", 2, few_shot(0), pattern(cases, 4)),  # the best version
        ])
    return suite


def test_export_matches_the_chat_format_exactly(project: Path, capsys) -> None:
    assert main(["export-finetune", "suites/tickets.yaml", "-o", "out/train.jsonl"]) == 0
    out = capsys.readouterr().out
    assert "prompt: p@2, the best version on local/smollm2, without its 2 few-shot examples" \
        in out
    assert "wrote 20 example(s) to out/train.jsonl" in out
    path = project.parent.parent / "out" / "train.jsonl"
    assert validate_jsonl(path) == []
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) == 20 and text.endswith("\n")
    first = json.loads(lines[0])
    assert first == {"messages": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": 'Ticket: Ticket number 0 <b>&"quoted"</b> ✓'},
        {"role": "assistant", "content": "billing"},
    ]}
    assert "✓" in lines[0]  # UTF-8 text, not \u escapes
    # Round trip: every line parses back to exactly what was built from the prompt.
    prompt = PromptLibrary(project.parent.parent / "prompts").load("p", 2)
    for line, case in zip(lines, _cases(), strict=True):
        data = json.loads(line)
        assert check_example(data) is None
        expected = prompt.render_without_examples({"ticket": case.ticket})
        assert data["messages"] == [*expected, {"role": "assistant", "content": case.expected}]
        assert len(prompt.render({"ticket": case.ticket})) == len(expected) + 4  # 2 examples


def test_holdout_split_is_deterministic_per_seed(project: Path, capsys) -> None:
    args = ["export-finetune", "suites/tickets.yaml", "-o", "a.jsonl", "--holdout", "0.25"]
    assert main([*args, "--seed", "3"]) == 0
    assert "wrote 15 example(s) to a.jsonl and 5 held out to a.holdout.jsonl" in \
        capsys.readouterr().out
    root = project.parent.parent
    train = (root / "a.jsonl").read_text().splitlines()
    held = (root / "a.holdout.jsonl").read_text().splitlines()
    assert validate_jsonl(root / "a.holdout.jsonl") == []
    assert len(train) == 15 and len(held) == 5 and not set(train) & set(held)
    assert main([*args, "--seed", "3", "--holdout-out", "b.jsonl"]) == 0
    assert (root / "b.jsonl").read_text().splitlines() == held
    assert main([*args, "--seed", "4", "--holdout-out", "c.jsonl"]) == 0
    assert (root / "c.jsonl").read_text().splitlines() != held


def test_split_holdout_keeps_order_and_both_sides() -> None:
    examples = [Example(str(i), []) for i in range(10)]
    train, held = split_holdout(examples, 0.2, seed=1)
    assert len(held) == 2 and len(train) == 8
    assert sorted(e.case_id for e in train + held) == sorted(str(i) for i in range(10))
    assert [e.case_id for e in train] == sorted((e.case_id for e in train), key=int)
    assert split_holdout(examples[:2], 0.01)[1] != []  # rounds up to one held out
    assert len(split_holdout(examples[:2], 0.99)[0]) == 1  # and keeps one to train on
    assert split_holdout(examples, 0.0) == (examples, [])
    with pytest.raises(ValueError):
        split_holdout(examples, 1.0)
    assert holdout_path("x/train.jsonl") == Path("x/train.holdout.jsonl")


def test_validator_names_each_bad_line(tmp_path: Path) -> None:
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    bad = [
        "not json",
        json.dumps({"messages": good["messages"], "extra": 1}),
        json.dumps({"messages": [{"role": "user", "content": "q"}]}),
        json.dumps({"messages": [{"role": "user", "content": "q"},
                                 {"role": "bot", "content": "a"}]}),
        json.dumps({"messages": [{"role": "user", "content": " "},
                                 {"role": "assistant", "content": "a"}]}),
        json.dumps({"messages": [{"role": "assistant", "content": "a"},
                                 {"role": "user", "content": "q"}]}),
        json.dumps({"messages": [{"role": "user", "content": "q"},
                                 {"role": "system", "content": "s"},
                                 {"role": "assistant", "content": "a"}]}),
        json.dumps({"messages": [{"role": "user", "content": "q", "name": "x"},
                                 {"role": "assistant", "content": "a"}]}),
    ]
    path = tmp_path / "f.jsonl"
    path.write_text("\n".join([json.dumps(good), *bad]) + "\n")
    problems = validate_jsonl(path)
    assert [p.line for p in problems] == list(range(2, 10))
    messages = [p.message for p in problems]
    assert messages[0].startswith("invalid JSON")
    assert messages[1] == 'each line must be an object with exactly one key, "messages"'
    assert "at least a user and an assistant" in messages[2]
    assert "role 'bot'" in messages[3]
    assert messages[4] == "message 1 must have non-empty text content"
    assert messages[5] == "the last message must be the assistant's answer"
    assert messages[6] == "message 2 is a system message; only the first may be"
    assert messages[7] == 'message 1 must have exactly the keys "role" and "content"'
    assert all(p.file and p.file.endswith("f.jsonl") for p in problems)
    write_jsonl(path, [Example("a", good["messages"])])
    assert validate_jsonl(path) == []


def test_template_that_loops_over_examples_renders_with_none(tmp_path: Path) -> None:
    text = ("kind: few-shot\nmessages:\n  - role: user\n    content: |\n"
            "      {% for e in examples %}{{ e.input }} => {{ e.output }}\n"
            "      {% endfor %}Ticket: {{ ticket }}\nexamples:\n  - {input: a, output: b}\n")
    prompt = parse_version_text(text, tmp_path / "v1.yaml", "p", 1)
    assert prompt.render({"ticket": "x"}) == [{"role": "user", "content": "a => b\nTicket: x"}]
    assert prompt.render_without_examples({"ticket": "x"}) == [
        {"role": "user", "content": "Ticket: x"}]


CHAIN = """kind: chain
steps:
  - output: facts
    messages:
      - {role: user, content: "List facts: {{ note }}"}
  - output: answer
    messages:
      - {role: system, content: Answer with a number.}
      - {role: user, content: "Facts: {{ facts }} Question: {{ question }}"}
parse: {type: number}
"""


def _chain_cell(case: str, rerun: int, facts: str, passed: bool) -> CellRecord:
    final = [{"role": "system", "content": "Answer with a number."},
             {"role": "user", "content": f"Facts: {facts} Question: how many?"}]
    steps = [{"output": "facts", "messages": [{"role": "user", "content": "List facts: n"}],
              "raw": facts},
             {"output": "answer", "messages": final, "raw": "3" if passed else "4"}]
    return CellRecord("r", "c@1", "m", case, rerun, "ok", steps[1]["raw"], 3 if passed else 4,
                      True, passed, [], [StepRecord.from_dict(s) for s in steps], 1.0, 1, 1, 0.0,
                      None, 1, rerun, "h", 1.0, 2.0)


def test_chain_exports_its_final_step_from_a_passing_rerun(tmp_path: Path) -> None:
    prompt = parse_version_text(CHAIN, tmp_path / "v1.yaml", "c", 1)
    cells = {"a": [_chain_cell("a", 0, "- wrong fact", False),
                   _chain_cell("a", 1, "- 3 items", True)],
             "b": [CellRecord("r", "c@1", "m", "b", 0, "error", None, None, False, False, [],
                              [StepRecord.from_dict({"output": "facts", "messages": []})],
                              1.0, 0, 0, 0.0, "boom", 1,
                              0, "h", 1.0, 2.0)]}
    examples, skipped = build_examples(
        prompt, [("a", {"note": "n", "question": "q"}, 3), ("b", {}, 5), ("c", {}, None)],
        cells)
    assert skipped == ["b"]  # never reached the final step; "c" has no expected answer
    assert [e.case_id for e in examples] == ["a"]
    assert examples[0].messages == [
        {"role": "system", "content": "Answer with a number."},
        {"role": "user", "content": "Facts: - 3 items Question: how many?"},
        {"role": "assistant", "content": "3"},
    ]
    assert check_example(json.loads(examples[0].to_line())) is None


def test_cli_exports_a_chain_from_its_stored_run(tmp_path: Path, monkeypatch, capsys) -> None:
    from workbench.engine.plan import Plan, PlanCase, PlanVariant
    from workbench.prompts.version import content_hash

    (tmp_path / "prompts" / "c").mkdir(parents=True)
    (tmp_path / "prompts" / "c" / "v1.yaml").write_text(CHAIN)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "chain.yaml").write_text(
        "name: chain\nprompts: [c@1]\ncases:\n"
        "  - {id: a, vars: {note: n, question: q}, expected: 3}\n"
        "  - {id: b, vars: {note: n, question: q}, expected: 5}\n")
    monkeypatch.chdir(tmp_path)
    plan = Plan("chain", "suites/chain.yaml", str(tmp_path / "suites"),
                [PlanVariant("c@1", "c", 1, content_hash(CHAIN), "prompts/c/v1.yaml")],
                [{"name": "m"}], [("c@1", "m")],
                [PlanCase("a", {}, 3, [], None), PlanCase("b", {}, 5, [], None)], 2, {}, 0, 1,
                30.0, 1, None, {})
    with Store(tmp_path / ".workbench" / "workbench.db") as store:
        store.create_run("r", "chain", plan.suite_path, plan.to_dict(), plan.total_cells)
        store.record_prompt_version("c", 1, content_hash(CHAIN), CHAIN, "r")
        for cell in [_chain_cell("a", 0, "- wrong fact", False),
                     _chain_cell("a", 1, "- 3 items", True)]:
            store.add_cell(cell)
    assert main(["export-finetune", "suites/chain.yaml", "-o", "c.jsonl"]) == 0
    out = capsys.readouterr().out
    assert "wrote 1 example(s) to c.jsonl" in out
    assert "skipped 1 case(s) no stored rerun took to the final step: b" in out
    (line,) = (tmp_path / "c.jsonl").read_text().splitlines()
    assert json.loads(line)["messages"][1]["content"] == "Facts: - 3 items Question: how many?"
    assert main(["export-finetune", "suites/chain.yaml", "-o", "d.jsonl", "--prompt", "c@1"]) == 0
    assert (tmp_path / "d.jsonl").read_text().splitlines() == [line]


def test_nothing_to_export_and_bad_flags_exit_2(tmp_path: Path, monkeypatch, capsys) -> None:
    cases = [Case(f"c{i}", None, f"t{i}") for i in range(3)]
    _project(tmp_path, cases)
    monkeypatch.chdir(tmp_path)
    assert main(["export-finetune", "suites/tickets.yaml", "-o", "x.jsonl", "--prompt",
                 "p@2"]) == 2
    assert "nothing to export: no case has an expected answer" in capsys.readouterr().err
    assert main(["export-finetune", "suites/tickets.yaml", "-o", "x.jsonl"]) == 2
    err = capsys.readouterr().err
    assert "no stored runs of suite 'tickets'" in err
    assert "run it first: workbench run suites/tickets.yaml" in err
    assert main(["export-finetune", "suites/tickets.yaml", "-o", "x.jsonl", "--holdout",
                 "1.5"]) == 2
    assert "--holdout is the held-out fraction" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()
