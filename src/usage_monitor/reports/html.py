"""Pure HTML usage report: one self-contained page, a summary table on top, a chart per resource below.

No scripts, no fonts, images or styles from anywhere else: the file opens offline, prints, and reads on a
phone (the grid of charts folds to one column, the table scrolls sideways).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from usage_monitor.alerting.forecast import ForecastStatus, UsagePoint
from usage_monitor.alerting.types import AlertPolicy
from usage_monitor.messages.figures import percent_text
from usage_monitor.reports.digest import (
    LicenseDigest,
    ResourceOutlook,
    change_text,
    counts,
    day_text,
    forecast_text,
    mutes_text,
    ordered,
    unsummarised,
)
from usage_monitor.reports.svg import Chart, Point, Scale, render_chart, timeline, top_percent


@dataclass(frozen=True)
class LicenseHistory:
    """What the report draws for one license: its digest, each resource's points, failed check times."""

    digest: LicenseDigest
    points: Mapping[str, Sequence[UsagePoint]] = field(default_factory=dict)
    failures: Sequence[datetime] = ()


def render_report(
    histories: Sequence[LicenseHistory],
    now: datetime,
    days: int,
    policy: AlertPolicy,
) -> str:
    """The whole page, licenses fullest first; each chart shows the thresholds `policy` applies to it."""
    by_id = {h.digest.license_id: h for h in histories}
    fleet = [by_id[d.license_id] for d in ordered([h.digest for h in histories])]
    start, end = timeline(now, days)
    total = counts([h.digest for h in fleet])
    sections = [
        _section_or_line(number, history, now, start, end, policy) for number, history in enumerate(fleet, start=1)
    ]
    return _PAGE.format(
        title=f"Leegality usage report, {day_text(now, now)}",
        style=_STYLE,
        generated=escape(day_text(now, now)),
        days=days,
        counts=escape(total.text()),
        summary=_summary(fleet, now),
        sections="\n".join(sections) or "<p>No license to report.</p>",
    )


def _summary(fleet: Sequence[LicenseHistory], now: datetime) -> str:
    rows = []
    for number, history in enumerate(fleet, start=1):
        try:
            rows.append(_summary_row(number, history.digest, now))
        except Exception as exc:  # one license's figures never cost the others their row
            rows.append(
                f'<tr><td class="num">{number}</td><td>{escape(history.digest.license_id)}</td>'
                f'<td colspan="6">{escape(unsummarised(exc))}</td></tr>'
            )
    head = (
        "<tr><th>#</th><th>License</th><th>Status</th><th>Fullest</th><th>Resource</th>"
        "<th>7-day change</th><th>Soonest limit</th><th>Alerts, mutes, checks</th></tr>"
    )
    table = f'<table class="summary"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
    return f'<div class="scroll">{table}</div>'


def _summary_row(number: int, digest: LicenseDigest, now: datetime) -> str:
    top = _fullest(digest)
    soonest = _soonest(digest)
    notes = _notes(digest)
    return (
        "<tr>"
        f'<td class="num">{number}</td>'
        f'<td><a href="#lic-{number}">{escape(digest.license_id)}</a></td>'
        f"<td>{_badge(digest)}</td>"
        f'<td class="num">{escape(percent_text(digest.fullest))}</td>'
        f"<td>{escape(top.resource.name) if top else '&ndash;'}</td>"
        f"<td>{escape(change_text(top)) if top else '&ndash;'}</td>"
        f"<td>{escape(forecast_text(soonest.forecast, now)) if soonest else '&ndash;'}"
        f"{' (' + escape(soonest.resource.name) + ')' if soonest else ''}</td>"
        f"<td>{escape(notes) or '&ndash;'}</td>"
        "</tr>"
    )


def _fullest(digest: LicenseDigest) -> ResourceOutlook | None:
    known = [o for o in digest.resources if o.resource.percent is not None]
    return max(known, key=lambda o: o.resource.percent or 0) if known else None


def _soonest(digest: LicenseDigest) -> ResourceOutlook | None:
    """The resource forecast to reach its limit first; else one already at it; else the fullest."""
    rising = [o for o in digest.resources if o.forecast.days_to_limit is not None]
    if rising:
        return min(rising, key=lambda o: o.forecast.days_to_limit or 0)
    full = [o for o in digest.resources if o.forecast.status is ForecastStatus.AT_LIMIT]
    return full[0] if full else _fullest(digest)


