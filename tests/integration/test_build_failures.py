"""Every failure to build the run reaches the alert topic, through the real handlers under moto (issue 19 item 14).

The CA bundle is read from SSM while the run is built, after the settings check that used to be the only
step that alerted: a missing parameter, garbage, a corrupt PEM block, or a good CA followed by a corrupt
block failed every run with nothing on the topic. Each is now one run-level `config_problem`, as a bad
setting is, from the scheduled function and from the fan-out worker, with a `recovered` notice once fixed.
"""

from __future__ import annotations

from typing import Any

import pytest

from local.aws import FakeContext
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from usage_monitor import app
from usage_monitor.core.errors import ConfigError

T1, T2, T3 = "2026-11-24T09:15:00Z", "2026-11-24T09:30:00Z", "2026-11-24T09:45:00Z"
PARAMETER = "/leegality/ca"
CORRUPT_BLOCK = "-----BEGIN CERTIFICATE-----\nMIIBnot/base64!!\n-----END CERTIFICATE-----\n"


def _good_ca() -> str:
    import trustme

    pem: str = trustme.CA().cert_pem.bytes().decode()
    return pem


def _put(harness: Harness, value: str, kind: str = "String") -> None:
    harness.session.client("ssm").put_parameter(Name=PARAMETER, Value=value, Type=kind, Overwrite=True)


def _events(harness: Harness) -> list[tuple[str, str, str]]:
    return [
        (a.attributes["event_type"], a.attributes["severity"], a.attributes["license_id"]) for a in harness.alerts()
    ]


BAD_BUNDLES: dict[str, Any] = {
    "missing parameter": (None, "cannot read SSM parameter '/leegality/ca' (ParameterNotFound)"),
    "garbage": ("not a certificate at all", "holds no PEM certificate"),
    "corrupt PEM": (CORRUPT_BLOCK, "the PEM bundle does not load"),
    "good CA then a corrupt block": ("GOOD" + CORRUPT_BLOCK, "the PEM bundle does not load"),
    "corrupt SecureString": (("SecureString", CORRUPT_BLOCK), "the PEM bundle does not load"),
}


def _store(harness: Harness, value: Any) -> None:
    if value is None:
        return
    kind, text = value if isinstance(value, tuple) else ("String", value)
    _put(harness, text.replace("GOOD", _good_ca()), kind)


@pytest.mark.parametrize("case", BAD_BUNDLES)
def test_a_bad_ca_bundle_is_one_config_problem_then_recovered(harness: Harness, case: str) -> None:
    # Given a healthy license and CA_BUNDLE_PARAMETER naming a parameter that is missing or not a usable bundle
    value, reason = BAD_BUNDLES[case]
    add_licenses(harness, {"lic-1": HEALTHY})
    harness.configure(CA_BUNDLE_PARAMETER=PARAMETER)
    _store(harness, value)

    # When two scheduled runs fail to build
    for time in (T1, T2):
        with pytest.raises(ConfigError, match="CA_BUNDLE_PARAMETER"):
            harness.invoke(time=time)

    # Then one critical run-level config_problem names the setting and why, in every channel
    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "config_problem", "severity": "critical", "license_id": "*"}
    assert "CA_BUNDLE_PARAMETER" in alert.email
    assert reason in alert.email
    assert "CA_BUNDLE_PARAMETER" in alert.sms
    assert harness.simulator.requests == []

    # And once the parameter holds a good bundle, the next run checks and says so
    _put(harness, _good_ca())
    app.reset()
    summary = harness.invoke(time=T3)
    assert summary["failed"] == []
    assert _events(harness)[1:] == [("recovered", "warning", "*")]


def test_a_worker_that_cannot_be_built_alerts_like_the_scheduled_run(harness: Harness) -> None:
    # Given the fan-out worker with a CA bundle parameter holding garbage
    add_licenses(harness, {"lic-1": HEALTHY})
    harness.configure(CA_BUNDLE_PARAMETER=PARAMETER)
    _put(harness, "garbage")
    chunk: dict[str, Any] = {"Records": []}

    # When it is invoked, it fails (SQS retries the chunk) and the topic hears why
    with pytest.raises(ConfigError, match="CA_BUNDLE_PARAMETER"):
        app.worker_handler(chunk, FakeContext(function_name="usage-monitor-worker"))
    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "config_problem", "severity": "critical", "license_id": "*"}
    assert "holds no PEM certificate" in alert.email


def test_a_worker_with_a_setting_the_code_rejects_alerts_like_the_scheduled_run(harness: Harness) -> None:
    harness.configure(ALERT_THRESHOLDS="0")

    with pytest.raises(ConfigError, match="ALERT_THRESHOLDS"):
        app.worker_handler({"Records": []}, FakeContext(function_name="usage-monitor-worker"))

    (alert,) = harness.alerts()
    assert alert.attributes["event_type"] == "config_problem"
    assert "ALERT_THRESHOLDS" in alert.email
