"""Pure forecast: when will a resource reach its limit, from its recent usage history.

Only the history since the last reset counts: a drop in `current` or any change of `limit` (a limit
increase, a new license period) starts a new segment, because growth measured before it says nothing
about the new situation. Over that segment a straight line is fitted by ordinary least squares, and the
limit date is projected from the latest observed value at the fitted rate: people trust "today's value,
growing as it has been" more than a fitted intercept that may not match what they see on screen.

Arithmetic is exact (integers and fractions on microseconds), so results do not depend on float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

_US_PER_DAY = 86_400_000_000
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# A fitted rate that would show as 0.00 a day is no growth: forecasting from it would only produce
# absurd dates centuries away. Every RISING forecast therefore shows a rate of at least 0.01 a day.
MIN_RATE_PER_DAY = Fraction(1, 200)


@dataclass(frozen=True)
class UsagePoint:
    """One observation of one resource: `at` is timezone-aware UTC."""

    at: datetime
    current: int
    limit: int | None


class ForecastStatus(StrEnum):
    RISING = "rising"
    FLAT_OR_FALLING = "flat_or_falling"
    TOO_FEW_POINTS = "too_few_points"
    AT_LIMIT = "at_limit"
    NO_LIMIT = "no_limit"


@dataclass(frozen=True)
class Forecast:
    """What forecast() concluded for one resource.

    `days_to_limit` (one decimal, rounded down so it never sounds later than it is) and `limit_at` are set
    only when RISING; `limit_at` stays None if the projection lies beyond what a datetime can hold.
    `rate_per_day` is the fitted slope (two decimals) when a fit was made. `points_needed` and
    `span_needed` record the minimums a TOO_FEW_POINTS verdict was measured against, for describe().
    """

    status: ForecastStatus
    days_to_limit: Decimal | None = None
    limit_at: datetime | None = None
    rate_per_day: Decimal | None = None
    points_used: int = 0
    points_needed: int = 0
    span_needed: timedelta | None = None

    def describe(self, now: datetime) -> str:
        """Plain words for an alert; `now` only decides whether the date needs its year."""
        match self.status:
            case ForecastStatus.RISING:
                return self._describe_rising(now)
            case ForecastStatus.FLAT_OR_FALLING:
                return "usage is flat or falling, so no limit date is forecast"
            case ForecastStatus.TOO_FEW_POINTS:
                return self._describe_too_few()
            case ForecastStatus.AT_LIMIT:
                return "the limit is already reached"
            case ForecastStatus.NO_LIMIT:
                return "no limit to forecast against"

    def _describe_rising(self, now: datetime) -> str:
        assert self.rate_per_day is not None
        rate = f"{self.rate_per_day.normalize():f}"
        return f"at the current rate (about {rate} a day) the limit is reached {self.when_words(now)}"

    def days_left(self, now: datetime) -> int | None:
        """The one day count every message, digest and report gives: 0 within a day, else whole calendar
        days (UTC) from `now` to the projected date, so the count always agrees with the date beside it
        and two texts of the same day name the same count. None when no date is projected."""
        if self.status is not ForecastStatus.RISING or self.days_to_limit is None:
            return None
        if self.days_to_limit < 1:
            return 0
        if self.limit_at is None:  # beyond what a datetime holds: the count is all there is
            return int(self.days_to_limit.to_integral_value(rounding=ROUND_HALF_UP))
        return max(1, (self.limit_at.astimezone(UTC).date() - now.astimezone(UTC).date()).days)

    def when_words(self, now: datetime) -> str:
        """`in about 6 days (around 29 Nov)`, `within a day (around 24 Nov 18:00 UTC)`: the one wording."""
        days = self.days_left(now)
        if days is None:
            return "at no projected date"
        at = self.limit_at.astimezone(UTC) if self.limit_at is not None else None
        if days == 0:
            if at is None:
                return "within a day"
            at = _nearest_quarter_hour(at)
            return f"within a day (around {_date_words(at, now)} {at:%H:%M} UTC)"
        when = f"in about {_plural(days, 'day')}"
        return when if at is None else f"{when} (around {_date_words(at, now)})"

    def when_short(self, now: datetime) -> str:
        """The same count where room is short (subject, SMS): `~6 days`, `under a day`."""
        days = self.days_left(now)
        if days is None:
            return "?"
        return "under a day" if days == 0 else f"~{_plural(days, 'day')}"

    def _describe_too_few(self) -> str:
        points = _plural(self.points_used, "point")
        if self.points_used < self.points_needed or self.span_needed is None:
            detail = f"{points} since the last reset; {self.points_needed} needed"
        else:
            detail = f"{points} since the last reset cover less than {_duration_words(self.span_needed)}"
        return f"not enough history for a forecast yet ({detail})"


def forecast(
    points: Sequence[UsagePoint],
    now: datetime,
    *,
    min_points: int = 3,
    min_span: timedelta = timedelta(hours=1),
) -> Forecast:
    """Forecast when the latest limit is reached, from `points` in any order.

    NO_LIMIT and AT_LIMIT are decided from the latest point alone (no history needed to know either).
    Otherwise the segment since the last reset must hold at least `min_points` points spanning at least
    `min_span`. The projection runs from the latest point at the fitted rate, and `days_to_limit` counts
    from `now` (the time already elapsed since the latest point is subtracted), never below 0.
    """
    if min_points < 2:
        raise ValueError("a straight-line fit needs min_points of at least 2")
    ordered = sorted(points, key=lambda p: p.at)
    segment = _since_last_reset(ordered)
    used = len(segment)
    if not segment:
        return Forecast(ForecastStatus.TOO_FEW_POINTS, points_needed=min_points)
    latest = segment[-1]
    if not latest.limit:
        return Forecast(ForecastStatus.NO_LIMIT, points_used=used)
    if latest.current >= latest.limit:
        return Forecast(ForecastStatus.AT_LIMIT, points_used=used)
    span = latest.at - segment[0].at
    if used < min_points or span < min_span or span <= timedelta(0):
        return Forecast(
            ForecastStatus.TOO_FEW_POINTS,
            points_used=used,
            points_needed=min_points,
            span_needed=min_span if used >= min_points else None,
        )

    slope_per_us = _least_squares_slope(segment)
    rate_per_day = slope_per_us * _US_PER_DAY
    rate = _round_half_up_hundredths(rate_per_day)
    if rate_per_day < MIN_RATE_PER_DAY:
        return Forecast(ForecastStatus.FLAT_OR_FALLING, rate_per_day=rate, points_used=used)

    to_limit_us = (latest.limit - latest.current) / slope_per_us
    elapsed_us = max(0, _microseconds(now - latest.at))  # a clock behind the data adds nothing
    remaining_us = max(Fraction(0), to_limit_us - elapsed_us)
    tenths = remaining_us * 10 // _US_PER_DAY
    try:
        limit_at: datetime | None = latest.at + timedelta(microseconds=int(to_limit_us))
    except OverflowError:
        limit_at = None
    return Forecast(
        ForecastStatus.RISING,
        days_to_limit=Decimal(tenths).scaleb(-1),
        limit_at=limit_at,
        rate_per_day=rate,
        points_used=used,
    )


def should_alert(forecast: Forecast, horizon_days: int, now: datetime) -> bool:
    """Whether the limit is projected within `horizon_days` days of `now`.

    By the projected date when there is one, not by `days_to_limit`: that count is rounded down to tenths, so
    7.09 days would read as 7.0 and be "within 7 days". Without a date (beyond what a datetime holds) the
    count is all there is, and it is far beyond any horizon.
    """
    if forecast.status is not ForecastStatus.RISING or forecast.days_to_limit is None:
        return False
    if forecast.limit_at is not None:
        return forecast.limit_at - now <= timedelta(days=horizon_days)
    return forecast.days_to_limit <= horizon_days


def moved_closer(previous_at: datetime, current_at: datetime, now: datetime) -> bool:
    """Whether a forecast alert is worth repeating: the projected limit DATE moved closer by at least a day
    and by a quarter of the time that was left until it.

    Dates, not day counts: a count taken at the mark's run shrinks by itself as time passes, which would
    read as the date moving closer. Forecasts wobble by hours from run to run as new points arrive;
    re-alerting on every wobble would drown the one change that matters, the limit really coming sooner.
    """
    margin = max(timedelta(days=1), (previous_at - now) / 4)
    return previous_at - current_at >= margin


def _since_last_reset(ordered: list[UsagePoint]) -> list[UsagePoint]:
    start = 0
    for i in range(1, len(ordered)):
        before, point = ordered[i - 1], ordered[i]
        if point.current < before.current or point.limit != before.limit:
            start = i
    return ordered[start:]


def _least_squares_slope(segment: list[UsagePoint]) -> Fraction:
    """Slope of current over time in units per microsecond, exact (integer sums, one division)."""
    origin = segment[0].at
    xs = [_microseconds(p.at - origin) for p in segment]
    ys = [p.current for p in segment]
    n = len(segment)
    sum_x, sum_y = sum(xs), sum(ys)
    sxy = n * sum(x * y for x, y in zip(xs, ys, strict=True)) - sum_x * sum_y
    sxx = n * sum(x * x for x in xs) - sum_x * sum_x
    return Fraction(sxy, sxx)


def _microseconds(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def _round_half_up_hundredths(value: Fraction) -> Decimal:
    hundredths = (value * 200 + 1) // 2
    return Decimal(hundredths).scaleb(-2)


def _nearest_quarter_hour(at: datetime) -> datetime:
    quarter = timedelta(minutes=15)
    floored = at.replace(minute=0, second=0, microsecond=0) + (at.minute // 15) * quarter
    return floored + quarter if at - floored >= quarter / 2 else floored


def _date_words(at: datetime, now: datetime) -> str:
    words = f"{at.day} {_MONTHS[at.month - 1]}"
    return words if at.year == now.astimezone(UTC).year else f"{words} {at.year}"


def _duration_words(span: timedelta) -> str:
    minutes = _microseconds(span) // 60_000_000
    if minutes and minutes % 1440 == 0:
        return _plural(minutes // 1440, "day")
    if minutes and minutes % 60 == 0:
        return _plural(minutes // 60, "hour")
    return _plural(minutes, "minute")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
