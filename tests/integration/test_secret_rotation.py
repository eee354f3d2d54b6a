"""One re-read of the secret per run, shared by the static-token and OAuth2 paths (issue 18 item 3)."""

from __future__ import annotations

import json
import time

from tests.integration.conftest import HEALTHY, Harness
from tests.integration.test_oauth import put_secret_keeping_cache, setenv

T1, T2 = "2026-11-24T09:15:00Z", "2026-11-24T09:30:00Z"


def test_rotating_a_static_token_and_a_client_secret_in_one_update_sends_no_false_alert(harness: Harness) -> None:
    # Given a static-token license and an OAuth2 license, checked once (the container caches the secret)
    sim = harness.simulator
    sim.tokens.add_client("client-1", "cs-OLD-SECRET")
    sim.add_license("static-1", "tok-OLD-SECRET", HEALTHY)
    sim.add_license("oauth-1", None, HEALTHY, client_id="client-1")
    harness.set_secret(
        json.dumps({"static-1": "tok-OLD-SECRET", "oauth-1": {"clientId": "client-1", "clientSecret": "cs-OLD-SECRET"}})
    )
    setenv(harness, LICENSE_IDS="static-1,oauth-1")
    assert harness.invoke(time=T1)["failed"] == []

    # When both are rotated in the same secret update while the warm container still caches the old one
    sim.add_license("static-1", "tok-NEW-SECRET", HEALTHY)
    sim.tokens.add_client("client-1", "cs-NEW-SECRET")
    sim.tokens.expire_all()
    put_secret_keeping_cache(
        harness, {"static-1": "tok-NEW-SECRET", "oauth-1": {"clientId": "client-1", "clientSecret": "cs-NEW-SECRET"}}
    )
    summary = harness.invoke(time=T2)

    # Then both licenses are retried with their new credentials: nothing failed, nothing alerted
    assert summary["failed"] == []
    assert harness.alerts() == []
    assert [r.token_matched for r in sim.requests_for("static-1")] == [True, False, True]
    assert harness.snapshot("static-1", T2)["status"] == "ok"


def test_retries_after_a_rotated_default_token_run_through_the_concurrent_pool(harness: Harness) -> None:
    # Given 48 licenses sharing the `default` token, each answer taking 0.2 s, checked once (cached secret)
    licenses = [f"lic-{i:02d}" for i in range(48)]
    for license_id in licenses:
        harness.simulator.add_license(license_id, "tok-OLD-SECRET", HEALTHY)
    harness.set_secret(json.dumps({"default": "tok-OLD-SECRET"}))
    setenv(harness, LICENSE_IDS=",".join(licenses), MAX_CONCURRENCY="16")
    assert harness.invoke(time=T1)["failed"] == []

    # When the default token is rotated while the container caches the old one
    for license_id in licenses:
        harness.simulator.add_license(license_id, "tok-NEW-SECRET", HEALTHY)
    put_secret_keeping_cache(harness, {"default": "tok-NEW-SECRET"})
    harness.simulator.latency = 0.2
    started = time.monotonic()
    summary = harness.invoke(time=T2)
    elapsed = time.monotonic() - started

    # Then every license is retried with the new token, 16 at a time: one after another would sleep
    # 48 x 0.2 = 9.6 s in the simulator alone
    assert summary["failed"] == []
    assert all(harness.snapshot(license_id, T2)["status"] == "ok" for license_id in licenses)
    assert elapsed < 5.0
