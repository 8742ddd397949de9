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


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (YAML silently keeps the last)."""


def _walk(
    node: yaml.Node, loc: Loc, lines: dict[Loc, int], file: str, starts: dict[Loc, int]
) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise InputError(
                    Problem("YAML merge keys (<<) are not supported", file,
                            key_node.start_mark.line + 1, "write the keys out in full")
                )
            key = _UniqueKeyLoader(  # construct scalars with the standard resolver
                ""
            ).construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise InputError(
                    Problem("mapping keys must be plain text", file, key_node.start_mark.line + 1)
                )
            if key in out:
                raise InputError(
                    Problem(
                        f"duplicate key '{key}' (first at line {lines[(*loc, key)]})",
                        file,
                        key_node.start_mark.line + 1,
                        "remove one of them",
                    )
                )
            lines[(*loc, key)] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, (*loc, key), lines, file, starts)
            # The key's line is the most useful place to point at for its value too.
            lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*loc, i), lines, file, starts) for i, item in enumerate(node.value)]
    # Block scalars (| and >) start their text on the line after the indicator.
    starts[loc] = node.start_mark.line + 1 + (1 if node.style in ("|", ">") else 0)
    loader = _UniqueKeyLoader("")
    return loader.construct_object(node, deep=True)


def load_yaml(path: Path, text: str | None = None) -> Located:
    """Parse one YAML document, turning syntax errors into a located :class:`InputError`."""
    shown = display_path(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(Problem("file not found", shown)) from None
        except UnicodeDecodeError as exc:
            raise InputError(
                Problem(f"not UTF-8 text ({exc.reason})", shown, hint="save it as UTF-8")
            ) from None
        except OSError as exc:
            raise InputError(Problem(f"cannot read file: {exc.strerror}", shown)) from None
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = exc.problem or exc.context or "invalid YAML"
        raise InputError(
            Problem(f"invalid YAML: {what}", shown, line, "check indentation and quoting")
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(Problem(f"invalid YAML: {exc}", shown)) from None
    lines: dict[Loc, int] = {}
    starts: dict[Loc, int] = {}
    if node is None:
        return Located(None, shown, {(): 1})
    try:
        data = _walk(node, (), lines, shown, starts)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise InputError(
            Problem(f"invalid YAML value: {exc.problem}", shown, mark.line + 1 if mark else None)
        ) from None
    return Located(data, shown, lines, starts)


def dump_yaml(data: Any) -> str:
    """Stable, readable YAML: keys in the given order, block style, multi-line text as |."""

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
