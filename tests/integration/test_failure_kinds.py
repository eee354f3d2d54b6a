"""A failure streak that changes its reason is news: a 5xx streak turning into a 401 alerts once more."""

from __future__ import annotations

from local.simulator import Reply, usage_of
from tests.integration.conftest import Harness, add_licenses
from tests.integration.test_hysteresis import run_times
from usage_monitor.messages.sms import septets

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


def test_an_sms_with_hostile_upstream_text_is_one_gsm7_segment(harness: Harness) -> None:
    # Given an upstream 403 whose message is full of characters that cost two septets or force UCS-2
    add_licenses(harness, {"lic": usage_of(users=(100, 1000))})
    message = "Access `denied`\r\n\tfor {tenant}|[role]~^\\ " * 6 + "\u2019\U0001f512"
    harness.simulator.script(
        "lic", Reply(403, {"code": "LE_ERR_SS_403", "errors": [{"message": message, "code": "LE_ERR_SS_007"}]})
    )

    harness.invoke(time=run_times(1)[0])

    # Then the SMS fits one segment counted in septets, with nothing outside GSM-7 and no control characters
    sms = harness.alerts()[0].sms
    assert septets(sms) <= 160
    assert all(0x20 <= ord(c) < 0x7F and c != "`" for c in sms)
    assert "'denied'" in sms
