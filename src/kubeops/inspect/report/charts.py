"""Geometry for the HTML report's inline SVG charts, computed here so the template
only draws shapes: the report must work offline, so no charting library is used.

Every function returns plain numbers and labels; coordinates are in the SVG's
viewBox units and rounded to keep the file small.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Any

from kubeops.inspect.report import view

# Grade bands behind the score line: (from, to, grade).
BANDS = ((90, 100, "A"), (80, 90, "B"), (70, 80, "C"), (60, 70, "D"), (0, 60, "F"))
SERIES_COLOURS = ("#6366f1", "#0891b2", "#a855f7", "#0d9488", "#db2777", "#4d7c0f", "#9333ea")


def _r(value: float) -> float:
    return round(value, 1)


def category_bars(categories: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One horizontal bar per category, its length the score (0-100)."""
    row, label_w, bar_w, value_w = 26, 118, 260, 86
    bars = []
    for i, (name, scope) in enumerate(categories.items()):
        score = scope.get("score")
        value = 0 if score is None else max(0, min(100, int(score)))
        bars.append(
            {
                "name": name,
                "score": score,
                "grade": scope.get("grade") or "",
                "findings": int(scope.get("findings") or 0),
                "y": i * row,
                "width": _r(bar_w * value / 100),
            }
        )
    return {
        "bars": bars,
        "row": row,
        "label_w": label_w,
        "bar_w": bar_w,
        "width": label_w + bar_w + value_w,
        "height": max(row, row * len(bars)),
    }


def donut(counts: dict[str, int], radius: float = 52) -> dict[str, Any]:
    """Severity segments of a ring drawn with stroke dashes, worst first, from 12 o'clock."""
    total = sum(counts.values())
    circumference = 2 * math.pi * radius
    segments, offset = [], 0.0
    for severity, n in counts.items():
        if n == 0:
            continue
        length = circumference * n / total
        segments.append(
            {
                "severity": severity,
                "count": n,
                "dash": f"{_r(length)} {_r(circumference - length)}",
                "offset": _r(-offset),
            }
        )
        offset += length
    return {"segments": segments, "total": total, "radius": radius}


def _labels(history: list[dict[str, Any]]) -> list[str]:
    """Axis labels: the day when each run has its own, else day and time."""
    times: list[datetime.datetime | None] = []
    for run in history:
        try:
            times.append(
                datetime.datetime.fromisoformat(str(run.get("generated")).replace("Z", "+00:00"))
            )
        except ValueError:
            times.append(None)
    days = [t.date() for t in times if t is not None]
    fmt = "%b %d" if len(set(days)) == len(days) else "%b %d %H:%M"
    return [
        t.strftime(fmt) if t is not None else str(run.get("generated") or "")[:10]
        for t, run in zip(times, history, strict=True)
    ]


def _xs(n: int, left: float, width: float) -> list[float]:
    if n == 1:
        return [left + width / 2]
    return [_r(left + width * i / (n - 1)) for i in range(n)]


