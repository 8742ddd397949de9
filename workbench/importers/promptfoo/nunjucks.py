"""Nunjucks templates (promptfoo's) rewritten as Jinja2 (the workbench's).

The two languages share most syntax — ``{{ }}``, ``{% %}``, filters, ``loop.index`` and the
other loop variables — so a template is copied token by token and only what differs is
rewritten: ``===``/``!==``, ``null``, ``elseif``, ``verbatim``, ``asyncEach``/``asyncAll``,
``for k, v in object`` (Nunjucks iterates an object's pairs, Jinja2 needs ``|items``), the
``dump`` filter, and an inline ``if`` without ``else`` (Nunjucks prints nothing, Jinja2's
strict undefined would fail). What cannot be converted — file includes, promptfoo's
``load`` filter and ``env`` global, regex literals, filters Jinja2 lacks — is reported,
never dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Filters with the same name and meaning in both languages.
SAME_FILTERS = frozenset({
    "abs", "batch", "capitalize", "center", "default", "d", "dictsort", "escape", "e",
    "first", "float", "int", "join", "last", "length", "list", "lower", "reject",
    "rejectattr", "replace", "reverse", "safe", "select", "selectattr", "slice", "sort",
    "string", "striptags", "sum", "title", "trim", "upper", "urlencode", "urlize",
    "wordcount",
})
# Same name, slightly different output: converted as they are, with a note.
CLOSE_FILTERS = {
    "round": "Jinja2's round returns a float (3 → 3.0)",
    "truncate": "Jinja2's truncate counts the ending in the length and allows 5 extra "
                "characters before it cuts",
    "indent": "Jinja2's indent leaves blank lines unindented",
    "groupby": "Jinja2's groupby yields (grouper, list) pairs, Nunjucks an object",
}
UNSUPPORTED_FILTERS = {
    "load": "promptfoo's load filter (JSON.parse) has no Jinja2 equivalent",
    "nl2br": "nl2br has no Jinja2 equivalent",
    "random": "random picks differently on every render",
}
TAG_RENAMES = {"elseif": "elif", "verbatim": "raw", "endverbatim": "endraw",
               "asyncEach": "for", "asyncAll": "for", "endeach": "endfor",
               "endall": "endfor", "ifAsync": "if"}
FILE_TAGS = {"include", "import", "extends", "from"}

_OPEN = re.compile(r"\{\{|\{%|\{#")
_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<regex>r/(?:[^/\\]|\\.)+/[a-z]*)
      | (?P<number>\d+(?:\.\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>===|!==|==|!=|<=|>=|\*\*|//|[-+*/%~|.,:()\[\]{}<>=!?])
      | (?P<other>.)""",
    re.X | re.S,
)


@dataclass
class Conversion:
    """The Jinja2 text, what was changed, and what could not be converted."""

    text: str
    changes: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.changes:
            self.changes.append(text)

    def refuse(self, text: str) -> None:
        if text not in self.unsupported:
            self.unsupported.append(text)


def to_jinja(source: str) -> Conversion:
    """Convert one Nunjucks template; the text is unchanged when nothing differs."""
    result = Conversion("")
    out: list[str] = []
    pos = 0
    raw_until: str | None = None
    while pos < len(source):
        match = _OPEN.search(source, pos)
        if match is None:
            out.append(source[pos:])
            break
        out.append(source[pos:match.start()])
        opener = match.group()
        closer = {"{{": "}}", "{%": "%}", "{#": "#}"}[opener]
        end = _find_close(source, match.end(), closer)
        if end < 0:  # unclosed: promptfoo would send such a prompt as it is
            out.append(source[match.start():])
            result.refuse(f"unclosed {opener} at character {match.start()}")
            break
        inner = source[match.end():end]
        whole = source[match.start():end + len(closer)]
        pos = end + len(closer)
        if raw_until is not None:
            tag = _tag_name(inner) if opener == "{%" else ""
            if tag == raw_until:
                out.append(whole.replace(tag, TAG_RENAMES.get(tag, tag), 1))
                raw_until = None
            else:
                out.append(whole)
            continue
        if opener == "{#":
            out.append(whole)
            continue
        if opener == "{%":
            tag = _tag_name(inner)
            if tag in ("raw", "verbatim"):
                raw_until = "end" + tag
                if tag == "verbatim":
                    result.note("{% verbatim %} → {% raw %}")
                out.append(whole.replace(tag, "raw", 1))
                continue
        converted = _convert_code(inner, opener == "{%", result)
        out.append(opener + converted + closer)
    result.text = "".join(out)
    return result


def _find_close(source: str, start: int, closer: str) -> int:
    """The closer's index, skipping string literals inside the tag."""
    pos = start
    while pos < len(source):
        char = source[pos]
        if char in "\"'":
            end = pos + 1
            while end < len(source) and source[end] != char:
                end += 2 if source[end] == "\\" else 1
            pos = end + 1
            continue
        if source.startswith(closer, pos):
            return pos
        pos += 1
    return -1


def _tag_name(inner: str) -> str:
    match = re.match(r"\s*-?\s*([A-Za-z_]\w*)", inner)
    return match.group(1) if match else ""


def _tokens(code: str) -> list[tuple[str, str]]:
    return [(m.lastgroup or "other", m.group()) for m in _TOKEN.finditer(code)]


