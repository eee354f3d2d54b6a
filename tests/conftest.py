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

# Property-based tests: a modest, reproducible run in `make test`; `make fuzz` (HYPOTHESIS_PROFILE=fuzz)
# runs thousands of fresh examples and keeps failures in .hypothesis/ to replay them.
from hypothesis import settings

settings.register_profile("ci", max_examples=50, derandomize=True, deadline=None, database=None, print_blob=True)
settings.register_profile("fuzz", max_examples=3000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
