"""The one place Powertools Logger, Metrics and Tracer are created.

The Tracer is built on first use: creating it loads the X-Ray SDK (about 130 ms), which the
handler's import, the CLI and the tests should not pay for.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "leegality-usage-monitor")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "LeegalityUsageMonitor")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


@cache
def get_tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def emit_fleet_usage(highest_percent: dict[str, float]) -> None:
    """The fleet's highest usage per resource: one metric per resource, whatever the license count.

    A separate EMF document per resource, because `resource` is a dimension the run's other
    metrics must not carry.
    """
    for resource, percent in sorted(highest_percent.items()):
        usage = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
        usage.add_dimension(name="resource", value=resource)
        usage.add_metric(name="UsagePercentMax", unit=MetricUnit.Percent, value=percent)
        usage.flush_metrics()
