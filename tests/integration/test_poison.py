"""One license's data can never take the run down: values AWS cannot hold, batches DynamoDB rejects.

Through the real handler (moto, the simulator on 127.0.0.1); the property-based fleet test is in
`test_fuzz_fleet.py`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto.core.botocore_stubber import MockRawResponse

from local.simulator import usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from tests.integration.test_faults import wire_with_hooks

T1, T2, T3 = "2026-11-24T09:15:00Z", "2026-11-24T09:30:00Z", "2026-11-24T09:45:00Z"
HUGE = 10**38  # 39 digits: one more than a DynamoDB number holds


def test_a_39_digit_count_fails_that_license_alone_and_every_other_snapshot_is_stored(harness: Harness) -> None:
    # Given a fleet where one license reports a count DynamoDB cannot hold exactly
    add_licenses(
        harness,
        {
            "huge": {"users": {"current": HUGE, "limit": HUGE * 10}, "signatures": {"current": 1, "limit": 10}},
            "fine": HEALTHY,
            "busy": usage_of(signatures=(900, 1000)),
        },
    )

    # When the scheduled run happens
    summary = harness.invoke(time=T1)

    # Then the run returns a summary, the others are stored and evaluated, the odd one is a failed snapshot
    assert summary["checked"] == 3
    assert summary["failed"] == ["huge"]
    assert harness.snapshot("fine", T1)["status"] == "ok"
    assert harness.snapshot("busy", T1)["signatures"]["percent"] == Decimal("90.0")
    (alert,) = harness.alerts()
    assert alert.attributes["license_id"] == "busy"
    huge = harness.snapshot("huge", T1)
    assert huge["status"] == "failed"
    assert huge["error"]["kind"] == "invalid_value"
    assert "users.current" in huge["error"]["message"]
    assert "39 digits" in huge["error"]["message"]
    assert "users" not in huge  # never stored rounded


def _validation_error(request: Any) -> AWSResponse:
    body = json.dumps(
        {
            "__type": "com.amazon.coral.validation#ValidationException",
            "message": "One or more parameter values were invalid: a rule our checks do not know",
        }
    )
    return AWSResponse(request.url, 400, HTTPHeaders(), MockRawResponse(body.encode()))


def test_a_batch_rejected_as_a_whole_is_written_item_by_item_and_the_bad_item_reported(
    harness: Harness, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given DynamoDB refuses any request carrying license "bad"'s ok snapshot, for a reason we do not pre-check
    add_licenses(harness, {"bad": HEALTHY, "good-1": HEALTHY, "good-2": usage_of(users=(990, 1000))})
    calls = {"BatchWriteItem": 0, "PutItem": 0}

    def reject_bad(request: Any, **_: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        operation = "BatchWriteItem" if "RequestItems" in body else "PutItem"
        if '{"S": "bad"}' in body and '"status": {"S": "ok"}' in body:
            calls[operation] += 1
            return _validation_error(request)
        return None

    wire_with_hooks(
        harness,
        {"before-send.dynamodb.BatchWriteItem": reject_bad, "before-send.dynamodb.PutItem": reject_bad},
        first=True,
    )

    # When the run writes its batch of snapshots
    summary = harness.invoke(time=T1)

    # Then the good items land, the bad one is retried alone, identified, logged, reported and stored as failed
    assert calls == {"BatchWriteItem": 1, "PutItem": 1}
    assert harness.snapshot("good-1", T1)["status"] == "ok"
    assert harness.snapshot("good-2", T1)["users"]["percent"] == Decimal("99.0")
    assert summary["failed"] == ["bad"]
    bad = harness.snapshot("bad", T1)
    assert bad["status"] == "failed"
    assert bad["error"]["kind"] == "invalid_value"
    assert "a rule our checks do not know" in bad["error"]["message"]
    rejected = [r for r in caplog.records if r.getMessage() == "DynamoDB rejected a snapshot"]
    assert [getattr(r, "license_id", None) for r in rejected] == ["bad"]
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any("SnapshotsRejected" in json.dumps(e) for e in logged)


def test_an_unstorable_answer_alerts_like_any_failed_check_and_recovers(harness: Harness) -> None:
    # Given a license whose answer keeps carrying a 39-digit count
    add_licenses(harness, {"huge": {"users": {"current": HUGE + 7, "limit": HUGE * 10}}, "fine": HEALTHY})

    # When three runs see it (the failure-streak rule), then a fourth sees a good answer
    for at in (T1, T2, T3):
        harness.invoke(time=at)
    harness.simulator.licenses["huge"].usage = HEALTHY
    harness.invoke(time="2026-11-24T10:00:00Z")

    # Then one check_failed alert names the value, and one recovered notice follows
    failed, recovered = harness.alerts()
    assert failed.attributes == {"event_type": "check_failed", "severity": "critical", "license_id": "huge"}
    assert "users.current: 100000000000000000000000000000000000007 has 39 digits" in failed.email
    assert recovered.attributes["event_type"] == "recovered"
    assert all(harness.snapshot("fine", at)["status"] == "ok" for at in (T1, T2, T3))
