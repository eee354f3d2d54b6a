"""An alert claimed by a run that died before publishing, through the real handler (moto, simulator).

The claimed item is written as the delivery transaction writes it, so these tests start where a run
stopped: between the claim and the publish.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from local.simulator import Reply, error_body
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from usage_monitor.alerts import AlertState
from usage_monitor.render import OutgoingMessage, iso
from usage_monitor.store import STATE_PREFIX, STATE_SORT_KEY, state_to_item

T1, T2 = "2026-11-24T09:15:00Z", "2026-11-24T09:30:00Z"
CLAIMED = OutgoingMessage(
    "[Leegality] lic: users at 90% (claimed earlier)",
    json.dumps({"default": "claimed earlier", "email": "claimed earlier", "sms": "claimed earlier"}),
    {"event_type": "threshold_crossed", "severity": "warning", "license_id": "lic"},
)


def leave_claimed_alert(harness: Harness, claimed_at: datetime) -> None:
    harness.table.put_item(Item=state_to_item("lic", AlertState(version=1), CLAIMED, iso(claimed_at)))


def stored_pending(harness: Harness) -> dict[str, Any] | None:
    item = harness.table.get_item(Key={"license_id": STATE_PREFIX + "lic", "captured_at": STATE_SORT_KEY})["Item"]
    pending: dict[str, Any] | None = item.get("pending")
    return pending


def test_a_pending_alert_survives_a_failure_streak_write_while_sns_is_down(harness: Harness) -> None:
    add_licenses(harness, {"lic": HEALTHY})
    harness.simulator.script("lic", *[Reply(500, error_body(500, "/x"))] * 5)
    leave_claimed_alert(harness, datetime.now(UTC) - timedelta(hours=1))
    real_topic = harness.stack.topic_arn
    harness.configure(ALERT_TOPIC_ARN=real_topic + "-deleted", HTTP_RETRY_BACKOFF_SECONDS="0.01")

    harness.invoke(time=T1)  # redelivery fails, then the failure streak is written

    pending = stored_pending(harness)
    assert pending is not None
    assert pending["subject"] == CLAIMED.subject
    assert "claimed_at" not in pending  # given back: the next run need not wait for the claim to expire
    harness.configure(ALERT_TOPIC_ARN=real_topic)
    second = harness.invoke(time=T2)
    assert second["alerts"] >= 1
    assert harness.alerts()[0].subject == CLAIMED.subject
    assert stored_pending(harness) is None


def test_a_pending_alert_another_run_is_publishing_is_not_sent_again(harness: Harness) -> None:
    add_licenses(harness, {"lic": HEALTHY})
    leave_claimed_alert(harness, datetime.now(UTC) - timedelta(seconds=5))  # run A: claimed, not yet published

    summary = harness.invoke(time=T1)  # run B overlaps it

    assert summary["alerts"] == 0
    assert harness.alerts() == []
    assert stored_pending(harness) is not None  # still A's to confirm


def test_a_pending_alert_whose_claim_outlived_any_run_is_sent_once(harness: Harness) -> None:
    add_licenses(harness, {"lic": HEALTHY})
    leave_claimed_alert(harness, datetime.now(UTC) - timedelta(minutes=16))

    harness.invoke(time=T1)
    harness.invoke(time=T2)

    assert [a.subject for a in harness.alerts()] == [CLAIMED.subject]
    assert stored_pending(harness) is None
