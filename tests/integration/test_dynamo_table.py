"""The low-level DynamoDB adapter stores exactly what the resource layer stored, and reads it back the same."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.aws import REGION, provision
from usage_monitor.alerting.flapping import FlapState
from usage_monitor.alerting.forecast import Forecast, ForecastStatus
from usage_monitor.alerting.types import AlertState, FailureStreak, ForecastMark, NotifiedLevel
from usage_monitor.core.models import CheckError, CheckResult, FailureKind, Resource
from usage_monitor.messages.outgoing import OutgoingMessage
from usage_monitor.storage.dynamo import DynamoTable
from usage_monitor.storage.store import (
    STATE_PREFIX,
    STATE_SORT_KEY,
    DynamoStore,
    StateConflict,
    query_history,
    snapshot_item,
    state_to_item,
)

CAPTURED = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
OK = CheckResult(
    "lic-ok",
    CAPTURED,
    resources=(
        Resource("users", 850, 1000),
        Resource("departments", 2, 3),
        Resource("certificates", 3, 0, ("certificates: limit is 0, so no percentage",)),
    ),
    problems=("resource name 'status' is not usable as a field name; skipped",),
)
FAILED = CheckResult(
    "lic-failed", CAPTURED, error=CheckError(FailureKind.TOKEN_REJECTED, "HTTP 401", 401, "LE_401", "SS_303")
)
STATE = AlertState(
    resources={"users": NotifiedLevel(Decimal(80), CAPTURED)},
    failures=FailureStreak(2, CAPTURED, None, "HTTP 503", last_failed_at=CAPTURED + timedelta(minutes=15)),
    version=3,
    forecasts={"signatures": ForecastMark(Decimal("6.5"), CAPTURED, CAPTURED + timedelta(days=6, hours=12))},
    silences={"*": CAPTURED},
    flap=FlapState((CAPTURED,), subjects=("*check", "users")),
)
PENDING = OutgoingMessage(
    "[WARNING] lic", '{"default": "x"}', {"severity": "warning", "event_type": "threshold_crossed"}
)


@pytest.fixture
def tables() -> Any:
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        stack = provision(session, "{}")
        client = session.client("dynamodb")
        yield session.resource("dynamodb").Table(stack.table_name), DynamoTable(client, stack.table_name), client


def raw(client: Any, table: str, license_id: str, captured_at: str) -> dict[str, Any]:
    item: dict[str, Any] = client.get_item(
        TableName=table, Key={"license_id": {"S": license_id}, "captured_at": {"S": captured_at}}
    )["Item"]
    return item


@pytest.mark.parametrize(
    "item",
    [
        snapshot_item(OK, CAPTURED, 400, {"users": Forecast(ForecastStatus.RISING, Decimal("6.5"))}),
        snapshot_item(FAILED, CAPTURED, 400),
        state_to_item("lic-state", STATE, PENDING),
        state_to_item("lic-quiet", AlertState(), None),
    ],
    ids=["snapshot", "failed-snapshot", "alert-state", "empty-alert-state"],
)
def test_items_are_stored_attribute_for_attribute_as_the_resource_layer_stored_them(tables, item):
    resource_table, table, client = tables
    resource_table.put_item(Item={**item, "captured_at": "via-resource"})
    table.put_item({**item, "captured_at": "via-client"})

    stored_before = raw(client, table.name, item["license_id"], "via-resource")
    stored_now = raw(client, table.name, item["license_id"], "via-client")
    assert {**stored_now, "captured_at": None} == {**stored_before, "captured_at": None}
    assert table.get_item({"license_id": item["license_id"], "captured_at": "via-client"}) == {
        **resource_table.get_item(Key={"license_id": item["license_id"], "captured_at": "via-resource"})["Item"],
        "captured_at": "via-client",
    }


def test_batch_written_snapshots_match_single_puts_and_a_repeat_key_keeps_the_last(tables):
    resource_table, table, client = tables
    store = DynamoStore(table, retention_days=400)
    with store.snapshot_writer() as writer:
        writer.put(FAILED, CAPTURED)
        writer.put(OK, CAPTURED)
        writer.put(OK, CAPTURED)  # overwrite_by_pkeys: one BatchWriteItem entry, not a duplicate-key error
    resource_table.put_item(Item={**snapshot_item(OK, CAPTURED, 400), "license_id": "lic-ok-resource"})

    written = raw(client, table.name, "lic-ok", "2026-11-24T09:15:00Z")
    expected = raw(client, table.name, "lic-ok-resource", "2026-11-24T09:15:00Z")
    assert {**written, "license_id": None} == {**expected, "license_id": None}
    assert raw(client, table.name, "lic-failed", "2026-11-24T09:15:00Z")["status"] == {"S": "failed"}


def test_history_reads_every_page_from_the_given_time_on(tables):
    _, table, _ = tables
    for hour in range(7):
        moment = CAPTURED.replace(hour=hour)
        table.put_item(snapshot_item(CheckResult("lic-ok", moment, OK.resources), moment, 400))
    table.put_item(snapshot_item(OK, CAPTURED, 400) | {"license_id": "other"})

    items = query_history(table, "lic-ok", CAPTURED.replace(hour=2))
    assert [i["captured_at"] for i in items] == [f"2026-11-24T0{h}:15:00Z" for h in range(2, 7)]
    assert items[0]["users"] == {"current": Decimal(850), "limit": Decimal(1000), "percent": Decimal("85.0")}
    paged = table.query(KeyConditionExpression="license_id = :id", ExpressionAttributeValues={":id": "lic-ok"}, Limit=2)
    assert len(paged) == 7  # four pages of at most 2, all read


def test_alert_states_are_read_back_in_batches_and_a_conflict_is_refused(tables):
    _, table, _ = tables
    store = DynamoStore(table, retention_days=400)
    ids = [f"lic-{n:03d}" for n in range(150)]  # two BatchGetItem calls of at most 100 keys
    for license_id in ids[::2]:
        store.save_state(license_id, STATE, expected_version=0, pending=PENDING)

    states = store.load_states(ids)
    assert sorted(states) == ids[::2]
    assert states["lic-000"].state.version == 1
    assert states["lic-000"].state == replace(STATE, version=1)  # every mark, date and subject read back
    assert states["lic-000"].pending == PENDING
    assert table.get_item({"license_id": STATE_PREFIX + "lic-001", "captured_at": STATE_SORT_KEY}) is None
    with pytest.raises(StateConflict):
        store.save_state("lic-000", STATE, expected_version=0)
    store.confirm_published("lic-000", version=1)
    assert "pending" not in (
        table.get_item({"license_id": STATE_PREFIX + "lic-000", "captured_at": STATE_SORT_KEY}) or {}
    )
