"""A typo'd key in the secret costs that entry, not the whole secret (issue 18 item 5)."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import HEALTHY, Harness
from usage_monitor.core.errors import ConfigError

T1 = "2026-11-24T09:15:00Z"
UUID_TOKEN = "0b6f3a52-5d0e-4c1e-9a57-3f1c2d4e5a6b"
HEX_TOKEN = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"


@pytest.mark.parametrize("short_token", [UUID_TOKEN, HEX_TOKEN, HEX_TOKEN[:32]], ids=["uuid", "hex40", "hex32"])
def test_a_typod_key_over_a_short_token_is_skipped_by_position_and_the_rest_is_checked(
    harness: Harness, short_token: str
) -> None:
    # Given a secret with good entries and one key with a trailing blank over a short token
    harness.simulator.add_license("acme-0001", "tok-acme-0001-SECRET", HEALTHY)
    harness.simulator.add_license("acme-0003", "tok-acme-0003-SECRET", HEALTHY)
    secret = {"acme-0001": "tok-acme-0001-SECRET", "acme-0002 ": short_token, "acme-0003": "tok-acme-0003-SECRET"}
    harness.set_secret(json.dumps(secret))

    # When a run happens
    summary = harness.invoke(time=T1)

    # Then the other licenses are checked, and the bad entry is one config_problem naming its position only
    assert summary["failed"] == []
    assert (summary["checked"], summary["skipped"]) == (2, ["(not shown)"])
    (alert,) = harness.alerts()
    assert alert.attributes["event_type"] == "config_problem"
    assert "key 2" in alert.email
    assert "looks swapped" in alert.email
    assert short_token not in json.dumps([alert.email, alert.sms, alert.default])


def test_a_secret_that_as_a_whole_maps_tokens_to_license_ids_is_still_refused(harness: Harness) -> None:
    swapped = {
        "Zm9vYmFyYmF6cXV4cXV1eC1sb25nLXRva2VuLXZhbHVlLWhlcmUx": "acme-0001",
        "Zm9vYmFyYmF6cXV4cXV1eC1sb25nLXRva2VuLXZhbHVlLWhlcmUy": "acme-0002",
        "acme-0003": "tok-acme-0003-SECRET",
    }
    harness.set_secret(json.dumps(swapped))

    with pytest.raises(ConfigError, match="entry #1 looks swapped") as refused:
        harness.invoke(time=T1)

    assert "and so do 1 more of its 3 entries" in str(refused.value)
    assert harness.simulator.requests == []
    assert not any(key in str(refused.value) for key in swapped)
