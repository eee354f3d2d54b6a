"""Routine forecasts are spread over the runs of a day: each license once, the fleet evenly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from usage_monitor.fleet.monitor import forecast_slot
from usage_monitor.settings import parse_schedule_minutes

DAY = timedelta(hours=24)
START = datetime(2026, 11, 24, 0, 7, tzinfo=UTC)  # Scheduler runs need not start on the hour


def test_every_license_gets_exactly_one_slot_per_interval() -> None:
    licenses = [f"lic-{i}" for i in range(500)]
    runs = [START + timedelta(minutes=15 * n) for n in range(96)]

    turns = Counter(lic for run in runs for lic in licenses if forecast_slot(lic, run, DAY, 15))

    assert set(turns) == set(licenses)
    assert set(turns.values()) == {1}


def test_the_fleet_is_spread_evenly_over_the_runs() -> None:
    licenses = [f"bd82845c-{i:04d}" for i in range(9600)]
    runs = [START + timedelta(minutes=15 * n) for n in range(96)]

    per_run = [sum(forecast_slot(lic, run, DAY, 15) for lic in licenses) for run in runs]

    # 100 a run on average; a hash spreads them within a loose band, never in one clump.
    assert sum(per_run) == 9600
    assert max(per_run) < 160
    assert min(per_run) > 50


def test_a_schedule_slower_than_the_interval_forecasts_every_run() -> None:
    assert all(forecast_slot(f"lic-{i}", START, timedelta(hours=1), 120) for i in range(20))


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [
        ("rate(15 minutes)", 15),
        ("rate(1 minute)", 1),
        ("rate(2 hours)", 120),
        ("rate(1 day)", 1440),
        ("cron(0/15 * * * ? *)", 15),
        ("cron(0 9 * * ? *)", 1440),  # the template's example: daily
        ("cron(0,30 * * * ? *)", 30),
        ("cron(0 */6 * * ? *)", 360),
        ("cron(*/5 8-17 * * ? *)", 845),  # the longest gap, overnight
        ("cron(0 9 ? * MON *)", 1440),  # weekly: at least a day, so every run forecasts every license
        ("cron(0 9 * * ?)", 1440),  # year omitted
        ("cron(0 99 * * ? *)", 15),
        ("cron(L W * * ? *)", 15),
        ("", 15),
        ("rate(fast)", 15),
    ],
)
def test_schedule_minutes_come_from_the_rate_or_cron_expression(expression: str, minutes: int) -> None:
    assert parse_schedule_minutes(expression) == minutes