def _ticks(n: int, limit: int = 6) -> list[int]:
    """Which of n points get an x label: at most ``limit``, always the first and the
    last, evenly spaced when some step allows it."""
    if n <= limit:
        return list(range(n))
    for k in range(limit, 3, -1):
        if (n - 1) % (k - 1) == 0:
            return list(range(0, n, (n - 1) // (k - 1)))
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


@dataclass(frozen=True)
class _Frame:
    """A trend chart's canvas and the plot area inside its margins."""

    left: float
    width: float = 640.0
    height: float = 240.0
    right: float = 12.0
    top: float = 10.0
    bottom: float = 26.0

    @property
    def plot_w(self) -> float:
        """The width of the plot area."""
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        """The height of the plot area."""
        return self.height - self.top - self.bottom

    def geometry(self) -> dict[str, float]:
        """What the template draws axes and grid lines with."""
        return {
            "width": self.width,
            "height": self.height,
            "left": self.left,
            "right": self.width - self.right,
            "bottom": self.top + self.plot_h,
        }


def score_trend(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The overall score per run, one line per cluster behind it, on grade bands."""
    frame = _Frame(left=36.0)
    top, plot_h = frame.top, frame.plot_h
    xs = _xs(len(history), frame.left, frame.plot_w)
    labels = _labels(history)
    scores = [float(run["score"]) for run in history if run.get("score") is not None] + [
        float(c.get("score") or 0)
        for run in history
        for c in (run.get("clusters") or {}).values()
        if c.get("score") is not None
    ]
    # The axis starts a little below the lowest score, so small changes show.
    floor = max(0, min(50, int(min(scores, default=0) - 10) // 10 * 10))
    floor = floor if floor >= 30 else 0

    def y(score: float) -> float:
        value = max(floor, min(100, score))
        return _r(top + plot_h * (1 - (value - floor) / (100 - floor)))

    slots: list[dict[str, Any]] = [
        {
            "x": x,
            "y": y(float(run.get("score") or 0)),
            "score": run.get("score"),
            "grade": run.get("grade") or "",
            "label": label,
        }
        for x, run, label in zip(xs, history, labels, strict=True)
    ]
    # A run that reached no cluster has no score: it gets a label but no point.
    points = [slot for slot in slots if slot["score"] is not None]
    names = list(dict.fromkeys(n for run in history for n in run.get("clusters") or {}))
    series = []
    for i, name in enumerate(names):
        coords = [
            (x, y(float(run["clusters"][name].get("score") or 0)))
            for x, run in zip(xs, history, strict=True)
            if (run.get("clusters") or {}).get(name, {}).get("score") is not None
        ]
        if len(coords) >= 2:
            series.append(
                {
                    "name": name,
                    "colour": SERIES_COLOURS[i % len(SERIES_COLOURS)],
                    "path": _path(coords),
                }
            )
    return {
        **frame.geometry(),
        "points": points,
        "path": _path([(float(p["x"]), float(p["y"])) for p in points]),
        "series": series,
        "bands": [
            {
                "grade": g,
                "y": y(hi),
                "height": _r(y(lo) - y(hi)),
                "label_y": _r((y(lo) + y(hi)) / 2),
            }
            for lo, hi, g in BANDS
            if hi > floor
        ],
        "yticks": [{"value": v, "y": y(v)} for v in range(floor, 101, 10 if floor else 20)],
        "xticks": _xticks(slots, len(slots), frame.width - frame.right),
    }


def severity_trend(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Stacked columns of findings by severity per run, critical at the bottom."""
    frame = _Frame(left=44.0)
    left, top, plot_w, plot_h = frame.left, frame.top, frame.plot_w, frame.plot_h
    totals = [sum(int(v or 0) for v in (run.get("by_severity") or {}).values()) for run in history]
    peak = _nice(max(totals, default=0))
    slot = plot_w / max(1, len(history))
    bar_w = _r(min(44.0, slot * 0.62))
    columns = []
    labels = _labels(history)
    for i, run in enumerate(history):
        x = _r(left + slot * i + (slot - bar_w) / 2)
        base = top + plot_h
        segments = []
        counts = run.get("by_severity") or {}
        for severity in view.SEVERITIES:
            n = int(counts.get(severity) or 0)
            if n == 0:
                continue
            h = plot_h * n / peak
            base -= h
            segments.append({"severity": severity, "count": n, "y": _r(base), "height": _r(h)})
        columns.append(
            {
                "x": x,
                "cx": _r(x + bar_w / 2),
                "total": totals[i],
                "segments": segments,
                "label": labels[i],
                "counts": {s: int(counts.get(s) or 0) for s in view.SEVERITIES},
            }
        )
    return {
        **frame.geometry(),
        "bar_w": bar_w,
        "columns": columns,
        "yticks": [
            {"value": v, "y": _r(top + plot_h * (1 - v / peak))} for v in (0, peak // 2, peak)
        ],
        "xticks": [
            {**columns[i], "x": columns[i]["cx"], "anchor": "middle"} for i in _ticks(len(columns))
        ],
    }


def _xticks(points: list[dict[str, Any]], n: int, right: float) -> list[dict[str, Any]]:
    """Labelled points; a label at the right edge ends there instead of overflowing."""
    return [
        {**points[i], "anchor": "end" if points[i]["x"] >= right - 1 else "middle"}
        for i in _ticks(n)
    ]


def _nice(value: int) -> int:
    """The smallest round number at or above ``value`` for an axis maximum (at least 4)."""
    if value <= 4:
        return 4
    magnitude: int = 10 ** (len(str(value)) - 1)
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        candidate = int(step * magnitude)
        if candidate >= value and candidate % 2 == 0:
            return candidate
    return 10 * magnitude


def _path(coords: list[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{x} {y}" for i, (x, y) in enumerate(coords))
