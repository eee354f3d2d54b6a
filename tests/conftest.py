"""Shared fixtures: AWS is moto in-process; no test may reach real AWS."""

from __future__ import annotations

import os

# Before anything imports boto3: fake credentials and a region, so a missed mock fails instead of
# reaching a real account.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SECURITY_TOKEN="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="ap-south-1",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_SERVICE_NAME="leegality-usage-monitor",
    POWERTOOLS_METRICS_NAMESPACE="LeegalityUsageMonitor",
)
