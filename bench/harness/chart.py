"""Line charts as plain SVG text, so that bench/report.py can draw S6-scale's growth
without a plotting library or the network: panels side by side, one line per series,
linear axes from zero, a shared legend."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")
PANEL_W, PANEL_H = 420, 300
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 64, 16, 36, 44
LEGEND_ROW = 20


@dataclass(frozen=True)
class Panel:
    """One chart: ``series`` maps a label to its (x, y) points."""

    title: str
    x_label: str
    y_label: str
    series: dict[str, list[tuple[float, float]]]


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top`` (1, 2 or 5 times a power of ten apart)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(ticks[-1] + step)
    return ticks


def _label(value: float) -> str:
    if value >= 1000 and value % 100 == 0:
        return f"{value / 1000:g}k"
    if value == int(value):
        return f"{value:,.0f}"
    return f"{value:g}"


def _panel(panel: Panel, left: float, colors: dict[str, str]) -> list[str]:
    points = [p for pts in panel.series.values() for p in pts]
    x_ticks = nice_ticks(max((x for x, _ in points), default=1.0))
    y_ticks = nice_ticks(max((y for _, y in points), default=1.0))
    plot_w = PANEL_W - MARGIN_L - MARGIN_R
    plot_h = PANEL_H - MARGIN_T - MARGIN_B

    def at(x: float, y: float) -> tuple[float, float]:
        return (
            left + MARGIN_L + x / x_ticks[-1] * plot_w,
            MARGIN_T + plot_h - y / y_ticks[-1] * plot_h,
        )

    out = [
        f'<text x="{left + PANEL_W / 2:.1f}" y="20" text-anchor="middle" '
        f'font-weight="bold">{escape(panel.title)}</text>'
    ]
    for y in y_ticks:
        _, py = at(0, y)
        out.append(
            f'<line x1="{left + MARGIN_L}" x2="{left + PANEL_W - MARGIN_R}" '
            f'y1="{py:.1f}" y2="{py:.1f}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{left + MARGIN_L - 6}" y="{py + 4:.1f}" text-anchor="end">{_label(y)}</text>'
        )
    for x in x_ticks:
        px, _ = at(x, 0)
        out.append(
            f'<text x="{px:.1f}" y="{MARGIN_T + plot_h + 16}" text-anchor="middle">'
            f"{_label(x)}</text>"
        )
    out.append(
        f'<rect x="{left + MARGIN_L}" y="{MARGIN_T}" width="{plot_w}" height="{plot_h}" '
        'fill="none" stroke="#888"/>'
    )
    out.append(
        f'<text x="{left + MARGIN_L + plot_w / 2:.1f}" y="{PANEL_H - 6}" '
        f'text-anchor="middle">{escape(panel.x_label)}</text>'
    )
    mid = MARGIN_T + plot_h / 2
    out.append(
        f'<text x="{left + 14}" y="{mid:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 {left + 14} {mid:.1f})">{escape(panel.y_label)}</text>'
    )
    for name, pts in panel.series.items():
        color = colors[name]
        xy = [at(x, y) for x, y in sorted(pts)]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in xy)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        out += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{color}"/>' for px, py in xy]
    return out


def svg(panels: Sequence[Panel], caption: str = "") -> str:
    """The panels side by side with one legend below them, as an SVG document."""
    names: list[str] = []
    for panel in panels:
        names += [n for n in panel.series if n not in names]
    colors = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    width = PANEL_W * max(1, len(panels))
    per_row = max(1, width // 220)
    rows = math.ceil(len(names) / per_row)
    height = PANEL_H + 12 + rows * LEGEND_ROW + (LEGEND_ROW if caption else 0)
    body: list[str] = []
    for index, panel in enumerate(panels):
        body += _panel(panel, index * PANEL_W, colors)
    for index, name in enumerate(names):
        x = 16 + (index % per_row) * 220
        y = PANEL_H + 12 + (index // per_row) * LEGEND_ROW
        body.append(
            f'<line x1="{x}" x2="{x + 24}" y1="{y}" y2="{y}" stroke="{colors[name]}" '
            'stroke-width="3"/>'
        )
        body.append(f'<text x="{x + 30}" y="{y + 4}">{escape(name)}</text>')
    if caption:
        body.append(f'<text x="16" y="{height - 8}" fill="#555">{escape(caption)}</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">\n'
        f'<rect width="{width}" height="{height}" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n"
    )
