"""parse_event: the three invocation shapes, captured_at, and the manual license override."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from usage_monitor.core.errors import ConfigError
from usage_monitor.events import RunRequest, parse_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = datetime(2026, 11, 24, 10, 0, 7, 654321, tzinfo=UTC)
NOW_SECONDS = NOW.replace(microsecond=0)
SCHEDULED_AT = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
LIC = "bd82845c-897b-4022-b5f7-679905c1979b"


def sample(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def assert_utc_seconds(moment: datetime) -> None:
    assert moment.utcoffset() == timedelta(0)
    assert moment.microsecond == 0


@pytest.mark.parametrize(
    ("name", "run_id"),
    [
        ("scheduled.json", "fd9eee77-3e2b-4d83-9f17-b6fba152ed05"),
        ("scheduled-classic.json", "0bd94c02-fa23-4a8f-86f9-0bb3741fa992"),
    ],
)
def test_scheduled_event_is_captured_at_its_time(name: str, run_id: str) -> None:
    request = parse_event(sample(name), NOW)

    assert request == RunRequest(captured_at=SCHEDULED_AT, run_id=run_id, license_ids=None)
    assert_utc_seconds(request.captured_at)


def test_manual_run_is_captured_now_for_the_listed_licenses() -> None:
    request = parse_event(sample("manual-run.json"), NOW)

    assert request.captured_at == NOW_SECONDS
    assert_utc_seconds(request.captured_at)
    assert request.license_ids == (LIC,)
    assert request.run_id is None


@pytest.mark.parametrize("event", [None, {}, {"time": None}, {"time": ""}, {"detail": {}}])
def test_event_without_time_is_captured_now(event: object) -> None:
    request = parse_event(event, NOW)

    assert request == RunRequest(captured_at=NOW_SECONDS)


def test_now_in_another_zone_is_converted_to_utc() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))

    request = parse_event(None, datetime(2026, 11, 24, 14, 45, 0, 999999, tzinfo=ist))

    assert request.captured_at == SCHEDULED_AT
    assert_utc_seconds(request.captured_at)


@pytest.mark.parametrize(
    "raw",
    [
        "2026-11-24T09:15:00Z",
        "2026-11-24T09:15:00.999Z",  # truncated, not rounded up
        "2026-11-24T09:15:00.5+00:00",
        "2026-11-24T14:45:00+05:30",
        "2026-11-24T04:15:00-05:00",
        "2026-11-24T09:15:00",  # no zone: UTC
        " 2026-11-24T09:15:00Z ",
    ],
)
def test_event_time_is_normalised_to_utc_seconds(raw: str) -> None:
    request = parse_event({"time": raw}, NOW)

    assert request.captured_at == SCHEDULED_AT
    assert_utc_seconds(request.captured_at)


@pytest.mark.parametrize("raw", ["yesterday", "2026-13-01T00:00:00Z", "2026-11-24T25:00:00Z", "24/11/2026 09:15"])
def test_unparsable_time_string_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="event field 'time' is not an ISO-8601 timestamp"):
        parse_event({"time": raw}, NOW)


@pytest.mark.parametrize(("raw", "type_name"), [(1732439700, "int"), (1.5, "float"), (["x"], "list"), (True, "bool")])
def test_non_string_time_is_a_config_error(raw: object, type_name: str) -> None:
    with pytest.raises(ConfigError, match=f"event field 'time' must be an ISO-8601 string, got {type_name}"):
        parse_event({"time": raw}, NOW)


@pytest.mark.parametrize("event", [[], "run", 42])
def test_event_that_is_not_an_object_is_a_config_error(event: object) -> None:
    with pytest.raises(ConfigError, match="event must be a JSON object"):
        parse_event(event, NOW)


@pytest.mark.parametrize(
    ("license_ids", "expected"),
    [
        ([LIC], (LIC,)),
        (["a", " b ", "c.d_e-f"], ("a", "b", "c.d_e-f")),
        ("a, b", ("a", "b")),  # a comma-separated string is accepted too
    ],
)
def test_license_override(license_ids: object, expected: tuple[str, ...]) -> None:
    assert parse_event({"license_ids": license_ids}, NOW).license_ids == expected


@pytest.mark.parametrize(
    ("license_ids", "fragment"),
    [
        ({"ids": [LIC]}, "must be a list of license IDs"),
        (5, "must be a list of license IDs"),
        ([], "is empty"),
        ([""], "is empty"),
        (["a/b"], "position 1: 'a/b'"),
        (["a b", "c d"], "position 2: 'c d'"),
        (["x" * 129], "is not 1-128 characters"),
        ([5], "'5' is not a string"),
        ([None], "'None' is not a string"),
    ],
)
def test_bad_license_override_is_a_config_error(license_ids: object, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_event({"license_ids": license_ids}, NOW)

    assert "event field 'license_ids'" in str(caught.value)
    assert fragment in str(caught.value)


def test_bad_and_repeated_override_entries_are_skipped_and_reported_when_one_is_valid() -> None:
    request = parse_event({"license_ids": [LIC, "a b", LIC, 7]}, NOW)

    assert request.license_ids == (LIC,)
    assert [(s.where, s.escaped, s.duplicate) for s in request.skipped] == [
        ("position 4", "7", False),
        ("position 2", "a b", False),
        ("position 3", LIC, True),
    ]
    assert not request.fleet  # a manual run's list is the caller's, not the fleet's


def test_scheduled_event_with_a_license_override() -> None:
    event = {**sample("scheduled.json"), "license_ids": [LIC]}

    request = parse_event(event, NOW)

    assert (request.captured_at, request.license_ids) == (SCHEDULED_AT, (LIC,))


def test_digest_event_asks_for_the_digest_at_its_scheduled_time() -> None:
    # Given the digest schedule's event (events/digest.json)
    request = parse_event(sample("digest.json"), NOW)

    # Then it is a digest request captured at the scheduled time, with the scheduler's id
    assert request.digest is True
    assert request.captured_at == datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
    assert request.run_id == "5a0f3c2e-9b1d-4c7a-8e6f-2d4b6a8c0e1f"
    assert parse_event({"action": "check"}, NOW).digest is False
    assert parse_event(sample("scheduled.json"), NOW).digest is False


@pytest.mark.parametrize("action", ["Digest", "report", "", 1, ["digest"]])
def test_unknown_action_is_refused_by_name(action: object) -> None:
    with pytest.raises(ConfigError, match="event field 'action' must be one of check, digest"):
        parse_event({"action": action}, NOW)
