"""The one place Powertools Logger, Metrics and Tracer are created.

The Tracer is built on first use: creating it loads the X-Ray SDK (about 130 ms), which the
handler's import, the CLI and the tests should not pay for.
"""

from __future__ import annotations

import heapq
import json
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from usage_monitor.core.aws_limits import (
    LOG_LINE_MAX_BYTES,
    LOG_LIST_MAX,
    bounded_for_log,
    dimension_value_ok,
    essential_log_keys,
    metric_value_ok,
)

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

# Per-resource series (UsagePercentMax, DaysToLimitMin): each costs a custom metric, so at most this many.
MAX_RESOURCE_SERIES = 20
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "leegality-usage-monitor")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "LeegalityUsageMonitor")


def bounded_json(record: Mapping[str, object]) -> str:
    """Every log line through one door: lists, strings and mappings bounded (`bounded_for_log`), and a
    line still over `LOG_LINE_MAX_BYTES` reduced to its identifying keys, so each line parses as JSON."""
    line = _dumps(bounded_for_log(record))
    size = len(line.encode("utf-8", "surrogatepass"))
    if size <= LOG_LINE_MAX_BYTES:
        return line
    return _dumps(essential_log_keys(record, size))


def _dumps(value: object) -> str:
    # Powertools' own serializer settings (compact, `str` for the rest, non-ASCII kept as is).
    return json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)


# Powertools' `json_serializer` hook: the one place a log record becomes text.
logger = Logger(service=SERVICE, json_serializer=bounded_json)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def log_every_entry(log: Callable[..., None], message: str, key: str, entries: Sequence[str], **extra: Any) -> None:
    """Logs `entries` under `key`, `LOG_LIST_MAX` a line and as many lines as it takes, each saying which
    entries of how many it holds: the log names every one (alerts name the first few and point here)."""
    total = len(entries)
    for start in range(0, total, LOG_LIST_MAX):
        page = entries[start : start + LOG_LIST_MAX]
        # stacklevel 3: the line's `location` is the caller, not this helper.
        entry_range = f"{start + 1}-{start + len(page)} of {total}"
        log(message, extra={**extra, key: list(page), "entries": entry_range}, stacklevel=3)


@cache
def get_tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    # botocore only: Leegality requests run on worker threads that carry no X-Ray segment, and patching
    # urllib3 would log "segment not found" for each of them. The run's AWS calls are what traces show.
    return Tracer(service=SERVICE, patch_modules=["botocore"])


@dataclass
class FleetMetrics:
    """What one run publishes as EMF metrics, with a count that does not grow with the fleet.

    Per resource: the fleet's highest usage percent and shortest days-to-limit. Per license: usage
    percent for the `top_licenses` fullest licenses only. Alerts published, by event type.
    """

    top_licenses: int = 3
    usage_max: dict[str, float] = field(default_factory=dict)
    days_min: dict[str, float] = field(default_factory=dict)
    alerts_by_type: Counter[str] = field(default_factory=Counter)
    _fullest: list[tuple[float, str, dict[str, float]]] = field(default_factory=list)

    def observe_usage(self, license_id: str, percents: dict[str, float]) -> None:
        # CloudWatch drops a whole EMF document over one NaN, infinite or huge value, or a bad dimension.
        percents = {r: p for r, p in percents.items() if metric_value_ok(p) and dimension_value_ok(r)}
        for resource, percent in percents.items():
            if resource not in self.usage_max and len(self.usage_max) >= MAX_RESOURCE_SERIES:
                continue  # one license's odd resource names must not add a metric series each
            self.usage_max[resource] = max(self.usage_max.get(resource, percent), percent)
        if percents and self.top_licenses:
            entry = (max(percents.values()), license_id, percents)
            # A min-heap of the K fullest licenses: memory stays K entries whatever the fleet size.
            if len(self._fullest) < self.top_licenses:
                heapq.heappush(self._fullest, entry)
            elif entry[0] > self._fullest[0][0]:
                heapq.heapreplace(self._fullest, entry)

    def observe_days_to_limit(self, resource: str, days: float) -> None:
        if not (metric_value_ok(days) and dimension_value_ok(resource)):
            return
        if resource not in self.days_min and len(self.days_min) >= MAX_RESOURCE_SERIES:
            return
        self.days_min[resource] = min(self.days_min.get(resource, days), days)

    def emit(self) -> None:
        for resource, percent in sorted(self.usage_max.items()):
            _single("UsagePercentMax", MetricUnit.Percent, percent, resource=resource)
        for resource, days in sorted(self.days_min.items()):
            _single("DaysToLimitMin", MetricUnit.Count, days, resource=resource)
        for event_type, count in sorted(self.alerts_by_type.items()):
            _single("AlertsPublished", MetricUnit.Count, count, event_type=event_type)
        for _, license_id, percents in sorted(self._fullest, reverse=True):
            for resource, percent in sorted(percents.items()):
                _single("UsagePercent", MetricUnit.Percent, percent, license_id=license_id, resource=resource)


def _single(name: str, unit: MetricUnit, value: float, **dimensions: str) -> None:
    """One EMF document per dimension set, since the run's other metrics must not carry these."""
    document = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    for key, dimension in dimensions.items():
        document.add_dimension(name=key, value=dimension)
    document.add_metric(name=name, unit=unit, value=value)
    document.flush_metrics()
