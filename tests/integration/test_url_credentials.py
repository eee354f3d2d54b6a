"""A URL setting that carries credentials is refused without quoting them (issue 18 item 2).

A refused setting becomes a CRITICAL `config_problem` that goes to email, SMS and chat, so its text must
name the setting and what is wrong, never the user, password or query values of the URL.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import HEALTHY, Harness, add_licenses
from usage_monitor import cli
from usage_monitor.core.errors import ConfigError

PASSWORD = "hunter2-Pa55w0rd"
T1 = "2026-11-24T09:15:00Z"


@pytest.mark.parametrize(
    ("setting", "value", "what"),
    [
        ("LEEGALITY_BASE_URL", f"https://monitor:{PASSWORD}@sign.example/api", "user name or password"),
        ("LEEGALITY_BASE_URL", f"https://sign.example/api?apiKey={PASSWORD}", "query string"),
        ("LEEGALITY_BASE_URL", f"http://sign.example/api#{PASSWORD}", "fragment"),
        ("CA_BUNDLE_PARAMETER", f"https://ops:{PASSWORD}@certs.example/ca.pem", "not an SSM parameter name"),
        ("LICENSE_LIST_S3_URI", f"https://bucket.s3.example/list.txt?X-Amz-Signature={PASSWORD}", "s3://bucket/key"),
    ],
)
def test_a_url_setting_with_credentials_is_refused_without_quoting_them(
    harness: Harness, setting: str, value: str, what: str
) -> None:
    add_licenses(harness, {"lic-1": HEALTHY})
    harness.configure(**{setting: value})

    with pytest.raises(ConfigError, match=setting) as refused:
        harness.invoke(time=T1)

    assert what in str(refused.value)
    assert PASSWORD not in str(refused.value)
    (alert,) = harness.alerts()
    assert alert.attributes["event_type"] == "config_problem"
    assert setting in alert.email
    assert what in alert.email
    published = json.dumps([alert.subject, alert.email, alert.sms, alert.default])
    assert PASSWORD not in published
    assert PASSWORD not in json.dumps(harness.delivered())


def test_a_client_base_url_with_a_password_is_reported_by_position_without_it(harness: Harness) -> None:
    harness.simulator.add_license("lic-1", "tok-lic-1-SECRET", HEALTHY)
    harness.set_secret(
        json.dumps(
            {
                "lic-1": "tok-lic-1-SECRET",
                "lic-2": {
                    "clientId": "c-2",
                    "clientSecret": "s-2-SECRET",
                    "baseUrl": f"https://u:{PASSWORD}@h.example/api",
                },
            }
        )
    )
    harness.configure(LICENSE_IDS="lic-1,lic-2", FAILURE_ALERT_AFTER_RUNS="1")

    summary = harness.invoke(time=T1)

    assert summary["failed"] == ["lic-2"]
    message = harness.snapshot("lic-2", T1)["error"]["message"]
    assert "baseUrl" in message
    assert "user name or password" in message
    everything = json.dumps([[a.subject, a.email, a.sms, a.default] for a in harness.alerts()]) + message
    assert PASSWORD not in everything


def test_the_cli_names_the_option_and_the_problem_not_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEEGALITY_TOKEN", "tok-cli-SECRET")

    code = cli.main(["check", "lic-1", "--base-url", f"https://u:{PASSWORD}@sign.example/api?key={PASSWORD}"])

    err = capsys.readouterr().err
    assert code == 2
    assert "--base-url" in err
    assert "user name or password" in err
    assert "query string" in err
    assert PASSWORD not in err
