"""Every call to SignStation names the monitor and its release, so an API operator can tell who calls."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import HEALTHY, Harness
from usage_monitor import __version__
from usage_monitor.observability import logger

T1 = "2026-11-24T09:15:00Z"


def test_usage_and_token_calls_carry_the_release_in_their_user_agent(harness: Harness) -> None:
    # Given one license on a static token and one behind an OAuth2 client
    harness.simulator.tokens.add_client("usage-monitor", "cs-SECRET-for-the-user-agent-test")
    harness.simulator.add_license("static-0001", "static-TOKEN-0001", HEALTHY)
    harness.simulator.add_license("oauth-0002", None, HEALTHY, client_id="usage-monitor")
    harness.set_secret(
        json.dumps(
            {
                "static-0001": "static-TOKEN-0001",
                "oauth-0002": {"clientId": "usage-monitor", "clientSecret": "cs-SECRET-for-the-user-agent-test"},
            }
        )
    )
    harness.monkeypatch.setenv("LICENSE_IDS", "static-0001,oauth-0002")

    # When the scheduled run checks both
    summary = harness.invoke(time=T1)

    # Then the token request and both usage requests named the monitor's release
    assert summary["checked"] == 2
    assert harness.simulator.tokens.request_count >= 1
    assert len(harness.simulator.user_agents) == 3
    assert set(harness.simulator.user_agents) == {f"leegality-usage-monitor/{__version__}"}


def test_every_log_line_names_the_release(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    # Given a healthy license
    harness.simulator.add_license("static-0001", "static-TOKEN-0001", HEALTHY)
    harness.set_secret("static-TOKEN-0001")
    harness.monkeypatch.setenv("LICENSE_IDS", "static-0001")

    # When the scheduled run logs its lines
    harness.invoke(time=T1)

    # Then every structured line carries the version key
    # (formatted by the function's own Powertools formatter, as Lambda prints them)
    formatter = logger.registered_formatter
    lines = [json.loads(formatter.format(record)) for record in caplog.records if record.name == logger.name]
    assert lines
    assert {line.get("version") for line in lines} == {__version__}
