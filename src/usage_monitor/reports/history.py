"""Plain text for people: the usage table (the local run and `check` print the same one) and a license's
history as a chart per resource or as CSV rows (`history`)."""

from __future__ import annotations

import csv
import importlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

from usage_monitor.alerting.types import LIMIT_LEVEL, AlertPolicy
from usage_monitor.core.models import Resource
from usage_monitor.messages.figures import iso, percent_text
from usage_monitor.storage.items import parse_iso

BAR_WIDTH = 20
SPARK_CHARS = "▁▂▃▄▅▆▇█"
SPARK_POINTS = 60


@dataclass(frozen=True)
class UsageRow:
    license_id: str
    resources: tuple[Resource, ...]
    error: str | None = None


def row_from_snapshot(item: Mapping[str, Any]) -> UsageRow:
    """A snapshot item as read back from DynamoDB (maps per resource)."""
    from usage_monitor.leegality.usage import RESERVED_NAMES

    resources = tuple(
        Resource(
            name,
            int(value["current"]) if "current" in value else None,
            int(value["limit"]) if "limit" in value else None,
            tuple(value.get("problems", ())),
        )
        for name, value in item.items()
        if name not in RESERVED_NAMES and isinstance(value, Mapping)
    )
    error = item.get("error")
    message = None
    if isinstance(error, Mapping):
        parts = [str(error.get("message", "failed"))]
        if error.get("http_status") is not None:
            parts.append(f"HTTP {int(error['http_status'])}")
        codes = "/".join(str(error[k]) for k in ("code", "detail_code") if error.get(k))
        if codes:
            parts.append(codes)
        message = " · ".join(parts)
    return UsageRow(str(item["license_id"]), resources, message)


def bar(resource: Resource) -> str:
    percent = resource.percent
    if percent is None:
        return " " * BAR_WIDTH
    filled = min(BAR_WIDTH, int(percent * BAR_WIDTH / 100))
    return "█" * filled + "·" * (BAR_WIDTH - filled)


def level_label(resource: Resource, policy: AlertPolicy) -> str:
    if not resource.evaluable:
        return "not evaluated: " + "; ".join(resource.problems) if resource.problems else "not evaluated"
    level = policy.level_of(resource)
    if level is None:
        return "ok"
    # The band says when the alert will clear, so a reader knows why 77% can still show as an 80% warning.
    band = f", clears below {policy.clears_below(level).normalize():f}%" if policy.hysteresis else ""
    severity = policy.severity_for(level, None, resource.name).value
    if level == LIMIT_LEVEL:
        return f"LIMIT REACHED ({severity}{band})"
    return f">= {level.normalize():f}% ({severity}{band})"


def usage_table(rows: Iterable[UsageRow], policy: AlertPolicy) -> str:
    lines = [f"{'LICENSE':<38} {'RESOURCE':<13} {'USAGE':>13} {'':<{BAR_WIDTH}} {'PERCENT':>7}  LEVEL"]
    for row in rows:
        license_id = row.license_id
        if row.error is not None:
            lines.append(f"{license_id:<38} CHECK FAILED: {row.error}")
            continue
        if not row.resources:
            lines.append(f"{license_id:<38} (no resources reported)")
        for resource in row.resources:
            current = "?" if resource.current is None else str(resource.current)
            limit = "?" if resource.limit is None else str(resource.limit)
            lines.append(
                f"{license_id:<38} {resource.name:<13} {current + '/' + limit:>13} {bar(resource)} "
                f"{percent_text(resource.percent):>7}  {level_label(resource, policy)}"
            )
            license_id = ""
    return "\n".join(lines)


# --- history: one license's snapshots over time ---


@dataclass(frozen=True)
class Snapshot:
    captured_at: datetime
    status: str
    row: UsageRow


def snapshot_from_item(item: Mapping[str, Any]) -> Snapshot:
    row = row_from_snapshot(item)
    status = str(item.get("status") or ("failed" if row.error else "ok"))
    return Snapshot(parse_iso(str(item["captured_at"])), status, row)


