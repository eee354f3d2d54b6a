"""DynamoDB adapter: usage snapshots and per-license alert state, in one table.

Snapshots: partition `license_id`, sort `captured_at` (ISO-8601 UTC, `Z`), expiring via `expires_at`.
Alert state: partition `alert-state#<license_id>`, sort `state`. A separate partition, so a query for a
license's snapshots (with or without a time range) never returns it; `#` cannot occur in a license ID.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from usage_monitor.alerts import AlertState, FailureStreak, ForecastMark, NotifiedLevel
from usage_monitor.flapping import FlapState
from usage_monitor.forecast import Forecast, UsagePoint
from usage_monitor.models import CheckResult, Resource
from usage_monitor.render import OutgoingMessage, iso

if TYPE_CHECKING:
    from usage_monitor.dynamo import DynamoTable

STATE_PREFIX = "alert-state#"
STATE_SORT_KEY = "state"
BATCH_GET_LIMIT = 100
BATCH_GET_ATTEMPTS = 8


class StateConflict(Exception):
    """Another run changed this license's alert state first; it owns the notification."""


@dataclass(frozen=True)
class StoredState:
    state: AlertState
    pending: OutgoingMessage | None = None  # claimed, not yet confirmed as published


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


def state_to_item(license_id: str, state: AlertState, pending: OutgoingMessage | None) -> dict[str, Any]:
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
            name: {"days_to_limit": mark.days_to_limit, "notified_at": iso(mark.notified_at)}
            for name, mark in state.forecasts.items()
        },
        "failures": _without_none(
            {
                "consecutive": failures.consecutive,
                "since": iso(failures.since) if failures.since else None,
                "notified_at": iso(failures.notified_at) if failures.notified_at else None,
                "last_error": failures.last_error,
                "kind": failures.kind,
            }
        ),
    }
    if state.silences:
        item["silences"] = {target: iso(until) for target, until in state.silences.items()}
    if state.flap != FlapState():
        # Only while a license has recent changes: a quiet license's item stays as it always was.
        flap = state.flap
        item["flap"] = _without_none(
            {
                "changes": [iso(moment) for moment in flap.changes],
                "held_since": iso(flap.held_since) if flap.held_since else None,
                "last_change": iso(flap.last_change) if flap.last_change else None,
                "states": list(flap.states),
            }
        )
    if pending is not None:
        item["pending"] = {
            "subject": pending.subject,
            "message_json": pending.message_json,
            "attributes": dict(pending.attributes),
        }
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
        ),
        version=int(item.get("version", 0)),
        forecasts={
            name: ForecastMark(Decimal(mark["days_to_limit"]), parse_iso(mark["notified_at"]))
            for name, mark in (item.get("forecasts") or {}).items()
        },
        silences={target: parse_iso(until) for target, until in (item.get("silences") or {}).items()},
        flap=_flap_from(item.get("flap") or {}),
    )
    pending = item.get("pending")
    return StoredState(
        state,
        OutgoingMessage(pending["subject"], pending["message_json"], dict(pending["attributes"])) if pending else None,
    )


def _flap_from(flap: Mapping[str, Any]) -> FlapState:
    return FlapState(
        changes=tuple(parse_iso(moment) for moment in flap.get("changes", [])),
        held_since=parse_iso(flap["held_since"]) if flap.get("held_since") else None,
        last_change=parse_iso(flap["last_change"]) if flap.get("last_change") else None,
        states=tuple(flap.get("states", [])),
    )


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class DynamoStore:
    def __init__(self, table: DynamoTable, retention_days: int) -> None:
        self.table = table
        self.retention_days = retention_days

    @contextmanager
    def snapshot_writer(self) -> Iterator[SnapshotWriter]:
        """Buffers puts into BatchWriteItem calls of 25; boto3 resends `UnprocessedItems`."""
        with self.table.batch_writer(overwrite_by_pkeys=["license_id", "captured_at"]) as batch:
            yield SnapshotWriter(batch, self.retention_days)

    def history(self, license_id: str, since: datetime, only: ItemFilter | None = None) -> list[dict[str, Any]]:
        return query_history(self.table, license_id, since, only=only)

    def load_states(self, license_ids: Iterable[str]) -> dict[str, StoredState]:
        """Alert state for each license that has one, read 100 keys per BatchGetItem."""
        ids = list(dict.fromkeys(license_ids))
        found: dict[str, StoredState] = {}
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            keys = [
                {"license_id": STATE_PREFIX + i, "captured_at": STATE_SORT_KEY}
                for i in ids[start : start + BATCH_GET_LIMIT]
            ]
            for attempt in range(BATCH_GET_ATTEMPTS):
                items, keys = self.table.batch_get(keys)
                for item in items:
                    found[str(item["license"])] = state_from_item(item)
                if not keys:
                    break
                # Throttled keys come back unprocessed; botocore does not retry those for us.
                time.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise RuntimeError(f"DynamoDB left alert-state keys unprocessed after {BATCH_GET_ATTEMPTS} tries")
        return found

    def save_state(
        self,
        license_id: str,
        state: AlertState,
        expected_version: int,
        pending: OutgoingMessage | None = None,
    ) -> AlertState:
        """Conditional put: fails with `StateConflict` if another run wrote since we read."""
        from botocore.exceptions import ClientError

        new_state = replace(state, version=expected_version + 1)
        condition = "attribute_not_exists(license_id)" if expected_version == 0 else "version = :expected"
        kwargs: dict[str, Any] = {"ConditionExpression": condition}
        if expected_version:
            kwargs["ExpressionAttributeValues"] = {":expected": expected_version}
        try:
            self.table.put_item(state_to_item(license_id, new_state, pending), **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StateConflict(license_id) from exc
            raise
        return new_state

    def confirm_published(self, license_id: str, version: int) -> None:
        """Clear the pending alert once SNS accepted it (same version: nobody else wrote)."""
        from botocore.exceptions import ClientError

        try:
            self.table.update_item(
                {"license_id": STATE_PREFIX + license_id, "captured_at": STATE_SORT_KEY},
                UpdateExpression="REMOVE pending",
                ConditionExpression="version = :version",
                ExpressionAttributeValues={":version": version},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StateConflict(license_id) from exc
            raise


@dataclass(frozen=True)
class ItemFilter:
    """A Query FilterExpression and the values it names, e.g. `ItemFilter("status = :ok", {":ok": "ok"})`."""

    expression: str
    values: Mapping[str, Any]


def query_history(
    table: DynamoTable, license_id: str, since: datetime, *, only: ItemFilter | None = None
) -> list[dict[str, Any]]:
    """Snapshots of one license from `since` on, oldest first (paginated Query).

    `only` becomes the Query's FilterExpression: DynamoDB still reads (and bills) every item in the
    range, but returns only the matching ones, which saves the parsing.
    """
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "license_id = :license_id AND captured_at >= :since",
        "ExpressionAttributeValues": {":license_id": license_id, ":since": iso(since)},
    }
    if only is not None:
        kwargs["FilterExpression"] = only.expression
        kwargs["ExpressionAttributeValues"] = {**only.values, **kwargs["ExpressionAttributeValues"]}
    return table.query(**kwargs)


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


class SnapshotWriter:
    def __init__(self, batch: Any, retention_days: int) -> None:
        self._batch = batch
        self._retention_days = retention_days

    def put(self, result: CheckResult, captured_at: datetime, forecasts: Mapping[str, Forecast] | None = None) -> None:
        self._batch.put_item(Item=snapshot_item(result, captured_at, self._retention_days, forecasts))
