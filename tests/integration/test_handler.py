"""The real handler under moto against the Leegality simulator: snapshots, alerts, failures."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest

from local.aws import load_event
from local.simulator import Reply, usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses, scheduled_event
from usage_monitor.core.errors import ConfigError

T1, T2, T3, T4 = (f"2026-11-24T{h:02d}:{m:02d}:00Z" for h, m in ((9, 15), (9, 30), (9, 45), (10, 0)))


def test_first_run_stores_a_snapshot_per_license_and_alerts_once_per_crossing(harness: Harness) -> None:
    # Given one healthy license, one over the 80% threshold and one at its limit
    add_licenses(
        harness,
        {
            "healthy": HEALTHY,
            "busy": usage_of(users=(850, 1000), signatures=(10, 1000)),
            "full": usage_of(users=(50, 50), signatures=(1000, 1000)),
        },
    )
    harness.configure(ALERT_THRESHOLDS="80,95")

    # When the schedule fires
    summary = harness.invoke(time=T1)

    # Then every license is checked and stored, and two alerts go out
    assert summary == {"captured_at": T1, "checked": 3, "failed": [], "alerts": 2}
    healthy = harness.snapshot("healthy", T1)
    assert healthy["status"] == "ok"
    assert healthy["users"] == {"current": 233, "limit": 1000, "percent": Decimal("23.3")}
    assert set(healthy) >= {"users", "departments", "signatures", "certificates", "expires_at", "record_type"}
    alerts = {a.attributes["license_id"]: a for a in harness.alerts()}
    assert set(alerts) == {"busy", "full"}
    assert alerts["busy"].attributes == {"event_type": "threshold_crossed", "severity": "warning", "license_id": "busy"}
    assert alerts["full"].attributes["severity"] == "critical"
    assert "users: 850/1000 (85.0%): reached the 80% threshold" in alerts["busy"].email
    assert "LIMIT" in alerts["full"].sms
    assert len(alerts["full"].sms) <= 160
    assert len(alerts["full"].subject) <= 100

    # And the SQS subscriber got both, with filterable attributes and the readable body
    delivered = harness.delivered()
    assert len(delivered) == 2
    by_license = {m["MessageAttributes"]["license_id"]["Value"]: m for m in delivered}
    assert by_license["full"]["MessageAttributes"]["event_type"]["Value"] == "threshold_crossed"
    assert by_license["full"]["Subject"] == alerts["full"].subject
    assert "License:  full" in by_license["full"]["Message"]


def test_repeat_run_at_the_same_level_sends_nothing(harness: Harness) -> None:
    add_licenses(harness, {"busy": usage_of(users=(850, 1000))})
    harness.invoke(time=T1)

    summary = harness.invoke(time=T2)

    assert summary["alerts"] == 0
    assert len(harness.alerts()) == 1
    assert [s["captured_at"] for s in harness.snapshots("busy")] == [T1, T2]


def test_escalation_then_limit_then_recovery(harness: Harness) -> None:
    add_licenses(harness, {"lic": usage_of(signatures=(810, 1000))})
    harness.configure(ALERT_THRESHOLDS="80,95")
    harness.invoke(time=T1)

    harness.simulator.licenses["lic"].usage = usage_of(signatures=(960, 1000))
    harness.invoke(time=T2)
    harness.simulator.licenses["lic"].usage = usage_of(signatures=(1000, 1000))
    harness.invoke(time=T3)
    # The admin bought more signatures: usage falls below every threshold.
    harness.simulator.licenses["lic"].usage = usage_of(signatures=(1000, 5000))
    harness.invoke(time=T4)

    alerts = harness.alerts()
    assert [(a.attributes["event_type"], a.attributes["severity"]) for a in alerts] == [
        ("threshold_crossed", "warning"),
        ("threshold_crossed", "critical"),  # 95 % is the highest threshold: critical, before the limit
        ("threshold_crossed", "critical"),
        ("recovered", "warning"),
    ]
    assert "reached the 95% threshold (CRITICAL)" in alerts[1].email
    assert "reached the limit" in alerts[2].email
    assert "signatures: 1000/5000 (20.0%): recovered" in alerts[3].email


def test_token_rejected_fails_that_license_alone_and_alerts_at_once(harness: Harness) -> None:
    tokens = add_licenses(harness, {"good": HEALTHY, "bad": HEALTHY}, overrides={"bad": "tok-expired-SECRET"})

    summary = harness.invoke(time=T1)

    assert summary["failed"] == ["bad"]
    assert summary["checked"] == 2
    snapshot = harness.snapshot("bad", T1)
    assert snapshot["status"] == "failed"
    assert snapshot["error"]["http_status"] == 401
    assert snapshot["error"]["code"] == "LE_ERR_SS_401"
    assert snapshot["error"]["message"] == "Invalid or expired token"
    assert harness.snapshot("good", T1)["status"] == "ok"
    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "check_failed", "severity": "critical", "license_id": "bad"}
    assert "HTTP 401" in alert.sms
    # The request carried the header (the simulator saw a token, just not the right one)
    assert all(r.had_token for r in harness.simulator.requests)
    assert tokens["bad"] not in alert.email + alert.sms + alert.subject


def test_a_failing_license_is_notified_once_then_recovers(harness: Harness) -> None:
    add_licenses(harness, {"flaky": HEALTHY})
    html = Reply(500, "<html><body>Internal Server Error</body></html>", content_type="text/html")
    harness.simulator.script("flaky", html, html, html, html)

    for time in (T1, T2, T3, T4):
        harness.invoke(time=time)
    harness.invoke(time="2026-11-24T10:15:00Z")

    alerts = harness.alerts()
    # Runs 1 and 2 quiet, run 3 alerts, run 4 quiet, run 5 succeeds: recovered.
    assert [a.attributes["event_type"] for a in alerts] == ["check_failed", "recovered"]
    assert "Failed 3 run(s) in a row" in alerts[0].email
    snapshot = harness.snapshot("flaky", T1)
    assert snapshot["status"] == "failed"
    assert snapshot["error"]["http_status"] == 500
    assert "non-JSON body" in snapshot["error"]["message"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(200, "{not json"), "200 response is not JSON"),
        (Reply(200, {"code": "LE_SS_200", "message": "ok"}), "body has no 'data'"),
        (Reply(200, {"code": "LE_SS_200", "data": None}), "'data' is null"),
        (Reply(200, [1, 2]), "body is a JSON array"),
        (
            Reply(
                500,
                {"code": "LE_ERR_SS_500", "errors": [{"message": "Internal Server Error", "path": None, "code": None}]},
            ),
            "Internal Server Error",
        ),
        (
            Reply(
                400,
                {
                    "code": "LE_ERR_SS_400",
                    "errors": [
                        {"message": "License validation failed for the request.", "path": "/x", "code": "LE_ERR_SS_008"}
                    ],
                },
            ),
            "License validation failed",
        ),
    ],
    ids=["invalid-json", "missing-data", "null-data", "array-body", "500-json-null-fields", "400-validation"],
)
def test_bad_responses_are_recorded_as_failures_and_others_still_stored(
    harness: Harness, reply: Reply, expected: str
) -> None:
    add_licenses(harness, {"broken": HEALTHY, "fine": HEALTHY})
    harness.simulator.script("broken", reply)

    summary = harness.invoke(time=T1)

    assert summary["failed"] == ["broken"]
    broken = harness.snapshot("broken", T1)
    assert broken["status"] == "failed"
    assert expected in broken["error"]["message"]
    assert harness.snapshot("fine", T1)["status"] == "ok"


def test_a_missing_resource_and_limit_zero_are_stored_without_a_percentage(harness: Harness) -> None:
    add_licenses(harness, {"partial": {"users": {"current": 5, "limit": 0}, "signatures": {"current": 7}}})

    summary = harness.invoke(time=T1)

    # Nothing left to evaluate: the check counts as failed (no_usage_data), what came is still stored.
    assert summary["failed"] == ["partial"]
    snapshot = harness.snapshot("partial", T1)
    assert snapshot["error"]["kind"] == "no_usage_data"
    assert snapshot["users"]["current"] == 5
    assert snapshot["users"]["limit"] == 0
    assert "percent" not in snapshot["users"]
    assert snapshot["signatures"]["current"] == 7
    assert "limit" not in snapshot["signatures"]
    assert "signatures.limit: missing" in snapshot["signatures"]["problems"]
    assert "departments" not in snapshot
    assert harness.alerts() == []


def test_redelivered_event_writes_no_second_snapshot_and_sends_no_second_alert(harness: Harness) -> None:
    add_licenses(harness, {"busy": usage_of(users=(900, 1000))})
    event = scheduled_event(T1, event_id="7c1a-redelivered")

    first = harness.invoke(event)
    harness.simulator.licenses["busy"].usage = usage_of(users=(1000, 1000))
    second = harness.invoke(event)

    assert second == first
    assert len(harness.snapshots("busy")) == 1
    assert len(harness.alerts()) == 1
    assert len(harness.simulator.requests) == 1


def test_plain_string_secret_is_used_for_every_listed_license(harness: Harness) -> None:
    harness.simulator.add_license("one", "shared-SECRET", HEALTHY)
    harness.simulator.add_license("two", "shared-SECRET", HEALTHY)
    harness.set_secret("shared-SECRET")
    harness.configure(LICENSE_IDS=" one , two ")

    summary = harness.invoke(time=T1)

    assert summary == {"captured_at": T1, "checked": 2, "failed": [], "alerts": 0}
    assert all(r.token_matched for r in harness.simulator.requests)


def test_json_secret_with_default_checks_named_and_listed_licenses(harness: Harness) -> None:
    harness.simulator.add_license("named", "own-SECRET", HEALTHY)
    harness.simulator.add_license("listed", "fallback-SECRET", HEALTHY)
    harness.set_secret({"named": "own-SECRET", "default": "fallback-SECRET"})

    assert harness.invoke(time=T1)["checked"] == 1  # LICENSE_IDS empty: the secret's licenses only
    harness.configure(LICENSE_IDS="named,listed")
    summary = harness.invoke(time=T2)

    assert summary["checked"] == 2
    assert summary["failed"] == []
    assert {r.license_id for r in harness.simulator.requests if r.token_matched} == {"named", "listed"}


def test_a_listed_license_without_a_token_fails_alone_naming_license_and_secret(harness: Harness) -> None:
    harness.simulator.add_license("has-token", "t-SECRET", HEALTHY)
    harness.set_secret({"has-token": "t-SECRET"})
    harness.configure(LICENSE_IDS="has-token,no-token")

    summary = harness.invoke(time=T1)

    assert summary["failed"] == ["no-token"]
    message = harness.snapshot("no-token", T1)["error"]["message"]
    assert "no-token" in message
    assert harness.stack.secret_id in message
    assert "t-SECRET" not in message


def test_manual_run_event_checks_only_the_given_licenses(harness: Harness) -> None:
    add_licenses(harness, {"bd82845c-897b-4022-b5f7-679905c1979b": HEALTHY, "other": HEALTHY})

    summary = harness.invoke(load_event("manual-run.json"))

    assert summary["checked"] == 1
    assert [r.license_id for r in harness.simulator.requests] == ["bd82845c-897b-4022-b5f7-679905c1979b"]


def test_license_id_is_percent_encoded_into_the_path(harness: Harness) -> None:
    add_licenses(harness, {"a.b_c-1": HEALTHY})

    harness.invoke(time=T1)

    assert harness.simulator.requests[0].path == "/api/api/v1/licenses/a.b_c-1/usage-statistics"


def test_missing_required_setting_stops_the_run_naming_it(harness: Harness) -> None:
    add_licenses(harness, {"x": HEALTHY})
    harness.monkeypatch.delenv("SNAPSHOT_TABLE")

    with pytest.raises(ConfigError, match="SNAPSHOT_TABLE"):
        harness.invoke(time=T1)
    assert harness.simulator.requests == []


def test_classic_scheduled_event_sets_captured_at(harness: Harness) -> None:
    add_licenses(harness, {"x": HEALTHY})
    event = load_event("scheduled-classic.json")

    summary = harness.invoke(event)

    assert summary["captured_at"] == event["time"]
    assert harness.snapshot("x", event["time"])["status"] == "ok"


def test_tokens_never_reach_logs_snapshots_or_alerts(
    harness: Harness, capsys: pytest.CaptureFixture[str], log_output: io.StringIO
) -> None:
    tokens = add_licenses(
        harness,
        {"ok": usage_of(users=(99, 100)), "rejected": HEALTHY, "broken": HEALTHY},
        overrides={"rejected": "tok-REJECTED-SECRET"},
    )
    # An upstream error that echoes the token back must be redacted too.
    harness.simulator.script(
        "broken", Reply(403, {"code": "LE_ERR_SS_403", "errors": [{"message": f"token {tokens['broken']} denied"}]})
    )
    harness.configure(POWERTOOLS_LOG_LEVEL="DEBUG")

    harness.invoke(time=T1)

    stored = json.dumps(harness.table.scan()["Items"], default=str)
    published = json.dumps([a.__dict__ for a in harness.alerts()])
    output = capsys.readouterr()
    logged = log_output.getvalue()  # the Powertools logger's lines, which capsys does not see
    assert '"message":"run finished"' in logged
    for token in tokens.values():
        assert token not in stored
        assert token not in published
        assert token not in output.out + output.err + logged
    assert "[redacted]" in stored
