"""Fault injection: every row of the README's fault table, through the real handler.

Leegality is the simulator told to misbehave; AWS is moto, with botocore hooks where a fault must
come from AWS itself (throttling, unprocessed items, an unknown topic).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto.core.botocore_stubber import MockRawResponse

from local.simulator import LeegalitySimulator, Reply, error_body, usage_body, usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses, scheduled_event
from usage_monitor import app
from usage_monitor.core.errors import ConfigError, SecretUnavailable
from usage_monitor.settings import Settings
from usage_monitor.wiring import wire

T1, T2 = "2026-11-24T09:15:00Z", "2026-11-24T09:30:00Z"
PATH = "/api/api/v1/licenses/x/usage-statistics"


@pytest.fixture(autouse=True)
def fast_retries(harness: Harness) -> None:
    """Real urllib3 retries, with backoff shrunk so the suite stays quick."""
    harness.configure(
        HTTP_RETRY_BACKOFF_SECONDS="0.01",
        HTTP_RETRY_AFTER_CAP_SECONDS="0.2",
        HTTP_READ_TIMEOUT_SECONDS="0.5",
        HTTP_CONNECT_TIMEOUT_SECONDS="0.5",
    )


def wire_with_hooks(harness: Harness, hooks: dict[str, Callable[..., Any]], *, first: bool = False) -> None:
    """Build the handler's clients from a session carrying botocore event hooks."""
    for event, hook in hooks.items():
        register = harness.session.events.register_first if first else harness.session.events.register
        register(event, hook)
    app._wired = wire(Settings.from_env(os.environ), harness.session)


# --- Upstream faults: retried, then recorded ---------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_status_is_retried_then_succeeds(harness: Harness, status: int) -> None:
    add_licenses(harness, {"x": HEALTHY})
    harness.simulator.script("x", Reply(status, "", content_type="text/html"), Reply(status, None))

    summary = harness.invoke(time=T1)

    assert summary["failed"] == []
    assert len(harness.simulator.requests_for("x")) == 3
    assert harness.snapshot("x", T1)["status"] == "ok"


def test_retry_after_is_honoured(harness: Harness) -> None:
    add_licenses(harness, {"x": HEALTHY})
    harness.simulator.script("x", Reply(429, error_body(429, PATH), headers={"Retry-After": "1"}))

    harness.invoke(time=T1)

    assert harness.snapshot("x", T1)["status"] == "ok"
    assert len(harness.simulator.requests_for("x")) == 2


def test_persistent_429_is_recorded_after_the_retries(harness: Harness) -> None:
    add_licenses(harness, {"x": HEALTHY, "y": HEALTHY})
    harness.simulator.script("x", *[Reply(429, "", headers={"Retry-After": "0"})] * 10)

    summary = harness.invoke(time=T1)

    assert summary["failed"] == ["x"]
    assert len(harness.simulator.requests_for("x")) == 4  # first try + 3 status retries
    error = harness.snapshot("x", T1)["error"]
    assert error["http_status"] == 429
    assert harness.snapshot("y", T1)["status"] == "ok"


def test_connection_reset_is_retried(harness: Harness) -> None:
    add_licenses(harness, {"x": HEALTHY})
    harness.simulator.script("x", Reply(action="reset"))

    harness.invoke(time=T1)

    assert harness.snapshot("x", T1)["status"] == "ok"
    assert len(harness.simulator.requests_for("x")) == 2


def test_connection_reset_every_time_is_recorded_as_unreachable(harness: Harness) -> None:
    add_licenses(harness, {"x": HEALTHY, "y": HEALTHY})
    harness.simulator.script("x", *[Reply(action="reset")] * 10)

    summary = harness.invoke(time=T1)

    assert summary["failed"] == ["x"]
    error = harness.snapshot("x", T1)["error"]
    assert error["kind"] == "unreachable"
    assert "after retries" in error["message"]


