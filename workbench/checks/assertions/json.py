"""JSON assertions: is-json, json-schema, json-path.

On raw output they accept the whole output as JSON, or one ```json fence that is the whole
output (a format check should notice chatty output); on the parsed answer they use the
answer as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import jsonschema
from pydantic import Field

from workbench.checks.assertions._base import (
    REGISTRY,
    Problems,
    ReadsOutput,
    got,
    resolve_file,
)
from workbench.checks.assertions._fields import check_json_value
from workbench.checks.assertions._outcome import CannotCheck, Context, Outcome, Output, verdict
from workbench.checks.jsonpath import PathMissing, parse_path, resolve_path
from workbench.checks.jsontext import FoundJson, NoJson, extract_json
from workbench.checks.values import json_equal, json_kind, show
from workbench.config.files import MAX_YAML_BYTES, FileRefused, check_regular, read_text
from workbench.config.yaml import load_yaml
from workbench.errors import InputError

_schemas: dict[tuple[str, int], Any] = {}


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a valid JSON Schema (for its declared draft), or None."""
    if not isinstance(schema, dict | bool):
        return f"a schema must be a mapping, got {type(schema).__name__}"
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        return f"{exc.message}" + (f" (at {where})" if where else "")
    except RecursionError:
        return "it is nested too deeply"
    return None


