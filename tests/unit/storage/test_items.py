"""The DynamoDB item shapes (pure functions only): snapshots and alert state."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from usage_monitor.alerting.types import AlertState, FailureStreak, NotifiedLevel
from usage_monitor.core.models import CheckError, CheckResult, FailureKind, Resource
from usage_monitor.messages.outgoing import OutgoingMessage
from usage_monitor.storage.store import (
    STATE_PREFIX,
    STATE_SORT_KEY,
    StoredState,
    snapshot_item,
    state_from_item,
    state_to_item,
)

LIC = "bd82845c-897b-4022-b5f7-679905c1979b"
CAPTURED = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
CHECKED = datetime(2026, 11, 24, 9, 15, 2, 345678, tzinfo=UTC)
DAY = 86400


def floats_in(value: object) -> list[object]:
    """DynamoDB rejects Python floats; items must use int/Decimal."""
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in floats_in(v)]
    if isinstance(value, list | tuple):
        return [f for v in value for f in floats_in(v)]
    return []


def ok_result() -> CheckResult:
    return CheckResult(
        LIC,
        CHECKED,
        resources=(
            Resource("users", 850, 1000),
            Resource("departments", 2, 3),
            Resource("certificates", 3, 0, ("certificates: limit is 0, so no percentage",)),
            Resource("signatures", None, 1000, ("signatures.current: missing",)),
        ),
        problems=("resource name 'status' is not usable as a field name; skipped",),
    )


def test_snapshot_of_a_successful_check() -> None:
    item = snapshot_item(ok_result(), CAPTURED, retention_days=400)

    assert item["license_id"] == LIC
    assert item["captured_at"] == "2026-11-24T09:15:00Z"
    assert item["checked_at"] == "2026-11-24T09:15:02Z"
    assert item["record_type"] == "snapshot"
    assert item["status"] == "ok"
    assert "error" not in item
    assert item["users"] == {"current": 850, "limit": 1000, "percent": Decimal("85.0")}
    assert item["departments"]["percent"] == Decimal("66.6")
    assert item["problems"] == ["resource name 'status' is not usable as a field name; skipped"]
    assert floats_in(item) == []


def test_snapshot_percent_is_a_one_decimal_decimal() -> None:
    item = snapshot_item(ok_result(), CAPTURED, retention_days=400)

    percent = item["users"]["percent"]
    assert isinstance(percent, Decimal)
    assert percent.as_tuple().exponent == -1


def test_snapshot_has_no_percent_without_a_usable_limit_or_current() -> None:
    item = snapshot_item(ok_result(), CAPTURED, retention_days=400)

    assert item["certificates"] == {
        "current": 3,
        "limit": 0,
        "problems": ["certificates: limit is 0, so no percentage"],
    }
    assert item["signatures"] == {"limit": 1000, "problems": ["signatures.current: missing"]}


@pytest.mark.parametrize("retention_days", [1, 30, 400])
def test_snapshot_expires_retention_days_after_capture(retention_days: int) -> None:
    item = snapshot_item(ok_result(), CAPTURED, retention_days=retention_days)

    assert isinstance(item["expires_at"], int)
    assert item["expires_at"] == int(CAPTURED.timestamp()) + retention_days * DAY
    # 2026-11-24T09:15:00Z is 1795511700 seconds since the epoch.
    assert item["expires_at"] - retention_days * DAY == 1795511700


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            CheckError(FailureKind.HTTP_ERROR, "Internal Server Error", 500, "LE_ERR_SS_500"),
            {"kind": "http_error", "message": "Internal Server Error", "http_status": 500, "code": "LE_ERR_SS_500"},
        ),
        (
            CheckError(FailureKind.TOKEN_REJECTED, "Invalid or expired token", 401, "LE_ERR_SS_401", "LE_ERR_SS_303"),
            {
                "kind": "token_rejected",
                "message": "Invalid or expired token",
                "http_status": 401,
                "code": "LE_ERR_SS_401",
                "detail_code": "LE_ERR_SS_303",
            },
        ),
        (
            CheckError(FailureKind.UNREACHABLE, "connection reset"),
            {"kind": "unreachable", "message": "connection reset"},
        ),
    ],
)
def test_snapshot_of_a_failed_check_has_an_error_map(error: CheckError, expected: dict[str, Any]) -> None:
    item = snapshot_item(CheckResult(LIC, CHECKED, error=error), CAPTURED, retention_days=400)

    assert item["status"] == "failed"
    assert item["error"] == expected
    assert item["captured_at"] == "2026-11-24T09:15:00Z"
    assert item["expires_at"] == 1795511700 + 400 * DAY
    assert "problems" not in item


# --- alert state ------------------------------------------------------------------------------------

PENDING = OutgoingMessage(
    subject="[WARNING] Leegality lic: users >= 80% 850/1000 (85.0%)",
    message_json='{"default": "d", "email": "e", "sms": "s"}',
    attributes={"event_type": "threshold_crossed", "severity": "warning", "license_id": LIC},
)

STATES = [
    pytest.param(AlertState(), id="empty"),
    pytest.param(
        AlertState(
            resources={
                "users": NotifiedLevel(Decimal(80), CAPTURED),
                "signatures": NotifiedLevel(Decimal("99.5"), datetime(2026, 11, 23, 9, 15, tzinfo=UTC)),
                "departments": NotifiedLevel(Decimal(100), CAPTURED),
            },
            version=3,
        ),
        id="resources",
    ),
    pytest.param(
        AlertState(failures=FailureStreak(2, CAPTURED, None, "Internal Server Error · HTTP 500"), version=1),
        id="unnotified-failures",
    ),
    pytest.param(
        AlertState(
            resources={"users": NotifiedLevel(Decimal(95), CAPTURED)},
            failures=FailureStreak(4, CAPTURED, datetime(2026, 11, 24, 9, 45, tzinfo=UTC), "denied · HTTP 403"),
            version=12,
        ),
        id="notified-failures",
    ),
    pytest.param(AlertState(version=5, refused_at=CAPTURED), id="refused"),
]


@pytest.mark.parametrize("pending", [None, PENDING], ids=["no-pending", "pending"])
@pytest.mark.parametrize("state", STATES)
def test_state_round_trips(state: AlertState, pending: OutgoingMessage | None) -> None:
    item = state_to_item(LIC, state, pending)

    assert state_from_item(item) == StoredState(state, pending)
    assert floats_in(item) == []


def test_state_item_key_is_its_own_partition() -> None:
    item = state_to_item(LIC, AlertState(), None)

    assert item["license_id"] == STATE_PREFIX + LIC == f"alert-state#{LIC}"
    assert item["captured_at"] == STATE_SORT_KEY == "state"
    assert item["record_type"] == "alert_state"
    assert item["license"] == LIC
    assert "pending" not in item


def test_state_item_shape() -> None:
    state = STATES[3].values[0]
    assert isinstance(state, AlertState)

    item = state_to_item(LIC, state, PENDING)

    assert item["version"] == 12
    assert item["resources"] == {"users": {"level": Decimal(95), "notified_at": "2026-11-24T09:15:00Z"}}
    assert isinstance(item["resources"]["users"]["level"], Decimal)
    assert item["failures"] == {
        "consecutive": 4,
        "since": "2026-11-24T09:15:00Z",
        "notified_at": "2026-11-24T09:45:00Z",
        "last_error": "denied · HTTP 403",
    }
    assert item["pending"] == {
        "subject": PENDING.subject,
        "message_json": PENDING.message_json,
        "attributes": dict(PENDING.attributes),
    }


def test_state_item_leaves_out_unset_failure_fields() -> None:
    item = state_to_item(LIC, AlertState(), None)

    assert item["failures"] == {"consecutive": 0}
    assert item["resources"] == {}


def test_state_from_item_as_dynamodb_returns_it() -> None:
    # The resource API hands numbers back as Decimal.
    item = {
        "license_id": f"alert-state#{LIC}",
        "captured_at": "state",
        "record_type": "alert_state",
        "license": LIC,
        "version": Decimal(5),
        "resources": {"users": {"level": Decimal("95"), "notified_at": "2026-11-24T09:15:00Z"}},
        "failures": {"consecutive": Decimal(2), "since": "2026-11-24T09:00:00Z"},
    }

    stored = state_from_item(item)

    assert stored.pending is None
    assert stored.state.version == 5
    assert isinstance(stored.state.version, int)
    assert stored.state.resources == {"users": NotifiedLevel(Decimal(95), CAPTURED)}
    assert stored.state.resources["users"].notified_at.tzinfo is not None
    assert stored.state.failures == FailureStreak(2, datetime(2026, 11, 24, 9, 0, tzinfo=UTC), None, None)
    assert isinstance(stored.state.failures.consecutive, int)


def test_state_from_a_sparse_item_is_the_empty_state() -> None:
    assert state_from_item({"license": LIC}) == StoredState(AlertState())