def test_connection_refused_is_recorded(harness: Harness) -> None:
    add_licenses(harness, {"x": HEALTHY})
    harness.configure(LEEGALITY_BASE_URL="http://127.0.0.1:9/api")  # discard port: nothing listens

    summary = harness.invoke(time=T1)

    assert summary["failed"] == ["x"]
    assert "connection refused" in harness.snapshot("x", T1)["error"]["message"]


def test_read_timeout_is_retried_then_recorded(harness: Harness) -> None:
    add_licenses(harness, {"slow": HEALTHY, "fast": HEALTHY})
    harness.simulator.script("slow", *[Reply(200, usage_body(HEALTHY), delay=1.0)] * 3)

    summary = harness.invoke(time=T1)

    assert summary["failed"] == ["slow"]
    assert "read timed out" in harness.snapshot("slow", T1)["error"]["message"]
    assert len(harness.simulator.requests_for("slow")) == 3  # first try + 2 read retries
    assert harness.snapshot("fast", T1)["status"] == "ok"


def test_a_body_that_trickles_slower_than_the_timeout_is_cut_off(harness: Harness) -> None:
    add_licenses(harness, {"drip": HEALTHY})
    harness.simulator.script("drip", Reply(200, usage_body(HEALTHY), action="drip", delay=0.1))

    summary = harness.invoke(time=T1)

    assert summary["failed"] == ["drip"]
    assert "cut off" in harness.snapshot("drip", T1)["error"]["message"]


def test_a_body_over_one_mebibyte_is_cut_off(harness: Harness) -> None:
    add_licenses(harness, {"huge": HEALTHY})
    harness.simulator.script("huge", Reply(200, b"{" + b" " * (1024 * 1024 + 10) + b"}"))

    summary = harness.invoke(time=T1)

    assert summary["failed"] == ["huge"]
    assert "larger than 1048576 bytes" in harness.snapshot("huge", T1)["error"]["message"]


@pytest.mark.parametrize(
    ("status", "code", "detail", "message"),
    [
        (400, "LE_ERR_SS_400", "LE_ERR_SS_008", "License validation failed for the request."),
        (403, "LE_ERR_SS_403", "LE_ERR_SS_007", "Access denied for the requested operation."),
    ],
)
def test_400_and_403_are_not_retried_and_keep_leegality_codes(
    harness: Harness, status: int, code: str, detail: str, message: str
) -> None:
    add_licenses(harness, {"x": HEALTHY})
    harness.simulator.script("x", Reply(status, error_body(status, PATH)))

    harness.invoke(time=T1)

    assert len(harness.simulator.requests_for("x")) == 1
    error = harness.snapshot("x", T1)["error"]
    assert (error["http_status"], error["code"], error["detail_code"], error["message"]) == (
        status,
        code,
        detail,
        message,
    )
    if status == 403:
        (alert,) = harness.alerts()
        assert alert.attributes["event_type"] == "check_failed"
    else:
        assert harness.alerts() == []  # 400 waits for 3 failed runs


