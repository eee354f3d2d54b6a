"""A failure streak that changes its reason is news: a 5xx streak turning into a 401 alerts once more."""

from __future__ import annotations

from local.simulator import Reply, usage_of
from tests.integration.conftest import Harness, add_licenses
from tests.integration.test_hysteresis import run_times

SERVER_ERROR = {"code": "LE_ERR_SS_500", "errors": [{"message": "Internal Server Error", "path": None, "code": None}]}
EXPIRED = {
    "code": "LE_ERR_SS_401",
    "errors": [{"message": "Invalid or expired token", "path": "/api/v1/licenses/lic", "code": "LE_ERR_SS_303"}],
}


def test_a_401_during_a_notified_5xx_streak_is_alerted_once(harness: Harness) -> None:
    # Given a license whose checks fail with 500 for three runs (alerted on the third)
    add_licenses(harness, {"lic": usage_of(users=(100, 1000))})
    harness.configure(HTTP_RETRY_BACKOFF_SECONDS="0.01", ALERT_FLAP_CHANGES="0")
    times = run_times(6)
    for time in times[:3]:
        harness.simulator.script("lic", Reply(500, SERVER_ERROR))
        harness.invoke(time=time)
    # When the token expires while the server errors were still being notified
    for time in times[3:5]:
        harness.simulator.script("lic", Reply(401, EXPIRED))
        harness.invoke(time=time)

    # Then the change of reason is alerted once, naming the token, and the next 401 is silent
    alerts = harness.alerts()
    assert [(a.attributes["event_type"], a.attributes["severity"]) for a in alerts] == [
        ("check_failed", "critical"),
        ("check_failed", "critical"),
    ]
    assert "HTTP 500" in alerts[0].email
    assert "Invalid or expired token" in alerts[1].email
    assert "check its token" in alerts[1].email
    assert "Failed 4 run(s) in a row" in alerts[1].email
