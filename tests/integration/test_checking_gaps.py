"""A gap in checking ends what the alert state remembered (issue 19 item 9), through the real handler:
a failure streak counts consecutive runs, and a level mark not looked at for a while is re-evaluated."""

from __future__ import annotations

import json

from local.simulator import Reply, usage_of
from tests.integration.conftest import Harness, add_licenses

BAD_REQUEST = {
    "code": "LE_ERR_SS_400",
    "errors": [{"message": "License validation failed for the request.", "path": None, "code": "LE_ERR_SS_008"}],
}


def fail_at(harness: Harness, *times: str) -> None:
    for time in times:
        harness.simulator.script("lic", Reply(400, json.dumps(BAD_REQUEST)))
        harness.invoke(time=time)


def test_a_license_re_added_months_later_does_not_inherit_its_old_failure_streak(harness: Harness) -> None:
    # Given two failed runs (below the 3-run rule), then the license left the list for four months
    add_licenses(harness, {"lic": usage_of(users=(10, 100))})
    fail_at(harness, "2026-07-01T09:00:00Z", "2026-07-01T09:15:00Z")

    # When it is checked again and its first check fails
    fail_at(harness, "2026-11-02T09:00:00Z")

    # Then nothing is sent: a new streak of one run has started
    assert harness.alerts() == []
    # And a third failure in a row of the new streak alerts, dated from the new streak
    fail_at(harness, "2026-11-02T09:15:00Z", "2026-11-02T09:30:00Z")
    (alert,) = harness.alerts()
    assert alert.attributes["event_type"] == "check_failed"
    assert "Failed 3 run(s) in a row, since 2026-11-02T09:00:00Z." in alert.email


def test_a_level_mark_not_looked_at_for_days_is_re_evaluated(harness: Harness) -> None:
    # Given a 95% alert, then no check for five days (the daily reminder could not refresh the mark)
    add_licenses(harness, {"lic": usage_of(users=(96, 100))})
    harness.configure(ALERT_THRESHOLDS="80,95")
    harness.invoke(time="2026-11-24T09:15:00Z")

    # When it is checked again at 92% (inside the 95% band, which clears below 90%)
    harness.simulator.licenses["lic"].usage = usage_of(users=(92, 100))
    harness.invoke(time="2026-11-29T09:15:00Z")

    # Then the alert states today's level, not a reminder of the one five days ago
    _, today = harness.alerts()
    assert today.attributes == {"event_type": "threshold_crossed", "severity": "warning", "license_id": "lic"}
    assert "- users: 92/100 (92.0%): reached the 80% threshold (warning)" in today.email
    assert "Reminder" not in today.subject
