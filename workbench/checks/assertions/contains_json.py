"""The ``contains-json`` assertion: some JSON value appears in the output, prose around it
allowed, and (with a schema) at least one of them validates.

Why not ``is-json``: that one is a format check and must notice chatty output; this one is
for answers that explain themselves around a JSON block, as promptfoo's type of that name.
The search is bounded (:data:`MAX_CANDIDATES` decode attempts), so a hostile output of a
million ``[`` cannot make it quadratic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import jsonschema
from pydantic import Field

from workbench.checks.assertions._base import REGISTRY, Problems, ReadsOutput, got
from workbench.checks.assertions._outcome import CannotCheck, Context, Outcome, Output, verdict
from workbench.checks.assertions.json import load_schema, schema_file_problems, schema_problem
from workbench.checks.values import as_text, json_kind, show

MAX_CANDIDATES = 200


def json_values(text: str) -> list[Any]:
    """Every JSON object or array in ``text`` (outermost ones, left to right)."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    attempts = 0
    position = 0
    while attempts < MAX_CANDIDATES:
        starts = [i for i in (text.find("{", position), text.find("[", position)) if i >= 0]
        if not starts:
            break
        start = min(starts)
        attempts += 1
        try:
            value, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):  # not JSON here, or nested too deep to read
            position = start + 1
            continue
        found.append(value)
        position = end
    return found


@REGISTRY.register
class ContainsJson(ReadsOutput):
    """The output contains a JSON object or array; with ``schema``/``schema_file``, one that
    validates."""

    type: Literal["contains-json"]
    json_schema: dict[str, Any] | bool | None = Field(default=None, alias="schema")
    schema_file: str | None = None

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        if "schema" in data and "schema_file" in data:
            problems.add(None, "'contains-json' takes 'schema' or 'schema_file', not both")
        if "schema" in data:
            problem = schema_problem(data["schema"])
            if problem:
                problems.add("schema", f"'schema' is not a valid JSON Schema: {problem}")
        file = data.get("schema_file")
        if "schema_file" in data and (not isinstance(file, str) or not file.strip()):
            problems.add("schema_file", f"'schema_file' must be a file path, got {got(file)}")

    def detail(self) -> str:
        if self.schema_file:
            return f" {self.schema_file}"
        return " (inline schema)" if self.json_schema is not None else ""

    def file_problems(self, base_dir: Path) -> list[str]:
        return schema_file_problems(base_dir, self.schema_file)

    def _schema(self, ctx: Context) -> Any:
        if self.schema_file:
            try:
                return load_schema(ctx.base_dir, self.schema_file)
            except (OSError, ValueError) as exc:
                raise CannotCheck(str(exc)) from None
        return self.json_schema

    async def check(self, output: Output, ctx: Context) -> Outcome:
        what = self.subject_name
        subject = self.subject(output)
        values = [subject] if isinstance(subject, dict | list) else json_values(as_text(subject))
        schema = self._schema(ctx)
        if schema is None:
            first = f"a JSON {json_kind(values[0])}" if values else ""
            return verdict(
                self.negate,
                bool(values),
                yes=f"{what} contains {first} ({len(values)} JSON value(s) found)",
                no=f"{what} contains no JSON object or array",
                neg_yes=f"expected {what} to contain no JSON, but it contains {first}",
            )
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator = cls(schema)
        matching = [v for v in values if validator.is_valid(v)]
        source = f"schema file {self.schema_file}" if self.schema_file else "the schema"
        if not values:
            failed = f"{what} contains no JSON object or array"
        else:
            error = next(iter(validator.iter_errors(values[0])), None)
            why = f": {error.message}" if error is not None else ""
            failed = (f"none of the {len(values)} JSON value(s) in {what} matches {source} "
                      f"(first: {show(values[0], 40)}{why})")
        return verdict(
            self.negate,
            bool(matching),
            yes=f"{what} contains JSON matching {source}: {show(matching[0], 40)}"
            if matching else "",
            no=failed,
            neg_yes=f"expected {what} to contain no JSON matching {source}, but it does",
        )
