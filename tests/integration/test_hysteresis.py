"""Hysteresis through the real handler: a count moving by one around a line alerts once, not every run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from local.simulator import usage_of
from tests.integration.conftest import Harness, add_licenses

START = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)


def run_times(count: int) -> list[str]:
    return [(START + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(count)]


def drive(harness: Harness, license_id: str, sequence: list[tuple[int, int]]) -> list[tuple[str, str]]:
    """One scheduled run per (current, limit) of `users`; returns (event_type, severity) of each alert sent."""
    for time, (current, limit) in zip(run_times(len(sequence)), sequence, strict=True):
        harness.simulator.licenses[license_id].usage = usage_of(users=(current, limit))
        harness.invoke(time=time)
    return [(a.attributes["event_type"], a.attributes["severity"]) for a in harness.alerts()]


def test_usage_alternating_around_a_threshold_alerts_once(harness: Harness) -> None:
    # Given the default margin of 5 points and a license whose users move by one around 80%
    add_licenses(harness, {"hover": usage_of(users=(800, 1000))})
    harness.configure(ALERT_THRESHOLDS="80,95")

    # When 20 runs alternate 800/1000 and 799/1000
    sent = drive(harness, "hover", [(800, 1000), (799, 1000)] * 10)

    # Then exactly one warning went out, and every run still stored its snapshot
    assert sent == [("threshold_crossed", "warning")]
    assert len(harness.snapshots("hover")) == 20


def test_usage_alternating_at_the_limit_sends_one_critical_alert(harness: Harness) -> None:
    add_licenses(harness, {"full": usage_of(users=(50, 50))})
    harness.configure(ALERT_THRESHOLDS="80,95")

    sent = drive(harness, "full", [(50, 50), (49, 50)] * 10)

    assert sent == [("threshold_crossed", "critical")]


def test_a_real_drop_recovers_once_and_a_new_crossing_alerts_again(harness: Harness) -> None:
    add_licenses(harness, {"lic": usage_of(users=(800, 1000))})
    harness.configure(ALERT_THRESHOLDS="80,95")

    sent = drive(harness, "lic", [(800, 1000), (799, 1000), (760, 1000), (600, 1000), (610, 1000), (805, 1000)])

    assert sent == [("threshold_crossed", "warning"), ("recovered", "warning"), ("threshold_crossed", "warning")]
    assert "users: 600/1000 (60.0%)" in harness.alerts()[1].email


def test_inside_the_band_the_stored_mark_does_not_move_and_escalation_is_immediate(harness: Harness) -> None:
    # 96% notifies the 95% level; 92% is inside its band (clears below 90%), so 96% again is silent;
    # 100% is a higher level and alerts at once.
    add_licenses(harness, {"lic": usage_of(users=(960, 1000))})
    harness.configure(ALERT_THRESHOLDS="80,95")

    sent = drive(harness, "lic", [(960, 1000), (920, 1000), (960, 1000), (1000, 1000)])

    assert sent == [("threshold_crossed", "warning"), ("threshold_crossed", "critical")]


def test_margin_zero_restores_one_message_per_crossing(harness: Harness) -> None:
    add_licenses(harness, {"hover": usage_of(users=(800, 1000))})
    harness.configure(ALERT_THRESHOLDS="80,95", ALERT_HYSTERESIS_POINTS="0")

    sent = drive(harness, "hover", [(800, 1000), (799, 1000)] * 2)

    assert sent == [
        ("threshold_crossed", "warning"),
        ("recovered", "warning"),
        ("threshold_crossed", "warning"),
        ("recovered", "warning"),
    ]


def test_overrides_use_the_same_margin(harness: Harness) -> None:
    add_licenses(harness, {"lic": usage_of(users=(500, 1000))})
    harness.configure(ALERT_THRESHOLDS="80,95", ALERT_THRESHOLD_OVERRIDES="users=50")

    sent = drive(harness, "lic", [(500, 1000), (460, 1000), (500, 1000), (440, 1000)])

    assert sent == [("threshold_crossed", "warning"), ("recovered", "warning")]
