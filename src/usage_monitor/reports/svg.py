"""Pure inline-SVG chart of one resource: percent used over time, thresholds, the limit, the forecast.

The geometry lives in `Scale` (time and percent to SVG coordinates, clamped into the plot box) so tests
can check where things land without parsing the SVG. Every chart of a report shares the same time axis:
the period read, plus a future strip where the forecast line runs towards the limit date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

WIDTH = 360.0
HEIGHT = 176.0
# The plot box inside the viewBox: room on the left for percent labels, below for dates.
BOX_LEFT, BOX_TOP, BOX_RIGHT, BOX_BOTTOM = 38.0, 10.0, 350.0, 160.0
MAX_TOP_PERCENT = 200.0
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Point:
    at: datetime
    percent: float


@dataclass(frozen=True)
class Scale:
    """Maps time to x and percent to y inside the plot box; values outside are clamped to its edges."""

    start: datetime
    end: datetime
    top_percent: float
    now: datetime

    def x(self, at: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        share = (at - self.start).total_seconds() / span
        return round(BOX_LEFT + (BOX_RIGHT - BOX_LEFT) * min(max(share, 0.0), 1.0), 2)

    def y(self, percent: float) -> float:
        share = min(max(percent / self.top_percent, 0.0), 1.0)
        return round(BOX_BOTTOM - (BOX_BOTTOM - BOX_TOP) * share, 2)


def top_percent(values: Sequence[float]) -> float:
    """The y axis runs from 0 to 100%, or to the next 10 above the highest value or threshold (max 200%)."""
    highest = max([100.0, *values])
    return min(float(-(-highest // 10) * 10), MAX_TOP_PERCENT)


@dataclass(frozen=True)
class Chart:
    title: str
    segments: Sequence[Sequence[Point]]  # the line breaks between segments (failed checks in between)
    thresholds: Sequence[float]
    limit_label: str  # e.g. "limit 10,000"
    limit_at: datetime | None = None  # forecast: the line runs from the last point to 100% at this time
    failures: Sequence[datetime] = ()


def downsample(points: Sequence[Point], scale: Scale, buckets: int = int(BOX_RIGHT - BOX_LEFT)) -> list[Point]:
    """At most the lowest and highest point per x bucket (in time order), so a month of 15-minute points
    draws the same shape from a few hundred points instead of thousands; the last point is always kept."""
    if len(points) <= 2 * buckets:
        return list(points)
    width = BOX_RIGHT - BOX_LEFT
    kept: list[Point] = []
    group: list[Point] = []
    current = -1
    for point in points:
        bucket = min(int((scale.x(point.at) - BOX_LEFT) / width * buckets), buckets - 1)
        if bucket != current and group:
            kept += _extremes(group)
            group = []
        current = bucket
        group.append(point)
    kept += _extremes(group)
    if kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def _extremes(group: list[Point]) -> list[Point]:
    low = min(group, key=lambda p: p.percent)
    high = max(group, key=lambda p: p.percent)
    return [low] if low is high else sorted({id(low): low, id(high): high}.values(), key=lambda p: p.at)


def forecast_end(chart: Chart, scale: Scale) -> tuple[Point, Point] | None:
    """The forecast line: from the last point to 100% at `limit_at`, cut at the end of the time axis."""
    last = next((segment[-1] for segment in reversed(chart.segments) if segment), None)
    if chart.limit_at is None or last is None or chart.limit_at <= last.at:
        return None
    if chart.limit_at <= scale.end:
        return last, Point(chart.limit_at, 100.0)
    share = (scale.end - last.at) / (chart.limit_at - last.at)
    return last, Point(scale.end, last.percent + (100.0 - last.percent) * share)


def render_chart(chart: Chart, scale: Scale, chart_id: str) -> str:
    """One `<svg>` without scripts or external references; the page's stylesheet colours it by class."""
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH:g} {HEIGHT:g}" role="img" aria-labelledby="{chart_id}-t" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(chart.title)}</title>',
        _future(scale),
        *_grid(scale),
        *(_threshold(t, scale) for t in chart.thresholds if t < scale.top_percent),
        _line("limit", BOX_LEFT, scale.y(100.0), BOX_RIGHT, scale.y(100.0)),
        _label("limit-label", BOX_LEFT + 3, scale.y(100.0) - 3, chart.limit_label, "start"),
        *_failure_ticks(chart.failures, scale),
    ]
    for segment in chart.segments:
        shown = downsample(segment, scale)
        if len(shown) == 1:
            point = shown[0]
            parts.append(f'<circle class="usage-dot" cx="{scale.x(point.at)}" cy="{scale.y(point.percent)}" r="2"/>')
        elif shown:
            coordinates = " ".join(f"{scale.x(p.at)},{scale.y(p.percent)}" for p in shown)
            parts.append(f'<polyline class="usage" points="{coordinates}"/>')
    projected = forecast_end(chart, scale)
    if projected is not None:
        start, end = projected
        parts.append(
            _line("forecast", scale.x(start.at), scale.y(start.percent), scale.x(end.at), scale.y(end.percent))
        )
        if chart.limit_at is not None and chart.limit_at <= scale.end:
            parts.append(f'<circle class="forecast-dot" cx="{scale.x(end.at)}" cy="{scale.y(100.0)}" r="3"/>')
    parts.append("</svg>")
    return "".join(parts)