def _notes(digest: LicenseDigest) -> str:
    notes = []
    if digest.failing is not None:
        notes.append("check failing")
    if digest.open_alerts:
        notes.append(f"{len(digest.open_alerts)} open alert{'s' if len(digest.open_alerts) != 1 else ''}")
    if digest.mutes:
        notes.append("muted")
    return ", ".join(notes)


def _badge(digest: LicenseDigest) -> str:
    severity = digest.severity if digest.resources else "failing" if digest.failing else "unknown"
    return f'<span class="badge {severity}">{severity}</span>'


def _section_or_line(
    number: int,
    history: LicenseHistory,
    now: datetime,
    start: datetime,
    end: datetime,
    policy: AlertPolicy,
) -> str:
    try:
        return _section(number, history, now, start, end, policy)
    except Exception as exc:  # as in the summary: one license's figures are one line, never the end of the page
        license_id = escape(history.digest.license_id)
        return (
            f'<section class="license" id="lic-{number}"><h2>{number}. {license_id}</h2>'
            f"<p>{escape(unsummarised(exc))}</p></section>"
        )


def _section(
    number: int,
    history: LicenseHistory,
    now: datetime,
    start: datetime,
    end: datetime,
    policy: AlertPolicy,
) -> str:
    digest = history.digest
    facts = []
    if digest.as_of is not None:
        facts.append(f"Figures as of {escape(day_text(digest.as_of, now))}.")
    if digest.failing is not None:
        facts.append(f'<span class="bad">Check failing: {escape(digest.failing)}</span>')
    if digest.open_alerts:
        facts.append(f"Open alerts: {escape('; '.join(digest.open_alerts))}.")
    if digest.mutes:
        facts.append(f"Muted: {escape(mutes_text(digest.mutes, now))}.")
    figures = []
    for index, outlook in enumerate(digest.resources):
        name = outlook.resource.name
        thresholds = [float(t) for t in policy.thresholds_for(digest.license_id, name)]
        figures.append(
            _figure(
                f"c{number}-{index}",
                outlook,
                history.points.get(name, ()),
                history.failures,
                thresholds,
                now,
                start,
                end,
            )
        )
    charts = f'<div class="charts">{"".join(figures)}</div>' if figures else "<p>No usage figures in the period.</p>"
    return (
        f'<section class="license" id="lic-{number}">'
        f"<h2>{number}. {escape(digest.license_id)} {_badge(digest)}</h2>"
        f'<p class="facts">{" ".join(facts)}</p>{charts}</section>'
    )


def _figure(
    chart_id: str,
    outlook: ResourceOutlook,
    series: Sequence[UsagePoint],
    failures: Sequence[datetime],
    thresholds: list[float],
    now: datetime,
    start: datetime,
    end: datetime,
) -> str:
    resource = outlook.resource
    points = [Point(p.at, p.current * 100 / p.limit) for p in series if p.limit and start <= p.at <= now]
    scale = Scale(start, end, top_percent([p.percent for p in points] + thresholds), now)
    limit = f"limit {resource.limit:,}" if resource.limit is not None else "limit unknown"
    chart = Chart(
        title=f"{resource.name}: percent of the limit used",
        segments=_segments(points, [f for f in failures if start <= f <= now]),
        thresholds=thresholds,
        limit_label=limit,
        limit_at=outlook.forecast.limit_at if outlook.forecast.status is ForecastStatus.RISING else None,
        failures=[f for f in failures if start <= f <= now],
    )
    current = "?" if resource.current is None else f"{resource.current:,}"
    total = "?" if resource.limit is None else f"{resource.limit:,}"
    return (
        '<figure class="resource">'
        f"<figcaption><strong>{escape(resource.name)}</strong> {current} / {total} "
        f"({escape(percent_text(resource.percent))})"
        f'<span class="detail">{escape(change_text(outlook))} &middot; {escape(forecast_text(outlook.forecast, now))}'
        "</span></figcaption>"
        f"{render_chart(chart, scale, chart_id)}</figure>"
    )


