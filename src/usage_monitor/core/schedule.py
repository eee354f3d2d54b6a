"""How often the schedule runs the monitor, from its EventBridge Scheduler expression.

Routine forecasts are spread over the runs of a forecast interval by run number (`monitor.forecast_slot`),
which only covers every license if the run spacing is right. For `cron()` the spacing used is the longest
gap between runs (overnight for a daytime schedule, a day for a daily one), so a slot is never one that
does not run: a slow schedule forecasts more licenses per run, never fewer.
"""

from __future__ import annotations

import re
from itertools import pairwise

DAY_MINUTES = 24 * 60
DEFAULT_MINUTES = 15  # the template's default rate, also used for an expression that cannot be read

_RATE = re.compile(r"\s*rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)\s*")
_CRON = re.compile(r"\s*cron\(\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+(\S+))?\s*\)\s*")


def interval_minutes(expression: str) -> int:
    """Minutes between runs: exact for `rate()`, the longest gap for `cron()`, 15 when unreadable."""
    if rate := _RATE.fullmatch(expression):
        return max(int(rate.group(1)) * {"minute": 1, "hour": 60, "day": DAY_MINUTES}[rate.group(2).rstrip("s")], 1)
    if cron := _CRON.fullmatch(expression):
        minutes = _field_values(cron.group(1), 60)
        hours = _field_values(cron.group(2), 24)
        if minutes is None or hours is None:
            return DEFAULT_MINUTES
        gap = _longest_gap(sorted(h * 60 + m for h in hours for m in minutes))
        every_day = cron.group(3) in ("*", "?") and cron.group(5) in ("*", "?") and cron.group(4) == "*"
        return gap if every_day else max(gap, DAY_MINUTES)
    return DEFAULT_MINUTES


def _field_values(field: str, size: int) -> set[int] | None:
    """Values of a cron minutes or hours field (`*`, `5`, `1-5`, `0,30`, `*/15`, `0/15`, `8-17/2`)."""
    values: set[int] = set()
    for part in field.split(","):
        match = re.fullmatch(r"(\*|\d+)(?:-(\d+))?(?:/(\d+))?", part)
        if not match:
            return None
        start = 0 if match.group(1) == "*" else int(match.group(1))
        end = (
            int(match.group(2)) if match.group(2) else (size - 1 if match.group(1) == "*" or match.group(3) else start)
        )
        step = int(match.group(3) or 1)
        if not 0 <= start <= end < size or step < 1:
            return None
        values.update(range(start, end + 1, step))
    return values


def _longest_gap(times: list[int]) -> int:
    """Longest wait between consecutive runs of a day, counting the one over midnight."""
    wrapped = [*times, times[0] + DAY_MINUTES]
    return max(later - earlier for earlier, later in pairwise(wrapped))
