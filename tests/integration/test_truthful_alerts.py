"""Every alert line true of the figures it quotes, through the real handler (issue 18 items 6, 7; issue 19
item 17): reminders inside the hysteresis band, thresholds at or below the margin, the critical threshold."""

from __future__ import annotations

import json

import pytest

from local.aws import REGION, PublishedAlert
from local.simulator import usage_of
from tests.integration.conftest import Harness, add_licenses
from usage_monitor.core.errors import ConfigError

DAY_ONE = "2026-11-24T09:15:00Z"
DAY_TWO = "2026-11-25T09:15:00Z"  # 24 h later: a reminder is due (ALERT_REMIND_AFTER_HOURS=24)


def run_users(harness: Harness, license_id: str, *runs: tuple[str, int, int]) -> list[PublishedAlert]:
    for time, current, limit in runs:
        harness.simulator.licenses[license_id].usage = usage_of(users=(current, limit))
        harness.invoke(time=time)
    return harness.alerts()


def chat_title(alert: PublishedAlert) -> str:
    title: str = json.loads(alert.chat)["content"]["title"]
    return title


def test_a_reminder_of_a_limit_alert_back_at_96_percent_does_not_say_the_limit_is_reached(harness: Harness) -> None:
    # Given a license that reached its users limit, then fell back to 48/50 (96 %, inside the 95 % band)
    add_licenses(harness, {"lic": usage_of(users=(50, 50))})
    harness.configure(ALERT_THRESHOLDS="80,95")

    # When the daily reminder goes out
    crossed, reminder = run_users(harness, "lic", (DAY_ONE, 50, 50), (DAY_TWO, 48, 50))

    # Then it keeps the held level's severity but every form says where usage is now
    assert crossed.attributes["severity"] == "critical"
    assert reminder.attributes == {"event_type": "threshold_crossed", "severity": "critical", "license_id": "lic"}
    assert reminder.subject == "[CRITICAL] Leegality lic: Reminder: users raised at limit, now 48/50 (96.0%)"
    assert (
        "- users: raised at the limit (CRITICAL, still held); now 48/50 (96.0%), below the limit; "
        "the alert clears below 95%" in reminder.email
    )
    assert "nobody can sign" not in reminder.email
    assert "still at or above" not in reminder.email
    assert reminder.sms == "Leegality lic CRITICAL (reminder): users raised at limit, now 48/50 (96.0%), clears <95%"
    assert "LIMIT" not in reminder.sms
    assert chat_title(reminder).endswith("Reminder: users raised at limit, now 48/50 (96.0%)")
    assert "below the limit" in json.loads(reminder.chat)["content"]["description"]


def test_a_reminder_inside_the_band_of_a_threshold_states_todays_figures(harness: Harness) -> None:
    add_licenses(harness, {"lic": usage_of(users=(80, 100))})
    harness.configure(ALERT_THRESHOLDS="80,95", CRITICAL_AT_LIMIT_ONLY="true")

    _, reminder = run_users(harness, "lic", (DAY_ONE, 80, 100), (DAY_TWO, 78, 100))

    assert reminder.attributes["severity"] == "warning"
    assert reminder.subject.endswith(": Reminder: users raised at >= 80%, now 78/100 (78.0%)")
    assert "- users: raised at the 80% threshold (warning, still held); now 78/100 (78.0%), below that threshold" in (
        reminder.email
    )
    assert "the alert clears below 75%" in reminder.email
    assert reminder.sms.endswith("users raised at >=80%, now 78/100 (78.0%), clears <75%")


def test_a_reminder_still_above_its_line_says_still_at_or_above(harness: Harness) -> None:
    add_licenses(harness, {"lic": usage_of(users=(85, 100))})
    harness.configure(ALERT_THRESHOLDS="80,95")

    _, reminder = run_users(harness, "lic", (DAY_ONE, 85, 100), (DAY_TWO, 86, 100))

    assert "- users: 86/100 (86.0%): still at or above the 80% threshold (warning)" in reminder.email
    assert reminder.subject.endswith(": Reminder: users >= 80% 86/100 (86.0%)")


