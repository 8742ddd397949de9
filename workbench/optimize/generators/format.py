"""The output-format lever: say what the answer must look like, or make the model keep to it.

Two proposals: an explicit answer-format instruction added to the system message (written
from the prompt's parse spec, so it names the labels the parser accepts), and constrained
decoding (``parse.constrain: true``: a grammar for the embedded model, a JSON schema through
``response_format`` for other models) where the parse spec allows it.
"""

from __future__ import annotations

from workbench.checks.parsing import CONSTRAINABLE, ParseSpec
from workbench.optimize.generators.base import Context, Proposal, system_index


def format_instruction(parse: ParseSpec) -> str:
    """The sentence that tells the model the answer's shape."""
    if parse.type == "label" and parse.choices:
        return ("Answer with exactly one of: " + ", ".join(parse.choices)
                + ". Reply with the label only, nothing else.")
    if parse.type == "number":
        return "Answer with a number only, no words."
    if parse.type == "json":
        keys = list((parse.json_schema or {}).get("properties") or {})
        return ("Answer with one JSON object only, no other text"
                + (f", with the keys {', '.join(keys)}." if keys else "."))
    return "Give only the answer, with no explanation."


def instruction(ctx: Context) -> list[Proposal]:
    """Add the format instruction to the system message (of a chain's last step)."""
    parse = ctx.prompt.spec.parse
    sentence = format_instruction(parse)
    data = ctx.data()
    messages = (data["steps"][-1]["messages"] if data.get("steps")
                else data.get("messages") or [])
    if any(sentence in str(m.get("content", "")) for m in messages):
        return []
    index = system_index(messages)
    content = str(messages[index].get("content") or "").rstrip()
    messages[index]["content"] = f"{content}\n{sentence}".strip()
    return [Proposal("format-instruction", data, f"system message: {sentence!r}")]


def constrained(ctx: Context) -> list[Proposal]:
    """Hold the model to the parse spec's shape, where the spec can be constrained."""
    parse = ctx.prompt.spec.parse
    if parse.constrain or parse.type not in CONSTRAINABLE or (
            parse.type == "label" and not parse.choices):
        return []
    data = ctx.data()
    data["parse"] = {**dict(data.get("parse") or {}), "constrain": True}
    how = "a grammar on the embedded model, a JSON schema elsewhere"
    return [Proposal("format-constrained", data, f"constrained decoding ({how})")]
