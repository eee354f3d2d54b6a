"""Turn the invoking event into a `RunRequest`.

Accepted shapes: EventBridge Scheduler's Input (`{"id", "time", ...}` filled from its context
attributes), a classic EventBridge "Scheduled Event", and a manual run `{"license_ids": [...]}`.
Any of them with `"action": "digest"` asks for the usage digest instead of a check (the digest schedule's
Input, events/digest.json).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from usage_monitor.errors import ConfigError
from usage_monitor.settings import validate_license_id


@dataclass(frozen=True)
class RunRequest:
    captured_at: datetime
    run_id: str | None = None
    license_ids: tuple[str, ...] | None = None
    digest: bool = False


ACTIONS = ("check", "digest")


def parse_event(event: object, now: datetime) -> RunRequest:
    """`captured_at` is the event's `time` (so a redelivery overwrites), else the invocation time."""
    if event is None:
        event = {}
    if not isinstance(event, Mapping):
        raise ConfigError(f"event must be a JSON object, got {type(event).__name__}")
    raw_time = event.get("time")
    captured_at = parse_event_time(raw_time) if raw_time not in (None, "") else now
    run_id = event.get("id")
    return RunRequest(
        captured_at=captured_at.astimezone(UTC).replace(microsecond=0),
        run_id=str(run_id) if run_id else None,
        license_ids=_license_override(event.get("license_ids")),
        digest=_action(event.get("action")) == "digest",
    )


def _action(value: object) -> str:
    if value is None:
        return "check"
    if value not in ACTIONS:
        raise ConfigError(f"event field 'action' must be one of {', '.join(ACTIONS)}, got {str(value)[:40]!r}")
    return str(value)


def parse_event_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ConfigError(f"event field 'time' must be an ISO-8601 string, got {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"event field 'time' is not an ISO-8601 timestamp: {value[:60]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _license_override(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise ConfigError("event field 'license_ids' must be a list of license IDs")
    ids: list[str] = []
    for entry in value:
        if not isinstance(entry, str):
            raise ConfigError(f"event field 'license_ids': {entry!r} is not a string")
        license_id = validate_license_id(entry.strip(), "event field 'license_ids'")
        if license_id in ids:
            raise ConfigError(f"event field 'license_ids': {license_id!r} is listed twice")
        ids.append(license_id)
    if not ids:
        raise ConfigError("event field 'license_ids' is empty")
    return tuple(ids)
