"""OAuth2 client credentials through the real handler: the simulator's token endpoint, moto for AWS."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from local.simulator import LeegalitySimulator, Reply
from tests.integration.conftest import HEALTHY, Harness
from usage_monitor import app
from usage_monitor.core.errors import ConfigError

T1, T2, T3 = "2026-11-24T09:15:00Z", "2026-11-24T09:30:00Z", "2026-11-24T09:45:00Z"
CLIENT_ID = "usage-monitor"
CLIENT_SECRET = "cs-7wHdO0PBqujt63lrlDwf-SECRET"


@pytest.fixture(autouse=True)
def fast_retries(harness: Harness) -> None:
    harness.configure(
        HTTP_RETRY_BACKOFF_SECONDS="0.01",
        HTTP_RETRY_AFTER_CAP_SECONDS="2",
        HTTP_READ_TIMEOUT_SECONDS="2",
        HTTP_CONNECT_TIMEOUT_SECONDS="2",
    )


def setenv(harness: Harness, **settings: str) -> None:
    """Add settings on top of the current ones (`Harness.configure` starts from the defaults again)."""
    for name, value in settings.items():
        harness.monkeypatch.setenv(name, value)


def client_fleet(
    harness: Harness, license_ids: list[str], *, secret: str = CLIENT_SECRET, sim: LeegalitySimulator | None = None
) -> None:
    """Licenses answered for tokens minted by one client; the secret holds that client for every license."""
    simulator = sim or harness.simulator
    simulator.tokens.add_client(CLIENT_ID, CLIENT_SECRET)
    for license_id in license_ids:
        simulator.add_license(license_id, None, HEALTHY, client_id=CLIENT_ID)
    harness.set_secret(json.dumps({"clientId": CLIENT_ID, "clientSecret": secret}))
    setenv(harness, LICENSE_IDS=",".join(license_ids))


def put_secret_keeping_cache(harness: Harness, value: Any) -> None:
    """Rotate the secret in Secrets Manager while the warm container still caches the old value."""
    text = value if isinstance(value, str) else json.dumps(value)
    harness.session.client("secretsmanager").put_secret_value(SecretId=harness.stack.secret_id, SecretString=text)


def everything_outside(harness: Harness, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        [
            json.dumps(harness.table.scan()["Items"], default=str),
            json.dumps([a.__dict__ for a in harness.alerts()]),
            *capsys.readouterr(),
            *(json.dumps(r.__dict__, default=str) for r in caplog.records),
        ]
    )


def test_sixteen_concurrent_checks_sharing_one_client_make_one_token_request(harness: Harness) -> None:
    licenses = [f"lic-{i:02d}" for i in range(16)]
    client_fleet(harness, licenses)
    setenv(harness, MAX_CONCURRENCY="16")

    summary = harness.invoke(time=T1)

    assert summary["failed"] == []
    assert summary["checked"] == 16
    assert summary["tokens_minted"] == 1
    assert harness.simulator.tokens.request_count == 1
    assert all(r.token_matched for r in harness.simulator.requests)


def test_a_warm_container_reuses_the_token_and_mints_again_once_it_nears_exp(harness: Harness) -> None:
    client_fleet(harness, ["a", "b"])
    harness.simulator.tokens.lifetime = 2.0

    first = harness.invoke(time=T1)
    second = harness.invoke(time=T2)  # within the lifetime: cached
    time.sleep(2.1)
    third = harness.invoke(time=T3)  # past exp: minted again before any usage call is refused

    assert first["tokens_minted"] == 1
    assert "tokens_minted" not in second
    assert third["tokens_minted"] == 1
    assert [s["failed"] for s in (first, second, third)] == [[], [], []]
    assert harness.simulator.tokens.request_count == 2
    assert all(r.token_matched for r in harness.simulator.requests)  # never a 401


def test_a_token_that_expires_in_the_middle_of_a_run_is_minted_again_once(harness: Harness) -> None:
    licenses = [f"lic-{i:02d}" for i in range(12)]
    client_fleet(harness, licenses)
    setenv(harness, MAX_CONCURRENCY="4")
    harness.simulator.tokens.expire_after_uses = 3  # the server drops the token after 3 good calls

    summary = harness.invoke(time=T1)

    assert summary["failed"] == []
    assert summary["tokens_minted"] == 2
    assert harness.simulator.tokens.request_count == 2
    refused = [r for r in harness.simulator.requests if not r.token_matched]
    assert refused  # some calls did hit the expired token, and each was retried once
    assert len(harness.simulator.requests) == 12 + len(refused)


def test_a_second_401_after_minting_again_is_an_immediate_check_failed(harness: Harness) -> None:
    client_fleet(harness, ["only"])
    harness.simulator.script("only", *[Reply(401, {"code": "LE_ERR_SS_401", "errors": []})] * 2)

    summary = harness.invoke(time=T1)

    assert summary["failed"] == ["only"]
    assert harness.simulator.tokens.request_count == 2  # minted, refused, minted again, refused
    assert [a.attributes["event_type"] for a in harness.alerts()] == ["check_failed"]


def test_two_clients_on_two_base_urls(harness: Harness) -> None:
    with LeegalitySimulator() as other:
        harness.simulator.tokens.add_client("client-a", "secret-a-SECRET")
        other.tokens.add_client("client-b", "secret-b-SECRET")
        harness.simulator.add_license("on-a", None, HEALTHY, client_id="client-a")
        other.add_license("on-b", None, HEALTHY, client_id="client-b")
        harness.set_secret(
            json.dumps(
                {
                    "on-a": {"clientId": "client-a", "clientSecret": "secret-a-SECRET"},
                    "on-b": {"clientId": "client-b", "clientSecret": "secret-b-SECRET", "baseUrl": other.base_url},
                }
            )
        )

        summary = harness.invoke(time=T1)

        assert summary["failed"] == []
        assert summary["tokens_minted"] == 2
        assert harness.simulator.tokens.requests == ["client-a"]
        assert other.tokens.requests == ["client-b"]
        assert [r.license_id for r in other.requests] == ["on-b"]


def test_a_wrong_client_secret_fails_every_license_of_that_client_at_once_naming_client_and_host(
    harness: Harness, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    licenses = ["w-1", "w-2", "w-3"]
    client_fleet(harness, licenses)
    harness.simulator.tokens.echo_secret = True  # the endpoint quotes what it was sent
    harness.simulator.add_license("static", "tok-static-SECRET", HEALTHY)
    harness.set_secret(
        json.dumps(
            {"default": {"clientId": CLIENT_ID, "clientSecret": "cs-WRONG-and-SECRET"}, "static": "tok-static-SECRET"}
        )
    )
    setenv(harness, LICENSE_IDS="w-1,w-2,w-3,static", POWERTOOLS_LOG_LEVEL="DEBUG")

    summary = harness.invoke(time=T1)

    assert sorted(summary["failed"]) == licenses
    # One token request for the three; the secret is re-read, unchanged, so not another: never one per license.
    assert harness.simulator.tokens.request_count == 1
    assert not [r for r in harness.simulator.requests if r.license_id.startswith("w-")]
    alerts = {a.attributes["license_id"]: a for a in harness.alerts()}
    assert sorted(alerts) == licenses  # immediate: first failed run
    for alert in alerts.values():
        assert alert.attributes["event_type"] == "check_failed"
        assert CLIENT_ID in alert.email
        assert harness.simulator.base_url.split("//")[1].split("/")[0] in alert.email
        assert "Settings → API Credentials" in alert.email
    text = everything_outside(harness, capsys, caplog)
    assert "credentials_rejected" in text
    assert "[redacted]" in text  # the echoed secret was scrubbed
    assert "cs-WRONG-and-SECRET" not in text
    assert "SECRET" not in text.replace("tokens secret", "")


def test_a_rotated_client_secret_is_picked_up_after_the_endpoint_refuses_the_cached_one(harness: Harness) -> None:
    client_fleet(harness, ["r-1", "r-2"])
    assert harness.invoke(time=T1)["failed"] == []
    # SignStation's client secret is regenerated, and the new one stored in Secrets Manager, while the
    # warm container still caches the old secret and the old token stops working.
    harness.simulator.tokens.add_client(CLIENT_ID, "cs-ROTATED-SECRET")
    put_secret_keeping_cache(harness, {"clientId": CLIENT_ID, "clientSecret": "cs-ROTATED-SECRET"})
    harness.simulator.tokens.expire_all()

    summary = harness.invoke(time=T2)

    assert summary["failed"] == []
    # 1 (run 1) + 1 refused with the cached secret + 1 with the re-read one
    assert harness.simulator.tokens.request_count == 3
    assert harness.alerts() == []


def test_token_endpoint_500_then_ok_is_retried(harness: Harness) -> None:
    client_fleet(harness, ["x"])
    harness.simulator.tokens.script.extend([Reply(503, "<html>busy</html>", content_type="text/html")])

    summary = harness.invoke(time=T1)

    assert summary["failed"] == []
    assert harness.simulator.tokens.request_count == 2


def test_token_endpoint_429_with_retry_after_is_honoured(harness: Harness) -> None:
    client_fleet(harness, ["x"])
    harness.simulator.tokens.script.extend([Reply(429, "", headers={"Retry-After": "1"})])

    started = time.monotonic()
    summary = harness.invoke(time=T1)

    assert summary["failed"] == []
    assert time.monotonic() - started >= 0.9
    assert harness.simulator.tokens.request_count == 2


def test_token_endpoint_down_fails_its_licenses_after_retries_not_at_once(harness: Harness) -> None:
    client_fleet(harness, ["d-1", "d-2"])
    harness.simulator.tokens.script.extend([Reply(500, {"code": "LE_ERR_SS_500", "errors": []})] * 10)

    summary = harness.invoke(time=T1)

    assert sorted(summary["failed"]) == ["d-1", "d-2"]
    assert harness.simulator.tokens.request_count == 1  # 500 is not in the retry list, as for usage calls
    error = harness.snapshot("d-1", T1)["error"]
    assert error["kind"] == "http_error"
    assert "token endpoint at" in error["message"]
    assert harness.alerts() == []  # the failure-streak rules apply, as for any 5xx


@pytest.mark.parametrize("style", ["jwt-no-exp", "opaque"])
def test_a_token_without_exp_is_cached_for_token_max_age(harness: Harness, style: str) -> None:
    client_fleet(harness, ["x"])
    harness.simulator.tokens.style = style
    setenv(harness, TOKEN_MAX_AGE_SECONDS="60")

    first = harness.invoke(time=T1)
    second = harness.invoke(time=T2)

    assert first["failed"] == second["failed"] == []
    assert harness.simulator.tokens.request_count == 1


@pytest.mark.parametrize("field", ["accessToken", "access_token"])
def test_the_token_is_read_from_the_accepted_field_names(harness: Harness, field: str) -> None:
    client_fleet(harness, ["x"])
    harness.simulator.tokens.token_field = field

    assert harness.invoke(time=T1)["failed"] == []


def test_a_200_without_a_token_names_the_fields_present(harness: Harness) -> None:
    client_fleet(harness, ["x"])
    harness.simulator.tokens.script.append(Reply(200, {"code": "LE_SS_200", "data": {"jwt": CLIENT_SECRET}}))

    summary = harness.invoke(time=T1)

    assert summary["failed"] == ["x"]
    message = harness.snapshot("x", T1)["error"]["message"]
    assert "no token in fields code, data, data.jwt" in message
    assert CLIENT_SECRET not in message


def test_a_malformed_credential_fails_its_license_alone(harness: Harness) -> None:
    harness.simulator.tokens.add_client(CLIENT_ID, CLIENT_SECRET)
    harness.simulator.add_license("good", None, HEALTHY, client_id=CLIENT_ID)
    harness.simulator.add_license("static", "tok-static-SECRET", HEALTHY)
    harness.simulator.add_license("broken", None, HEALTHY, client_id=CLIENT_ID)
    harness.set_secret(
        json.dumps(
            {
                "good": {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET},
                "broken": {"clientId": CLIENT_ID, "clientSecrt": CLIENT_SECRET},
                "static": "tok-static-SECRET",
            }
        )
    )

    summary = harness.invoke(time=T1)

    assert summary["checked"] == 3
    assert summary["failed"] == ["broken"]
    message = harness.snapshot("broken", T1)["error"]["message"]
    assert "entry #2 has 1 unknown field(s)" in message
    assert CLIENT_SECRET not in message
    assert [a.attributes["license_id"] for a in harness.alerts()] == ["broken"]  # immediate, like a missing token


def test_a_private_ca_bundle_from_ssm_is_trusted_and_without_it_nothing_is_sent(
    harness: Harness, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trustme

    # Given an on-premise SignStation on https with a certificate from a private CA
    ca = trustme.CA()
    server = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(server))
    harness.session.client("ssm").put_parameter(Name="/leegality/ca", Value=ca.cert_pem.bytes().decode(), Type="String")
    with LeegalitySimulator(tls=(str(server), str(server))) as onprem:
        client_fleet(harness, ["onprem-1"], sim=onprem)
        harness.set_secret(
            json.dumps({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "baseUrl": onprem.base_url})
        )

        # Without the bundle: verification fails, the token endpoint never receives the client secret
        failed = harness.invoke(time=T1)
        message = harness.snapshot("onprem-1", T1)["error"]["message"]
        assert failed["failed"] == ["onprem-1"]
        assert "certificate verification failed" in message
        assert onprem.tokens.requests == []
        assert onprem.requests == []

        # With CA_BUNDLE_PARAMETER naming the SSM parameter: minted and checked over verified TLS
        app.reset()
        setenv(harness, CA_BUNDLE_PARAMETER="/leegality/ca")
        summary = harness.invoke(time=T2)

        assert summary["failed"] == []
        assert summary["tokens_minted"] == 1
        assert [r.license_id for r in onprem.requests] == ["onprem-1"]


def test_an_unreadable_ca_bundle_parameter_is_a_clear_configuration_error(harness: Harness) -> None:
    client_fleet(harness, ["x"])
    setenv(harness, CA_BUNDLE_PARAMETER="/leegality/missing-ca")

    with pytest.raises(ConfigError, match="cannot read SSM parameter '/leegality/missing-ca'"):
        harness.invoke(time=T1)


def test_a_suspended_client_fails_its_licenses_at_once_and_a_reactivated_one_recovers(harness: Harness) -> None:
    client_fleet(harness, ["s-1", "s-2"])
    harness.simulator.tokens.suspended.add(CLIENT_ID)

    first = harness.invoke(time=T1)
    harness.simulator.tokens.suspended.clear()
    second = harness.invoke(time=T2)

    assert sorted(first["failed"]) == ["s-1", "s-2"]
    error = harness.snapshot("s-1", T1)["error"]
    assert error["kind"] == "credentials_rejected"
    assert error["http_status"] == 403
    assert "is ACTIVE" in error["message"]
    assert second["failed"] == []
    events = sorted((a.attributes["license_id"], a.attributes["event_type"]) for a in harness.alerts())
    assert events == [("s-1", "check_failed"), ("s-1", "recovered"), ("s-2", "check_failed"), ("s-2", "recovered")]


@pytest.mark.parametrize("style", ["X-Auth-Token", "Authorization"])
def test_the_token_goes_in_the_configured_header(harness: Harness, style: str) -> None:
    client_fleet(harness, ["h-1"])
    setenv(harness, LEEGALITY_AUTH_HEADER=style)

    assert harness.invoke(time=T1)["failed"] == []
    assert harness.simulator.auth_styles == [style]


def test_an_unknown_header_style_is_a_configuration_error(harness: Harness) -> None:
    setenv(harness, LEEGALITY_AUTH_HEADER="Cookie")

    with pytest.raises(ConfigError, match="LEEGALITY_AUTH_HEADER: 'Cookie' is not one of X-Auth-Token, Authorization"):
        harness.invoke(time=T1)
