"""Property: one license answering anything cannot stop the fleet (real handler, moto, simulator).

One environment serves every example (each example is a new scheduled run at a new time), so the
function-scoped harness is shared on purpose.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings

from local.simulator import Reply, usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from tests.json_strategies import raw_bodies

START = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
NORMAL = {"fine": HEALTHY, "hot": usage_of(signatures=(900, 1000)), "also-fine": HEALTHY}
FAILED_KINDS = {"malformed_response", "invalid_value", "no_usage_data"}


@pytest.mark.property
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=raw_bodies)
def test_one_license_answering_anything_leaves_every_other_license_stored_and_evaluated(
    harness: Harness, body: str
) -> None:
    # Given three normal licenses and one whose 200 body is generated
    if not harness.simulator.licenses:
        add_licenses(harness, {**NORMAL, "odd": HEALTHY})
    at = (START + timedelta(minutes=15) * next(RUNS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    harness.simulator.script("odd", Reply(200, body.encode("utf-8", "surrogatepass")))

    # When a scheduled run happens
    summary = harness.invoke(time=at)

    # Then it returns a summary, every normal license is stored and evaluated, the odd one is explained
    assert summary["checked"] == 4
    assert set(summary["failed"]) <= {"odd"}
    for license_id in NORMAL:
        assert harness.snapshot(license_id, at)["status"] == "ok"
    state = harness.table.get_item(Key={"license_id": "alert-state#hot", "captured_at": "state"})["Item"]
    assert "signatures" in state["resources"]
    odd = harness.snapshot("odd", at)
    if odd["status"] == "failed":
        assert odd["error"]["kind"] in FAILED_KINDS
        assert odd["error"]["message"]
        assert "odd" in summary["failed"]
    else:
        assert odd["status"] == "ok"
        assert "odd" not in summary["failed"]


RUNS = count()
