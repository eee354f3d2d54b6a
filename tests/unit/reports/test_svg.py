"""SVG chart geometry: where time and percent land in the plot box, thresholds, the forecast line, thinning."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from usage_monitor.reports.svg import (
    BOX_BOTTOM,
    BOX_LEFT,
    BOX_RIGHT,
    BOX_TOP,
    Chart,
    Point,
    Scale,
    downsample,
    forecast_end,
    render_chart,
    timeline,
    top_percent,
)

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
START, END = timeline(NOW, 30)
SCALE = Scale(START, END, 100.0, NOW)
NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output


def daily(days: int, start: float, per_day: float) -> list[Point]:
    return [Point(NOW - timedelta(days=days - d), start + per_day * d) for d in range(days + 1)]


def test_timeline_is_the_period_plus_a_third_for_the_forecast() -> None:
    assert (NOW - timedelta(days=30), NOW + timedelta(days=10)) == (START, END)


def test_scale_maps_the_period_onto_the_box() -> None:
    assert SCALE.x(START) == BOX_LEFT
    assert SCALE.x(END) == BOX_RIGHT
    assert SCALE.x(NOW) == pytest.approx(BOX_LEFT + (BOX_RIGHT - BOX_LEFT) * 0.75)
    assert SCALE.y(0) == BOX_BOTTOM
    assert SCALE.y(100) == BOX_TOP
    assert SCALE.y(50) == pytest.approx((BOX_TOP + BOX_BOTTOM) / 2)


def test_values_outside_are_clamped_into_the_box() -> None:
    assert SCALE.x(START - timedelta(days=5)) == BOX_LEFT
    assert SCALE.x(END + timedelta(days=5)) == BOX_RIGHT
    assert SCALE.y(-3) == BOX_BOTTOM
    assert SCALE.y(140) == BOX_TOP


@pytest.mark.parametrize(
    ("values", "top"), [([], 100.0), ([40.0, 99.9], 100.0), ([100.1], 110.0), ([137.0], 140.0), ([900.0], 200.0)]
)
def test_y_axis_top(values: list[float], top: float) -> None:
    assert top_percent(values) == top


def test_threshold_lines_sit_at_their_percent() -> None:
    chart = Chart("users", [daily(30, 10, 2)], thresholds=[80.0, 95.0], limit_label="limit 500")

    root = parse(render_chart(chart, SCALE, "c1"))

    lines: dict[str | None, list[ET.Element]] = {}
    for line in root.iter("{http://www.w3.org/2000/svg}line"):
        lines.setdefault(line.get("class"), []).append(line)
    heights = sorted(float(line.get("y1", "nan")) for line in lines["threshold"])
    # 95% is 5% of the box below its top, 80% is 20% below
    assert heights == [BOX_TOP + (BOX_BOTTOM - BOX_TOP) * 0.05, BOX_TOP + (BOX_BOTTOM - BOX_TOP) * 0.2]
    assert all(float(line.get("y1", "0")) == float(line.get("y2", "1")) for line in lines["threshold"])
    (limit,) = lines["limit"]
    assert float(limit.get("y1", "nan")) == BOX_TOP
    assert "limit 500" in "".join(root.itertext())


def test_every_point_of_the_line_is_inside_the_box() -> None:
    # Given usage that overshoots the limit and points outside the period
    points = [Point(START - timedelta(days=2), 10.0), *daily(30, 20, 4.5), Point(NOW + timedelta(days=40), 60.0)]
    chart = Chart("users", [points], thresholds=[80.0], limit_label="limit 10")

    root = parse(render_chart(chart, SCALE, "c1"))

    (polyline,) = root.iter("{http://www.w3.org/2000/svg}polyline")
    pairs = [tuple(map(float, pair.split(","))) for pair in polyline.get("points", "").split()]
    assert len(pairs) == len(points)
    for x, y in pairs:
        assert BOX_LEFT <= x <= BOX_RIGHT
        assert BOX_TOP <= y <= BOX_BOTTOM


def test_the_chart_is_well_formed_svg_without_scripts() -> None:
    chart = Chart('users <&> "quoted"', [daily(5, 10, 1)], thresholds=[80.0], limit_label="limit <1>")

    svg = render_chart(chart, SCALE, "c9")

    root = parse(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("svg:title", NS) is not None
    assert root.find("svg:title", NS).text == 'users <&> "quoted"'  # type: ignore[union-attr]
    assert "<script" not in svg
    assert not re.search(r"href|url\(", svg)


def test_forecast_line_runs_from_the_last_point_to_the_limit_date() -> None:
    points = daily(10, 50, 3)  # 80% now
    limit_at = NOW + timedelta(days=5)
    chart = Chart("users", [points], thresholds=[], limit_label="", limit_at=limit_at)

    start, end = forecast_end(chart, SCALE) or (None, None)

    assert start == points[-1]
    assert end == Point(limit_at, 100.0)
    root = parse(render_chart(chart, SCALE, "c1"))
    (line,) = [e for e in root.iter("{http://www.w3.org/2000/svg}line") if e.get("class") == "forecast"]
    assert float(line.get("x1", "nan")) == SCALE.x(NOW)
    assert float(line.get("y1", "nan")) == SCALE.y(80.0)
    assert float(line.get("x2", "nan")) == SCALE.x(limit_at)
    assert float(line.get("y2", "nan")) == BOX_TOP


def test_a_limit_date_beyond_the_axis_is_cut_at_the_edge_on_the_same_slope() -> None:
    points = [Point(NOW, 60.0)]
    chart = Chart("users", [points], [], "", limit_at=NOW + timedelta(days=40))  # 40% in 40 days

    _, end = forecast_end(chart, SCALE) or (None, None)

    assert end is not None
    assert end.at == END
    assert end.percent == pytest.approx(70.0)  # 10 days of the 40 fit on the axis


def test_no_forecast_line_without_a_limit_date() -> None:
    chart = Chart("users", [daily(3, 10, 0)], [], "")

    assert forecast_end(chart, SCALE) is None
    assert 'class="forecast"' not in render_chart(chart, SCALE, "c1")


def test_segments_break_the_line_and_failures_are_ticked() -> None:
    failure = NOW - timedelta(days=3, hours=12)
    chart = Chart("users", [daily(10, 10, 1)[:7], daily(3, 17, 1)], [], "", failures=[failure])

    root = parse(render_chart(chart, SCALE, "c1"))

    assert len(list(root.iter("{http://www.w3.org/2000/svg}polyline"))) == 2
    ticks = [e for e in root.iter("{http://www.w3.org/2000/svg}line") if e.get("class") == "failure"]
    assert [float(t.get("x1", "nan")) for t in ticks] == [SCALE.x(failure)]


def test_downsampling_keeps_the_shape_and_the_last_point() -> None:
    # Given a month of 15-minute points with a reset (drop) in the middle
    points = [Point(START + timedelta(minutes=15 * i), float(i % 1440) / 20) for i in range(2880)]

    kept = downsample(points, SCALE)

    assert len(kept) <= 2 * int(BOX_RIGHT - BOX_LEFT)
    assert kept[-1] == points[-1]
    assert max(p.percent for p in kept) == max(p.percent for p in points)
    assert min(p.percent for p in kept[1:]) == 0.0  # the drop at the reset is still drawn
    assert [p.at for p in kept] == sorted(p.at for p in kept)


def test_short_series_are_drawn_as_they_are() -> None:
    points = daily(20, 10, 1)
    assert downsample(points, SCALE) == points
