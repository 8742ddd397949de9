"""Safe HTML building for the self-contained reports.

Every piece of HTML is built with :func:`el`, which escapes every text child and attribute
value unless it is already :class:`Markup` (the output of another :func:`el`). There is no
other way to get text into a page, so model output, case ids, prompt names and file paths
are always shown as text and can never become markup. The page carries a strict
Content-Security-Policy (no scripts at all, the one stylesheet by hash, no network) as
defence in depth.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

from markupsafe import Markup, escape

from workbench import __version__
from workbench.text import strip_control

__all__ = ["Markup", "esc", "el", "join", "page", "table", "CSS"]

# Void elements never get a closing tag.
_VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr"}


def esc(value: Any) -> Markup:
    """The one escaping helper: text (control characters dropped) made safe for HTML text
    and attribute values; :class:`Markup` passes through unchanged."""
    if isinstance(value, Markup):
        return value
    return escape(strip_control(str(value)))


def _attr_name(name: str) -> str:
    return name.rstrip("_").replace("_", "-")


def _children(items: Iterable[Any]) -> Iterable[Markup]:
    for item in items:
        if item is None or item is False:
            continue
        if isinstance(item, (list, tuple)) or (
            not isinstance(item, (str, Markup)) and hasattr(item, "__iter__")
        ):
            yield from _children(item)
        else:
            yield esc(item)


def el(tag: str, *children: Any, **attrs: Any) -> Markup:
    """``<tag attrs>children</tag>``. ``class_`` → ``class``, ``aria_label`` → ``aria-label``;
    True gives a bare attribute, None/False leaves it out; lists of children are flattened."""
    parts = [tag]
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        if value is True:
            parts.append(_attr_name(name))
        else:
            if isinstance(value, float):
                value = f"{value:.2f}".rstrip("0").rstrip(".")
            parts.append(f'{_attr_name(name)}="{esc(value)}"')
    head = "<" + " ".join(parts) + ">"
    if tag in _VOID:
        return Markup(head)
    return Markup(head + "".join(_children(children)) + f"</{tag}>")


def join(items: Iterable[Any], sep: Any = "") -> Markup:
    """Concatenate children (escaping text) with an optional separator."""
    return esc(sep).join(_children(items))


def table(header: list[Any], rows: Iterable[list[Any]], *, class_: str | None = None,
          numeric: Iterable[int] = ()) -> Markup:
    """A table; columns whose index is in ``numeric`` are right-aligned."""
    num = set(numeric)
    head = el("thead", el("tr", [el("th", h, class_="num" if i in num else None)
                                 for i, h in enumerate(header)]))
    body = el("tbody", [el("tr", [el("td", c, class_="num" if i in num else None)
                                  for i, c in enumerate(row)]) for row in rows])
    return el("div", el("table", head, body, class_=class_), class_="scroll")


CSS = """
:root { color-scheme: light dark;
  --bg: #ffffff; --fg: #1b1f24; --muted: #59636e; --line: #d1d9e0; --panel: #f6f8fa;
  --pass: #1a7f37; --fail: #cf222e; --warn: #9a6700; --ins: #fff1b8; --del: #ffd7d5;
  --grid: #e6eaef; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --panel: #151b23;
    --pass: #3fb950; --fail: #f85149; --warn: #d29922; --ins: #5c4a00; --del: #67060c;
    --grid: #262c36; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1280px; padding: 1.5rem; background: var(--bg);
  color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
  border-bottom: 1px solid var(--line); padding-bottom: .25rem; } h3 { font-size: 1.05rem; }
a { color: inherit; }
.muted, .meta { color: var(--muted); }
.badge { display: inline-block; padding: 0 .5em; border-radius: 1em; font-weight: 600;
  border: 1px solid currentColor; font-size: .85em; }
.pass { color: var(--pass); } .fail { color: var(--fail); } .warn { color: var(--warn); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid var(--line); padding: .3rem .55rem; text-align: left;
  vertical-align: top; }
th { background: var(--panel); } td.num, th.num { text-align: right;
  font-variant-numeric: tabular-nums; }
code, pre, .out { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: .85rem; }
pre, .out { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; padding: .5rem; border: 1px solid var(--line); border-radius: 6px;
  background: var(--panel); break-inside: avoid; }
figcaption { font-size: .85rem; color: var(--muted); max-width: 34rem; }
svg text { fill: var(--fg); font: 11px system-ui, sans-serif; }
svg .axis { stroke: var(--muted); } svg .grid { stroke: var(--grid); }
svg .label { fill: var(--muted); }
details { border: 1px solid var(--line); border-radius: 6px; margin: .35rem 0;
  background: var(--bg); }
details > summary { cursor: pointer; padding: .35rem .6rem; }
details[open] > summary { border-bottom: 1px solid var(--line); background: var(--panel); }
details > .body { padding: .6rem; }
.reruns { display: grid; gap: .5rem; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); }
.rerun { border: 1px solid var(--line); border-radius: 4px; padding: .4rem; }
.rerun.failed { border-color: var(--fail); }
.rerun h4 { margin: 0 0 .25rem; font-size: .8rem; font-weight: 600; }
.step { margin-top: .35rem; } .step-name { font-size: .75rem; color: var(--muted); }
ins { background: var(--ins); text-decoration: none; }
del { background: var(--del); }
.verdict { border: 2px solid var(--line); border-radius: 8px; padding: .75rem 1rem;
  margin: 1rem 0; background: var(--panel); }
.verdict.go { border-color: var(--warn); } .verdict.stop { border-color: var(--pass); }
.legend { font-size: .8rem; color: var(--muted); }
nav ul { margin: .25rem 0; padding-left: 1.2rem; }
footer { margin-top: 2rem; font-size: .8rem; color: var(--muted); }
@media print {
  :root { --bg: #fff; --fg: #000; --panel: #fff; }
  body { max-width: none; padding: 0; font-size: 11px; }
  details::details-content { content-visibility: visible; display: block; }
  details > summary { list-style: none; }
  figure, table, .rerun { break-inside: avoid; }
  nav { display: none; }
}
""".strip()


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
            "base-uri 'none'; form-action 'none'")


def page(title: str, body: Any) -> str:
    """A complete, self-contained HTML document: no scripts, no external resources."""
    head = join([
        Markup('<meta charset="utf-8">'),
        el("meta", http_equiv="Content-Security-Policy", content=_csp()),
        el("meta", name="viewport", content="width=device-width, initial-scale=1"),
        el("meta", name="color-scheme", content="light dark"),
        el("meta", name="generator", content=f"prompt-workbench {__version__}"),
        el("title", title),
        Markup("<style>") + Markup(CSS) + Markup("</style>"),
    ])
    document = el("html", el("head", head), el("body", body), lang="en")
    return "<!doctype html>\n" + str(document) + "\n"