def write_csv(snapshots: Sequence[Snapshot], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["captured_at", "resource", "current", "limit", "percent", "status"])
    for snapshot in snapshots:
        at = iso(snapshot.captured_at)
        if not snapshot.row.resources:
            writer.writerow([at, "", "", "", "", snapshot.status])
        for resource in snapshot.row.resources:
            writer.writerow(
                [
                    at,
                    resource.name,
                    "" if resource.current is None else resource.current,
                    "" if resource.limit is None else resource.limit,
                    "" if resource.percent is None else f"{resource.percent:.1f}",
                    snapshot.status,
                ]
            )


def sparkline(percents: Sequence[Decimal]) -> str:
    """One character per value, on a fixed 0-100% scale (above 100% shows as full)."""
    top = len(SPARK_CHARS) - 1
    chars = []
    for percent in percents[-SPARK_POINTS:]:
        index = int(min(max(percent, Decimal(0)), Decimal(100)) * top / 100 + Decimal("0.5"))
        chars.append(SPARK_CHARS[index])
    return "".join(chars)


def history_text(license_id: str, snapshots: Sequence[Snapshot], policy: AlertPolicy, now: datetime, scope: str) -> str:
    first, last = snapshots[0].captured_at, snapshots[-1].captured_at
    lines = [
        f"{license_id}: {len(snapshots)} snapshot{'s' if len(snapshots) != 1 else ''} "
        f"from {iso(first)} to {iso(last)} ({scope})"
    ]
    series: dict[str, list[tuple[datetime, Resource]]] = {}
    for snapshot in snapshots:
        for resource in snapshot.row.resources:
            series.setdefault(resource.name, []).append((snapshot.captured_at, resource))
    charts = {
        name: sparkline([r.percent for _, r in points if r.percent is not None]) for name, points in series.items()
    }
    trend = (
        "TREND" if all(len(points) <= SPARK_POINTS for points in series.values()) else f"TREND (last {SPARK_POINTS})"
    )
    width = max([len(trend), *(len(chart) for chart in charts.values())])
    if series:
        lines.append(
            f"{'RESOURCE':<13} {trend:<{width}} {'FIRST':>7} {'LAST':>7} {'MIN':>7} {'MAX':>7} {'NOW':>13}  LEVEL"
        )
    forecaster = _forecast_module()
    for name, points in series.items():
        usable = [(at, r) for at, r in points if r.percent is not None]
        if not usable:
            lines.append(f"{name:<13} (no usable figures in {len(points)} snapshots)")
            continue
        percents = [r.percent for _, r in usable if r.percent is not None]
        latest = usable[-1][1]
        lines.append(
            f"{name:<13} {charts[name]:<{width}} {percent_text(percents[0]):>7} {percent_text(percents[-1]):>7} "
            f"{percent_text(min(percents)):>7} {percent_text(max(percents)):>7} "
            f"{f'{latest.current}/{latest.limit}':>13}  {level_label(latest, policy)}"
        )
        if forecaster is not None:
            lines.append(f"{'':<13} forecast: {_forecast(forecaster, usable, now)}")
    failed = [s for s in snapshots if s.row.error is not None or s.status == "failed"]
    if failed:
        latest_failure = failed[-1]
        lines.append(
            f"failed checks: {len(failed)} of {len(snapshots)}; latest at {iso(latest_failure.captured_at)}: "
            f"{latest_failure.row.error or 'no details stored'}"
        )
    return "\n".join(lines)


def _forecast_module() -> Any | None:
    """`usage_monitor.alerting.forecast` when it is installed; the history works without it."""
    try:
        return importlib.import_module("usage_monitor.alerting.forecast")
    except ImportError:
        return None


def _forecast(module: Any, points: Sequence[tuple[datetime, Resource]], now: datetime) -> str:
    usage = [module.UsagePoint(at, resource.current, resource.limit) for at, resource in points]
    try:
        return str(module.forecast(usage, now).describe(now))
    except (ValueError, ArithmeticError) as exc:
        return f"not available ({exc})"
