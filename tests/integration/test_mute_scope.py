"""A mute covers every message about what it mutes, flapping and settled notices included (issue 18 item 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from local.simulator import usage_of
from tests.integration.conftest import Harness, add_licenses
from usage_monitor.storage.silences import mute

START = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)


def drive(harness: Harness, license_id: str, usages: list[dict[str, tuple[int, int]]]) -> list[tuple[str, str]]:
    for index, usage in enumerate(usages):
        harness.simulator.licenses[license_id].usage = usage_of(**usage)
        harness.invoke(time=(START + timedelta(minutes=15 * index)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return [(a.attributes["event_type"], a.attributes["severity"]) for a in harness.alerts()]


def test_a_resource_mute_holds_the_flapping_and_settled_notices_about_it(harness: Harness) -> None:
    # Given users muted for two days, and users jumping 96% <-> 70% (enough to flap), then settling
    add_licenses(harness, {"jumpy": usage_of(users=(960, 1000))})
    harness.configure(ALERT_THRESHOLDS="80,95")
    mute(harness.dynamo_table, "jumpy", "users", START + timedelta(days=2))
    jumping = [{"users": (960, 1000)}, {"users": (700, 1000)}] * 5 + [{"users": (960, 1000)}] * 26

    # When the runs go by
    sent = drive(harness, "jumpy", jumping)

    # Then nothing about users reaches anyone: no crossing, no flapping notice, no settled message
    assert sent == []
    flap = harness.table.get_item(Key={"license_id": "alert-state#jumpy", "captured_at": "state"})["Item"]
    assert flap["resources"]["users"]["level"] == 95  # the state still followed every run


def test_a_flapping_notice_about_an_unmuted_resource_too_is_sent(harness: Harness) -> None:
    # Given users muted, but signatures jumping as well
    add_licenses(harness, {"jumpy": usage_of(users=(960, 1000), signatures=(10, 100))})
    harness.configure(ALERT_THRESHOLDS="80,95")
    mute(harness.dynamo_table, "jumpy", "users", START + timedelta(days=2))
    jumping = [
        {"users": (960, 1000), "signatures": (10, 100)},
        {"users": (700, 1000), "signatures": (10, 100)},
        {"users": (960, 1000), "signatures": (90, 100)},
        {"users": (700, 1000), "signatures": (10, 100)},
        {"users": (960, 1000), "signatures": (10, 100)},
        {"users": (700, 1000), "signatures": (10, 100)},
    ]

    sent = drive(harness, "jumpy", jumping)

    # Then the signatures notices and the flapping notice (it is about signatures too) go out
    # (critical: users, which it is also about, sits at the highest threshold)
    assert sent == [("threshold_crossed", "warning"), ("recovered", "warning"), ("flapping", "critical")]
