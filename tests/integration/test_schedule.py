"""A cron() schedule through the real handler: the run spacing comes from the expression."""

from __future__ import annotations

from local.simulator import usage_of
from tests.integration.conftest import Harness, add_licenses

LICENSES = [f"lic-{i}" for i in range(10)]


def test_a_daily_cron_schedule_forecasts_every_license(harness: Harness) -> None:
    add_licenses(harness, {lic: usage_of(signatures=(300, 1000)) for lic in LICENSES})
    # The template's own example: once a day at 09:00.
    harness.configure(SCHEDULE_RATE="cron(0 9 * * ? *)", ALERT_THRESHOLDS="95", FORECAST_ALERT_DAYS="14")

    for day, current in enumerate([300, 400, 500, 600]):
        for lic in LICENSES:
            harness.simulator.licenses[lic].usage = usage_of(signatures=(current, 1000))
        harness.invoke(time=f"2026-11-{20 + day}T09:00:00Z")

    forecast_alerts = [a for a in harness.alerts() if a.attributes["event_type"] == "forecast"]
    assert sorted(a.attributes["license_id"] for a in forecast_alerts) == LICENSES
