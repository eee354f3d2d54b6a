"""NoRunsAlarm and ChecksFailedAlarm, sized from ScheduleRate, evaluated as CloudWatch would (issue 19 items 1, 15).

Each alarm's Period, EvaluationPeriods and DatapointsToAlarm are read from the transformed template for a
schedule, then CloudWatch's evaluation is replayed over weeks of that schedule's runs: a healthy schedule
never alarms, a stopped one (or one whose every run fails checks) does, within a bound. The windows of
rate() schedules are checked against `core.schedule.interval_minutes`, the rule the code itself uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.template.intrinsics import parameter_values, resolve
from usage_monitor.core.schedule import interval_minutes

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
HORIZON = timedelta(days=21)
DAY = 86400


@dataclass(frozen=True)
class Sizing:
    period: int
    evaluation_periods: int
    datapoints: int
    statistic: str
    missing_breaches: bool

    @property
    def window(self) -> int:
        return self.period * self.evaluation_periods


def _sizing(transformed: dict[str, Any], sam_template: dict[str, Any], alarm: str, **overrides: str) -> Sizing:
    parameters = parameter_values(sam_template, overrides)
    properties = resolve(transformed["Resources"][alarm]["Properties"], transformed, parameters)
    return Sizing(
        int(properties["Period"]),
        int(properties["EvaluationPeriods"]),
        # CloudWatch's default: every evaluation period must breach.
        int(properties.get("DatapointsToAlarm", properties["EvaluationPeriods"])),
        properties["Statistic"],
        properties["TreatMissingData"] == "breaching",
    )


def _every(minutes: int) -> Callable[[], Iterator[datetime]]:
    def runs() -> Iterator[datetime]:
        # Scheduler's first run lands off the hour; a few seconds of delivery jitter on each.
        time = START + timedelta(minutes=7, seconds=13)
        n = 0
        while time < START + HORIZON:
            yield time + timedelta(seconds=(n * 37) % 50)
            time += timedelta(minutes=minutes)
            n += 1

    return runs


def _daily_at(hour: int, weekdays: frozenset[int] = frozenset(range(7))) -> Callable[[], Iterator[datetime]]:
    def runs() -> Iterator[datetime]:
        day = START
        while day < START + HORIZON:
            if day.weekday() in weekdays:
                yield day + timedelta(hours=hour, seconds=20)
            day += timedelta(days=1)

    return runs


RATES = [
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(15 minutes)",
    "rate(30 minutes)",
    "rate(90 minutes)",
    "rate(120 minutes)",
    "rate(180 minutes)",
    "rate(1 hour)",
    "rate(2 hours)",
    "rate(24 hours)",
    "rate(1 day)",
    "rate(2 days)",
    "rate(7 days)",
]
SCHEDULES: dict[str, Callable[[], Iterator[datetime]]] = {
    **{rate: _every(interval_minutes(rate)) for rate in RATES},
    "cron(0 9 * * ? *)": _daily_at(9),  # the template's own example
    "cron(0/15 * * * ? *)": _every(15),
    "cron(0 * * * ? *)": _every(60),
    "cron(0 9 ? * MON-FRI *)": _daily_at(9, frozenset(range(5))),
    "cron(30 3 ? * MON *)": _daily_at(3, frozenset({0})),
}

WEEKLY = {"rate(7 days)", "cron(30 3 ? * MON *)"}


def _breaching(sizing: Sizing, runs: list[tuple[datetime, float]], kind: str) -> list[bool]:
    """Per period since START: whether it breaches, missing data as the alarm treats it."""
    values: dict[int, list[float]] = {}
    for time, value in runs:
        values.setdefault(int(time.timestamp()) // sizing.period, []).append(value)
    first = int(START.timestamp()) // sizing.period
    last = int((START + HORIZON).timestamp()) // sizing.period
    breaching = []
    for bucket in range(first, last):
        points = values.get(bucket)
        if points is None:
            breaching.append(sizing.missing_breaches)
        elif kind == "invocations":  # Sum < 1
            breaching.append(sum(points) < 1)
        else:  # ChecksFailed >= 1
            breaching.append((min(points) if sizing.statistic == "Minimum" else sum(points)) >= 1)
    return breaching


def _alarm_times(sizing: Sizing, breaching: list[bool], settle: int) -> list[int]:
    """Period indexes (from START) at whose end the alarm is in ALARM, ignoring the first `settle` periods."""
    alarms = []
    for end in range(max(sizing.evaluation_periods, settle), len(breaching) + 1):
        window = breaching[end - sizing.evaluation_periods : end]
        if sum(window) >= sizing.datapoints:
            alarms.append(end)
    return alarms


def _within_cloudwatch_limits(sizing: Sizing) -> None:
    assert sizing.period in (10, 20, 30) or sizing.period % 60 == 0
    assert 1 <= sizing.datapoints <= sizing.evaluation_periods
    # Periods under an hour may look back a day; longer ones seven days.
    assert sizing.window <= (DAY if sizing.period < 3600 else 7 * DAY)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_no_runs_alarm_stays_ok_while_the_schedule_runs_and_fires_when_it_stops(
    transformed: dict[str, Any], sam_template: dict[str, Any], schedule: str
) -> None:
    sizing = _sizing(transformed, sam_template, "NoRunsAlarm", ScheduleRate=schedule)
    _within_cloudwatch_limits(sizing)
    runs = [(time, 1.0) for time in SCHEDULES[schedule]()]
    settle = -(-7 * DAY // sizing.period)  # the first week: before it, the window may reach before START

    # A healthy schedule: never in ALARM.
    assert _alarm_times(sizing, _breaching(sizing, runs, "invocations"), settle) == []

    # Stopped after its second week: ALARM within the window plus a period (and not before it stopped).
    stop = START + timedelta(days=14)
    stopped = _alarm_times(sizing, _breaching(sizing, [r for r in runs if r[0] < stop], "invocations"), settle)
    assert stopped, "never fires"
    fired = START + timedelta(seconds=stopped[0] * sizing.period)
    assert stop < fired <= stop + timedelta(seconds=sizing.window + sizing.period)


@pytest.mark.parametrize("rate", [r for r in RATES if "day" not in r])
def test_no_runs_window_is_two_runs_of_the_interval_the_code_reads(
    transformed: dict[str, Any], sam_template: dict[str, Any], rate: str
) -> None:
    # Same rule as core/schedule.py: the alarm is two of the code's intervals without a run, for any minutes.
    sizing = _sizing(transformed, sam_template, "NoRunsAlarm", ScheduleRate=rate)
    assert sizing.window == 2 * interval_minutes(rate) * 60


@pytest.mark.parametrize("periods", ["2", "3", "7"])
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_checks_failed_alarm_fires_when_every_run_fails_and_not_otherwise(
    transformed: dict[str, Any], sam_template: dict[str, Any], schedule: str, periods: str
) -> None:
    sizing = _sizing(
        transformed, sam_template, "ChecksFailedAlarm", ScheduleRate=schedule, ChecksFailedAlarmPeriods=periods
    )
    _within_cloudwatch_limits(sizing)
    times = list(SCHEDULES[schedule]())
    settle = -(-7 * DAY // sizing.period)
    failing_from = START + timedelta(days=14)

    # Healthy runs (ChecksFailed 0 each run): never in ALARM.
    healthy = [(t, 0.0) for t in times]
    assert _alarm_times(sizing, _breaching(sizing, healthy, "checks"), settle) == []

    # One failing run among healthy ones does not fire, except for a weekly schedule: CloudWatch looks back
    # seven days at most, and that holds one run.
    once = [(t, 5.0 if i == len(times) * 2 // 3 else 0.0) for i, t in enumerate(times)]
    if schedule not in WEEKLY:
        assert _alarm_times(sizing, _breaching(sizing, once, "checks"), settle) == []

    # Every run failing from the third week: ALARM, and not before the failures started.
    failing = [(t, 3.0 if t >= failing_from else 0.0) for t in times]
    fired = _alarm_times(sizing, _breaching(sizing, failing, "checks"), settle)
    assert fired, "never fires"
    assert START + timedelta(seconds=fired[0] * sizing.period) > failing_from


@pytest.mark.parametrize("rate", [r for r in RATES if "day" not in r])
def test_checks_failed_window_is_the_configured_runs_of_the_interval_the_code_reads(
    transformed: dict[str, Any], sam_template: dict[str, Any], rate: str
) -> None:
    sizing = _sizing(transformed, sam_template, "ChecksFailedAlarm", ScheduleRate=rate, ChecksFailedAlarmPeriods="3")
    assert sizing.window == 3 * interval_minutes(rate) * 60
