"""The weekly digest through the real handler: moto DynamoDB and SNS, licenses checked by the simulator first."""

from __future__ import annotations

import json
from typing import Any

import botocore.client
import pytest

from local.aws import load_event
from local.simulator import usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses, scheduled_event
from usage_monitor.errors import ConfigError

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
    assert "Open alerts: users at the 80% threshold (warning)" in email
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
