"""Pure composition of the weekly usage digest: where every license stands, how fast it grows, when it runs out.

One `LicenseDigest` per license is built from its snapshot history (oldest first, as `store.query_history`
returns it) and its alert state; `render_digest` turns the fleet's digests into one SNS message
(`event_type` `digest`, `severity` `info`, `license_id` `*`). The HTML report reuses `LicenseDigest`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from usage_monitor.alerting.forecast import Forecast, ForecastStatus, UsagePoint, forecast
from usage_monitor.alerting.rules import WHOLE_LICENSE, active_silences
from usage_monitor.alerting.types import AlertPolicy, AlertState, Severity
from usage_monitor.core.models import RUN_SCOPE, Resource
from usage_monitor.core.numbers import decimal_text, signed_number_text, tenths
from usage_monitor.messages.figures import level_text, percent_text, usage_text
from usage_monitor.messages.render import RenderedAlert
from usage_monitor.messages.sms import one_segment
from usage_monitor.reports.history import row_from_snapshot
from usage_monitor.storage.items import parse_iso, usage_points

DIGEST_EVENT_TYPE = "digest"
DIGEST_SEVERITY = "info"
CHANGE_WINDOW = timedelta(days=7)
LISTED_LICENSES = 50
# The email and `default` bodies both carry the listing, so the SNS message (256 KB cap) stays under
# about 2 x this plus the SMS line; licenses that do not fit are summarised like those past the 50th.
EMAIL_BUDGET_BYTES = 48_000
SUBJECT_MAX = 100
SMS_MAX = 160
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class ResourceOutlook:
    """One resource of a license: latest figures, its level, the change over the window, the forecast."""

    resource: Resource
    level: Decimal | None
    forecast: Forecast
    change: int | None = None  # current minus the first value inside the change window
    change_points: Decimal | None = None  # the same in percentage points
    change_days: int = 0  # whole days the change covers (less than 7 for a young history)
    critical: bool = False  # `level` is critical under the policy (the limit, or the highest threshold)


@dataclass(frozen=True)
class LicenseDigest:
    license_id: str
    as_of: datetime | None  # the latest successful snapshot; None when there is none in the history read
    resources: tuple[ResourceOutlook, ...] = ()
    failing: str | None = None  # why the latest check failed (or why nothing is known)
    open_alerts: tuple[str, ...] = ()
    mutes: tuple[tuple[str, datetime], ...] = ()

    @property
    def fullest(self) -> Decimal | None:
        percents = [o.resource.percent for o in self.resources if o.resource.percent is not None]
        return max(percents, default=None)

    @property
    def level(self) -> Decimal | None:
        return max((o.level for o in self.resources if o.level is not None), default=None)

    @property
    def severity(self) -> str:
        """critical, warning or ok: from the latest figures, not from what was notified."""
        if self.level is None:
            return "ok"
        return "critical" if any(o.critical for o in self.resources) else "warning"


def license_digest(
    license_id: str,
    items: Sequence[Mapping[str, Any]],
    state: AlertState | None,
    policy: AlertPolicy,
    now: datetime,
    *,
    forecast_window: timedelta = timedelta(days=14),
    change_window: timedelta = CHANGE_WINDOW,
) -> LicenseDigest:
    """Digest one license from its snapshots (oldest first) and alert state.

    Usage comes from the latest successful snapshot even when later checks failed (it is the best known
    figure, dated by `as_of`); the forecast fits the points of the last `forecast_window`, as alerts do.
    """
    snapshots = [i for i in items if i.get("record_type", "snapshot") == "snapshot"]
    state = state or AlertState()
    alerts, mutes = _open_alerts(license_id, state, policy, now), _mutes(state, now)
    failing = None
    if not snapshots:
        failing = "no snapshot stored in the period read (is the license still checked?)"
    elif snapshots[-1].get("status") != "ok":
        failing = row_from_snapshot(snapshots[-1]).error or "the latest check failed"
    ok = [i for i in snapshots if i.get("status") == "ok"]
    if not ok:
        return LicenseDigest(license_id, None, (), failing, alerts, mutes)
    latest = ok[-1]
    as_of = parse_iso(str(latest["captured_at"]))
    points = usage_points(ok)
    outlooks = []
    for resource in row_from_snapshot(latest).resources:
        series = points.get(resource.name, [])
        recent = [p for p in series if p.at >= now - forecast_window]
        outlook = forecast(recent, now) if resource.current is not None else Forecast(ForecastStatus.TOO_FEW_POINTS)
        change, change_points, change_days = _change(series, as_of, change_window)
        level = policy.level_of(resource, license_id)
        critical = level is not None and policy.severity_for(level, license_id, resource.name) is Severity.CRITICAL
        outlooks.append(ResourceOutlook(resource, level, outlook, change, change_points, change_days, critical))
    return LicenseDigest(license_id, as_of, tuple(outlooks), failing, alerts, mutes)


def _change(series: Sequence[UsagePoint], as_of: datetime, window: timedelta) -> tuple[int | None, Decimal | None, int]:
    """Latest value minus the value `window` ago: the last point at or before then (if it is at most a
    day older), else the first point after it, so the change covers as close to the window as was stored."""
    start = as_of - window
    before = [p for p in series if start - timedelta(days=1) <= p.at <= start]
    inside = [p for p in series if start < p.at <= as_of]
    if not inside or (not before and len(inside) < 2):
        return None, None, 0
    first, last = (before[-1] if before else inside[0]), inside[-1]
    points = None
    if first.limit and last.limit:
        # The difference of the two percents as every message shows them (`Resource.percent`, tenths
        # rounded down), in exact integer tenths: no Decimal context to overflow, whatever the count.
        points = tenths(last.current * 1000 // last.limit - first.current * 1000 // first.limit)
    days = int((last.at - first.at) / timedelta(days=1) + 0.5)
    return last.current - first.current, points, days


def _open_alerts(license_id: str, state: AlertState, policy: AlertPolicy, now: datetime) -> tuple[str, ...]:
    # "raised at", not "at": a level held by hysteresis is open although today's figures are below it (the
    # figures line says where usage is); "last notified", not "since": a reminder moves `notified_at`.
    alerts = [
        f"{name} raised at {level_text(mark.level)} ({policy.severity_for(mark.level, license_id, name).value}), "
        f"last notified {day_text(mark.notified_at, now)}"
        for name, mark in sorted(state.resources.items())
    ]
    alerts += [
        f"{name} forecast to reach its limit (alert of {day_text(mark.notified_at, now)})"
        for name, mark in sorted(state.forecasts.items())
    ]
    failures = state.failures
    if failures.notified_at is not None:
        since = day_text(failures.since, now) if failures.since else "recently"
        alerts.append(f"check failing since {since} ({failures.consecutive} runs)")
    return tuple(alerts)


def _mutes(state: AlertState, now: datetime) -> tuple[tuple[str, datetime], ...]:
    live = active_silences(state.silences, now)
    return tuple(sorted((target, until) for target, until in state.silences.items() if target in live))


def day_text(moment: datetime, now: datetime) -> str:
    """`24 Nov 09:15 UTC`, with the year when it is not `now`'s."""
    year = "" if moment.year == now.year else f" {moment.year}"
    return f"{moment.day} {_MONTHS[moment.month - 1]}{year} {moment:%H:%M} UTC"


