"""Candidate generators, one module per strategy; :data:`GENERATORS` in the order a round
tries them (cheap, well-known levers first)."""

from workbench.optimize.generators.base import Context, Generator, Proposal
from workbench.optimize.generators.fewshot import random_examples, similar
from workbench.optimize.generators.format import constrained, instruction
from workbench.optimize.generators.rewrite import ape, opro
from workbench.optimize.generators.sampling import temperature_zero

GENERATORS: dict[str, Generator] = {
    "few-shot-similar": similar,
    "few-shot-random": random_examples,
    "format-instruction": instruction,
    "format-constrained": constrained,
    "temperature-0": temperature_zero,
    "rewrite-opro": opro,
    "rewrite-ape": ape,
}
REWRITES = ("rewrite-opro", "rewrite-ape")  # the generators that call a proposer model

__all__ = ["GENERATORS", "REWRITES", "Context", "Generator", "Proposal"]
