"""Mutes that expire, through the real handler: recorded but not sent, and no replay after unmuting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from local.simulator import usage_of
from tests.integration.conftest import Harness, add_licenses
from usage_monitor.storage.silences import list_mutes, mute, unmute

T1, T2, T3, T4 = "2026-11-24T09:15:00Z", "2026-11-24T09:30:00Z", "2026-11-24T09:45:00Z", "2026-11-24T10:00:00Z"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_muted_license_is_recorded_but_not_alerted_and_unmuting_does_not_replay(harness: Harness) -> None:
    add_licenses(harness, {"quiet": usage_of(users=(90, 100)), "loud": usage_of(users=(90, 100))})
    mute(harness.dynamo_table, "quiet", None, NOW + timedelta(days=7))

    harness.invoke(time=T1)

    assert [a.attributes["license_id"] for a in harness.alerts()] == ["loud"]
    assert harness.snapshot("quiet", T1)["users"]["percent"] == 90  # still recorded
    # Unmute: the crossing is already in the state, so nothing is replayed...
    assert unmute(harness.dynamo_table, "quiet", None) is True
    harness.invoke(time=T2)
    assert len(harness.alerts()) == 1
    # ...but a new crossing after unmuting is sent.
    harness.simulator.licenses["quiet"].usage = usage_of(users=(100, 100))
    harness.invoke(time=T3)
    assert [a.attributes["license_id"] for a in harness.alerts()] == ["loud", "quiet"]


def test_muting_one_resource_keeps_the_others(harness: Harness) -> None:
    add_licenses(harness, {"lic": usage_of(users=(90, 100), signatures=(95, 100))})
    mute(harness.dynamo_table, "lic", "users", NOW + timedelta(hours=1))

    harness.invoke(time=T1)

    (alert,) = harness.alerts()
    assert "signatures: 95/100" in alert.email
    assert "users" not in alert.email


def test_an_expired_mute_stops_applying_by_itself(harness: Harness) -> None:
    add_licenses(harness, {"lic": usage_of(users=(90, 100))})
    mute(harness.dynamo_table, "lic", None, datetime(2026, 11, 24, 9, 20, tzinfo=UTC))  # between T1 and T2

    harness.invoke(time=T1)
    assert harness.alerts() == []
    harness.simulator.licenses["lic"].usage = usage_of(users=(100, 100))
    harness.invoke(time=T2)

    (alert,) = harness.alerts()
    assert alert.attributes["severity"] == "critical"
    assert list_mutes(harness.dynamo_table, datetime(2026, 11, 24, 9, 25, tzinfo=UTC)) == []


def test_a_mute_written_during_a_run_is_not_overwritten(harness: Harness) -> None:
    add_licenses(harness, {"lic": usage_of(users=(90, 100))})
    harness.invoke(time=T1)  # state now exists (alert sent)
    mute(harness.dynamo_table, "lic", "signatures", NOW + timedelta(days=1))

    harness.simulator.licenses["lic"].usage = usage_of(users=(10, 100))
    harness.invoke(time=T4)  # recovery: the run rewrites the state item

    mutes = list_mutes(harness.dynamo_table, NOW)
    assert [(m.license_id, m.target) for m in mutes] == [("lic", "signatures")]
    assert [a.attributes["event_type"] for a in harness.alerts()] == ["threshold_crossed", "recovered"]


def test_unmute_of_nothing_says_so(harness: Harness) -> None:
    assert unmute(harness.dynamo_table, "never-muted", None) is False
