"""The weekly digest through the real handler: moto DynamoDB and SNS, licenses checked by the simulator first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
import pytest

from local.aws import load_event
from local.simulator import usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses, scheduled_event
from usage_monitor.core.errors import ConfigError
from usage_monitor.storage.store import DynamoStore

BUSY = usage_of(users=(450, 500), departments=(1, 50), signatures=(10, 1000), certificates=(1, 100))
DIGEST_TIME = "2026-11-24T09:45:00Z"


def digest_event(**extra: Any) -> dict[str, Any]:
    return {**load_event("digest.json"), "time": DIGEST_TIME, **extra}


def test_digest_is_one_info_message_listing_every_license_fullest_first(harness: Harness) -> None:
    # Given two licenses checked once (one over the 80% threshold) and one whose token is rejected
    add_licenses(harness, {"lic-healthy": HEALTHY, "lic-busy": BUSY}, {"lic-broken": "tok-unknown-SECRET"})
    harness.simulator.add_license("lic-broken", "tok-the-right-one", HEALTHY)
    harness.invoke(time="2026-11-24T09:15:00Z")
    before = len(harness.alerts())

    # When the digest schedule fires
    summary = harness.invoke(digest_event())

    # Then exactly one message went out, as a digest for all licenses
    messages = harness.alerts()[before:]
    assert len(messages) == 1
    digest = messages[0]
    assert digest.attributes == {"event_type": "digest", "severity": "info", "license_id": "*"}
    assert summary["digest"] is True
    assert (summary["licenses"], summary["warning"], summary["failing"]) == (3, 1, 1)
    email = digest.email
    assert "3 licenses, 0 critical, 1 warning, 1 failing, 0 muted" in email
    assert email.index("1. lic-busy: WARNING, fullest 90.0%") < email.index("2. lic-healthy: OK")
    assert "3. lic-broken: NO FIGURES, check failing" in email
    assert "- users: 450/500 (90.0%)" in email
    assert "Open alerts: users raised at the 80% threshold (warning), last notified 24 Nov 09:15 UTC" in email
    assert len(digest.sms) <= 160
    assert digest.sms.startswith("Leegality digest: 3 lic, 0 crit, 1 warn, 1 failing, 0 muted. Fullest: lic-busy")
    # No token value ever reaches a message
    assert "SECRET" not in json.dumps([digest.email, digest.sms, digest.subject])
    # and the digest checked nothing: the simulator saw only the first run's three requests
    assert sum(len(harness.simulator.requests_for(i)) for i in ("lic-healthy", "lic-busy", "lic-broken")) == 3


def test_a_redelivered_digest_event_publishes_once(harness: Harness) -> None:
    add_licenses(harness, {"lic-a": HEALTHY})
    harness.invoke(time="2026-11-24T09:15:00Z")
    before = len(harness.alerts())

    first = harness.invoke(digest_event())
    again = harness.invoke(digest_event())

    assert first == again
    assert len(harness.alerts()) == before + 1


def test_manual_digest_of_named_licenses(harness: Harness) -> None:
    add_licenses(harness, {"lic-a": HEALTHY, "lic-b": BUSY})
    harness.invoke(time="2026-11-24T09:15:00Z")

    summary = harness.invoke({"action": "digest", "license_ids": ["lic-a"]})

    assert summary["licenses"] == 1
    assert "lic-b" not in harness.alerts()[-1].email


def test_digest_with_fan_out_is_sent_by_the_scheduled_function_not_dispatched(harness: Harness) -> None:
    add_licenses(harness, {"lic-a": HEALTHY})
    harness.invoke(time="2026-11-24T09:15:00Z")
    harness.configure(FANOUT_QUEUE_URL="https://sqs.ap-south-1.amazonaws.com/123456789012/not-used")
    before = len(harness.alerts())

    summary = harness.invoke(digest_event())

    assert summary["digest"] is True
    assert "dispatched" not in summary
    assert len(harness.alerts()) == before + 1


def test_digest_without_any_license_fails_with_a_run_alert(harness: Harness) -> None:
    harness.set_secret("a-bare-token-SECRET")

    with pytest.raises(ConfigError, match="no license to check"):
        harness.invoke(digest_event())

    alert = harness.alerts()[-1]
    assert alert.attributes["event_type"] == "check_failed"
    assert alert.attributes["license_id"] == "*"


def test_digest_reads_each_history_with_one_query(harness: Harness) -> None:
    # Given three licenses with stored snapshots
    add_licenses(harness, {"lic-a": HEALTHY, "lic-b": HEALTHY, "lic-c": BUSY})
    for minute in ("00", "15", "30"):
        harness.invoke(scheduled_event(f"2026-11-24T09:{minute}:00Z"))
    calls: list[str] = []
    original = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009

    def counted(self: Any, operation: str, params: Any) -> Any:
        calls.append(operation)
        return original(self, operation, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
        harness.invoke(digest_event())

    assert calls.count("Query") == 3
    assert calls.count("Publish") == 1
    assert calls.count("BatchGetItem") == 1


def _seed(harness: Harness, license_id: str, every: timedelta, days: int, at: datetime) -> int:
    from usage_monitor.core.models import CheckResult, Resource
    from usage_monitor.storage.store import snapshot_item

    steps = int(timedelta(days=days) / every)
    with harness.table.batch_writer() as batch:
        for step in range(steps, 0, -1):
            moment = at - every * step
            result = CheckResult(license_id, moment, (Resource("users", 1000 - step // 4, 2000),))
            batch.put_item(Item=snapshot_item(result, moment, 400))
    return steps


@pytest.fixture
def returned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many items each history read returned."""
    sizes: list[int] = []
    original = DynamoStore.history

    def spy(self: DynamoStore, license_id: str, since: datetime, only: Any = None) -> list[dict[str, Any]]:
        items = original(self, license_id, since, only)
        sizes.append(len(items))
        return items

    monkeypatch.setattr(DynamoStore, "history", spy)
    return sizes


