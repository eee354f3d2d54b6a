"""`usage-monitor mute / unmute / mutes / test-alert` end to end: moto, the real handler, the CLI."""

from __future__ import annotations

from typing import Any

import pytest

from local.simulator import usage_of
from tests.integration.conftest import Harness, add_licenses
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
    assert "your email subscription" in delivered["Message"]


def test_test_alert_to_a_missing_topic_is_a_clear_error(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "test-alert", "--topic-arn", harness.stack.topic_arn + "-gone")

    assert code == 2
    assert "not found" in err or "NotFound" in err
    assert err.count("\n") == 1
