"""One license's data can never take the run down: values AWS cannot hold, batches DynamoDB rejects.

Through the real handler (moto, the simulator on 127.0.0.1); the property-based fleet test is in
`test_fuzz_fleet.py`.
"""

from __future__ import annotations

from decimal import Decimal

from local.simulator import usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses

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