def date_text(moment: datetime, now: datetime) -> str:
    year = "" if moment.year == now.year else f" {moment.year}"
    return f"{moment.day} {_MONTHS[moment.month - 1]}{year}"


def mutes_text(mutes: Sequence[tuple[str, datetime]], now: datetime) -> str:
    return ", ".join(
        f"{'everything' if target == WHOLE_LICENSE else target} until {day_text(until, now)}" for target, until in mutes
    )


def status_text(digest: LicenseDigest) -> str:
    """`CRITICAL, fullest 100.0%`, `OK, fullest 23.3%, check failing`, `NO FIGURES, check failing`."""
    words = [digest.severity.upper() if digest.resources else "NO FIGURES"]
    if digest.fullest is not None:
        words.append(f"fullest {percent_text(digest.fullest)}")
    if digest.failing is not None:
        words.append("check failing")
    return ", ".join(words)


def ordered(digests: Sequence[LicenseDigest]) -> list[LicenseDigest]:
    """Fullest first; licenses with no figures last; ties by ID so the order is stable."""
    return sorted(digests, key=lambda d: (d.fullest is None, -(d.fullest or 0), d.license_id))


@dataclass(frozen=True)
class Counts:
    licenses: int
    critical: int
    warning: int
    failing: int
    muted: int

    def text(self) -> str:
        return (
            f"{_plural(self.licenses, 'license')}, {self.critical} critical, {self.warning} warning, "
            f"{self.failing} failing, {self.muted} muted"
        )


def counts(digests: Sequence[LicenseDigest]) -> Counts:
    return Counts(
        licenses=len(digests),
        critical=sum(d.severity == "critical" for d in digests),
        warning=sum(d.severity == "warning" for d in digests),
        failing=sum(d.failing is not None for d in digests),
        muted=sum(bool(d.mutes) for d in digests),
    )


def change_text(outlook: ResourceOutlook) -> str:
    if outlook.change is None:
        return "no change measured yet"
    if outlook.change == 0:
        return f"no change in {_plural(outlook.change_days, 'day') if outlook.change_days else 'under a day'}"
    points = f", {decimal_text(outlook.change_points, sign=True)} pts" if outlook.change_points is not None else ""
    days = _plural(outlook.change_days, "day") if outlook.change_days else "under a day"
    return f"{signed_number_text(outlook.change)}{points} in {days}"


def forecast_text(outlook: Forecast, now: datetime) -> str:
    """Short forecast words: days to the limit, or why there is none."""
    match outlook.status:
        case ForecastStatus.RISING:
            return f"limit {outlook.when_words(now)}"  # the alert's words and count (`Forecast.when_words`)
        case ForecastStatus.FLAT_OR_FALLING:
            return "not growing"
        case ForecastStatus.AT_LIMIT:
            return "at the limit"
        case ForecastStatus.NO_LIMIT:
            return "no limit"
        case ForecastStatus.TOO_FEW_POINTS:
            return "too little history to forecast"


