"""YAML loading that remembers where every value came from.

Validation errors must name the file and line of the offending value, so the loader
returns plain dicts and lists (what pydantic wants) plus a side table mapping each
location path, e.g. ``("cases", 3, "id")``, to its 1-based line number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.config.files import MAX_YAML_BYTES, FileRefused, read_text
from workbench.errors import InputError, Problem, display_path

Loc = tuple[str | int, ...]


@dataclass
class Located:
    """A parsed YAML document with the line of each value, keyed by location path."""

    data: Any
    file: str
    lines: dict[Loc, int] = field(default_factory=dict)
    text_starts: dict[Loc, int] = field(default_factory=dict)

    def text_line(self, loc: Loc, offset: int = 1) -> int | None:
        """File line of line ``offset`` (1-based) inside the text scalar at ``loc``."""
        start = self.text_starts.get(tuple(loc))
        return start + offset - 1 if start else self.line(loc)

    def line(self, loc: Loc) -> int | None:
        """Line of ``loc`` or of its nearest ancestor that has one."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), 1)

    def problem(self, loc: Loc, message: str, hint: str | None = None) -> Problem:
        return Problem(message, self.file, self.line(loc), hint)


MAX_DEPTH = 100  # nesting levels of mappings and lists (aliases expanded)
MAX_ALIAS_VALUES = 100_000  # values that aliases (*name) may expand to, all together


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (YAML silently keeps the last) and
    nesting deeper than :data:`MAX_DEPTH` (PyYAML's composer recurses once per level)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_PLAIN_COLLECTIONS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


class _Walker:
    """Turns composed nodes into plain data, recording each value's line.

    Aliases make a document a graph: a few lines can name a billion values (the "billion
    laughs"), or themselves. Values reached through an alias count against
    :data:`MAX_ALIAS_VALUES`, a node inside itself is refused, and depth is capped again
    because aliases can stack nested anchors.
    """

    def __init__(self, file: str):
        self.file = file
        self.lines: dict[Loc, int] = {}
        self.starts: dict[Loc, int] = {}
        self.seen: set[int] = set()
        self.path: set[int] = set()
        self.aliased = 0
        self.constructor = _UniqueKeyLoader("")  # one for all scalars: making one is slow

    def refuse(self, node: yaml.Node, message: str, hint: str | None = None) -> InputError:
        return InputError(Problem(message, self.file, node.start_mark.line + 1, hint))

    def walk(self, node: yaml.Node, loc: Loc, depth: int = 0, via_alias: bool = False) -> Any:
        if id(node) in self.path:
            raise self.refuse(node, "invalid YAML: an alias refers to the value that contains it")
        if id(node) in self.seen:
            via_alias = True
        self.seen.add(id(node))
        if via_alias:
            self.aliased += 1
            if self.aliased > MAX_ALIAS_VALUES:
                raise self.refuse(node, f"invalid YAML: aliases expand to more than "
                                  f"{MAX_ALIAS_VALUES:,} values", "write the values out")
        if depth > MAX_DEPTH:
            raise self.refuse(node, f"invalid YAML: nested deeper than {MAX_DEPTH} levels")
        self.lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if node.tag not in _PLAIN_COLLECTIONS:
                raise self.refuse(node, f"invalid YAML value: unsupported tag {node.tag!r}",
                                  "write plain mappings and lists")
            self.path.add(id(node))
            try:
                if isinstance(node, yaml.SequenceNode):
                    return [self.walk(item, (*loc, i), depth + 1, via_alias)
                            for i, item in enumerate(node.value)]
                return self.mapping(node, loc, depth, via_alias)
            finally:
                self.path.discard(id(node))
        # Block scalars (| and >) start their text on the line after the indicator.
        self.starts[loc] = node.start_mark.line + 1 + (1 if node.style in ("|", ">") else 0)
        if node.tag == _TIMESTAMP:
            return node.value  # a date is text as written: every value here is JSON-like
        value = self.constructor.construct_object(node, deep=True)
        if isinstance(value, bytes):
            raise self.refuse(node, "binary values (!!binary) are not supported",
                              "write the value as text")
        return value

    def mapping(self, node: yaml.MappingNode, loc: Loc, depth: int, via_alias: bool) -> dict:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.refuse(key_node, "YAML merge keys (<<) are not supported",
                                  "write the keys out in full")
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.refuse(key_node, "mapping keys must be plain text")
            key = (key_node.value if key_node.tag == _TIMESTAMP
                   else self.constructor.construct_object(key_node, deep=True))
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise self.refuse(key_node, "mapping keys must be plain text")
            if key in out:
                first = self.lines[(*loc, key)]
                raise self.refuse(key_node, f"duplicate key '{key}' (first at line {first})",
                                  "remove one of them")
            self.lines[(*loc, key)] = key_node.start_mark.line + 1
            out[key] = self.walk(value_node, (*loc, key), depth + 1, via_alias)
            # The key's line is the most useful place to point at for its value too.
            self.lines[(*loc, key)] = key_node.start_mark.line + 1
        return out


def _syntax_problem(exc: yaml.MarkedYAMLError, shown: str) -> Problem:
    """A YAML syntax error at the line to fix: an unterminated quote is reported where
    it opens, not at the end of the file where the parser gave up."""
    if (exc.context and "scanning a quoted scalar" in exc.context and exc.context_mark
            and exc.problem and "end of stream" in exc.problem):
        return Problem("invalid YAML: this quoted text never ends", shown,
                       exc.context_mark.line + 1, "close the quote")
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    what = exc.problem or exc.context or "invalid YAML"
    hint = None if what.startswith("nested deeper") else "check indentation and quoting"
    return Problem(f"invalid YAML: {what}", shown, line, hint)


def load_yaml(path: Path, text: str | None = None) -> Located:
    """Parse one YAML document, turning every problem into a located :class:`InputError`.

    Without ``text`` the file is read through :mod:`workbench.config.files` (a regular
    file, at most ``MAX_YAML_BYTES``, UTF-8).
    """
    shown = display_path(path)
    if text is None:
        try:
            text = read_text(path, MAX_YAML_BYTES)
        except FileNotFoundError:
            raise InputError(Problem("file not found", shown)) from None
        except FileRefused as exc:
            raise InputError(exc.problem(shown)) from None
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        raise InputError(_syntax_problem(exc, shown)) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise InputError(Problem(f"invalid YAML: unacceptable character #x{exc.character:04x} "
                                 f"({exc.reason})", shown, line,
                                 "remove it, or write it as an escape in double quotes")) from None
    except yaml.YAMLError as exc:
        raise InputError(Problem(f"invalid YAML: {exc}", shown)) from None
    if node is None:
        return Located(None, shown, {(): 1})
    walker = _Walker(shown)
    try:
        data = walker.walk(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise InputError(
            Problem(f"invalid YAML value: {exc.problem}", shown, mark.line + 1 if mark else None)
        ) from None
    return Located(data, shown, walker.lines, walker.starts)


def dump_yaml(data: Any) -> str:
    """Stable, readable YAML: keys in the given order, block style, multi-line text as |."""

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
