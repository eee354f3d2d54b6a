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

from usage_monitor.core.errors import ConfigError
from usage_monitor.core.license_entries import LicenseList, SkippedEntry, parse_entries


@dataclass(frozen=True)
class RunRequest:
    captured_at: datetime
    run_id: str | None = None
    license_ids: tuple[str, ...] | None = None
    digest: bool = False
    # Entries of the list behind `license_ids` that were skipped (invalid) or checked once (repeated).
    skipped: tuple[SkippedEntry, ...] = ()
    # Whether `license_ids` is the configured fleet (LICENSE_IDS + S3 list), whose list problems the run
    # reports in its config_problem alert, rather than a manual override or a fan-out chunk.
    fleet: bool = False
    # A fan-out chunk's (number, of how many) in its dispatch, which `run_id` names; None: not a chunk.
    chunk: tuple[int, int] | None = None
    # The chunk's dispatch covers the configured fleet (a scheduled run), not a manual run's list.
    dispatch_of_fleet: bool = False

    @property
    def listed(self) -> LicenseList | None:
        """The licenses the event or the caller named, with the entries skipped on the way; None: none named."""
        return LicenseList(self.license_ids, self.skipped) if self.license_ids else None


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
    override = _license_override(event.get("license_ids"))
    return RunRequest(
        captured_at=captured_at.astimezone(UTC).replace(microsecond=0),
        run_id=str(run_id) if run_id else None,
        license_ids=override.ids if override is not None else None,
        skipped=override.skipped if override is not None else (),
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


def _license_override(value: object) -> LicenseList | None:
    """Bad or repeated entries are skipped and reported in the run's summary, like the configured lists'."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise ConfigError("event field 'license_ids' must be a list of license IDs")
    source = "event field 'license_ids'"
    entries = [(f"position {n}", e) for n, e in enumerate(value, start=1) if isinstance(e, str)]
    not_text = tuple(
        SkippedEntry(source, f"position {n}", repr(e)[:60], "is not a string")
        for n, e in enumerate(value, start=1)
        if not isinstance(e, str)
    )
    parsed = parse_entries(entries, source)
    listed = LicenseList(parsed.ids, (*not_text, *parsed.skipped)).require_valid(source)
    if not listed.ids:
        raise ConfigError("event field 'license_ids' is empty")
    return listed