def _future(scale: Scale) -> str:
    if scale.end <= scale.now:
        return ""
    left = scale.x(scale.now)
    return (
        f'<rect class="future" x="{left}" y="{BOX_TOP}" width="{round(BOX_RIGHT - left, 2)}" '
        f'height="{BOX_BOTTOM - BOX_TOP:g}"/>'
        f'<text class="axis" x="{round((left + BOX_RIGHT) / 2, 2)}" y="{BOX_BOTTOM - 5:g}" text-anchor="middle">'
        "forecast</text>"
    )


def _grid(scale: Scale) -> list[str]:
    parts = [_line("axis-line", BOX_LEFT, BOX_BOTTOM, BOX_RIGHT, BOX_BOTTOM)]
    for percent in (0.0, 50.0, 100.0, scale.top_percent) if scale.top_percent > 100 else (0.0, 50.0, 100.0):
        y = scale.y(percent)
        if percent:
            parts.append(_line("grid", BOX_LEFT, y, BOX_RIGHT, y))
        parts.append(_label("axis", BOX_LEFT - 4, y + 3, f"{percent:g}%", "end"))
    span = scale.end - scale.start
    for share, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        at = scale.start + span * share
        parts.append(_label("axis", scale.x(at), BOX_BOTTOM + 14, f"{at.day} {_MONTHS[at.month - 1]}", anchor))
    now_x = scale.x(scale.now)
    parts.append(_line("now", now_x, BOX_TOP, now_x, BOX_BOTTOM))
    parts.append(_label("now-label", now_x, BOX_BOTTOM + 14, "now", "middle"))
    return parts


def _threshold(percent: float, scale: Scale) -> str:
    # Labelled under the line, just left of "now": clear of the limit line above and of the forecast
    # strip where the forecast line ends.
    y = scale.y(percent)
    label = _label("threshold-label", scale.x(scale.now) - 3, y + 9, f"{percent:g}%", "end")
    return _line("threshold", BOX_LEFT, y, BOX_RIGHT, y) + label


def _failure_ticks(failures: Sequence[datetime], scale: Scale) -> list[str]:
    return [_line("failure", scale.x(at), BOX_BOTTOM - 6, scale.x(at), BOX_BOTTOM) for at in failures]


def _line(css: str, x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line class="{css}" x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}"/>'


def _label(css: str, x: float, y: float, text: str, anchor: str) -> str:
    return f'<text class="{css}" x="{x:g}" y="{y:g}" text-anchor="{anchor}">{escape(text)}</text>'


def timeline(now: datetime, days: int) -> tuple[datetime, datetime]:
    """The shared time axis: `days` back from now, and a third of that ahead for the forecast."""
    return now - timedelta(days=days), now + timedelta(days=days) / 3