def _convert_code(inner: str, statement: bool, result: Conversion) -> str:
    tokens = _tokens(inner)
    words = [i for i, (kind, _) in enumerate(tokens) if kind != "space"]
    if statement and words:
        first = words[0]
        if tokens[first][1] == "-" and len(words) > 1:
            first = words[1]
        name = tokens[first][1]
        if name in FILE_TAGS:
            result.refuse(f"{{% {name} %}} reads other template files; inline them")
        elif name in TAG_RENAMES:
            tokens[first] = ("name", TAG_RENAMES[name])
            result.note(f"{{% {name} %}} → {{% {TAG_RENAMES[name]} %}}")
            name = TAG_RENAMES[name]
        if name == "for":
            tokens = _pairs_loop(tokens, result)
    _rewrite_expression(tokens, result)
    if not statement:
        tokens = _else_for_inline_if(tokens, result)
    return "".join(text for _, text in tokens)


def _rewrite_expression(tokens: list[tuple[str, str]], result: Conversion) -> None:
    previous = ""
    for i, (kind, text) in enumerate(tokens):
        if kind == "space":
            continue
        if kind == "op" and text in ("===", "!=="):
            tokens[i] = ("op", text[:2])
            result.note(f"{text} → {text[:2]}")
        elif kind == "regex":
            result.refuse(f"regex literal {text} has no Jinja2 equivalent")
        elif kind == "name" and previous == "|":
            _filter(tokens, i, result)
        elif kind == "name" and previous != "." and text in ("null", "undefined"):
            tokens[i] = ("name", "none")
            result.note(f"{text} → none")
        elif kind == "name" and previous != "." and text == "env":
            result.refuse("env (promptfoo's environment variables) is not available to "
                          "templates; pass the value as a var")
        previous = text


def _filter(tokens: list[tuple[str, str]], i: int, result: Conversion) -> None:
    name = tokens[i][1]
    if name == "dump":
        after = _next_word(tokens, i)
        if after is not None and tokens[after][1] == "(":
            tokens[after] = ("op", "(indent=")
        tokens[i] = ("name", "tojson")
        result.note("dump → tojson (Jinja2 sorts keys, puts spaces after ':' and ',' and "
                    "escapes <, >, & and ' as \\u sequences; JSON.stringify does not)")
    elif name in CLOSE_FILTERS:
        result.note(f"filter {name}: {CLOSE_FILTERS[name]}")
    elif name in UNSUPPORTED_FILTERS:
        result.refuse(f"filter {name}: {UNSUPPORTED_FILTERS[name]}")
    elif name not in SAME_FILTERS:
        result.refuse(f"filter {name} is not a Jinja2 filter (custom nunjucksFilters are "
                      "JavaScript)")


def _next_word(tokens: list[tuple[str, str]], i: int) -> int | None:
    for j in range(i + 1, len(tokens)):
        if tokens[j][0] != "space":
            return j
    return None


def _pairs_loop(tokens: list[tuple[str, str]], result: Conversion) -> list[tuple[str, str]]:
    """``for k, v in X`` → ``for k, v in ((X)|items if (X) is mapping else (X))``."""
    words = [i for i, (kind, _) in enumerate(tokens) if kind != "space"]
    texts = [tokens[i][1] for i in words]
    if "in" not in texts or "," not in texts[: texts.index("in")]:
        return tokens
    start = words[texts.index("in")] + 1
    stop = len(tokens)
    for j in range(start, len(tokens)):  # the iterable ends before a trailing '-' or 'if'
        if tokens[j][1] in ("if", "recursive"):
            stop = j
            break
    while stop > start and tokens[stop - 1][0] == "space":
        stop -= 1
    if stop > start and tokens[stop - 1][1] == "-" and all(
            t[0] == "space" for t in tokens[stop:]):
        stop -= 1
        while stop > start and tokens[stop - 1][0] == "space":
            stop -= 1
    iterable = "".join(t for _, t in tokens[start:stop]).strip()
    if not iterable:
        return tokens
    rewritten = f" (({iterable})|items if ({iterable}) is mapping else ({iterable}))"
    result.note("for k, v in object → |items (Jinja2 iterates a mapping's keys only)")
    return [*tokens[:start], ("other", rewritten), *tokens[stop:]]


def _else_for_inline_if(tokens: list[tuple[str, str]],
                        result: Conversion) -> list[tuple[str, str]]:
    depth = 0
    has_if = has_else = False
    for kind, text in tokens:
        if text in "([{" and kind == "op":
            depth += 1
        elif text in ")]}" and kind == "op":
            depth -= 1
        elif kind == "name" and depth == 0 and text == "if":
            has_if = True
        elif kind == "name" and depth == 0 and text == "else":
            has_else = True
    if not has_if or has_else:
        return tokens
    end = len(tokens)
    while end and tokens[end - 1][0] == "space":
        end -= 1
    if end and tokens[end - 1][1] == "-":  # whitespace control: {{ x if y -}}
        end -= 1
        while end and tokens[end - 1][0] == "space":
            end -= 1
    result.note("inline if without else → else '' (Nunjucks prints nothing)")
    return [*tokens[:end], ("other", " else ''"), *tokens[end:]]
