"""The plain-text usage table: rows read back from snapshots, bars, and level labels."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from usage_monitor.alerting.types import AlertPolicy
from usage_monitor.core.models import CheckError, CheckResult, FailureKind, Resource
from usage_monitor.reports.history import BAR_WIDTH, UsageRow, bar, level_label, row_from_snapshot, usage_table
from usage_monitor.storage.store import snapshot_item

LIC = "bd82845c-897b-4022-b5f7-679905c1979b"
AT = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
POLICY = AlertPolicy(thresholds=(Decimal(80), Decimal(95)))


def as_dynamodb_returns(item: dict[str, Any]) -> dict[str, Any]:
    """Numbers come back from DynamoDB as Decimal, lists as lists."""

    def convert(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | dict | list):
            return value
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return [convert(v) for v in value]

    converted: dict[str, Any] = convert(item)
    return converted


def test_row_from_a_successful_snapshot() -> None:
    result = CheckResult(
        LIC,
        AT,
        resources=(Resource("users", 850, 1000), Resource("signatures", None, 1000, ("signatures.current: missing",))),
        problems=("resource name 'status' is not usable as a field name; skipped",),
    )
    item = as_dynamodb_returns(snapshot_item(result, AT, 400))

    row = row_from_snapshot(item)

    # Snapshot bookkeeping fields (status, error, problems, ...) are not resources.
    assert row == UsageRow(LIC, result.resources, None)
    assert all(isinstance(r.current, int | None) for r in row.resources)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            CheckError(FailureKind.HTTP_ERROR, "Internal Server Error", 500, "LE_ERR_SS_500"),
            "Internal Server Error · HTTP 500 · LE_ERR_SS_500",
        ),
        (
            CheckError(FailureKind.TOKEN_REJECTED, "Invalid or expired token", 401, "LE_ERR_SS_401", "LE_ERR_SS_303"),
            "Invalid or expired token · HTTP 401 · LE_ERR_SS_401/LE_ERR_SS_303",
        ),
        (CheckError(FailureKind.UNREACHABLE, "connection reset"), "connection reset"),
    ],
)
def test_failed_snapshot_shows_check_failed_with_the_message(error: CheckError, message: str) -> None:
    item = as_dynamodb_returns(snapshot_item(CheckResult(LIC, AT, error=error), AT, 400))

    row = row_from_snapshot(item)
    table = usage_table([row], POLICY)

    assert row == UsageRow(LIC, (), message)
    assert f"{LIC:<38} CHECK FAILED: {message}" in table.splitlines()
    # The failed row says so; it does not pretend there is usage to show.
    assert "(no resources reported)" not in table


@pytest.mark.parametrize(
    ("resource", "label"),
    [
        (Resource("users", 0, 1000), "ok"),
        (Resource("users", 799, 1000), "ok"),
        (Resource("users", 800, 1000), ">= 80% (warning)"),
        (Resource("users", 960, 1000), ">= 95% (critical)"),  # the highest threshold is critical
        (Resource("users", 1000, 1000), "LIMIT REACHED (critical)"),
        (Resource("users", 1200, 1000), "LIMIT REACHED (critical)"),
        (Resource("users", None, 1000), "not evaluated"),
        (Resource("users", None, 1000, ("users.current: missing",)), "not evaluated: users.current: missing"),
        (
            Resource("users", 5, 0, ("users.limit: negative (-1)", "users: limit is 0, so no percentage")),
            "not evaluated: users.limit: negative (-1); users: limit is 0, so no percentage",
        ),
    ],
)
def test_level_label(resource: Resource, label: str) -> None:
    assert level_label(resource, POLICY) == label


@pytest.mark.parametrize(
    ("current", "label"),
    [(1000, "LIMIT REACHED (critical)"), (1200, ">= 120% (critical)"), (1250, ">= 120% (critical)")],
)
def test_level_label_with_a_threshold_over_100(current: int, label: str) -> None:
    policy = AlertPolicy(thresholds=(Decimal(80), Decimal(120)))

    assert level_label(Resource("users", current, 1000), policy) == label


def test_level_label_for_a_fractional_threshold() -> None:
    policy = AlertPolicy(thresholds=(Decimal("97.5"),), critical_at_limit_only=True)

    assert level_label(Resource("users", 975, 1000), policy) == ">= 97.5% (warning)"


@pytest.mark.parametrize(
    ("resource", "filled"),
    [
        (Resource("users", 0, 1000), 0),
        (Resource("users", 500, 1000), 10),
        (Resource("users", 999, 1000), 19),
        (Resource("users", 1000, 1000), 20),
        (Resource("users", 5000, 1000), 20),  # capped
    ],
)
def test_bar(resource: Resource, filled: int) -> None:
    text = bar(resource)

    assert len(text) == BAR_WIDTH
    assert text == "█" * filled + "·" * (BAR_WIDTH - filled)


def test_bar_is_blank_without_a_percent() -> None:
    assert bar(Resource("users", None, 1000)) == " " * BAR_WIDTH


def test_usage_table_layout() -> None:
    rows = [
        UsageRow(LIC, (Resource("users", 850, 1000), Resource("signatures", None, 1000))),
        UsageRow("lic-empty", ()),
        UsageRow("lic-failed", (), "Internal Server Error · HTTP 500"),
    ]

    lines = usage_table(rows, POLICY).splitlines()

    assert lines[0].startswith("LICENSE")
    assert lines[0].endswith("LEVEL")
    assert len(lines) == 5
    users, signatures, empty, failed = lines[1:]
    assert users.startswith(LIC)
    assert "850/1000" in users
    assert "85.0%" in users
    assert users.endswith(">= 80% (warning)")
    # The license ID is printed once per license, not on every resource line.
    assert signatures.startswith(" " * 38 + " signatures")
    assert "?/1000" in signatures
    assert "n/a" in signatures
    assert signatures.endswith("not evaluated")
    assert empty == f"{'lic-empty':<38} (no resources reported)"
    assert failed == f"{'lic-failed':<38} CHECK FAILED: Internal Server Error · HTTP 500"


def test_usage_table_of_no_rows_is_the_header() -> None:
    table = usage_table([], POLICY)

    assert "\n" not in table
    assert table.startswith("LICENSE ")
