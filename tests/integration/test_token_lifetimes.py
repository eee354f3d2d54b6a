"""Minted tokens whose life ends mid-run (issue 18 items 4 and 14), through the real handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from local.simulator import Reply, error_body
from local.token_issuer import make_jwt
from tests.integration.conftest import Harness
from tests.integration.test_oauth import client_fleet, setenv

T1 = "2026-11-24T09:15:00Z"


def test_a_401_on_a_token_that_expired_during_a_5xx_retry_chain_is_the_outage_not_the_credentials(
    harness: Harness,
) -> None:
    # Given a 2 s token and an API down for longer (503 with Retry-After: 1, twice per chain)
    client_fleet(harness, ["lic-1"])
    setenv(harness, HTTP_RETRY_BACKOFF_SECONDS="0.01", HTTP_RETRY_AFTER_CAP_SECONDS="2")
    harness.simulator.tokens.lifetime = 2.0
    outage = Reply(503, b"", headers={"Retry-After": "1"})
    expired = Reply(401, error_body(401, "/api/v1/licenses/lic-1/usage-statistics"))
    harness.simulator.script("lic-1", outage, outage, expired, outage, outage, expired)

    # When a run checks it: each chain ends with the server's 401 for the token that expired meanwhile
    summary = harness.invoke(time=T1)

    # Then the license failed with the outage, left to the failure-streak rules: no alert now
    assert summary["failed"] == ["lic-1"]
    error = harness.snapshot("lic-1", T1)["error"]
    assert error["kind"] == "http_error"
    assert error["http_status"] == 503
    assert "until the token expired" in error["message"]
    assert harness.alerts() == []
    # and the token was minted again once, not per retry
    assert harness.simulator.tokens.request_count == 2
    assert len(harness.simulator.requests_for("lic-1")) == 6


def test_a_fresh_token_refused_after_a_chain_is_still_a_rejected_token(harness: Harness) -> None:
    # Given a client whose token the API refuses (the server lost it), after one 503
    client_fleet(harness, ["lic-1"])
    setenv(harness, HTTP_RETRY_BACKOFF_SECONDS="0.01")
    harness.simulator.script("lic-1", Reply(503, b""), Reply(401, b""), Reply(503, b""), Reply(401, b""))

    summary = harness.invoke(time=T1)

    # Then it is the rejected token it is (the token had not expired): alerted at once
    assert summary["failed"] == ["lic-1"]
    assert harness.snapshot("lic-1", T1)["error"]["kind"] == "token_rejected"
    assert [a.attributes["event_type"] for a in harness.alerts()] == ["check_failed"]


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(lambda now: {"iat": int(now) - 180, "exp": int(now) - 120}, id="issuer-clock-3-min-behind"),
        pytest.param(lambda now: {"exp": int(now) - 60}, id="no-iat-no-date-exp-past"),
    ],
)
def test_twelve_licenses_on_a_token_already_expired_by_our_clock_make_one_token_request(
    harness: Harness, claims: Callable[[float], dict[str, Any]]
) -> None:
    # Given an issuer whose tokens' `exp` is already past by our clock (the server still accepts them)
    licenses = [f"lic-{i:02d}" for i in range(12)]
    client_fleet(harness, licenses)
    setenv(harness, LICENSE_IDS=",".join(licenses), MAX_CONCURRENCY="4")
    harness.simulator.tokens._token = lambda client_id, now: make_jwt({"sub": client_id, **claims(now)})  # type: ignore[method-assign]

    # When a run checks the 12 licenses
    summary = harness.invoke(time=T1)

    # Then all are checked with one minted token: one token request, not twelve
    assert summary["failed"] == []
    assert harness.simulator.tokens.request_count == 1
    assert summary["tokens_minted"] == 1
