"""The run's safety margin scales with its budget (issue 18 item 15)."""

from __future__ import annotations

from tests.integration.conftest import HEALTHY, Harness, add_licenses
from usage_monitor.fleet.run_config import deadline_margin

T1 = "2026-11-24T09:15:00Z"


def test_an_invocation_with_less_than_the_margin_left_still_checks_what_it_can(harness: Harness) -> None:
    # Given the default 20 s margin and an invocation with 8 s left (an SQS batch or a short Timeout)
    add_licenses(harness, {"a": HEALTHY, "b": HEALTHY, "c": HEALTHY})

    summary = harness.invoke(time=T1, timeout_seconds=8.0)

    # Then the margin is a quarter of the time (2 s), and the licenses are checked, not all "unchecked"
    assert "unchecked" not in summary
    assert summary["failed"] == []
    assert [harness.snapshot(license_id, T1)["status"] for license_id in "abc"] == ["ok"] * 3
    assert harness.alerts() == []


def test_the_margin_is_the_configured_one_or_a_quarter_of_the_time_left() -> None:
    assert deadline_margin(20.0, 600.0) == 20.0
    assert deadline_margin(20.0, 8.0) == 2.0
    assert deadline_margin(20.0, -1.0) == 0.0
    assert deadline_margin(20.0, None) == 20.0
