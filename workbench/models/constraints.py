"""A parse spec's ``constrain: true`` as the request parameter each kind of model understands.

Why one place: the constraint belongs to the prompt (its ``parse`` spec says what the answer
looks like), but how a model is held to it differs by model. The embedded llama.cpp model
takes a GBNF ``grammar`` (constrained decoding: it cannot emit anything else); hosted and
OpenAI-compatible models take ``response_format`` with a JSON schema (a label becomes an
``enum``). The runner merges these parameters into the step's, so they are stored with every
cell and the escalation history can see that the output-format lever was pulled
(:func:`constrains_output`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from workbench.checks.parsing import CONSTRAINED_KEY, ParseSpec
from workbench.models.transport import LOCAL_PREFIX

__all__ = ["CONSTRAINT_PARAMS", "constraint_params", "constrains_output", "label_grammar"]

# The request parameters that hold a model to an output format (a parse spec only reads it).
CONSTRAINT_PARAMS = ("grammar", "response_format")

_NUMBER_GRAMMAR = 'root ::= "-"? [0-9]+ ("." [0-9]+)?'


def constrains_output(params: Mapping[str, Any]) -> bool:
    """Did a request constrain the model's output (a grammar or a response_format)?"""
    return any(params.get(name) for name in CONSTRAINT_PARAMS)


def _gbnf_literal(text: str) -> str:
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{escaped}"'


def label_grammar(choices: list[str]) -> str:
    """A GBNF grammar whose only sentences are the labels, exactly as written."""
    return "root ::= " + " | ".join(_gbnf_literal(c) for c in choices)


def _local(spec: ParseSpec) -> dict[str, Any]:
    if spec.type == "label":
        return {"grammar": label_grammar(spec.choices or [])}
    if spec.type == "number":
        return {"grammar": _NUMBER_GRAMMAR}
    # json: the embedded transport turns response_format into llama.cpp's JSON grammar.
    return {"response_format": _json_format(spec)}


def _json_format(spec: ParseSpec) -> dict[str, Any]:
    if spec.json_schema is None:
        return {"type": "json_object"}
    return {"type": "json_schema",
            "json_schema": {"name": "answer", "schema": spec.json_schema, "strict": True}}


def _hosted(spec: ParseSpec) -> dict[str, Any]:
    if spec.type == "json":
        return {"response_format": _json_format(spec)}
    value: dict[str, Any] = ({"type": "string", "enum": list(spec.choices or [])}
                             if spec.type == "label" else {"type": "number"})
    schema = {"type": "object", "properties": {CONSTRAINED_KEY: value},
              "required": [CONSTRAINED_KEY], "additionalProperties": False}
    return {"response_format": {"type": "json_schema",
                                "json_schema": {"name": "answer", "schema": schema,
                                                "strict": True}}}


def constraint_params(spec: ParseSpec | None, model: str) -> dict[str, Any]:
    """The parameters that hold ``model`` to ``spec``'s answer; ``{}`` unless the spec says
    ``constrain: true``. ``local/…`` models get a grammar, every other model a
    ``response_format`` (what the litellm and direct transports send)."""
    if spec is None or not spec.constrain:
        return {}
    params = _local(spec) if model.startswith(LOCAL_PREFIX) else _hosted(spec)
    return json.loads(json.dumps(params))  # plain JSON data, as the store keeps it
