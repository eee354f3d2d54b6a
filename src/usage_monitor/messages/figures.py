"""Figures as text, the same in alerts, log lines, stored items and reports: times, percents, levels, usage.

Apart from `render` so that the scheduled run, which logs and stores figures every time but sends an alert
rarely, does not load the alert wording at start (see docs/performance.md, "Cold start").
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from usage_monitor.alerting.types import LIMIT_LEVEL
from usage_monitor.core.models import Resource
from usage_monitor.core.numbers import decimal_text, number_text


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def percent_text(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{decimal_text(value)}%"


def level_text(level: Decimal) -> str:
    return "the limit" if level == LIMIT_LEVEL else f"the {plain_number(level)}% threshold"


def usage_text(resource: Resource) -> str:
    current = "?" if resource.current is None else number_text(resource.current)
    limit = "?" if resource.limit is None else number_text(resource.limit)
    return f"{current}/{limit} ({percent_text(resource.percent)})"


def plain_number(value: Decimal) -> str:
    """A threshold or window as written: `80`, `92.5`, never `8E+1`."""
    return format(value.normalize(), "f")
