"""The soak's fleet and its year: usage curves and the fault schedule, pure functions of the simulated time.

Every curve and fault is placed at a fraction of the soak's span, so `--days 7` and `--days 365` exercise the
same events (durations are capped by the span). Forecast alerts are on, at the defaults: the alert model predicts
them like every other message. The curves were drawn while issue 18 items 6 and 8 and issue 19 items 9 and 17 were
being fixed and still keep away from those rules (no resource in [95 %, 100 %) at a run, a license leaves the
list with no failure streak, no mutes, no threshold inside the margin); the stateful test in tests/model covers
them against the fixed code.
"""

from __future__ import annotations

import calendar
import functools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

RUN_EVERY = timedelta(minutes=15)
START = datetime(2027, 1, 25, tzinfo=UTC)  # a Monday, six days before a month end
DIGEST_WEEKDAY, DIGEST_TIME = 0, (3, 30)  # template default: Mondays 09:00 Asia/Kolkata = 03:30 UTC
CLIENT_ID = "soak-usage-monitor"

# The special licenses, in order; any further ones grow steadily at their own rate.
KINDS = ("growth", "month_end", "renewed", "hover", "noisy", "removed", "revoked")
STATIC_TOKEN_KINDS = frozenset({"hover", "revoked"})  # the rest share one OAuth2 client


def license_id(index: int) -> str:
    kind = KINDS[index] if index < len(KINDS) else "steady"
    return f"soak-{index:03d}-{kind}"


def kind_of(index: int) -> str:
    return KINDS[index] if index < len(KINDS) else "steady"


@dataclass(frozen=True)
class Band:
    """A fault (or curve event) from `start` for `length`, drawn on the chart as a band."""

    name: str
    start: datetime
    length: timedelta

    @property
    def end(self) -> datetime:
        return self.start + self.length

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class Schedule:
    """When each fault and curve event happens in a soak of `days` days."""

    days: int

    @property
    def start(self) -> datetime:
        return START

    @property
    def end(self) -> datetime:
        return START + timedelta(days=self.days)

    def runs(self) -> int:
        return int(timedelta(days=self.days) / RUN_EVERY)

    def at(self, fraction: float) -> datetime:
        """A run time at `fraction` of the span, on the 15-minute grid."""
        runs = int(self.runs() * fraction)
        return START + RUN_EVERY * runs

    def span(self, fraction: float, longest: timedelta) -> timedelta:
        return min(longest, timedelta(days=self.days) * fraction)

    def bands(self) -> dict[str, Band]:
        return _bands(self.days)

    def _plan(self) -> dict[str, Band]:
        runs = RUN_EVERY
        day = timedelta(days=1)
        plan = {
            "token endpoint 503": (0.10, runs * 4),
            "token endpoint 429": (0.13, runs),
            "JWTs live 5 s": (0.16, self.span(0.10, day)),
            "hover at 80%": (0.22, self.span(0.10, timedelta(hours=20))),
            "5xx burst, 1 run": (0.30, runs),
            "token revoked": (0.35, self.span(0.12, day)),
            "5xx burst, 2 runs": (0.40, runs * 2),
            "removed from list": (0.45, self.span(0.08, 3 * day)),
            "5xx burst, 8 runs": (0.50, runs * 8),
            "at the limit": (0.55, self.span(0.05, 2 * day)),
            "run killed after claim": (0.55, runs),
            "SNS down": (0.55 + 0.05, timedelta(hours=5)),
            "DynamoDB throttled": (0.70, runs),
            "event delivered twice": (0.75, runs),
            "static token rotated": (0.80, runs),
            "client secret rotated": (0.83, runs),
            "bad line in the list": (0.90, self.span(0.06, day)),
        }
        bands = {name: Band(name, self.at(fraction), length) for name, (fraction, length) in plan.items()}
        # The renewal lands inside the SNS outage: its `recovered` notice is the one that must come late.
        limit = bands["at the limit"]
        bands["at the limit"] = Band(limit.name, limit.start, bands["SNS down"].start + 2 * runs * 4 - limit.start)
        return bands


@functools.cache
def _bands(days: int) -> dict[str, Band]:
    return Schedule(days)._plan()


def _month_fraction(at: datetime) -> float:
    days = calendar.monthrange(at.year, at.month)[1]
    return (at.day - 1 + at.hour / 24) / days


def usage_at(index: int, at: datetime, schedule: Schedule, run: int) -> dict[str, tuple[int, int]]:
    """resource -> (current, limit) the simulator serves for license `index` at `at`."""
    kind = kind_of(index)
    bands = schedule.bands()
    progress = (at - schedule.start) / (schedule.end - schedule.start)
    usage = {"departments": (10, 100), "certificates": (5, 100), "users": (300, 1000), "signatures": (3000, 10000)}
    if kind in ("growth", "removed", "steady"):
        rate = 0.52 if kind != "steady" else random.Random(index).uniform(0.1, 0.6)
        start = 0.40 if kind != "steady" else random.Random(index + 1000).uniform(0.2, 0.5)
        usage["users"] = (int(1000 * min(start + rate * progress, 0.92)), 1000)
    elif kind == "month_end":
        share = _month_fraction(at)
        percent = 0.88 if share >= 0.94 else 0.20 + 0.40 * share  # the last two days peak, the 1st resets
        usage["signatures"] = (int(10000 * percent), 10000)
    elif kind == "renewed":
        limit_band = bands["at the limit"]
        if at < limit_band.start:
            usage["users"] = (int(500 * min(0.55 + 0.6 * progress, 0.90)), 500)
        elif limit_band.covers(at):
            usage["users"] = (500, 500)
        else:
            usage["users"] = (520, 1000)  # renewed with twice the limit
    elif kind == "hover":
        hover = bands["hover at 80%"]
        if at < hover.start:
            usage["departments"] = (70, 100)
        elif hover.covers(at):
            usage["departments"] = (79 + run % 3, 100)
        elif at < schedule.at(0.65):
            usage["departments"] = (86, 100)
        else:
            usage["departments"] = (60, 100)
    elif kind == "noisy":
        # Inside the 80 % warning's band (clears below 75 %) after the first crossing: one alert, then quiet.
        usage["signatures"] = (random.Random(run * 7919 + index).randint(7600, 8900), 10000)
    return usage


def license_list(count: int, at: datetime, schedule: Schedule) -> list[str]:
    """The S3 license list's lines at `at`: every license, less the removed one while it is out."""
    bands = schedule.bands()
    lines = [
        license_id(i) for i in range(count) if not (kind_of(i) == "removed" and bands["removed from list"].covers(at))
    ]
    if bands["bad line in the list"].covers(at):
        lines.append("not a license id!")
    return lines


def counted(values: Mapping[str, tuple[int, int]]) -> dict[str, dict[str, int]]:
    """The API's `data` object for `values`."""
    return {name: {"current": current, "limit": limit} for name, (current, limit) in values.items()}