def test_401_rereads_the_secret_and_retries_with_the_rotated_token(harness: Harness) -> None:
    add_licenses(harness, {"x": HEALTHY}, overrides={"x": "tok-OLD-SECRET"})
    harness.invoke(time=T1)  # warm container: the old token is now cached
    assert harness.snapshot("x", T1)["status"] == "failed"

    # The admin rotates the token; the cache still holds the old one.
    harness.session.client("secretsmanager").put_secret_value(
        SecretId=harness.stack.secret_id, SecretString=json.dumps({"x": "tok-x-SECRET"})
    )
    summary = harness.invoke(time=T2)

    assert summary["failed"] == []
    assert [r.token_matched for r in harness.simulator.requests_for("x")] == [False, False, True]
    assert [a.attributes["event_type"] for a in harness.alerts()] == ["check_failed", "recovered"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(500, error_body(500, PATH)), "Internal Server Error"),
        (Reply(500, "<html><h1>500</h1></html>", content_type="text/html"), "non-JSON body"),
        (Reply(500, ""), "empty body"),
        (Reply(500, '"oops"'), "unexpected JSON str"),
    ],
    ids=["json", "html", "empty", "json-string"],
)
def test_500_bodies_are_recorded_as_far_as_readable(harness: Harness, reply: Reply, expected: str) -> None:
    add_licenses(harness, {"x": HEALTHY})
    harness.simulator.script("x", reply)

    harness.invoke(time=T1)

    error = harness.snapshot("x", T1)["error"]
    assert error["http_status"] == 500
    assert expected in error["message"]
    assert len(harness.simulator.requests_for("x")) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{not json", "not JSON"),
        ("[]", "body is a JSON array"),
        ('"text"', "body is a JSON string"),
        ('{"code": "LE_SS_200"}', "no 'data'"),
        ('{"data": null}', "'data' is null"),
        ('{"data": [1]}', "'data' is array"),
        ('{"data": "x"}', "'data' is string"),
    ],
)
def test_malformed_200_is_recorded_as_malformed(harness: Harness, body: str, expected: str) -> None:
    add_licenses(harness, {"x": HEALTHY})
    harness.simulator.script("x", Reply(200, body))

    harness.invoke(time=T1)

    error = harness.snapshot("x", T1)["error"]
    assert error["kind"] == "malformed_response"
    assert expected in error["message"]


def test_invalid_fields_are_stored_as_far_as_valid_and_never_evaluated(harness: Harness) -> None:
    usage = {
        "users": {"current": 999, "limit": None},
        "departments": {"current": -1, "limit": 10},
        "signatures": {"current": 9.5, "limit": 10},
        "certificates": {"current": "9", "limit": 10},
        "seals": {"current": True, "limit": 1},
        "stamps": {"limit": 5},
    }
    add_licenses(harness, {"x": usage})

    summary = harness.invoke(time=T1)

    # Nothing left to evaluate: the check counts as failed (no_usage_data), what came is still stored.
    assert summary["failed"] == ["x"]
    snapshot = harness.snapshot("x", T1)
    assert snapshot["error"]["kind"] == "no_usage_data"
    assert snapshot["users"] == {
        "current": 999,
        "problems": ["users.limit: expected a non-negative integer, got null None"],
    }
    assert snapshot["departments"]["limit"] == 10
    assert "current" not in snapshot["departments"]
    assert "current" not in snapshot["signatures"]
    assert "current" not in snapshot["certificates"]
    assert "current" not in snapshot["seals"]  # True is not 1
    assert snapshot["stamps"] == {"limit": 5, "problems": ["stamps.current: missing"]}
    assert all("percent" not in snapshot[name] for name in usage)
    assert harness.alerts() == []


def test_current_over_limit_is_stored_with_its_real_percentage_and_critical(harness: Harness) -> None:
    add_licenses(harness, {"x": usage_of(signatures=(1200, 1000))})

    harness.invoke(time=T1)

    assert harness.snapshot("x", T1)["signatures"]["percent"] == Decimal("120.0")
    (alert,) = harness.alerts()
    assert alert.attributes["severity"] == "critical"
    assert "1200/1000 (120.0%)" in alert.email


def test_a_resource_added_later_is_stored_and_evaluated(harness: Harness) -> None:
    add_licenses(harness, {"x": {**HEALTHY, "templates": {"current": 9, "limit": 10}}})

    harness.invoke(time=T1)

    assert harness.snapshot("x", T1)["templates"]["percent"] == Decimal("90.0")
    (alert,) = harness.alerts()
    assert "templates: 9/10 (90.0%)" in alert.email


# --- Run-level faults ----------------------------------------------------------------------------


