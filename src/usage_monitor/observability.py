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

from usage_monitor import __version__
from usage_monitor.core.aws_limits import (
    LOG_LINE_MAX_BYTES,
    LOG_LIST_MAX,
    bounded_for_log,
    dimension_value_ok,
    essential_log_keys,
    metric_value_ok,
)
from usage_monitor.core.models import KNOWN_RESOURCES

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

# Resource names a run's per-resource metrics (UsagePercentMax, DaysToLimitMin, UsagePercent) may carry:
# each name is a series, and each series a billed custom metric. The documented four always fit.
MAX_RESOURCE_SERIES = 20
# Per-license UsagePercent series for each of the fullest licenses: the documented four's worth, so the
# template's "4 custom metrics each" holds whatever an answer lists.
SERIES_PER_LICENSE = len(KNOWN_RESOURCES)
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


# Powertools' `json_serializer` hook: the one place a log record becomes text. Every line names the
# release, so a log search can tell which version wrote it.
logger = Logger(service=SERVICE, json_serializer=bounded_json, version=__version__)
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
    """What one run publishes as EMF metrics, with a count that does not grow with the fleet or its answers.

    Per resource: the fleet's highest usage percent and shortest days-to-limit. Per license: usage
    percent for the `top_licenses` fullest licenses only, `SERIES_PER_LICENSE` resources each. Alerts
    published, by event type. Every resource name comes from one set of at most `MAX_RESOURCE_SERIES` per
    run, the documented resources always in it: odd or changing names cannot push them out, nor add more.
    """

    top_licenses: int = 3
    usage_max: dict[str, float] = field(default_factory=dict)
    days_min: dict[str, float] = field(default_factory=dict)
    alerts_by_type: Counter[str] = field(default_factory=Counter)
    _fullest: list[tuple[float, str, dict[str, float]]] = field(default_factory=list)
    _resources: set[str] = field(default_factory=set)

    def observe_usage(self, license_id: str, percents: dict[str, float]) -> None:
        # CloudWatch drops a whole EMF document over one NaN, infinite or huge value, or a bad dimension.
        percents = {r: p for r, p in percents.items() if metric_value_ok(p) and self._admits(r)}
        for resource, percent in percents.items():
            self.usage_max[resource] = max(self.usage_max.get(resource, percent), percent)
        if percents and self.top_licenses:
            entry = (max(percents.values()), license_id, _series_of_license(percents))
            # A min-heap of the K fullest licenses: memory stays K entries whatever the fleet size.
            if len(self._fullest) < self.top_licenses:
                heapq.heappush(self._fullest, entry)
            elif entry[0] > self._fullest[0][0]:
                heapq.heapreplace(self._fullest, entry)

    def observe_days_to_limit(self, resource: str, days: float) -> None:
        if metric_value_ok(days) and self._admits(resource):
            self.days_min[resource] = min(self.days_min.get(resource, days), days)

    def _admits(self, resource: str) -> bool:
        """Whether `resource` may name a series: already one of the run's names, or room for it (the
        documented names always have a place kept, so a flood of others never displaces them)."""
        if resource in self._resources:
            return True
        if not dimension_value_ok(resource):
            return False
        undocumented = len(self._resources - set(KNOWN_RESOURCES))
        if resource not in KNOWN_RESOURCES and undocumented >= MAX_RESOURCE_SERIES - len(KNOWN_RESOURCES):
            return False
        self._resources.add(resource)
        return True

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


def _series_of_license(percents: dict[str, float]) -> dict[str, float]:
    """The license's `SERIES_PER_LICENSE` resources for UsagePercent: the documented ones it reports, then
    its fullest others, so a license answering the usual four keeps the same four series every run."""
    ranked = sorted(percents, key=lambda r: (r not in KNOWN_RESOURCES, -percents[r], r))
    return {resource: percents[resource] for resource in ranked[:SERIES_PER_LICENSE]}


def _single(name: str, unit: MetricUnit, value: float, **dimensions: str) -> None:
    """One EMF document per dimension set, since the run's other metrics must not carry these."""
    document = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    for key, dimension in dimensions.items():
        document.add_dimension(name=key, value=dimension)
    document.add_metric(name=name, unit=unit, value=value)
    document.flush_metrics()
