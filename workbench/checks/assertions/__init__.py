"""Assertions: what a cell's output must satisfy, and how well it did.

A suite lists assertions under a case's ``assert:`` (and ``defaults: {assert: [...]}``)::

    - type: icontains        # any type may be negated: "not-icontains" or `negate: true`
      value: refund
      weight: 2              # default 1; 0 = informational (recorded, never fails the cell)
      on: raw                # raw (stripped output) or answer (the parsed answer)

Each type is one class (:mod:`.text`, :mod:`.phrases`, :mod:`.json`, :mod:`.contains_json`,
:mod:`.measures`, :mod:`.python`, :mod:`.rubric`) holding its keys, their checks, its
description and its handler, registered once in :data:`TYPES`. :data:`Assertion` is their
union, discriminated on ``type``;
:func:`parse_assertion` validates one raw item into it and reports *every* problem at once,
each at the offending key, with the allowed values — so one edit fixes a suite.
:func:`evaluate` turns assertions and a cell's :class:`Output` into
:class:`AssertionResult` values whose ``reason`` always says why. Evaluation never raises
for bad model output or a broken user check: those become failed assertions with a reason.

Security note: the ``python`` type imports and runs a ``.py`` file named in the suite (see
:mod:`.python`). ``llm-rubric`` and embedding similarity go through injected callables
(:data:`Judge`, :data:`Embed`); this package never talks to a model itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import TypeAdapter

# isort: off
# Importing a type module registers its types: this order is the order of TYPES and of
# "known types: ..." in messages (README's assertion table follows it too).
from workbench.checks.assertions.text import Contains, Equals, IContains, OneOf, Regex
from workbench.checks.assertions.phrases import ContainsAll, ContainsAny, StartsWith
from workbench.checks.assertions.json import IsJson, JsonPath, JsonSchema
from workbench.checks.assertions.contains_json import ContainsJson
from workbench.checks.assertions.measures import Cost, Latency, Length, Similar
from workbench.checks.assertions.python import Python
from workbench.checks.assertions.rubric import LlmRubric

# isort: on
from workbench.checks.assertions._base import (
    REGISTRY,
    BaseAssertion,
    Problems,
    ReadsOutput,
    Registry,
)
from workbench.checks.assertions._evaluate import (
    cell_passed,
    check_spec_files,
    evaluate,
    expected_assertion,
)
from workbench.checks.assertions._outcome import (
    AssertionResult,
    CannotCheck,
    Context,
    Embed,
    Judge,
    Outcome,
    Output,
    verdict,
)

__all__ = [
    "TYPES",
    "Assertion",
    "AssertionResult",
    "BaseAssertion",
    "CannotCheck",
    "Context",
    "Contains",
    "ContainsAll",
    "ContainsAny",
    "ContainsJson",
    "Cost",
    "Embed",
    "Equals",
    "IContains",
    "IsJson",
    "JsonPath",
    "JsonSchema",
    "Judge",
    "Latency",
    "Length",
    "LlmRubric",
    "OneOf",
    "Outcome",
    "Output",
    "Problems",
    "Python",
    "ReadsOutput",
    "Regex",
    "Registry",
    "Similar",
    "StartsWith",
    "cell_passed",
    "check_spec_files",
    "evaluate",
    "expected_assertion",
    "parse_assertion",
    "verdict",
]

TYPES: Registry = REGISTRY
"""Every assertion type by name (its class); any type may be prefixed ``not-``."""

if TYPE_CHECKING:
    Assertion: TypeAlias = BaseAssertion
else:
    Assertion = REGISTRY.union()
    """One assertion as written in a suite: the registered types, discriminated on ``type``."""

_ADAPTER: TypeAdapter[BaseAssertion] = TypeAdapter(Assertion)


def parse_assertion(data: Any) -> BaseAssertion:
    """Validate one raw item (a suite's mapping, or a stored plan's) into its assertion type.

    Raises pydantic's ValidationError with one located ``value_error`` per problem.
    """
    return _ADAPTER.validate_python(data)