def _segments(points: Sequence[Point], failures: Sequence[datetime]) -> list[list[Point]]:
    """Break the line wherever a failed check lies between two points: no figures, no line."""
    segments: list[list[Point]] = []
    pending = sorted(failures)
    index = 0
    for point in points:
        broken = False
        while index < len(pending) and pending[index] < point.at:
            broken = True
            index += 1
        if not segments or (broken and segments[-1]):
            segments.append([])
        segments[-1].append(point)
    return [s for s in segments if s]


_STYLE = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --blue: #0969da;
  --warn: #9a6700; --crit: #cf222e; --ok: #1a7f37; --purple: #8250df; }
* { box-sizing: border-box; }
body { font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink);
  margin: 0 auto; padding: 16px; max-width: 1180px; background: #fff; }
h1 { font-size: 1.5em; margin: 0 0 4px; }
h2 { font-size: 1.15em; margin: 0 0 4px; overflow-wrap: anywhere; }
.lead { color: var(--muted); margin: 0 0 12px; }
.counts { font-weight: 600; margin: 0 0 16px; }
.scroll { overflow-x: auto; margin-bottom: 24px; }
table.summary { border-collapse: collapse; width: 100%; font-size: 0.9em; }
.summary th, .summary td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left;
  vertical-align: top; }
.summary th { background: #f6f8fa; white-space: nowrap; }
.summary td:nth-child(2) { overflow-wrap: anywhere; min-width: 12em; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
a { color: var(--blue); }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 0.75em; font-weight: 600;
  text-transform: uppercase; vertical-align: middle; border: 1px solid currentColor; }
.badge.ok { color: var(--ok); } .badge.warning { color: var(--warn); } .badge.critical { color: var(--crit); }
.badge.unknown { color: var(--muted); } .badge.failing { color: var(--crit); }
.license { border-top: 2px solid var(--line); padding-top: 12px; margin-top: 20px; }
.facts { color: var(--muted); margin: 0 0 8px; font-size: 0.9em; }
.bad { color: var(--crit); font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 12px; }
figure.resource { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px; break-inside: avoid;
  display: flex; flex-direction: column; justify-content: space-between; }
figcaption { font-size: 0.9em; margin-bottom: 4px; }
figcaption .detail { display: block; color: var(--muted); font-size: 0.92em; }
svg.chart { display: block; width: 100%; height: auto; font-size: 10px; }
svg .axis-line { stroke: var(--muted); stroke-width: 1; }
svg .grid { stroke: var(--line); stroke-width: 0.6; }
svg .axis { fill: var(--muted); }
svg .now-label { fill: var(--ink); font-weight: 600; }
svg .future { fill: #f3f0fb; }
svg .now { stroke: var(--muted); stroke-width: 0.6; stroke-dasharray: 2 2; }
svg .threshold { stroke: var(--warn); stroke-width: 1; stroke-dasharray: 5 3; }
svg .threshold-label { fill: var(--warn); font-weight: 600; }
svg .limit { stroke: var(--crit); stroke-width: 1.4; }
svg .limit-label { fill: var(--crit); font-weight: 600; }
svg .usage { fill: none; stroke: var(--blue); stroke-width: 1.8; stroke-linejoin: round; }
svg .usage-dot { fill: var(--blue); }
svg .forecast { stroke: var(--purple); stroke-width: 1.6; stroke-dasharray: 4 3; }
svg .forecast-dot { fill: var(--purple); }
svg .failure { stroke: var(--crit); stroke-width: 1.2; }
footer { color: var(--muted); font-size: 0.85em; margin-top: 24px; border-top: 1px solid var(--line);
  padding-top: 8px; }
@media (max-width: 600px) { body { padding: 10px; font-size: 14px; } .charts { grid-template-columns: 1fr; } }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  .charts { grid-template-columns: repeat(2, 1fr); }
  .scroll { overflow: visible; }
  .license { break-inside: avoid-page; }
  a { color: inherit; text-decoration: none; }
  * { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="usage-monitor report">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header>
<h1>Leegality license usage</h1>
<p class="lead">Report of {generated}, the last {days} days. Charts: percent of each limit used (blue), thresholds
(amber, dashed), the limit (red), the forecast to the limit date (purple, dashed), failed checks (red ticks).</p>
<p class="counts">{counts}</p>
</header>
<main>
{summary}
{sections}
</main>
<footer>Generated by usage-monitor report from the monitor's DynamoDB snapshots. Forecasts fit the usage since
the last reset at the recent rate; they say when the limit is reached if nothing changes.</footer>
</body>
</html>
"""
