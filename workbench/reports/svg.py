"""Charts as inline SVG, drawn in Python: no JavaScript, no chart library, works offline.

Each function returns one ``<svg>`` element built with :func:`workbench.reports._html.el`,
so every label is escaped. Colours are SVG presentation attributes (allowed by the report's
Content-Security-Policy, which forbids inline ``style``); text and axes take the page's
light/dark colours from CSS classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.reports._html import Markup, el
from workbench.text import truncate

# Tableau 10: distinct, readable on light and dark backgrounds.
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
# Pass-rate scale for the heat map (diverging, colour-blind safe): 0 → red, 1 → blue.
HEAT_STOPS = ((0.0, (202, 0, 32)), (0.5, (244, 232, 193)), (1.0, (5, 113, 176)))
NO_DATA = "#888888"

_FONT = 11
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 12, 14, 34


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def heat_color(x: float | None) -> str:
    """Hex colour of a pass rate on the heat-map scale."""
    if x is None:
        return NO_DATA
    x = min(1.0, max(0.0, x))
    # The first segment reaching x; x is clamped to [0, 1], so the last one always does.
    (x0, c0), (x1, c1) = next(seg for seg in zip(HEAT_STOPS, HEAT_STOPS[1:], strict=False)
                              if x <= seg[1][0])
    t = (x - x0) / (x1 - x0)
    rgb = [round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True)]
    return "#" + "".join(f"{v:02x}" for v in rgb)


def _svg(width: float, height: float, title: str, *children: object) -> Markup:
    return el("svg", el("title", title), *children, xmlns="http://www.w3.org/2000/svg",
              width=int(width), height=int(height), viewBox=f"0 0 {int(width)} {int(height)}",
              role="img", aria_label=title, class_="chart")


def _text(x: float, y: float, text: object, *, anchor: str = "middle", class_: str | None = None,
          rotate: float | None = None) -> Markup:
    transform = f"rotate({rotate:g} {x:.1f} {y:.1f})" if rotate is not None else None
    return el("text", text, x=round(x, 1), y=round(y, 1), text_anchor=anchor, class_=class_,
              transform=transform)


def _y_axis(x0: float, x1: float, y_of, ticks: Sequence[float], fmt=lambda v: f"{v:.0%}"
            ) -> list[Markup]:
    out = []
    for v in ticks:
        y = y_of(v)
        out.append(el("line", x1=x0, x2=x1, y1=round(y, 1), y2=round(y, 1), class_="grid"))
        out.append(_text(x0 - 4, y + 4, fmt(v), anchor="end", class_="label"))
    out.append(el("line", x1=x0, x2=x0, y1=round(y_of(ticks[-1]), 1),
                  y2=round(y_of(ticks[0]), 1), class_="axis"))
    return out


_UNIT_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Bar:
    series: str
    value: float
    ci: tuple[float, float] | None = None


def interval_bars(groups: Sequence[tuple[str, Sequence[Bar]]], title: str,
                  series: Sequence[str]) -> Markup:
    """Horizontal grouped bars on a 0–1 scale with 95% interval whiskers; one colour per
    series, one row of bars per group (labels on the left stay readable however long)."""
    bar_h = 12
    group_h = max(1, len(series)) * (bar_h + 2) + 10
    label_w = min(260, 12 + 6.2 * max((len(label) for label, _ in groups), default=4))
    plot_w = 320
    width = label_w + plot_w + 24
    top = 8
    height = top + max(1, len(groups)) * group_h + 24 + 20

    def x_of(v: float) -> float:
        return label_w + plot_w * v

    axis_y = top + len(groups) * group_h
    parts: list[Markup] = []
    for v in _UNIT_TICKS:
        x = round(x_of(v), 1)
        parts.append(el("line", x1=x, x2=x, y1=top, y2=axis_y, class_="grid"))
        parts.append(_text(x, axis_y + 13, f"{v:.0%}", class_="label"))
    parts.append(el("line", x1=label_w, x2=label_w, y1=top, y2=axis_y, class_="axis"))
    for g, (label, bars) in enumerate(groups):
        gy = top + g * group_h + 5
        parts.append(_text(label_w - 6, gy + group_h / 2 - 2, truncate(label, 40), anchor="end"))
        for bar in bars:
            s = series.index(bar.series) if bar.series in series else 0
            y = gy + s * (bar_h + 2)
            tip = f"{label}: {bar.series} {bar.value:.2f}" + (
                f" (95% CI {bar.ci[0]:.2f}–{bar.ci[1]:.2f})" if bar.ci else "")
            parts.append(el("rect", el("title", tip), x=label_w, y=round(y, 1),
                            width=round(max(0.0, x_of(bar.value) - label_w), 1), height=bar_h,
                            fill=color(s), class_="bar"))
            if bar.ci:
                cy = y + bar_h / 2
                lo, hi = round(x_of(bar.ci[0]), 1), round(x_of(bar.ci[1]), 1)
                parts.append(el("line", x1=lo, x2=hi, y1=round(cy, 1), y2=round(cy, 1),
                                class_="axis", stroke_width=1.5))
                for xx in (lo, hi):
                    parts.append(el("line", x1=xx, x2=xx, y1=round(cy - 4, 1),
                                    y2=round(cy + 4, 1), class_="axis", stroke_width=1.5))
    parts.extend(_legend(series, label_w, height - 6))
    return _svg(width, height, title, *parts)


def _legend(names: Sequence[str], x: float, y: float) -> list[Markup]:
    out: list[Markup] = []
    for i, name in enumerate(names):
        out.append(el("rect", x=x, y=y - 9, width=10, height=10, fill=color(i)))
        out.append(_text(x + 16, y, name, anchor="start"))
        x += 24 + 6.5 * len(name)
    return out


def histogram(bins: Sequence[tuple[str, int]], title: str, *, fill: str = PALETTE[0]
              ) -> Markup:
    """Counts per bin (e.g. cases per modal-share value)."""
    plot_h = 110
    bar_w = max(26, 200 // max(1, len(bins)))
    width = _LEFT + _RIGHT + max(1, len(bins)) * bar_w
    height = _TOP + plot_h + 24
    top = max([c for _, c in bins] + [1])

    def y_of(v: float) -> float:
        return _TOP + plot_h * (1 - v / top)

    ticks = sorted({0, top // 2, top}) if top > 1 else [0, 1]
    parts = _y_axis(_LEFT, width - _RIGHT, y_of, [float(t) for t in ticks],
                    fmt=lambda v: f"{v:.0f}")
    for i, (label, count) in enumerate(bins):
        x = _LEFT + i * bar_w + 3
        y = y_of(count)
        parts.append(el("rect", el("title", f"{label}: {count} case(s)"), x=x, y=round(y, 1),
                        width=bar_w - 6, height=round(y_of(0) - y, 1), fill=fill, class_="bar"))
        parts.append(_text(x + (bar_w - 6) / 2, y_of(0) + 13, label))
    return _svg(width, height, title, *parts)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    intervals: Sequence[tuple[float, float] | None] = ()
    dashed: bool = False
    color_index: int = 0


@dataclass(frozen=True)
class LegendEntry:
    name: str
    color: str
    dashed: bool = False


def line_chart(x_labels: Sequence[str], series: Sequence[Series], title: str, *,
               x_label: str = "", legend: Sequence[LegendEntry] | None = None) -> Markup:
    """Lines over categorical x positions on a 0–1 scale, with an optional interval whisker at
    each point; the legend (one entry per line by default) is listed below the plot."""
    n = max(1, len(x_labels))
    step = 70 if n <= 8 else max(18, 560 // n)
    plot_h = 170
    longest = min(34, max((len(s) for s in x_labels), default=0))
    rotate = n > 8 or longest * 6 > step
    pad = int(longest * 4.6) if rotate else 0  # rotated labels reach left
    width = max(300, pad + _LEFT + _RIGHT + 60 + step * (n - 1))
    label_room = int(longest * 4.2) + 16 if rotate else 18
    entries = list(legend) if legend is not None else [
        LegendEntry(s.name, color(s.color_index), s.dashed) for s in series]
    legend_top = _TOP + plot_h + label_room + (16 if x_label else 0)
    height = legend_top + 16 * len(entries) + 6
    width = max(width, 40 + max((int(6.2 * len(e.name)) for e in entries), default=0))

    left = _LEFT + pad

    def x_of(i: int) -> float:
        return left + 30 + (i * (width - left - _RIGHT - 60) / (n - 1) if n > 1 else 0)

    def y_of(v: float) -> float:
        return _TOP + plot_h * (1 - v)

    parts = _y_axis(left, width - _RIGHT, y_of, _UNIT_TICKS)
    for i, label in enumerate(x_labels):
        if rotate:
            parts.append(_text(x_of(i) + 3, y_of(0) + 10, truncate(label, 34), anchor="end",
                               rotate=-40))
        else:
            parts.append(_text(x_of(i), y_of(0) + 14, label))
    for si, s in enumerate(series):
        stroke = color(s.color_index)
        points = [(x_of(i), y_of(v)) for i, v in enumerate(s.values) if v is not None]
        for i, ci in enumerate(s.intervals):
            if ci is None:
                continue
            x = round(x_of(i) + (si - (len(series) - 1) / 2) * 4, 1)  # whiskers side by side
            parts.append(el("line", x1=x, x2=x, y1=round(y_of(ci[0]), 1),
                            y2=round(y_of(ci[1]), 1), stroke=stroke, stroke_width=6,
                            stroke_opacity=0.3))
        if len(points) > 1:
            parts.append(el("polyline", points=" ".join(f"{x:.1f},{y:.1f}" for x, y in points),
                            fill="none", stroke=stroke, stroke_width=2,
                            stroke_dasharray="5 4" if s.dashed else None, class_="series"))
        for i, v in enumerate(s.values):
            if v is None:
                continue
            parts.append(el("circle", el("title", f"{s.name} at {x_labels[i]}: {v:.2f}"),
                            cx=round(x_of(i), 1), cy=round(y_of(v), 1), r=3.5, fill=stroke))
    if x_label:
        parts.append(_text(left + (width - left) / 2, legend_top - 4, x_label,
                           class_="label"))
    for k, e in enumerate(entries):
        y = legend_top + 12 + 16 * k
        parts.append(el("line", x1=_LEFT, x2=_LEFT + 22, y1=y - 4, y2=y - 4,
                        stroke=e.color, stroke_width=2.5,
                        stroke_dasharray="5 4" if e.dashed else None))
        parts.append(_text(_LEFT + 28, y, e.name, anchor="start"))
    return _svg(width, height, title, *parts)


def heatmap(rows: Sequence[str], cols: Sequence[str], values: Sequence[Sequence[float | None]],
            titles: Sequence[Sequence[str]], title: str) -> Markup:
    """Rows × columns of cells coloured by a 0–1 value (pass rate), each with a hover title."""
    n_cols = max(1, len(cols))
    cell = max(4, min(22, 900 // n_cols))
    label_w = min(320, 12 + 6.2 * max((len(r) for r in rows), default=4))
    show_cols = cell >= 12
    top = 90 if show_cols else 10
    width = max(label_w + n_cols * cell + 10, label_w + 5 * 62 + 160)  # room for the legend
    height = top + len(rows) * 22 + 40
    parts: list[Markup] = []
    if show_cols:
        for j, name in enumerate(cols):
            x = label_w + j * cell + cell / 2
            parts.append(_text(x + 3, top - 4, truncate(name, 16), anchor="start", rotate=-60))
    for i, name in enumerate(rows):
        y = top + i * 22
        parts.append(_text(label_w - 6, y + 15, truncate(name, 50), anchor="end"))
        for j in range(len(cols)):
            v = values[i][j]
            parts.append(el("rect", el("title", titles[i][j]), x=label_w + j * cell, y=y,
                            width=cell - 1, height=20, fill=heat_color(v), class_="heat"))
    ly = height - 16
    for k, v in enumerate(_UNIT_TICKS):
        x = label_w + k * 62
        parts.append(el("rect", x=x, y=ly - 9, width=12, height=12, fill=heat_color(v)))
        parts.append(_text(x + 16, ly + 1, f"{v:.0%}", anchor="start"))
    parts.append(_text(label_w + 5 * 62 + 4, ly + 1, "pass rate (grey: not run)",
                       anchor="start", class_="label"))
    return _svg(width, height, title, *parts)
