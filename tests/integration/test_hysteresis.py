"""Hysteresis through the real handler: a count moving by one around a line alerts once, not every run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from local.simulator import Reply, usage_of
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

    assert sent == [("threshold_crossed", "critical"), ("threshold_crossed", "critical")]  # 95 % is the highest


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

    assert sent == [("threshold_crossed", "critical"), ("recovered", "warning")]  # 50 % is users' only threshold


def test_a_resource_jumping_across_the_band_flaps_once_then_settles_once(harness: Harness) -> None:
    # Given the defaults: 4 changes in 6 hours start a hold
    add_licenses(harness, {"jumpy": usage_of(users=(960, 1000))})
    harness.configure(ALERT_THRESHOLDS="80,95")

    # When users jump 96% <-> 70% for 10 runs, then stay at 96% for 6.5 hours (26 runs)
    sent = drive(harness, "jumpy", [(960, 1000), (700, 1000)] * 5 + [(960, 1000)] * 26)

    # Then four ordinary notices, one flapping notice, silence, and one message saying where it settled
    # (critical: 95 % is the highest threshold)
    assert sent == [
        ("threshold_crossed", "critical"),
        ("recovered", "warning"),
        ("threshold_crossed", "critical"),
        ("recovered", "warning"),
        ("flapping", "critical"),
        ("flapping", "critical"),
    ]
    start, settled = harness.alerts()[4:]
    assert "Flapping: the alert state changed 5 times since 2026-11-24T09:15:00Z" in start.email
    assert "between: all below thresholds; users >= 95%." in start.email
    assert "held until it has been stable for 6 hours" in start.email
    assert "flapping between all below thresholds / users >= 95%" in start.subject
    assert "It settled at: users >= 95%." in settled.email
    assert "settled after flapping: users >= 95%" in settled.subject
    assert "notices held" in start.sms
    assert len(start.sms) <= 160
    # And the snapshots recorded every run
    assert len(harness.snapshots("jumpy")) == 36


def test_a_check_failing_every_other_run_is_damped_the_same_way(harness: Harness) -> None:
    add_licenses(harness, {"lic": usage_of(users=(100, 1000))})
    forbidden = {
        "code": "LE_ERR_SS_403",
        "errors": [{"message": "Access denied for the requested operation.", "path": None, "code": "LE_ERR_SS_007"}],
    }
    for time in run_times(12):
        failing = time[14:16] in ("15", "45")  # every other 15-minute run
        if failing:
            harness.simulator.script("lic", Reply(403, forbidden))
        harness.invoke(time=time)

    sent = [(a.attributes["event_type"], a.attributes["severity"]) for a in harness.alerts()]
    assert sent == [
        ("check_failed", "critical"),
        ("recovered", "warning"),
        ("check_failed", "critical"),
        ("recovered", "warning"),
        ("flapping", "critical"),
    ]
    assert "check failing" in harness.alerts()[-1].email


def test_flap_damping_off_sends_every_change(harness: Harness) -> None:
    add_licenses(harness, {"jumpy": usage_of(users=(960, 1000))})
    harness.configure(ALERT_THRESHOLDS="80,95", ALERT_FLAP_CHANGES="0")

    sent = drive(harness, "jumpy", [(960, 1000), (700, 1000)] * 4)

    assert [event for event, _ in sent] == ["threshold_crossed", "recovered"] * 4
