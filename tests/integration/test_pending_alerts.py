"""An alert claimed by a run that died before publishing, through the real handler (moto, simulator).

The claimed item is written as the delivery transaction writes it, so these tests start where a run
stopped: between the claim and the publish.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.simulator import Reply, error_body, usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from usage_monitor import app
from usage_monitor.alerting.types import AlertState
from usage_monitor.messages.figures import iso
from usage_monitor.messages.outgoing import OutgoingMessage
from usage_monitor.settings import Settings
from usage_monitor.storage.store import STATE_PREFIX, STATE_SORT_KEY, state_to_item
from usage_monitor.wiring import wire

T1, T2, T3 = "2026-11-24T09:15:00Z", "2026-11-24T09:30:00Z", "2026-11-24T09:45:00Z"
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


# --- The same faults produced by runs of the handler, not by a hand-written item --------------------


class FunctionKilled(BaseException):
    """Lambda stopping the function (timeout, out of memory) right after the claim: nothing catches it."""


class Sns:
    """What SNS does with the next Publish calls: `up`, `down` (an AWS error) or `kill` the function."""

    def __init__(self, harness: Harness) -> None:
        self.mode = "up"
        self.on_publish: Callable[[], None] | None = None
        harness.session.events.register("before-call.sns.Publish", self._hook)
        app._wired = wire(Settings.from_env(os.environ), harness.session)

    def _hook(self, **_: Any) -> None:
        if self.mode == "kill":
            raise FunctionKilled
        if self.mode == "down":
            raise ClientError({"Error": {"Code": "InternalError", "Message": "SNS is down"}}, "Publish")
        if self.on_publish is not None:
            during, self.on_publish = self.on_publish, None
            during()


def age_the_claim(harness: Harness) -> None:
    """Time passes: the killed run's claim is older than any run can last."""
    harness.table.update_item(
        Key={"license_id": STATE_PREFIX + "lic", "captured_at": STATE_SORT_KEY},
        UpdateExpression="SET pending.claimed_at = :old",
        ExpressionAttributeValues={":old": iso(datetime.now(UTC) - timedelta(hours=1))},
    )


def kill_a_run_after_its_claim(harness: Harness, sns: Sns) -> None:
    sns.mode = "kill"
    with pytest.raises(FunctionKilled):
        harness.invoke(time=T1)
    assert stored_pending(harness) is not None
    age_the_claim(harness)


# The killed run never flushes its metrics; Powertools warns about that.
@pytest.mark.filterwarnings("ignore:No application metrics")
def test_a_killed_runs_alert_survives_a_failed_redelivery_and_a_failure_streak(harness: Harness) -> None:
    # Given a run killed after claiming the 90% alert, and a next run that finds SNS down and Leegality failing
    add_licenses(harness, {"lic": usage_of(users=(900, 1000))})
    sns = Sns(harness)
    kill_a_run_after_its_claim(harness, sns)
    harness.simulator.script("lic", *[Reply(500, error_body(500, "/x"))] * 5)
    sns.mode = "down"
    harness.invoke(time=T2)
    # When SNS is back
    sns.mode = "up"
    harness.invoke(time=T3)
    # Then the claimed alert is sent, once, before anything else
    claimed = [i for i, a in enumerate(harness.alerts()) if "users: 900/1000 (90.0%)" in a.email]
    assert claimed == [0]
    assert stored_pending(harness) is None


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_a_killed_runs_alert_survives_a_new_alert_rolled_back_in_the_same_run(harness: Harness) -> None:
    # Given a run killed after claiming the 90% alert, then usage crossing 95% while SNS is down
    add_licenses(harness, {"lic": usage_of(users=(900, 1000))})
    sns = Sns(harness)
    kill_a_run_after_its_claim(harness, sns)
    harness.simulator.licenses["lic"].usage = usage_of(users=(990, 1000))
    sns.mode = "down"
    harness.invoke(time=T2)
    # When SNS is back
    sns.mode = "up"
    harness.invoke(time=T3)
    # Then both alerts go out, the older first
    emails = [a.email for a in harness.alerts()]
    assert len(emails) == 2
    assert "users: 900/1000 (90.0%)" in emails[0]
    assert "users: 990/1000 (99.0%)" in emails[1]


def test_a_run_overlapping_another_between_claim_and_publish_does_not_send_its_alert_again(
    harness: Harness,
) -> None:
    # Given run A claimed the 90% alert, and run B starts (and finishes) while A is about to publish it
    add_licenses(harness, {"lic": usage_of(users=(900, 1000))})
    sns = Sns(harness)
    overlapping: list[dict[str, Any]] = []
    sns.on_publish = lambda: overlapping.append(harness.invoke(time=T2))
    # When A publishes
    first = harness.invoke(time=T1)
    # Then the alert went out once: B left the license to A
    assert overlapping[0]["alerts"] == 0
    assert first["alerts"] == 1
    assert len(harness.alerts()) == 1
    assert stored_pending(harness) is None
