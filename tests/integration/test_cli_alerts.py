"""`usage-monitor mute / unmute / mutes / test-alert` end to end: moto, the real handler, the CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.sns.models import sns_backends

from local.aws import ACCOUNT_ID, REGION
from local.simulator import usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from tests.unit.messages.test_chat import assert_custom_notification
from usage_monitor import cli


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_mute_silences_a_license_until_unmuted(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    add_licenses(harness, {"quiet": usage_of(users=(90, 100)), "loud": usage_of(users=(90, 100))})

    code, out, _ = run(capsys, "mute", "quiet", "--for", "7d")
    assert code == 0
    assert out.startswith("Muted quiet until ")
    harness.invoke(time="2026-11-24T09:15:00Z")
    assert [a.attributes["license_id"] for a in harness.alerts()] == ["loud"]

    code, out, _ = run(capsys, "mutes")
    assert code == 0
    assert "quiet" in out
    assert "(all)" in out

    assert run(capsys, "unmute", "quiet")[:2] == (0, "Unmuted quiet.\n")
    code, out, err = run(capsys, "unmute", "quiet")
    assert code == 2
    assert "quiet was not muted" in err
    assert run(capsys, "mutes")[1] == "No mutes in force.\n"


def test_mute_one_resource(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    add_licenses(harness, {"lic": usage_of(users=(90, 100), signatures=(90, 100))})

    assert run(capsys, "mute", "lic", "users", "--for", "12h")[0] == 0
    harness.invoke(time="2026-11-24T09:15:00Z")

    (alert,) = harness.alerts()
    assert "signatures: 90/100" in alert.email
    assert "users:" not in alert.email


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("mute", "lic", "--for", "3x"), "not a duration"),
        (("mute", "lic", "--for", "0d"), "not a duration"),
        (("mute", "bad/id", "--for", "1d"), "LICENSE_ID"),
    ],
)
def test_mute_rejects_bad_input(harness: Harness, capsys: pytest.CaptureFixture[str], argv: Any, message: str) -> None:
    code, _, err = run(capsys, *argv)

    assert code == 2
    assert message in err


def test_mute_without_a_table_says_which_setting(capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    monkeypatch.delenv("SNAPSHOT_TABLE", raising=False)

    code, _, err = run(capsys, "mutes")

    assert code == 2
    assert "SNAPSHOT_TABLE" in err


def test_test_alert_reaches_subscribers_clearly_marked(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "test-alert")

    assert code == 0
    assert "Test alert published" in out
    (alert,) = harness.alerts()
    assert alert.subject.startswith("[TEST]")
    assert alert.attributes == {"event_type": "test", "severity": "critical", "license_id": "test"}
    assert "TEST" in alert.sms
    assert len(alert.sms) <= 160
    (delivered,) = harness.delivered()
    assert "your subscription (SQS queue, Lambda function or other endpoint)" in delivered["Message"]


def test_test_alert_names_its_own_channel_in_each_form(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "test-alert")[0] == 0

    [(_id, message, subject, _attributes, _group)] = (
        sns_backends[ACCOUNT_ID][REGION].topics[harness.stack.topic_arn].sent_notifications
    )
    forms = json.loads(message)
    chat = json.loads(forms["https"])
    assert_custom_notification(chat)
    # Each form says which channel works, and only that one
    channels = {
        "email": "your email subscription",
        "sms": "your SMS subscription",
        "default": "your subscription (SQS queue, Lambda function or other endpoint)",
    }
    for form, channel in channels.items():
        assert channel in forms[form], form
        assert [c for c in channels.values() if c in forms[form]] == [channel], form
    description = chat["content"]["description"]
    assert "your chat channel (Slack or Microsoft Teams) to the usage monitor's alerts works" in description
    assert not [c for c in channels.values() if c in description]
    # Nothing is wrong: the chat title carries the test mark, not the critical icon
    assert chat["content"]["title"] == f":white_check_mark: {subject}"
    assert ":red_circle:" not in forms["https"]
    assert chat["metadata"]["eventType"] == "test"


# --- mute checks what it mutes (issue 19 item 4) ----------------------------------------------------


@pytest.fixture
def checked(harness: Harness) -> Harness:
    """`acme-0001` checked once (users and signatures at 90%), and `other` too."""
    add_licenses(harness, {"acme-0001": usage_of(users=(90, 100), signatures=(90, 100)), "other": HEALTHY})
    harness.invoke(time="2026-11-24T09:15:00Z")
    return harness


def silences(harness: Harness, license_id: str) -> dict[str, Any]:
    item = harness.dynamo_table.get_item({"license_id": "alert-state#" + license_id, "captured_at": "state"})
    return dict((item or {}).get("silences") or {})


@pytest.mark.parametrize("written", ["Signatures", "signatures ", " SIGNATURES", "signatures"])
def test_mute_takes_a_resource_as_the_license_reports_it(
    checked: Harness, capsys: pytest.CaptureFixture[str], written: str
) -> None:
    code, out, err = run(capsys, "mute", "acme-0001", written, "--for", "1d")

    assert (code, err) == (0, "")
    assert out.startswith("Muted signatures of acme-0001 until ")
    assert list(silences(checked, "acme-0001")) == ["signatures"]
    # and ends as it was written
    assert run(capsys, "unmute", "acme-0001", written) == (0, "Unmuted signatures of acme-0001.\n", "")
    assert silences(checked, "acme-0001") == {}


def test_mute_of_a_resource_the_license_never_reported_is_refused(
    checked: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "mute", "acme-0001", "signature", "--for", "1d")

    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "usage-monitor: error: license acme-0001 has reported no resource 'signature' (did you mean "
        "'signatures'?); its resources: signatures, users"
    ]
    assert silences(checked, "acme-0001") == {}


def test_mute_of_a_license_never_checked_warns_with_the_closest_id(
    checked: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # `acme-O001`: a letter O for the zero
    code, out, err = run(capsys, "mute", "acme-O001", "--for", "1d")

    assert code == 0
    assert out.startswith("Muted acme-O001 until ")
    assert err.splitlines() == [
        f"usage-monitor: warning: table {checked.stack.table_name} has no snapshot of license acme-O001: the "
        "monitor has not checked it; the closest license it has is acme-0001. Muted anyway, in case it is about "
        "to be added."
    ]
    # The whole-license mute of a checked license is unchanged: no warning
    assert run(capsys, "mute", "acme-0001", "--for", "1d")[::2] == (0, "")
    assert list(silences(checked, "acme-0001")) == ["*"]


def test_a_resource_mute_after_the_check_silences_that_resource(
    checked: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    checked.alerts()  # the first run's alert
    checked.simulator.licenses["acme-0001"].usage = usage_of(users=(96, 100), signatures=(96, 100))
    assert run(capsys, "mute", "acme-0001", "Signatures ", "--for", "1d")[0] == 0

    checked.invoke(time="2026-11-24T10:15:00Z")

    last = checked.alerts()[-1]
    assert "users" in last.email
    assert "signatures:" not in last.email


def test_test_alert_to_a_missing_topic_is_a_clear_error(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "test-alert", "--topic-arn", harness.stack.topic_arn + "-gone")

    assert code == 2
    assert "not found" in err or "NotFound" in err
    assert err.count("\n") == 1
