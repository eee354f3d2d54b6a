"""The soak's year on one self-contained HTML page: usage curves, thresholds, every notification, fault bands.

Inline SVG and CSS only (no script, no external file), like the usage report (usage_monitor.reports.html).
Each curve is the license's fullest resource in percent, reduced to the lowest and highest value per pixel
column (`usage_monitor.reports.svg.downsample`), so a year of 15-minute points stays a few hundred KB.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape
from pathlib import Path

from local.soak.driver import Record, Soak

WIDTH, HEIGHT = 1400.0, 560.0
LEFT, TOP, RIGHT, BOTTOM = 48.0, 150.0, 1380.0, 520.0
TOP_PERCENT = 110.0
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
SEVERITY = {"critical": "#c0392b", "warning": "#e67e22", "info": "#2980b9"}
THRESHOLDS = (80.0, 95.0, 100.0)


def write_page(path: Path, soak: Soak, record: Record) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(soak, record), encoding="utf-8")


def render_page(soak: Soak, record: Record) -> str:
    start, end = soak.schedule.start, soak.schedule.end

    def x(at: datetime) -> float:
        share = (at - start).total_seconds() / max((end - start).total_seconds(), 1.0)
        return LEFT + (RIGHT - LEFT) * min(max(share, 0.0), 1.0)

    def y(percent: float) -> float:
        return BOTTOM - (BOTTOM - TOP) * min(max(percent, 0.0), TOP_PERCENT) / TOP_PERCENT

    parts = [f'<svg viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" role="img" aria-label="the soak year">']
    bands = sorted(soak.schedule.bands().values(), key=lambda b: b.start)
    for row, band in enumerate(bands):
        left, right = x(band.start), max(x(band.end), x(band.start) + 2)
        label_y = 14 + (row % 9) * 14
        parts.append(
            f'<rect class="band" x="{left:.1f}" y="{label_y + 4:.0f}" width="{right - left:.1f}" '
            f'height="{BOTTOM - label_y - 4:.0f}"><title>{escape(band.name)}: {band.start:%d %b %H:%M} to '
            f"{band.end:%d %b %H:%M}</title></rect>"
            f'<text class="bandlabel" x="{left:.1f}" y="{label_y:.0f}">{escape(band.name)}</text>'
        )
    for percent in THRESHOLDS:
        parts.append(
            f'<line class="threshold" x1="{LEFT}" x2="{RIGHT}" y1="{y(percent):.1f}" y2="{y(percent):.1f}"/>'
            f'<text class="axis" x="{LEFT - 4}" y="{y(percent) + 4:.1f}" text-anchor="end">{percent:.0f}%</text>'
        )
    parts.append(_axis(x, soak))
    positions: dict[str, list[tuple[float, float]]] = {}
    for index, (license_id, points) in enumerate(sorted(record.usage.items())):
        colour = COLOURS[index % len(COLOURS)]
        reduced = _columns([(x(at), y(percent)) for at, percent in points])
        positions[license_id] = reduced
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in reduced)
        parts.append(f'<polyline class="curve" stroke="{colour}" points="{path}"><title>{escape(license_id)}</title>')
        parts.append("</polyline>")
    for sent in record.sent:
        px = x(sent.at)
        py = _nearest(positions.get(sent.license_id, []), px) if sent.license_id != "*" else TOP - 6
        colour = SEVERITY.get(sent.severity, "#555")
        shape = "rect" if sent.event_type in ("check_failed", "config_problem") else "circle"
        title = f"<title>{escape(f'{sent.at:%d %b %H:%M} {sent.license_id}: {sent.subject}')}</title>"
        if shape == "circle":
            hollow = ' fill="white"' if sent.event_type == "recovered" else f' fill="{colour}"'
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" stroke="{colour}"{hollow}>{title}</circle>')
        else:
            parts.append(f'<rect x="{px - 4:.1f}" y="{py - 4:.1f}" width="8" height="8" fill="{colour}">{title}</rect>')
    parts.append("</svg>")
    legend = "".join(
        f'<li><span style="background:{COLOURS[i % len(COLOURS)]}"></span>{escape(lid)}</li>'
        for i, lid in enumerate(sorted(record.usage))
    )
    return _HTML.format(
        days=record.days,
        licenses=soak.count,
        runs=len(record.run_seconds),
        sent=len(record.sent),
        svg="".join(parts),
        legend=legend,
    )


def _columns(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The lowest and highest point in each pixel column, in time order."""
    columns: dict[int, list[tuple[float, float]]] = {}
    for point in points:
        columns.setdefault(int(point[0]), []).append(point)
    reduced: list[tuple[float, float]] = []
    for column in sorted(columns):
        group = columns[column]
        low, high = max(group, key=lambda p: p[1]), min(group, key=lambda p: p[1])
        reduced += sorted({low, high}, key=group.index)
    return reduced


def _nearest(points: list[tuple[float, float]], px: float) -> float:
    if not points:
        return BOTTOM
    return min(points, key=lambda p: abs(p[0] - px))[1]


def _axis(to_x: Callable[[datetime], float], soak: Soak) -> str:
    parts = []
    moment = soak.schedule.start.replace(day=1)
    while moment <= soak.schedule.end:
        if moment >= soak.schedule.start:
            px = to_x(moment)
            parts.append(
                f'<line class="grid" x1="{px:.1f}" x2="{px:.1f}" y1="{TOP}" y2="{BOTTOM}"/>'
                f'<text class="axis" x="{px:.1f}" y="{BOTTOM + 16}" text-anchor="middle">{moment:%d %b %Y}</text>'
            )
        moment = (moment + timedelta(days=32)).replace(day=1)
    return "".join(parts)


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A year in a box: the soak</title>
<style>
body{{font:14px system-ui,sans-serif;margin:16px;color:#222}}
svg{{width:100%;height:auto;border:1px solid #ddd;background:#fff}}
.band{{fill:#f3c6c6;fill-opacity:.35}} .bandlabel{{font-size:10px;fill:#8a3a3a}}
.threshold{{stroke:#999;stroke-dasharray:4 3}} .grid{{stroke:#eee}} .axis{{font-size:11px;fill:#555}}
.curve{{fill:none;stroke-width:1.2}}
ul{{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:12px}}
li span{{display:inline-block;width:14px;height:4px;margin-right:4px;vertical-align:middle}}
</style></head><body>
<h1>A year in a box: {days} simulated days, {licenses} licenses, {runs} runs, {sent} messages</h1>
<p>Each curve: a license's fullest resource (percent of its limit). Dashed: the 80 % and 95 % thresholds
and the limit. Marks: every message SNS received (filled circle: threshold crossed or flapping; hollow: recovered;
square: check failed or config problem; red critical, orange warning, blue info; run-level ones along the top).
Shaded bands: the scheduled faults. Hover a mark or band for its text.</p>
{svg}
<ul>{legend}</ul>
</body></html>
"""