@pytest.mark.parametrize("today", [0, 4])
def test_a_threshold_at_or_below_the_margin_clears(harness: Harness, today: int) -> None:
    # Given a 5 % threshold with the default 5-point margin (its line minus the margin would be 0 %)
    add_licenses(harness, {"lic": usage_of(departments=(60, 100))})
    harness.configure(ALERT_THRESHOLD_OVERRIDES="departments=5,50", ALERT_THRESHOLDS="80,95")

    # When departments go from 60 % to below 5 %
    for time, current in ((DAY_ONE, 60), ("2026-11-24T09:30:00Z", 6), ("2026-11-24T09:45:00Z", today)):
        harness.simulator.licenses["lic"].usage = usage_of(departments=(current, 100))
        harness.invoke(time=time)

    # Then the alert clears (below the threshold itself), and nothing is left to remind about
    sent = [(a.attributes["event_type"], a.attributes["severity"]) for a in harness.alerts()]
    assert sent == [("threshold_crossed", "critical"), ("recovered", "warning")]
    assert f"departments: {today}/100 ({today}.0%): recovered" in harness.alerts()[1].email
    harness.invoke(time=DAY_TWO)
    assert len(harness.alerts()) == 2


def sms_subscriber(harness: Harness) -> str:
    """An SQS queue subscribed with the SMS filter the template sets for SmsMinimumSeverity=critical."""
    sqs = harness.session.client("sqs", region_name=REGION)
    url: str = sqs.create_queue(QueueName="sms-like")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    harness.session.client("sns", region_name=REGION).subscribe(
        TopicArn=harness.stack.topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps({"severity": ["critical"]})},
    )
    return url


def sms_received(harness: Harness, url: str) -> list[str]:
    sqs = harness.session.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"])["Subject"] for m in messages]


def test_the_highest_threshold_is_critical_and_reaches_sms(harness: Harness) -> None:
    # Given the template's defaults (80,95) and its critical-only SMS filter
    add_licenses(harness, {"lic": usage_of(users=(850, 1000))})
    harness.configure(ALERT_THRESHOLDS="80,95")
    url = sms_subscriber(harness)

    # When users pass 80 %, then 95 %
    sent = run_users(harness, "lic", (DAY_ONE, 850, 1000), ("2026-11-24T09:30:00Z", 960, 1000))

    # Then 80 % is a warning (email only) and 95 % is critical: the text arrives before the limit
    assert [a.attributes["severity"] for a in sent] == ["warning", "critical"]
    assert "- users: 960/1000 (96.0%): reached the 95% threshold (CRITICAL)" in sent[1].email
    assert "Thresholds: 80%, 95%; the highest threshold and reaching the limit are critical." in sent[1].email
    assert sms_received(harness, url) == [sent[1].subject]


def test_critical_at_limit_only_keeps_sms_for_the_limit(harness: Harness) -> None:
    add_licenses(harness, {"lic": usage_of(users=(960, 1000))})
    harness.configure(ALERT_THRESHOLDS="80,95", CRITICAL_AT_LIMIT_ONLY="true")
    url = sms_subscriber(harness)

    sent = run_users(harness, "lic", (DAY_ONE, 960, 1000), ("2026-11-24T09:30:00Z", 1000, 1000))

    assert [a.attributes["severity"] for a in sent] == ["warning", "critical"]
    assert "reached the 95% threshold (warning)" in sent[0].email
    assert "Thresholds: 80%, 95%; only reaching the limit is critical." in sent[0].email
    assert sms_received(harness, url) == [sent[1].subject]


def test_a_bad_critical_at_limit_only_is_a_config_problem(harness: Harness) -> None:
    add_licenses(harness, {"lic": usage_of(users=(10, 1000))})
    harness.configure(CRITICAL_AT_LIMIT_ONLY="yes")

    with pytest.raises(ConfigError, match="CRITICAL_AT_LIMIT_ONLY"):
        harness.invoke(time=DAY_ONE)

    (alert,) = harness.alerts()
    assert alert.attributes["event_type"] == "config_problem"
    assert "CRITICAL_AT_LIMIT_ONLY: 'yes' is not true or false" in alert.email