def test_deadline_records_unreached_licenses_and_stores_the_rest(harness: Harness) -> None:
    add_licenses(harness, {"hung": HEALTHY, "fine": HEALTHY})
    harness.configure(HTTP_READ_TIMEOUT_SECONDS="15", DEADLINE_MARGIN_SECONDS="1", MAX_CONCURRENCY="2")
    harness.simulator.script("hung", Reply(action="hang", delay=12))

    # 7 s before the deadline (the cold start's wiring included): time enough for "fine" on a loaded
    # machine, not for "hung".
    summary = harness.invoke(time=T1, timeout_seconds=8.0)

    # Not reached is the run's capacity problem, not the license's failure (see test_run_problems).
    assert (summary["failed"], summary["unchecked"]) == ([], 1)
    assert harness.snapshot("hung", T1)["error"]["kind"] == "deadline"
    assert harness.snapshot("fine", T1)["status"] == "ok"


def test_missing_secret_fails_the_run_loudly_and_alerts(harness: Harness) -> None:
    harness.configure(TOKENS_SECRET_ID="no-such-secret")

    with pytest.raises(SecretUnavailable, match=r"no-such-secret.*ResourceNotFoundException"):
        harness.invoke(time=T1)

    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "check_failed", "severity": "critical", "license_id": "*"}
    assert "no license is being checked" in alert.email


def test_unparsable_secret_fails_naming_the_secret_without_its_content(harness: Harness) -> None:
    harness.set_secret('{"x": "tok-LEAKY-SECRET", ')

    with pytest.raises(ConfigError) as raised:
        harness.invoke(time=T1)

    assert harness.stack.secret_id in str(raised.value)
    assert "tok-LEAKY-SECRET" not in str(raised.value)
    (alert,) = harness.alerts()
    assert "tok-LEAKY-SECRET" not in alert.email + alert.sms + alert.subject


def test_run_failure_alert_is_sent_once_and_recovers(harness: Harness) -> None:
    add_licenses(harness, {"x": HEALTHY})
    harness.configure(TOKENS_SECRET_ID="no-such-secret")
    for time in (T1, T2):
        with pytest.raises(SecretUnavailable):
            harness.invoke(time=time)
    harness.configure(TOKENS_SECRET_ID=harness.stack.secret_id)

    harness.invoke(time="2026-11-24T09:45:00Z")

    assert [a.attributes["event_type"] for a in harness.alerts()] == ["check_failed", "recovered"]


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("ALERT_THRESHOLDS", "80,abc", "'abc'"),
        ("ALERT_THRESHOLDS", "0", "'0'"),
        ("ALERT_THRESHOLDS", "1000.5", "'1000.5'"),
        ("LEEGALITY_BASE_URL", "http://leegality.example/api", "https://"),
    ],
)
def test_configuration_errors_fail_the_run_naming_the_entry(
    harness: Harness, setting: str, value: str, named: str
) -> None:
    add_licenses(harness, {"x": HEALTHY})
    harness.configure(**{setting: value})

    with pytest.raises(ConfigError) as raised:
        harness.invoke(time=T1)

    assert setting in str(raised.value)
    assert named in str(raised.value)
    assert harness.simulator.requests == []


def test_dynamodb_throttling_and_unprocessed_items_are_retried(harness: Harness) -> None:
    add_licenses(harness, {f"lic-{i}": HEALTHY for i in range(30)})
    calls = {"throttled": 0, "unprocessed": 0}

    def throttle_then_leave_unprocessed(request: Any, **_: Any) -> AWSResponse | None:
        if calls["throttled"] < 2:
            calls["throttled"] += 1
            body = json.dumps(
                {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "slow down"}
            )
            return AWSResponse(request.url, 400, HTTPHeaders(), MockRawResponse(body.encode()))
        if calls["unprocessed"] < 1:
            calls["unprocessed"] += 1
            return AWSResponse(
                request.url,
                200,
                HTTPHeaders(),
                MockRawResponse(json.dumps({"UnprocessedItems": json.loads(request.body)["RequestItems"]}).encode()),
            )
        return None

    wire_with_hooks(harness, {"before-send.dynamodb.BatchWriteItem": throttle_then_leave_unprocessed}, first=True)

    summary = harness.invoke(time=T1)

    assert summary["checked"] == 30
    assert calls == {"throttled": 2, "unprocessed": 1}
    assert all(harness.snapshot(f"lic-{i}", T1)["status"] == "ok" for i in range(30))


