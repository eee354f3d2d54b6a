"""Mutes that expire, stored in each license's alert-state item (read by every run at no extra cost).

A mute is `silences[<resource or "*">] = <until, ISO-8601 UTC>`. Every write bumps `version`, so a run
that read the state before the mute loses its conditional write and leaves that license to the next run
instead of overwriting the mute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from usage_monitor.alerting.rules import WHOLE_LICENSE
from usage_monitor.messages.figures import iso
from usage_monitor.storage.store import STATE_PREFIX, STATE_SORT_KEY, parse_iso

if TYPE_CHECKING:
    from usage_monitor.storage.dynamo import DynamoTable


@dataclass(frozen=True)
class Mute:
    license_id: str
    target: str  # a resource name, or "*" for every resource and check of the license
    until: datetime


def _key(license_id: str) -> dict[str, str]:
    return {"license_id": STATE_PREFIX + license_id, "captured_at": STATE_SORT_KEY}


def mute(table: DynamoTable, license_id: str, target: str | None, until: datetime) -> Mute:
    target = target or WHOLE_LICENSE
    # Two updates: DynamoDB cannot create the `silences` map and set a key inside it in one expression.
    table.update_item(
        _key(license_id),
        UpdateExpression=(
            "SET silences = if_not_exists(silences, :empty), #license = :license, "
            "record_type = if_not_exists(record_type, :record_type)"
        ),
        ExpressionAttributeNames={"#license": "license"},
        ExpressionAttributeValues={":empty": {}, ":license": license_id, ":record_type": "alert_state"},
    )
    table.update_item(
        _key(license_id),
        UpdateExpression="SET silences.#target = :until, version = if_not_exists(version, :zero) + :one",
        ExpressionAttributeNames={"#target": target},
        ExpressionAttributeValues={":until": iso(until), ":zero": 0, ":one": 1},
    )
    return Mute(license_id, target, until)


def unmute(table: DynamoTable, license_id: str, target: str | None) -> bool:
    """Returns whether a mute was there to remove."""
    from botocore.exceptions import ClientError

    try:
        table.update_item(
            _key(license_id),
            UpdateExpression="REMOVE silences.#target SET version = version + :one",
            ConditionExpression="attribute_exists(silences.#target)",
            ExpressionAttributeNames={"#target": target or WHOLE_LICENSE},
            ExpressionAttributeValues={":one": 1},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def list_mutes(table: DynamoTable, now: datetime) -> list[Mute]:
    """Mutes still in force, soonest to expire first (a Scan: for people, not for the scheduled run)."""
    mutes: list[Mute] = []
    items = table.scan(
        FilterExpression="record_type = :alert_state AND attribute_exists(silences)",
        ExpressionAttributeValues={":alert_state": "alert_state"},
    )
    for item in items:
        for target, until in (item.get("silences") or {}).items():
            moment = parse_iso(str(until))
            if moment > now:
                mutes.append(Mute(str(item["license"]), str(target), moment))
    return sorted(mutes, key=lambda m: (m.until, m.license_id, m.target))
