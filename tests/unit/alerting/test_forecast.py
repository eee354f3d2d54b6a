"""Limit forecasts: segments since the last reset, the least-squares rate, days to the limit, and the words."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest

from usage_monitor.alerting.forecast import (
    Forecast,
    ForecastStatus,
    UsagePoint,
    forecast,
    moved_closer,
    should_alert,
)

END = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
RISING = ForecastStatus.RISING
FLAT = ForecastStatus.FLAT_OR_FALLING
TOO_FEW = ForecastStatus.TOO_FEW_POINTS


def history(
    per_day: int, latest: int, limit: int | None, *, step: timedelta = 6 * HOUR, n: int = 5, end: datetime = END
) -> list[UsagePoint]:
    """`n` points `step` apart growing exactly `per_day` a day, ending at `latest` at `end`."""
    per_step = Fraction(per_day) * Fraction(step // timedelta(seconds=1), 86_400)
    assert per_step.denominator == 1, "choose a step that makes whole increments"
    return [UsagePoint(end - (n - 1 - i) * step, latest - int(per_step) * (n - 1 - i), limit) for i in range(n)]


def rising(days: str, limit_at: datetime | None = END, rate: str = "12.50") -> Forecast:
    return Forecast(RISING, Decimal(days), limit_at, Decimal(rate), points_used=5)


# --- steady growth --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("per_day", "latest", "limit", "step", "days"),
    [
        (100, 850, 1000, 6 * HOUR, "1.5"),
        (10, 900, 1000, DAY, "10.0"),
        (24, 0, 48, HOUR, "2.0"),
        (7, 900, 1000, DAY, "14.2"),  # 14.2857…: rounded down, not to 14.3
        (96, 999, 1000, 15 * timedelta(minutes=1), "0.0"),  # 15 minutes away
    ],
)
def test_steady_growth_gives_exact_days(per_day: int, latest: int, limit: int, step: timedelta, days: str) -> None:
    result = forecast(history(per_day, latest, limit, step=step), END)

    assert result.status is RISING
    assert result.days_to_limit == Decimal(days)
    assert result.rate_per_day == Decimal(per_day)
    assert result.points_used == 5
    assert result.limit_at is not None
    assert abs(result.limit_at - (END + (limit - latest) / per_day * DAY)) <= timedelta(microseconds=1)


def test_days_have_one_decimal_and_rate_two() -> None:
    result = forecast(history(100, 850, 1000), END)

    assert str(result.days_to_limit) == "1.5"
    assert str(result.rate_per_day) == "100.00"


# --- flat, falling, negligible growth -------------------------------------------------------------


def test_flat_history_is_flat() -> None:
    result = forecast(history(0, 500, 1000), END)

    assert result.status is FLAT
    assert result.days_to_limit is None
    assert result.limit_at is None
    assert result.rate_per_day == Decimal(0)
    assert result.points_used == 5


def test_every_drop_is_a_reset_so_a_steady_fall_leaves_one_point() -> None:
    points = [UsagePoint(END - (4 - i) * DAY, 500 - 10 * i, 1000) for i in range(5)]

    result = forecast(points, END)

    assert result.status is TOO_FEW
    assert result.points_used == 1


def test_fall_then_flat_is_flat_from_the_last_drop() -> None:
    currents = [500, 480, 460, 460, 460, 460]
    points = [UsagePoint(END - (5 - i) * DAY, c, 1000) for i, c in enumerate(currents)]

    result = forecast(points, END)

    assert result.status is FLAT
    assert result.points_used == 4


@pytest.mark.parametrize(
    ("spacing_days", "status", "rate"),
    [
        (250, FLAT, "0.00"),  # 0.004 a day would show as 0.00: no growth worth forecasting
        (200, RISING, "0.01"),  # 0.005 a day rounds up to 0.01
    ],
)
def test_negligible_growth_is_flat(spacing_days: int, status: ForecastStatus, rate: str) -> None:
    points = [UsagePoint(END - (2 - i) * spacing_days * DAY, i, 1000) for i in range(3)]

    result = forecast(points, END)

    assert result.status is status
    assert result.rate_per_day == Decimal(rate)


# --- resets ---------------------------------------------------------------------------------------


def test_limit_increase_starts_a_new_segment() -> None:
    before = history(50, 900, 1000, step=DAY, n=10, end=END - 5 * DAY)
    after = history(20, 1000, 2000, step=DAY, n=5)  # first point after the increase: 920 of 2000

    result = forecast(before + after, END)

    assert result.status is RISING
    assert result.points_used == 5
    assert result.rate_per_day == Decimal(20)
    assert result.days_to_limit == Decimal("50.0")


def test_limit_decrease_also_resets() -> None:
    before = history(50, 500, 2000, step=DAY, n=10, end=END - 5 * DAY)
    after = history(20, 600, 1000, step=DAY, n=5)

    result = forecast(before + after, END)

    assert result.points_used == 5
    assert result.rate_per_day == Decimal(20)


def test_drop_in_current_starts_a_new_segment() -> None:
    old_period = history(100, 900, 1000, step=DAY, n=8, end=END - 4 * DAY)
    new_period = history(30, 220, 1000, step=DAY, n=4)  # starts at 130, below 900

    result = forecast(old_period + new_period, END)

    assert result.status is RISING
    assert result.points_used == 4
    assert result.rate_per_day == Decimal(30)
    assert result.days_to_limit == Decimal("26.0")


def test_the_reset_point_itself_belongs_to_the_new_segment() -> None:
    points = [
        UsagePoint(END - 3 * DAY, 900, 1000),
        UsagePoint(END - 2 * DAY, 100, 1000),  # the drop
        UsagePoint(END - DAY, 200, 1000),
        UsagePoint(END, 300, 1000),
    ]

    result = forecast(points, END)

    assert result.points_used == 3
    assert result.rate_per_day == Decimal(100)


# --- too few points -------------------------------------------------------------------------------


def test_two_points_are_too_few() -> None:
    result = forecast(history(100, 500, 1000, n=2), END)

    assert result.status is TOO_FEW
    assert result.points_used == 2
    assert result.points_needed == 3
    assert result.days_to_limit is None
    assert result.describe(END) == "not enough history for a forecast yet (2 points since the last reset; 3 needed)"


def test_three_points_within_ten_minutes_are_too_few() -> None:
    points = history(288, 500, 1000, step=5 * timedelta(minutes=1), n=3)

    result = forecast(points, END)

    assert result.status is TOO_FEW
    assert result.points_used == 3
    assert result.span_needed == HOUR
    assert result.describe(END) == (
        "not enough history for a forecast yet (3 points since the last reset cover less than 1 hour)"
    )


@pytest.mark.parametrize(("span_minutes", "status"), [(59, TOO_FEW), (60, RISING)])
def test_span_boundary(span_minutes: int, status: ForecastStatus) -> None:
    start = END - span_minutes * timedelta(minutes=1)
    points = [
        UsagePoint(start, 500, 1000),
        UsagePoint(start + timedelta(minutes=1), 501, 1000),
        UsagePoint(END, 510, 1000),
    ]

    assert forecast(points, END).status is status


def test_min_points_and_min_span_are_configurable() -> None:
    points = history(100, 500, 1000, n=2)

    assert forecast(points, END, min_points=2).status is RISING
    assert forecast(history(100, 500, 1000, n=5), END, min_span=2 * DAY).status is TOO_FEW


def test_no_points_are_too_few() -> None:
    result = forecast([], END)

    assert result.status is TOO_FEW
    assert result.points_used == 0


def test_min_points_below_two_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        forecast(history(100, 500, 1000), END, min_points=1)


# --- at limit, no limit ---------------------------------------------------------------------------


@pytest.mark.parametrize(("latest", "n"), [(1000, 5), (1010, 5), (1000, 1)])
def test_at_or_over_the_limit(latest: int, n: int) -> None:
    result = forecast(history(100, latest, 1000, n=n), END)

    assert result.status is ForecastStatus.AT_LIMIT
    assert result.days_to_limit is None
    assert result.points_used == n


@pytest.mark.parametrize("limit", [0, None])
def test_no_limit(limit: int | None) -> None:
    result = forecast(history(100, 500, limit), END)

    assert result.status is ForecastStatus.NO_LIMIT
    assert result.days_to_limit is None


# --- input order, noise, time since the last point ------------------------------------------------


def test_unsorted_input_gives_the_same_forecast() -> None:
    points = history(10, 900, 1000, step=DAY, n=7)
    shuffled = points[3:] + points[:3][::-1]
    random.Random(7).shuffle(shuffled)

    assert forecast(shuffled, END) == forecast(points, END)
    assert forecast(shuffled, END).days_to_limit == Decimal("10.0")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_noisy_linear_data_recovers_the_rate(seed: int) -> None:
    noise = random.Random(seed)
    start = END - 7 * DAY
    # 240 a day is 10 an hour; ±4 of jitter never makes a reading drop, so nothing resets.
    points = [UsagePoint(start + h * HOUR, 1000 + 10 * h + noise.randint(-4, 4), 10_000) for h in range(7 * 24 + 1)]

    result = forecast(points, END)

    assert result.status is RISING
    assert result.points_used == len(points)
    assert result.rate_per_day is not None
    assert abs(result.rate_per_day - 240) <= Decimal("0.05") * 240


@pytest.mark.parametrize(
    ("now", "days"),
    [
        (END, "1.5"),
        (END + DAY / 2, "1.0"),
        (END + DAY + HOUR, "0.4"),
        (END + 3 * DAY, "0.0"),  # the projected moment has passed: never negative
        (END - DAY, "1.5"),  # a clock behind the data adds no time
    ],
)
def test_time_since_the_latest_point_is_subtracted(now: datetime, days: str) -> None:
    result = forecast(history(100, 850, 1000), now)

    assert result.days_to_limit == Decimal(days)
    assert result.limit_at == END + 1.5 * DAY


def test_projection_beyond_datetime_range_keeps_days_but_no_date() -> None:
    points = [UsagePoint(END - (2 - i) * 100 * DAY, i, 10**15) for i in range(3)]

    result = forecast(points, END)

    assert result.status is RISING
    assert result.limit_at is None
    assert result.days_to_limit == Decimal("99999999999999800.0")
    assert "(around" not in result.describe(END)


# --- describe -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "limit_at", "text"),
    [
        ("9.3", datetime(2026, 12, 3, 17, 0, tzinfo=UTC), "in about 9 days (around 3 Dec)"),
        ("9.5", datetime(2026, 12, 4, 0, 0, tzinfo=UTC), "in about 10 days (around 4 Dec)"),
        ("2.0", datetime(2026, 11, 26, 12, 0, tzinfo=UTC), "in about 2 days (around 26 Nov)"),
        # The count is calendar days to the date named beside it (issue 18 item 16): 26 Nov is 2 days away.
        ("1.9", datetime(2026, 11, 26, 9, 0, tzinfo=UTC), "in about 2 days (around 26 Nov)"),
        ("1.0", datetime(2026, 11, 25, 12, 0, tzinfo=UTC), "in about 1 day (around 25 Nov)"),
        ("0.9", datetime(2026, 11, 25, 9, 37, tzinfo=UTC), "within a day (around 25 Nov 09:30 UTC)"),
        ("0.0", datetime(2026, 11, 24, 13, 53, tzinfo=UTC), "within a day (around 24 Nov 14:00 UTC)"),
        ("0.4", datetime(2026, 11, 24, 23, 55, tzinfo=UTC), "within a day (around 25 Nov 00:00 UTC)"),
        ("38.0", datetime(2027, 1, 1, 12, 0, tzinfo=UTC), "in about 38 days (around 1 Jan 2027)"),
        (
            "1.0",
            datetime(2026, 11, 25, 20, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "in about 1 day (around 25 Nov)",
        ),
        (
            "0.1",
            datetime(2026, 11, 25, 2, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "within a day (around 24 Nov 20:30 UTC)",
        ),
        ("9.3", None, "in about 9 days"),
    ],
)
def test_describe_rising(days: str, limit_at: datetime | None, text: str) -> None:
    assert rising(days, limit_at).describe(END) == f"at the current rate (about 12.5 a day) the limit is reached {text}"


@pytest.mark.parametrize(("rate", "words"), [("100.00", "100"), ("0.25", "0.25"), ("12.50", "12.5"), ("0.10", "0.1")])
def test_describe_rate_drops_trailing_zeros(rate: str, words: str) -> None:
    assert f"(about {words} a day)" in rising("9.3", rate=rate).describe(END)


def test_describe_from_a_real_forecast() -> None:
    result = forecast(history(100, 850, 1000), END)

    assert (
        result.describe(END)
        == "at the current rate (about 100 a day) the limit is reached in about 2 days (around 26 Nov)"
    )


@pytest.mark.parametrize(
    ("result", "text"),
    [
        (
            Forecast(FLAT, rate_per_day=Decimal(0), points_used=5),
            "usage is flat or falling, so no limit date is forecast",
        ),
        (Forecast(ForecastStatus.AT_LIMIT, points_used=5), "the limit is already reached"),
        (Forecast(ForecastStatus.NO_LIMIT, points_used=5), "no limit to forecast against"),
        (
            Forecast(TOO_FEW, points_used=1, points_needed=3),
            "not enough history for a forecast yet (1 point since the last reset; 3 needed)",
        ),
        (
            Forecast(TOO_FEW, points_used=4, points_needed=4, span_needed=2 * DAY),
            "not enough history for a forecast yet (4 points since the last reset cover less than 2 days)",
        ),
        (
            Forecast(TOO_FEW, points_used=3, points_needed=3, span_needed=timedelta(minutes=90)),
            "not enough history for a forecast yet (3 points since the last reset cover less than 90 minutes)",
        ),
    ],
)
def test_describe_other_statuses(result: Forecast, text: str) -> None:
    assert result.describe(END) == text


# --- should_alert, moved_closer -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "horizon", "alert"),
    [
        (rising("7.0"), 7, True),
        (rising("7.1"), 7, False),
        (rising("0.0"), 0, True),
        (Forecast(FLAT, rate_per_day=Decimal(0)), 7, False),
        (Forecast(ForecastStatus.AT_LIMIT), 7, False),
        (Forecast(TOO_FEW), 7, False),
        (Forecast(ForecastStatus.NO_LIMIT), 7, False),
    ],
)
def test_should_alert(result: Forecast, horizon: int, alert: bool) -> None:
    assert should_alert(result, horizon, END - timedelta(days=float(result.days_to_limit or 0))) is alert


@pytest.mark.parametrize(("limit", "alert"), [(995, True), (996, False)])
def test_within_the_horizon_means_at_most_that_many_days(limit: int, alert: bool) -> None:
    # Given 100 a day, 295 now: the limit in exactly 7 days (995), or in 7.01 days (996, shown as 7.0)
    points = [UsagePoint(END - timedelta(days=d), 295 - 100 * d, limit) for d in (2, 1, 0)]
    outlook = forecast(points, END)
    assert outlook.days_to_limit == Decimal("7.0")

    # Then "within 7 days" holds for the first only, not for a limit 14 minutes later than 7 days
    assert should_alert(outlook, 7, END) is alert


@pytest.mark.parametrize(
    ("previous", "current", "closer"),
    [
        ("10.0", "7.5", True),  # 25% of 10 is 2.5
        ("10.0", "7.6", False),
        ("2.0", "1.0", True),  # 25% is 0.5, so the 1-day floor applies
        ("2.0", "1.1", False),
        ("40.0", "30.0", True),
        ("40.0", "30.1", False),
        ("1.0", "0.0", True),
        ("10.0", "12.0", False),  # moved further away
        ("5.0", "5.0", False),
    ],
)
def test_moved_closer(previous: str, current: str, closer: bool) -> None:
    # Days from now to the previously projected date and to today's.
    now = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
    previous_at = now + timedelta(days=float(previous))
    current_at = now + timedelta(days=float(current))

    assert moved_closer(previous_at, current_at, now) is closer


@pytest.mark.parametrize(
    ("days", "limit_at", "short"),
    [
        ("0.4", datetime(2026, 11, 24, 23, 0, tzinfo=UTC), "under a day"),
        ("1.1", datetime(2026, 11, 25, 23, 0, tzinfo=UTC), "~1 day"),
        ("5.4", datetime(2026, 11, 29, 20, 0, tzinfo=UTC), "~5 days"),
        ("5.6", datetime(2026, 11, 30, 1, 0, tzinfo=UTC), "~6 days"),  # the count follows the date
        ("9.3", None, "~9 days"),
    ],
)
def test_one_day_count_for_every_text(days: str, limit_at: datetime | None, short: str) -> None:
    # Issue 18 item 16: the short form and the sentence give the same count, taken from the date.
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    outlook = Forecast(ForecastStatus.RISING, Decimal(days), limit_at, Decimal(10))

    assert outlook.when_short(now) == short
    count = short.removeprefix("~").split(" ")[0]
    assert count in outlook.when_words(now) or short == "under a day"
