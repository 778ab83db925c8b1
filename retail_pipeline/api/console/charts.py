"""Chart geometry for server-rendered inline SVG (no JavaScript, no CDN).

Python computes rectangles, polylines, ticks and labels; ``templates/charts.html`` draws them with
autoescaped Jinja, so a label from the database can never become markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

# Colour-blind-friendly (Okabe-Ito-like), readable on white.
PALETTE = ("#2f5bea", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#7f7f7f", "#f0c808")
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 8, 10, 22


def color_for(names: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


@dataclass
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str


@dataclass
class Line:
    points: str
    color: str
    name: str
    dots: list[tuple[float, float, str]]


@dataclass
class Chart:
    width: int
    height: int
    rects: list[Rect] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    rows: list[tuple[float, str, float, str]] = field(
        default_factory=list
    )  # horizontal bars: y, name, x, value
    empty: bool = False
    plot_left: float = PAD_LEFT
    plot_right: float = 0


def nice_max(value: float) -> float:
    """The smallest 1/2/2.5/5 x 10^n at or above value: a round top for the axis."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def short_number(value: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}" if value != int(value) else str(int(value))


def _axis(chart: Chart, top: float, plot_h: float) -> None:
    for i in range(5):
        value = top * i / 4
        chart.y_ticks.append((PAD_TOP + plot_h - plot_h * i / 4, short_number(value)))


def _x_labels(chart: Chart, labels: Sequence[str], slot: float, max_labels: int) -> None:
    # At most about max_labels labels, so they never overlap; the last day always has one.
    every = max(1, math.ceil(len(labels) / max_labels))
    last = len(labels) - 1
    for i, label in enumerate(labels):
        if i == last or (i % every == 0 and last - i >= every):
            chart.x_labels.append((PAD_LEFT + slot * (i + 0.5), label))


def stacked_bars(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    colors: dict[str, str],
    *,
    width: int = 560,
    height: int = 200,
    unit: str = "",
) -> Chart:
    """One bar per label, stacked by series (e.g. orders per day, one colour per channel)."""
    chart = Chart(
        width, height, legend=[(name, colors[name]) for name in series], plot_right=width - PAD_RIGHT
    )
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = nice_max(max(totals, default=0))
    chart.empty = not any(totals)
    plot_w, plot_h = width - PAD_LEFT - PAD_RIGHT, height - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(1, len(labels))
    bar_w = slot * 0.7
    for i, label in enumerate(labels):
        base = 0.0
        for name, values in series.items():
            value = values[i]
            if not value:
                continue
            h = plot_h * value / top
            y = PAD_TOP + plot_h - plot_h * base / top - h
            x = PAD_LEFT + slot * i + (slot - bar_w) / 2
            chart.rects.append(
                Rect(x, y, bar_w, h, colors[name], f"{label} · {name}: {short_number(value)}{unit}")
            )
            base += value
    _axis(chart, top, plot_h)
    _x_labels(chart, labels, slot, max(2, chart.width // 70))
    return chart


def line_chart(
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    colors: dict[str, str],
    *,
    width: int = 560,
    height: int = 200,
    unit: str = "",
) -> Chart:
    """One line per series over the labels; a None is a gap (no data that day), not a zero."""
    chart = Chart(
        width, height, legend=[(name, colors[name]) for name in series], plot_right=width - PAD_RIGHT
    )
    values = [v for vs in series.values() for v in vs if v is not None]
    top = nice_max(max(values, default=0))
    chart.empty = not values
    plot_w, plot_h = width - PAD_LEFT - PAD_RIGHT, height - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(1, len(labels))
    for name, vs in series.items():
        points, dots = [], []
        for i, value in enumerate(vs):
            if value is None:
                continue
            x = PAD_LEFT + slot * (i + 0.5)
            y = PAD_TOP + plot_h - plot_h * value / top
            points.append(f"{x:.1f},{y:.1f}")
            dots.append((x, y, f"{labels[i]} · {name}: {short_number(value)}{unit}"))
        chart.lines.append(Line(" ".join(points), colors[name], name, dots))
    _axis(chart, top, plot_h)
    _x_labels(chart, labels, slot, max(2, chart.width // 70))
    return chart


def horizontal_bars(
    items: dict[str, float], colors: dict[str, str] | None = None, *, width: int = 360, row: int = 24
) -> Chart:
    """One labelled bar per item, longest first (e.g. open tasks by kind)."""
    ordered = sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))
    label_w = 175
    chart = Chart(width, max(row, row * len(ordered) + 4), plot_left=label_w, plot_right=width - 40)
    chart.empty = not ordered
    top = max((v for _, v in ordered), default=0) or 1
    plot_w = width - label_w - 44
    for i, (name, value) in enumerate(ordered):
        w = max(2.0, plot_w * value / top)
        fill = (colors or {}).get(name, PALETTE[0])
        chart.rects.append(Rect(label_w, i * row + 4, w, row - 6, fill, f"{name}: {short_number(value)}"))
        chart.rows.append(
            (i * row + row / 2 + 2, name.replace("_", " "), label_w + w + 6, short_number(value))
        )
    return chart