def render_digest(digests: Sequence[LicenseDigest], now: datetime, *, forecast_days: int = 14) -> RenderedAlert:
    """The SNS message: a full email listing, a one-line SMS, attributes subscribers filter on."""
    fleet = ordered(digests)
    total = counts(fleet)
    email = _email(fleet, total, now, forecast_days)
    return RenderedAlert(
        subject=_ascii_clip(f"Leegality usage digest: {total.text()}", SUBJECT_MAX),
        default=email,
        email=email,
        sms=_sms(fleet, total),
        attributes={"event_type": DIGEST_EVENT_TYPE, "severity": DIGEST_SEVERITY, "license_id": RUN_SCOPE},
    )


def _email(fleet: list[LicenseDigest], total: Counts, now: datetime, forecast_days: int) -> str:
    head = [
        f"Leegality license usage digest, {day_text(now, now)}",
        "",
        total.text().capitalize(),
        "",
        f"Fullest first. Change: over the last 7 days. Forecast: at the rate of the last {forecast_days} days.",
        "",
    ]
    tail = ["-- Leegality usage monitor (weekly digest; alerts still arrive as they happen)"]
    budget = EMAIL_BUDGET_BYTES - _bytes(head) - _bytes(tail) - 400  # room for the summary line
    body: list[str] = []
    listed = 0
    for number, digest in enumerate(fleet[:LISTED_LICENSES], start=1):
        block = [*license_block_or_line(number, digest, now), ""]
        if _bytes(block) > budget:
            break
        budget -= _bytes(block)
        body += block
        listed += 1
    rest = fleet[listed:]
    if rest:
        body += [_rest_line(rest), ""]
    elif not fleet:
        body += ["No license to report.", ""]
    return "\n".join(head + body + tail)


def license_block_or_line(number: int, digest: LicenseDigest, now: datetime) -> list[str]:
    """The license's block; if anything in it cannot be put into words, one line saying so, and the
    digest goes on with the next license."""
    try:
        return _license_block(number, digest, now)
    except Exception as exc:  # whatever one license's figures do, the others are still listed
        return [f"{number}. {digest.license_id}: {unsummarised(exc)}"]


def unsummarised(exc: Exception) -> str:
    """The one line for a license whose figures could not be summarised (the type only: no upstream text)."""
    return f"could not be summarised ({type(exc).__name__}); its snapshots are kept: usage-monitor history"


def _license_block(number: int, digest: LicenseDigest, now: datetime) -> list[str]:
    lines = [f"{number}. {digest.license_id}: {status_text(digest)}"]
    if digest.failing is not None:
        lines.append(f"   Check failing: {digest.failing}")
    if digest.as_of is not None and (digest.failing is not None or now - digest.as_of > timedelta(days=1)):
        lines.append(f"   Figures as of {day_text(digest.as_of, now)}")
    for outlook in digest.resources:
        lines.append(
            f"   - {outlook.resource.name}: {usage_text(outlook.resource)}; {change_text(outlook)}; "
            f"{forecast_text(outlook.forecast, now)}"
        )
    if digest.open_alerts:
        lines.append(f"   Open alerts: {'; '.join(digest.open_alerts)}")
    if digest.mutes:
        lines.append(f"   Muted: {mutes_text(digest.mutes, now)}")
    return lines


def _rest_line(rest: list[LicenseDigest]) -> str:
    part = counts(rest)
    top = rest[0].fullest
    ceiling = f", none above {percent_text(top)}" if top is not None else ""
    line = (
        f"Not listed: {_plural(part.licenses, 'more license')}{ceiling}: {part.critical} critical, "
        f"{part.warning} warning, {part.failing} failing, {part.muted} muted"
    )
    failing = [d.license_id for d in rest if d.failing is not None]
    if failing:
        named = ", ".join(failing[:10]) + (f" and {len(failing) - 10} more" if len(failing) > 10 else "")
        line += f"; failing checks among them: {named}"
    return line + "."


def _sms(fleet: list[LicenseDigest], total: Counts) -> str:
    head = (
        f"Leegality digest: {total.licenses} lic, {total.critical} crit, {total.warning} warn, "
        f"{total.failing} failing, {total.muted} muted"
    )
    top = fleet[0] if fleet and fleet[0].fullest is not None else None
    if top is None:
        return _ascii_clip(head, SMS_MAX)
    resource = max((o.resource for o in top.resources if o.resource.percent is not None), key=lambda r: r.percent or 0)
    tail = f" {resource.name} {percent_text(resource.percent)}"
    room = SMS_MAX - len(head) - len(". Fullest: ") - len(tail)
    return _ascii_clip(f"{head}. Fullest: {_ascii_clip(top.license_id, max(room, 8))}{tail}", SMS_MAX)


def _bytes(lines: list[str]) -> int:
    return sum(len(line.encode()) + 1 for line in lines)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _ascii_clip(text: str, limit: int) -> str:
    # GSM-7-safe ASCII keeps an SMS in one segment (septets counted), and SNS subjects must be ASCII
    # without line breaks.
    return one_segment(text, limit)