def test_digest_parses_only_the_snapshots_of_its_hour_each_day(harness: Harness, returned: list[int]) -> None:
    # Given 14 days of 15-minute snapshots, as a deployment stores them
    add_licenses(harness, {"lic-dense": HEALTHY})
    at = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
    stored = _seed(harness, "lic-dense", timedelta(minutes=15), 14, at)
    # When the digest runs at 03:30 UTC
    harness.invoke(digest_event(time="2026-11-23T03:30:00Z"))

    # Then one Query returned the 03:xx snapshots of each day and the last two hours, not all of them
    assert stored == 1344
    assert returned == [4 * 14 + 6]
    email = harness.alerts()[-1].email
    # 24 a day (one an hour): the sampled points give the same change and rate as all of them would
    assert "- users: 1000/2000 (50.0%); +168, +8.4 pts in 7 days; limit in about 41 days (around 3 Jan 2027)" in email


def test_digest_reads_in_full_when_the_schedule_skips_its_hour(harness: Harness, returned: list[int]) -> None:
    # Given a license checked once a day at 10:00 UTC, and the digest at 03:30 UTC
    add_licenses(harness, {"lic-daily": HEALTHY})
    _seed(harness, "lic-daily", timedelta(days=1), 14, datetime(2026, 11, 22, 10, 0, tzinfo=UTC))
    harness.invoke(digest_event(time="2026-11-23T03:30:00Z"))

    # Then the sampled read found too few points and the history was read again in full
    assert returned == [0, 13]  # the 14 days before the digest hold 13 daily snapshots
    assert "lic-daily: OK" in harness.alerts()[-1].email


def test_the_digest_names_the_same_days_to_limit_as_the_alert_of_the_same_day(harness: Harness) -> None:
    # Issue 18 item 16: 100 signatures a day, the limit projected for 25 Nov 00:00. The alert goes out at
    # midnight, the digest that evening: both say 4 days, in the same words.
    add_licenses(harness, {"grow": usage_of(signatures=(500, 1000))})
    harness.configure(
        ALERT_THRESHOLDS="80,95", FORECAST_INTERVAL_HOURS="12", SCHEDULE_RATE="rate(12 hours)", FORECAST_ALERT_DAYS="14"
    )
    for time, current in (("2026-11-20T00:00:00Z", 500), ("2026-11-20T12:00:00Z", 550), ("2026-11-21T00:00:00Z", 600)):
        harness.simulator.licenses["grow"].usage = usage_of(signatures=(current, 1000))
        harness.invoke(time=time)

    harness.invoke({**load_event("digest.json"), "time": "2026-11-21T20:00:00Z"})

    alert, digest = harness.alerts()
    assert "the limit is reached in about 4 days (around 25 Nov)" in alert.email
    assert "limit in ~4 days" in alert.sms
    assert "- signatures: 600/1000 (60.0%); " in digest.email
    assert "; limit in about 4 days (around 25 Nov)" in digest.email
