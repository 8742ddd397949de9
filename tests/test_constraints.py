"""``constrain: true``: a parse spec held as a real constraint on the model's output.

A parse spec says how the answer is *read*; ``constrain: true`` also *holds the model to it*:
a llama.cpp grammar for the embedded model, a JSON schema (an ``enum`` for a label) through
``response_format`` for hosted ones. The runner sends it, stores it with the step, and the
escalation history counts only such requests as the output-format lever.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.test_runner import MODEL, case, make_suite, new_runner
from workbench.checks.parsing import ParseSpec, parse_output
from workbench.escalation import load_history
from workbench.models.constraints import constrains_output, constraint_params, label_grammar
from workbench.store.database import Store
from workbench.testing.fakeserver import FakeServer

LABELS = ["billing", "shipping", "technical", "account"]
LABEL = ParseSpec(type="label", choices=LABELS, constrain=True)


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "test-key")


@pytest.mark.parametrize(("spec", "message"), [
    ({"type": "raw", "constrain": True}, "'constrain' works with the types label, number"),
    ({"type": "regex", "pattern": "(a)", "constrain": True}, "not 'regex'"),
    ({"type": "label", "choices": ["a"], "json_schema": {}}, "'json_schema' belongs to type"),
])
def test_constrain_needs_a_shape(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ParseSpec.model_validate(spec)


def test_constrained_specs_read_the_json_a_hosted_model_returns() -> None:
    assert parse_output(LABEL, '{"answer": "shipping"}').answer == "shipping"
    assert parse_output(LABEL, "technical").answer == "technical"  # the grammar's output
    # A label that is also the key must not be read from the key.
    keyed = ParseSpec(type="label", choices=["answer", "question"], constrain=True)
    assert parse_output(keyed, '{"answer": "question"}').answer == "question"
    number = ParseSpec(type="number", constrain=True)
    assert parse_output(number, '{"answer": 54}').answer == 54
    # Without constrain the text is read as it is (the key is a word like any other).
    plain = ParseSpec(type="label", choices=["answer", "question"])
    assert parse_output(plain, '{"answer": "question"}').answer == "answer"


def test_constraint_params_per_model_kind() -> None:
    assert constraint_params(ParseSpec(type="label", choices=LABELS), MODEL) == {}
    assert constraint_params(None, MODEL) == {}
    local = constraint_params(LABEL, "local/smollm2")
    assert local == {"grammar": 'root ::= "billing" | "shipping" | "technical" | "account"'}
    hosted = constraint_params(LABEL, MODEL)
    schema = hosted["response_format"]["json_schema"]["schema"]
    assert hosted["response_format"]["type"] == "json_schema"
    assert schema == {"type": "object", "properties": {"answer": {"type": "string",
                                                                  "enum": LABELS}},
                      "required": ["answer"], "additionalProperties": False}
    number = ParseSpec(type="number", constrain=True)
    assert constraint_params(number, "local/smollm2") == {
        "grammar": 'root ::= "-"? [0-9]+ ("." [0-9]+)?'}
    assert constraint_params(number, MODEL)["response_format"]["json_schema"]["schema"][
        "properties"] == {"answer": {"type": "number"}}
    js = ParseSpec(type="json", constrain=True, json_schema={"type": "object"})
    assert constraint_params(js, MODEL) == constraint_params(js, "local/smollm2") == {
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": {"type": "object"}, "strict": True}}}
    assert constraint_params(ParseSpec(type="json", constrain=True), MODEL) == {
        "response_format": {"type": "json_object"}}
    assert constrains_output(local) and constrains_output(hosted)
    assert not constrains_output({"temperature": 0, "response_format": None})


def test_label_grammar_escapes_literals() -> None:
    assert label_grammar(['say "hi"', "a\\b", "two\nlines"]) == (
        'root ::= "say \\"hi\\"" | "a\\\\b" | "two\\nlines"')


def _prompt(constrain: bool) -> dict[str, Any]:
    parse: dict[str, Any] = {"type": "label", "choices": LABELS}
    if constrain:
        parse["constrain"] = True
    return {"kind": "zero-shot", "messages": [{"role": "user", "content": "{{ q }}"}],
            "parse": parse}


@pytest.mark.parametrize("transport", ["litellm", "direct"])
async def test_the_runner_sends_stores_and_the_history_sees_the_constraint(
    tmp_path: Path, fake_server: FakeServer, transport: str
) -> None:
    reply = '[[reply-json:"{\\"answer\\": \\"billing\\"}"]]'
    suite = make_suite(tmp_path, fake_server.base_url, [case("a", reply, "billing")],
                       prompts={"free": _prompt(False), "held": _prompt(True)},
                       transport=transport)
    with Store(tmp_path / "wb.db") as store:
        runner = new_runner(suite, store)
        await runner.run()
        cells = {c.variant: c for c in store.cells(runner.run_id)}
        history = load_history(store, "t")
    sent = [r["body"] for r in fake_server.requests()]
    assert len({json.dumps(b["messages"]) for b in sent}) == 1  # the same messages
    held = next(b for b in sent if "response_format" in b)
    assert held["response_format"]["json_schema"]["schema"]["properties"]["answer"][
        "enum"] == LABELS
    assert sum("response_format" in b for b in sent) == 1
    assert cells["held@1"].steps[0].params["response_format"] == held["response_format"]
    assert cells["held@1"].answer == "billing" and cells["held@1"].passed
    assert "response_format" not in cells["free@1"].steps[0].params
    constrained = {p.ref: p.format_constrained for p in history.points}
    assert constrained == {"free@1": False, "held@1": True}


async def test_a_parameter_the_user_set_wins(tmp_path: Path, fake_server: FakeServer) -> None:
    own = {"type": "json_object"}
    prompt = {**_prompt(True), "params": {"response_format": own}}
    suite = make_suite(tmp_path, fake_server.base_url, [case("a", "[[reply:billing]]")],
                       prompts={"held": prompt}, transport="direct")
    with Store(tmp_path / "wb.db") as store:
        await new_runner(suite, store).run()
    assert [r["body"]["response_format"] for r in fake_server.requests()] == [own]


@pytest.mark.model
def test_the_embedded_model_decodes_only_the_labels() -> None:
    """The grammar from a label spec's choices is constrained decoding: whatever the seed and
    however loose the prompt, the embedded model can only emit one of the labels."""
    from workbench.models.errors import BadRequest
    from workbench.models.local import LocalChatModel

    model = LocalChatModel()
    messages = [{"role": "user", "content": "Tell me a story about a parcel."}]
    grammar = constraint_params(LABEL, "local/smollm2")["grammar"]
    texts = {model.chat(messages, temperature=1.0, max_tokens=8, seed=seed,
                        grammar=grammar).text for seed in range(4)}
    assert texts and texts <= set(LABELS)
    with pytest.raises(BadRequest, match="does not parse"):
        model.chat(messages, max_tokens=4, seed=1, grammar='root ::= "a | ')
