"""Forecasts and threshold overrides through the real handler, over runs spread across days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from local.simulator import usage_of
from tests.integration.conftest import Harness, add_licenses
from usage_monitor.fleet.monitor import forecast_slot

START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def at(hours: float) -> str:
    return (START + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_with_usage(harness: Harness, license_id: str, series: list[tuple[float, int]], limit: int = 1000) -> None:
    for hours, current in series:
        harness.simulator.licenses[license_id].usage = usage_of(signatures=(current, limit))
        harness.invoke(time=at(hours))


def test_steady_growth_raises_one_forecast_alert_before_any_threshold(harness: Harness) -> None:
    add_licenses(harness, {"grow": usage_of(signatures=(500, 1000))})
    harness.configure(
        ALERT_THRESHOLDS="80,95", FORECAST_INTERVAL_HOURS="12", SCHEDULE_RATE="rate(12 hours)", FORECAST_ALERT_DAYS="14"
    )

    # 100 signatures a day: 500, 550, 600 (3 points over a day), then 650.
    run_with_usage(harness, "grow", [(0, 500), (12, 550), (24, 600), (36, 650)])

    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "forecast", "severity": "warning", "license_id": "grow"}
    assert "signatures: 600/1000 (60.0%): below every threshold" in alert.email
    assert "the limit is reached in about 4 days (around 25 Nov)" in alert.email
    assert "limit in ~4 days" in alert.sms
    # The snapshot carries the forecast, so the history can be charted.
    assert harness.snapshot("grow", at(24))["signatures"]["days_to_limit"] == Decimal("4.0")
    assert harness.snapshot("grow", at(36))["signatures"]["days_to_limit"] == Decimal("3.5")
    assert "days_to_limit" not in harness.snapshot("grow", at(0))["signatures"]  # one point: no forecast


def test_threshold_alert_states_the_forecast_in_plain_words(harness: Harness) -> None:
    add_licenses(harness, {"grow": usage_of(signatures=(700, 1000))})
    harness.configure(ALERT_THRESHOLDS="80,95", FORECAST_ALERT_DAYS="0")  # forecast alerts off, text on

    run_with_usage(harness, "grow", [(0, 700), (12, 750), (24, 800)])

    (alert,) = harness.alerts()
    assert alert.attributes["event_type"] == "threshold_crossed"
    assert (
        "signatures: 800/1000 (80.0%): reached the 80% threshold (warning); at the current rate (about 100 a day) "
        "the limit is reached in about 2 days (around 23 Nov)" in alert.email
    )


def test_flat_usage_is_said_to_be_flat_and_too_little_history_is_named(harness: Harness) -> None:
    add_licenses(harness, {"flat": usage_of(signatures=(900, 1000)), "new": usage_of(signatures=(900, 1000))})
    harness.configure(ALERT_THRESHOLDS="95", FORECAST_INTERVAL_HOURS="12", SCHEDULE_RATE="rate(12 hours)")
    for hours in (0, 12, 24):
        harness.simulator.licenses["flat"].usage = usage_of(signatures=(900, 1000))
        harness.invoke(time=at(hours))
    assert harness.alerts() == []

    harness.simulator.licenses["flat"].usage = usage_of(signatures=(960, 1000))
    harness.invoke(time=at(36))
    harness.simulator.add_license("fresh", "tok-fresh-SECRET", usage_of(signatures=(990, 1000)))
    harness.set_secret({"flat": "tok-flat-SECRET", "new": "tok-new-SECRET", "fresh": "tok-fresh-SECRET"})
    harness.invoke(time=at(48))

    by_license = {a.attributes["license_id"]: a for a in harness.alerts()}
    assert "the limit is reached in" in by_license["flat"].email  # 900 → 960 is growth
    assert "not enough history for a forecast yet (1 point since the last reset; 3 needed)" in by_license["fresh"].email


def test_threshold_overrides_per_resource_and_per_license(harness: Harness) -> None:
    add_licenses(
        harness,
        {
            "lic-a": usage_of(signatures=(600, 1000), users=(90, 100)),
            "lic-b": usage_of(signatures=(10, 1000), users=(90, 100)),
        },
    )
    harness.configure(ALERT_THRESHOLDS="80", ALERT_THRESHOLD_OVERRIDES="signatures=50,90; lic-b/users=95")

    harness.invoke(time=at(0))

    alerts = {a.attributes["license_id"]: a for a in harness.alerts()}
    assert set(alerts) == {"lic-a"}  # lic-b's users (90%) sit below its own 95%
    assert "signatures: 600/1000 (60.0%): reached the 50% threshold" in alerts["lic-a"].email
    assert "users: 90/100 (90.0%): reached the 80% threshold" in alerts["lic-a"].email
    assert "Thresholds: 80%; signatures: 50%, 90%" in alerts["lic-a"].email


def test_a_forecast_alert_is_not_repeated_while_the_projected_date_stays_put(harness: Harness) -> None:
    # Issue 19 item 8: growth of 30 a day, the limit always projected for 28 Nov. The day count shrinks by
    # itself as the days pass; the date does not move, so there is nothing new to say.
    add_licenses(harness, {"steady": usage_of(signatures=(580, 1000))})
    harness.configure(
        ALERT_THRESHOLDS="80,95", FORECAST_INTERVAL_HOURS="12", SCHEDULE_RATE="rate(12 hours)", FORECAST_ALERT_DAYS="14"
    )
    base = datetime(2026, 11, 14, tzinfo=UTC)
    for run in range(11):  # every 12 hours for 5 days: 580 → 730 (73 %, below every threshold)
        harness.simulator.licenses["steady"].usage = usage_of(signatures=(580 + 15 * run, 1000))
        harness.invoke(time=(base + timedelta(hours=12 * run)).strftime("%Y-%m-%dT%H:%M:%SZ"))

    (alert,) = harness.alerts()
    assert alert.attributes["event_type"] == "forecast"
    assert "(around 28 Nov)" in alert.email
    state = harness.table.get_item(Key={"license_id": "alert-state#steady", "captured_at": "state"})["Item"]
    assert state["forecasts"]["signatures"]["limit_at"] == "2026-11-28T00:00:00Z"


def test_a_forecast_alert_sns_refused_goes_out_at_the_next_run_not_at_the_next_routine_forecast(
    harness: Harness,
) -> None:
    # Hourly runs, a routine forecast once a day: without the fix the refused alert waited 23 hours.
    settings = {
        "ALERT_THRESHOLDS": "80,95",
        "SCHEDULE_RATE": "rate(1 hour)",
        "FORECAST_INTERVAL_HOURS": "24",
        "FORECAST_ALERT_DAYS": "14",
    }
    add_licenses(harness, {"grow": usage_of(signatures=(500, 1000))})
    harness.configure(**settings)
    real_topic = harness.stack.topic_arn
    daily = timedelta(hours=24)
    refused_at = None
    for hour in range(72):
        moment = START + timedelta(hours=hour)
        # 100 signatures a day, from 500: the limit is 5 days out, inside the 14-day horizon from day one.
        harness.simulator.licenses["grow"].usage = usage_of(signatures=(500 + 100 * hour // 24, 1000))
        down = refused_at is None and forecast_slot("grow", moment, daily, 60)
        harness.configure(**settings, ALERT_TOPIC_ARN=real_topic + "-deleted" if down else real_topic)
        harness.invoke(time=at(hour))
        # The first forecast with a date decides the alert (5 days out), which SNS refuses.
        if down and "days_to_limit" in harness.snapshot("grow", at(hour))["signatures"]:
            assert harness.alerts() == []
            refused_at = hour
        if refused_at is not None and hour == refused_at + 1:
            break
    assert refused_at is not None
    sent = harness.alerts()
    assert [a.attributes["event_type"] for a in sent] == ["forecast"]
    assert sent[0].attributes["license_id"] == "grow"
    # Sent by the next run, with that run's figures.
    assert f"signatures: {500 + 100 * (refused_at + 1) // 24}/1000" in sent[0].email