def test_failed_publish_does_not_advance_alert_state_so_next_run_sends_it(harness: Harness) -> None:
    add_licenses(harness, {"busy": usage_of(users=(900, 1000))})
    real_topic = harness.stack.topic_arn
    harness.configure(ALERT_TOPIC_ARN=real_topic + "-deleted")

    first = harness.invoke(time=T1)
    harness.configure(ALERT_TOPIC_ARN=real_topic)
    second = harness.invoke(time=T2)

    assert first["alerts"] == 0
    assert second["alerts"] == 1
    (alert,) = harness.alerts()
    assert "users: 900/1000 (90.0%)" in alert.email


def test_overlapping_runs_send_an_alert_once(harness: Harness) -> None:
    add_licenses(harness, {"busy": usage_of(users=(900, 1000))})
    harness.simulator.latency = 0.3  # both runs read the alert state before either writes it
    app._wired = wire(Settings.from_env(os.environ), harness.session)
    results: list[dict[str, Any]] = []

    runs = [threading.Thread(target=lambda t=t: results.append(harness.invoke(time=t))) for t in (T1, T2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()

    assert len(results) == 2
    assert sum(r["alerts"] for r in results) == 1
    assert len(harness.alerts()) == 1


def test_redelivered_event_is_idempotent_even_after_a_state_change(harness: Harness) -> None:
    add_licenses(harness, {"x": usage_of(users=(10, 100))})
    event = scheduled_event(T1, "same-id")
    harness.invoke(event)
    harness.simulator.licenses["x"].usage = usage_of(users=(100, 100))

    replay = harness.invoke(event)

    assert replay["alerts"] == 0
    assert harness.alerts() == []
    assert len(harness.simulator.requests) == 1


# --- Token hygiene across every fault ---------------------------------------------------------


def test_no_token_in_any_log_snapshot_alert_or_aws_call(
    harness: Harness, capsys: pytest.CaptureFixture[str], log_output: io.StringIO
) -> None:
    faults = {
        "f-429": Reply(429, "", headers={"Retry-After": "0"}),
        "f-503": Reply(503, "<html>down</html>", content_type="text/html"),
        "f-reset": Reply(action="reset"),
        "f-400": Reply(400, error_body(400, PATH)),
        "f-403": Reply(403, error_body(403, PATH)),
        "f-500": Reply(500, error_body(500, PATH)),
        "f-badjson": Reply(200, "{oops"),
        "f-nodata": Reply(200, {"code": "LE_SS_200"}),
        "f-huge": Reply(200, b"[" + b"0," * 600_000 + b"0]"),
        "f-slow": Reply(200, usage_body(HEALTHY), delay=1.0),
    }
    usages = dict.fromkeys(faults, HEALTHY) | {"f-over": usage_of(users=(12, 10)), "f-401": HEALTHY}
    tokens = add_licenses(harness, usages, overrides={"f-401": "tok-WRONG-401-SECRET"})
    for name, reply in faults.items():
        harness.simulator.script(name, *[reply] * 5)
    # An error message echoing the token back
    harness.simulator.script("f-over", Reply(403, {"errors": [{"message": f"bad {tokens['f-over']}"}]}))
    aws_calls: list[str] = []
    wire_with_hooks(harness, {"before-call": lambda params, **_: aws_calls.append(json.dumps(params, default=str))})
    harness.configure(POWERTOOLS_LOG_LEVEL="DEBUG")

    harness.invoke(time=T1)
    harness.configure(TOKENS_SECRET_ID="missing-secret")
    with pytest.raises(SecretUnavailable):
        harness.invoke(time=T2)

    everything = "\n".join(
        [
            *aws_calls,
            json.dumps(harness.table.scan()["Items"], default=str),
            json.dumps([a.__dict__ for a in harness.alerts()]),
            *capsys.readouterr(),
            log_output.getvalue(),  # the Powertools logger's lines, which capsys does not see
        ]
    )
    assert len(aws_calls) > 5
    assert '"message":"license check failed"' in log_output.getvalue()
    assert "[redacted]" in everything
    for token in [*tokens.values(), "tok-WRONG-401-SECRET"]:
        assert token not in everything


# --- Security ------------------------------------------------------------------------------------


def test_tls_certificate_verification_stays_on(harness: Harness, tmp_path: Any) -> None:
    # Given a Leegality look-alike on https with a self-signed certificate
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    with LeegalitySimulator(tls=(str(cert), str(key))) as impostor:
        impostor.add_license("x", "tok-x-SECRET", HEALTHY)
        harness.set_secret({"x": "tok-x-SECRET"})
        harness.configure(LEEGALITY_BASE_URL=impostor.base_url)

        summary = harness.invoke(time=T1)

    # Then the check fails on verification and the token was never sent to it
    assert summary["failed"] == ["x"]
    assert "certificate verification failed" in harness.snapshot("x", T1)["error"]["message"]
    assert impostor.requests == []


def test_plain_http_is_refused_for_anything_but_loopback(harness: Harness) -> None:
    harness.configure(LEEGALITY_BASE_URL="http://app1.leegality.com/api")

    with pytest.raises(ConfigError, match="must be an https:// URL"):
        harness.invoke(time=T1)


# --- Rate limits ---------------------------------------------------------------------------------


def test_max_requests_per_second_is_respected_across_workers(harness: Harness) -> None:
    add_licenses(harness, {f"lic-{i}": HEALTHY for i in range(20)})
    harness.configure(MAX_REQUESTS_PER_SECOND="10", MAX_CONCURRENCY="8")

    harness.invoke(time=T1)

    times = sorted(r.at for r in harness.simulator.requests)
    assert len(times) == 20
    # A burst of 10, then one every 0.1 s: the 20th cannot leave before 1.0 s after the first. The
    # simulator stamps arrivals, which scheduling can shift by a little, hence the 0.2 s allowance.
    # Without the throttle, 8 workers send all 20 within a few milliseconds.
    assert times[-1] - times[0] >= 0.8


def test_a_429_pauses_every_worker_not_just_the_one_told(harness: Harness) -> None:
    add_licenses(harness, {"told": HEALTHY, **{f"other-{i}": HEALTHY for i in range(6)}})
    harness.configure(MAX_CONCURRENCY="1", HTTP_RETRY_AFTER_CAP_SECONDS="0.5")
    harness.simulator.script("told", Reply(429, "", headers={"Retry-After": "1"}))

    harness.invoke(time=T1)

    told = harness.simulator.requests_for("told")
    later = [r.at for r in harness.simulator.requests if r.license_id != "told" and r.at > told[0].at]
    # Whatever ran after the 429 waited out the (capped) Retry-After of 0.5 s.
    assert later
    assert min(later) - told[0].at >= 0.45
    assert harness.snapshot("told", T1)["status"] == "ok"


def test_secret_access_denied_fails_the_run_naming_the_secret_and_the_denial(harness: Harness) -> None:
    add_licenses(harness, {"x": HEALTHY})

    def deny(request: Any, **_: Any) -> AWSResponse:
        body = json.dumps({"__type": "AccessDeniedException", "message": "not authorized to GetSecretValue"})
        return AWSResponse(request.url, 400, HTTPHeaders(), MockRawResponse(body.encode()))

    wire_with_hooks(harness, {"before-send.secrets-manager.GetSecretValue": deny}, first=True)

    with pytest.raises(SecretUnavailable) as raised:
        harness.invoke(time=T1)

    assert harness.stack.secret_id in str(raised.value)
    assert "AccessDeniedException" in str(raised.value)
    (alert,) = harness.alerts()
    assert alert.attributes["event_type"] == "check_failed"
    assert harness.simulator.requests == []
