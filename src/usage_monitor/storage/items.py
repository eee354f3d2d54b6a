"""Pure: the table's items (a usage snapshot, a license's alert state) and what is read back from them.

Snapshots: partition `license_id`, sort `captured_at` (ISO-8601 UTC, `Z`), expiring via `expires_at`.
Alert state: partition `alert-state#<license_id>`, sort `state`. A separate partition, so a query for a
license's snapshots (with or without a time range) never returns it; `#` cannot occur in a license ID.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from usage_monitor.alerting.flapping import FlapState
from usage_monitor.alerting.forecast import Forecast, UsagePoint
from usage_monitor.alerting.types import AlertState, FailureStreak, ForecastMark, NotifiedLevel
from usage_monitor.core.models import CheckError, CheckResult, FailureKind, Resource
from usage_monitor.messages.figures import iso
from usage_monitor.messages.outgoing import OutgoingMessage

STATE_PREFIX = "alert-state#"
STATE_SORT_KEY = "state"


@dataclass(frozen=True)
class StoredState:
    state: AlertState
    pending: OutgoingMessage | None = None  # claimed, not yet confirmed as published
    # When a run last took the pending message to send it (ISO UTC); None: nobody is sending it.
    pending_claimed_at: str | None = None


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def snapshot_item(
    result: CheckResult,
    captured_at: datetime,
    retention_days: int,
    forecasts: Mapping[str, Forecast] | None = None,
) -> dict[str, Any]:
    """One snapshot row: a map per resource (with `days_to_limit` when forecast), status, error, TTL."""
    item: dict[str, Any] = {
        "license_id": result.license_id,
        "captured_at": iso(captured_at),
        "record_type": "snapshot",
        "checked_at": iso(result.checked_at),
        "status": "ok" if result.ok else "failed",
        "expires_at": int((captured_at + timedelta(days=retention_days)).timestamp()),
    }
    for resource in result.resources:
        item[resource.name] = _resource_map(resource)
        outlook = (forecasts or {}).get(resource.name)
        if outlook is not None and outlook.days_to_limit is not None:
            item[resource.name]["days_to_limit"] = outlook.days_to_limit
    if result.problems:
        item["problems"] = list(result.problems)
    if result.error is not None:
        error: dict[str, Any] = {"kind": result.error.kind.value, "message": result.error.message}
        for key, value in (
            ("http_status", result.error.http_status),
            ("code", result.error.code),
            ("detail_code", result.error.detail_code),
        ):
            if value is not None:
                error[key] = value
        item["error"] = error
    return item


def _resource_map(resource: Resource) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if resource.current is not None:
        fields["current"] = resource.current
    if resource.limit is not None:
        fields["limit"] = resource.limit
    if resource.percent is not None:
        fields["percent"] = resource.percent
    if resource.problems:
        fields["problems"] = list(resource.problems)
    return fields


def state_to_item(
    license_id: str, state: AlertState, pending: OutgoingMessage | None, claimed_at: str | None = None
) -> dict[str, Any]:
    failures = state.failures
    item: dict[str, Any] = {
        "license_id": STATE_PREFIX + license_id,
        "captured_at": STATE_SORT_KEY,
        "record_type": "alert_state",
        "license": license_id,
        "version": state.version,
        "resources": {
            name: {"level": mark.level, "notified_at": iso(mark.notified_at)} for name, mark in state.resources.items()
        },
        "forecasts": {
            name: _without_none(
                {
                    "days_to_limit": mark.days_to_limit,
                    "notified_at": iso(mark.notified_at),
                    "limit_at": iso(mark.limit_at) if mark.limit_at else None,
                }
            )
            for name, mark in state.forecasts.items()
        },
        "failures": _without_none(
            {
                "consecutive": failures.consecutive,
                "since": iso(failures.since) if failures.since else None,
                "notified_at": iso(failures.notified_at) if failures.notified_at else None,
                "last_error": failures.last_error,
                "kind": failures.kind,
                "last_at": iso(failures.last_failed_at) if failures.last_failed_at else None,
            }
        ),
    }
    if state.silences:
        item["silences"] = {target: iso(until) for target, until in state.silences.items()}
    if state.refused_at is not None:
        item["refused_at"] = iso(state.refused_at)
    if state.flap != FlapState():
        # Only while a license has recent changes: a quiet license's item stays as it always was.
        flap = state.flap
        item["flap"] = _without_none(
            {
                "changes": [iso(moment) for moment in flap.changes],
                "held_since": iso(flap.held_since) if flap.held_since else None,
                "last_change": iso(flap.last_change) if flap.last_change else None,
                "states": list(flap.states),
                "subjects": list(flap.subjects) or None,
            }
        )
    if pending is not None:
        item["pending"] = {
            "subject": pending.subject,
            "message_json": pending.message_json,
            "attributes": dict(pending.attributes),
        }
        if claimed_at is not None:
            item["pending"]["claimed_at"] = claimed_at
    return item


def state_from_item(item: Mapping[str, Any]) -> StoredState:
    failures = item.get("failures") or {}
    state = AlertState(
        resources={
            name: NotifiedLevel(Decimal(mark["level"]), parse_iso(mark["notified_at"]))
            for name, mark in (item.get("resources") or {}).items()
        },
        failures=FailureStreak(
            consecutive=int(failures.get("consecutive", 0)),
            since=parse_iso(failures["since"]) if failures.get("since") else None,
            notified_at=parse_iso(failures["notified_at"]) if failures.get("notified_at") else None,
            last_error=failures.get("last_error"),
            kind=failures.get("kind"),
            last_failed_at=parse_iso(failures["last_at"]) if failures.get("last_at") else None,
        ),
        version=int(item.get("version", 0)),
        forecasts={
            name: ForecastMark(
                Decimal(mark["days_to_limit"]),
                parse_iso(mark["notified_at"]),
                parse_iso(mark["limit_at"]) if mark.get("limit_at") else None,
            )
            for name, mark in (item.get("forecasts") or {}).items()
        },
        silences={target: parse_iso(until) for target, until in (item.get("silences") or {}).items()},
        flap=_flap_from(item.get("flap") or {}),
        refused_at=parse_iso(item["refused_at"]) if item.get("refused_at") else None,
    )
    pending = item.get("pending")
    return StoredState(
        state,
        OutgoingMessage(pending["subject"], pending["message_json"], dict(pending["attributes"])) if pending else None,
        pending.get("claimed_at") if pending else None,
    )


def _flap_from(flap: Mapping[str, Any]) -> FlapState:
    return FlapState(
        changes=tuple(parse_iso(moment) for moment in flap.get("changes", [])),
        held_since=parse_iso(flap["held_since"]) if flap.get("held_since") else None,
        last_change=parse_iso(flap["last_change"]) if flap.get("last_change") else None,
        states=tuple(flap.get("states", [])),
        subjects=tuple(flap.get("subjects", [])),
    )


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def usage_points(items: Iterable[Mapping[str, Any]]) -> dict[str, list[UsagePoint]]:
    """Per resource, the (time, current, limit) points of successful snapshots, for forecasts."""
    points: dict[str, list[UsagePoint]] = {}
    for item in items:
        if item.get("status") != "ok":
            continue
        at = parse_iso(str(item["captured_at"]))
        for name, value in item.items():
            if isinstance(value, Mapping) and "current" in value and name not in ("error",):
                limit = value.get("limit")
                points.setdefault(name, []).append(
                    UsagePoint(at, int(value["current"]), int(limit) if limit is not None else None)
                )
    return points


def unstorable(result: CheckResult, reason: str) -> CheckResult:
    """The failed check that stands in for a result whose snapshot DynamoDB cannot hold."""
    return CheckResult(
        result.license_id,
        result.checked_at,
        error=CheckError(FailureKind.INVALID_VALUE, f"the answer cannot be stored: {reason}"),
    )
