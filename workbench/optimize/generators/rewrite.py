"""Instruction rewrites by a proposer model: OPRO-style (from the scored history and the
failing examples) and APE-style (induced from input/output pairs of the search split).

The instruction is the system message (one is added when the prompt has none); the user
template, examples and parse spec stay as they are. The proposer's text is made inert as a
template (no ``{{``), since it becomes part of one.
"""

from __future__ import annotations

from workbench.optimize.generators.base import (
    Context,
    Proposal,
    answer_text,
    case_text,
    escape_template,
    system_index,
)
from workbench.optimize.proposer import (
    ape_messages,
    extract_instruction,
    opro_messages,
)

MAX_INSTRUCTION = 2000  # characters kept of a proposed instruction


def current_instruction(ctx: Context) -> str:
    messages = ctx.data().get("messages") or []
    return next((str(m.get("content", "")) for m in messages if m.get("role") == "system"), "")


def _with_instruction(ctx: Context, text: str) -> dict:
    data = ctx.data()
    messages = data["messages"]
    index = system_index(messages)
    messages[index]["content"] = escape_template(text[:MAX_INSTRUCTION])
    return data


def _task(ctx: Context) -> str:
    return (ctx.prompt.spec.description or current_instruction(ctx)
            or f"answer as the prompt {ctx.prompt.name} asks")


def opro(ctx: Context) -> list[Proposal]:
    """A rewrite from the scored instructions so far and the cases the best gets wrong."""
    if ctx.propose is None or ctx.prompt.spec.kind == "chain":
        return []
    parse = ctx.prompt.spec.parse
    mistakes = [(case_text(ctx.case(cid)), answer_text(ctx.case(cid).expected, parse),
                 ctx.outputs.get(cid, "")) for cid in ctx.failing
                if ctx.case(cid).expected is not None]
    scored = list(ctx.history) or [(current_instruction(ctx), 0.0)]
    reply = ctx.propose(opro_messages(_task(ctx), scored, mistakes))
    text = extract_instruction(reply)
    if text is None or text == current_instruction(ctx):
        return []
    return [Proposal("rewrite-opro", _with_instruction(ctx, text),
                     f"instruction rewritten (OPRO): {text[:80]!r}", proposer_calls=1)]


def ape(ctx: Context) -> list[Proposal]:
    """An instruction induced from input/output pairs of the search split."""
    if ctx.propose is None or ctx.prompt.spec.kind == "chain":
        return []
    parse = ctx.prompt.spec.parse
    pairs = [(case_text(c), answer_text(c.expected, parse)) for c in ctx.cases
             if c.expected is not None]
    if not pairs:
        return []
    reply = ctx.propose(ape_messages(pairs))
    text = extract_instruction(reply)
    if text is None or text == current_instruction(ctx):
        return []
    return [Proposal("rewrite-ape", _with_instruction(ctx, text),
                     f"instruction induced (APE): {text[:80]!r}", proposer_calls=1)]