def load_schema(base_dir: Path, file: str) -> Any:
    """A schema file (JSON, or YAML for .yaml/.yml), checked, once per (path, mtime).

    It must be a regular file inside the project, of at most ``MAX_YAML_BYTES``.
    """
    path = resolve_file(base_dir, file, "schema file")
    try:
        check_regular(path, MAX_YAML_BYTES)
    except FileNotFoundError:
        raise FileNotFoundError(f"schema file {file!r} not found (looked for {path})") from None
    except FileRefused as exc:
        raise FileRefused(f"schema file {file!r} {exc.reason}") from None
    key = (str(path), path.stat().st_mtime_ns)
    if key in _schemas:
        return _schemas[key]
    try:
        text = read_text(path, MAX_YAML_BYTES)
        if path.suffix.lower() in (".yaml", ".yml"):
            schema = load_yaml(path, text).data
        else:
            schema = json.loads(text)
    except InputError as exc:
        raise ValueError(f"schema file {file!r} cannot be parsed: "
                         + "; ".join(str(p) for p in exc.problems)) from None
    except RecursionError:
        raise ValueError(f"schema file {file!r} is nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"schema file {file!r} cannot be parsed: {exc}") from None
    problem = schema_problem(schema)
    if problem:
        raise ValueError(f"schema file {file!r} is not a valid JSON Schema: {problem}")
    _schemas[key] = schema
    return schema


def schema_file_problems(base_dir: Path, file: str | None) -> list[str]:
    """Why a named schema file cannot be used (checked before a run), or nothing."""
    if not file:
        return []
    try:
        load_schema(base_dir, file)
    except (OSError, ValueError) as exc:
        return [str(exc)]
    return []


def _document(value: Any, what: str) -> FoundJson:
    """The JSON a json-* assertion looks at: text is parsed, an already parsed answer is used."""
    if isinstance(value, str):
        try:
            return extract_json(value)
        except NoJson as exc:
            raise CannotCheck(exc.reason.replace("output", what, 1)) from None
    return FoundJson(value, "whole")


@REGISTRY.register
class IsJson(ReadsOutput):
    """The output is JSON (or one fenced JSON block); a parsed answer already is."""

    type: Literal["is-json"]

    async def check(self, output: Output, ctx: Context) -> Outcome:
        what = self.subject_name
        value = self.subject(output)
        if not isinstance(value, str):
            desc = f"{what} is already parsed JSON (a {json_kind(value)})"
            return verdict(
                self.negate,
                True,
                yes=desc,
                no=desc,
                neg_yes=f"expected {what} NOT to be JSON, "
                f"but it is already parsed JSON (a {json_kind(value)})",
            )
        try:
            found = extract_json(value)
        except NoJson as exc:
            reason = exc.reason.replace("output", what, 1)
            return verdict(self.negate, False, yes="", no=reason, neg_yes="")
        where = " inside a ```json fence" if found.fenced else ""
        desc = f"a JSON {json_kind(found.value)}{where}"
        return verdict(
            self.negate,
            True,
            yes=f"{what} is {desc}",
            no="",
            neg_yes=f"expected {what} NOT to be JSON, but it is {desc}",
        )


@REGISTRY.register
class JsonSchema(ReadsOutput):
    """The JSON validates against ``schema`` (inline) or ``schema_file``."""

    type: Literal["json-schema"]
    json_schema: dict[str, Any] | bool | None = Field(default=None, alias="schema")
    schema_file: str | None = None

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        has_inline, has_file = "schema" in data, "schema_file" in data
        if has_inline == has_file:
            problems.add(
                None,
                "'json-schema' assertion needs exactly one of 'schema' (an inline mapping) or "
                "'schema_file' (a .json/.yaml file relative to the suite file)",
            )
        if has_inline:
            problem = schema_problem(data["schema"])
            if problem:
                problems.add("schema", f"'schema' is not a valid JSON Schema: {problem}")
        file = data.get("schema_file")
        if has_file and (not isinstance(file, str) or not file.strip()):
            problems.add("schema_file", f"'schema_file' must be a file path, got {got(file)}")

    def detail(self) -> str:
        return f" {self.schema_file}" if self.schema_file else " (inline schema)"

    def file_problems(self, base_dir: Path) -> list[str]:
        return schema_file_problems(base_dir, self.schema_file)

    def _schema(self, ctx: Context) -> Any:
        if self.json_schema is not None:
            return self.json_schema
        try:
            return load_schema(ctx.base_dir, self.schema_file or "")
        except (OSError, ValueError) as exc:
            raise CannotCheck(str(exc)) from None

    async def check(self, output: Output, ctx: Context) -> Outcome:
        what = self.subject_name
        found = _document(self.subject(output), what)
        schema = self._schema(ctx)
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        errors = sorted(
            cls(schema).iter_errors(found.value), key=lambda e: list(e.absolute_path)
        )
        source = f"schema file {self.schema_file}" if self.schema_file else "the schema"
        where = " (in a ```json fence)" if found.fenced else ""
        if errors:
            first = errors[0]
            at = "$" + "".join(
                f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path
            )
            message = first.message if len(first.message) <= 160 else first.message[:159] + "…"
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            detail = f"at {at}: {message}{more}"
        else:
            detail = ""
        return verdict(
            self.negate,
            not errors,
            yes=f"{what} JSON{where} matches {source}",
            no=f"{what} JSON{where} does not match {source}: {detail}",
            neg_yes=f"expected {what} JSON NOT to match {source}, but it does",
        )


@REGISTRY.register
class JsonPath(ReadsOutput):
    """With ``value``: the JSON value at ``path`` equals it. Without: the path exists.

    ``value: null`` is a value (the path must hold null), not the absence of one.
    """

    type: Literal["json-path"]
    path: str = Field(description="like a.b[0].c")
    value: Any = None

    @classmethod
    def check_fields(cls, data: dict[str, Any], problems: Problems) -> None:
        check_json_value(data, problems)
        if "path" in data:
            path = data["path"]
            if not isinstance(path, str):
                problems.add(
                    "path", f"'path' must be text like a.b[0].c or $.a.b[0], got {got(path)}"
                )
            else:
                try:
                    parse_path(path)
                except ValueError as exc:
                    problems.add(
                        "path", f"invalid json-path {path!r}: {exc} (use a.b[0].c or $.a.b[0])"
                    )

    @property
    def has_value(self) -> bool:
        return "value" in self.model_fields_set

    def detail(self) -> str:
        return f" {self.path}" + (f" = {show(self.value, 40)}" if self.has_value else "")

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.has_value:
            data["value"] = self.value
        return data

    async def check(self, output: Output, ctx: Context) -> Outcome:
        what = self.subject_name
        document = _document(self.subject(output), what).value
        path = self.path
        try:
            found = resolve_path(document, parse_path(path))
        except PathMissing as exc:
            missing = f"{path} not found in {what} JSON: {exc}"
            return verdict(self.negate, False, yes="", no=missing, neg_yes="")
        if not self.has_value:
            return verdict(
                self.negate,
                True,
                yes=f"{path} exists (value {show(found)})",
                no="",
                neg_yes=f"expected {path} NOT to exist, but it does (value {show(found)})",
            )
        wanted = self.value
        return verdict(
            self.negate,
            json_equal(found, wanted),
            yes=f"{path} is {show(wanted)}",
            no=f"expected {path} to be {show(wanted)}, got {show(found)}",
            neg_yes=f"expected {path} NOT to be {show(wanted)}, but it is",
            neg_no=f"{path} is {show(found)}, not {show(wanted)}",
        )
