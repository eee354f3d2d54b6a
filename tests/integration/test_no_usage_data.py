"""Issue 15 item 4: a 200 with nothing to evaluate is a problem of its own, and a vanished alert is not silent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.simulator import usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses

RUNS = ("2026-11-24T09:15:00Z", "2026-11-24T09:30:00Z", "2026-11-24T09:45:00Z")


def _metric(output: str, name: str) -> list[Any]:
    documents = [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line]
    return [d[name] for d in documents if name in d]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"users": {"current": 5, "limit": None}, "signatures": {"current": 7, "limit": 0}},
        {"users": {"current": 5}, "signatures": {"limit": 10}},
    ],
    ids=["data-empty", "limits-null-or-0", "figures-missing"],
)
def test_a_200_with_nothing_to_evaluate_is_no_usage_data_under_the_failure_streak_rules(
    harness: Harness, capsys: pytest.CaptureFixture[str], data: dict[str, Any]
) -> None:
    # Given a license whose 200 answers carry no evaluable resource
    add_licenses(harness, {"empty": data, "fine": HEALTHY})

    # When three scheduled runs see it
    summaries = [harness.invoke(time=at) for at in RUNS]

    # Then each run counts it failed (ChecksFailed), stores what came, and the third alerts once
    assert [s["failed"] for s in summaries] == [["empty"]] * 3
    assert _metric(capsys.readouterr().out, "ChecksFailed") == [[1.0]] * 3
    snapshot = harness.snapshot("empty", RUNS[0])
    assert snapshot["status"] == "failed"
    assert snapshot["error"]["kind"] == "no_usage_data"
    assert "no resource with a count and a positive limit" in snapshot["error"]["message"]
    assert all(snapshot[name] for name in data)  # the figures that came are kept
    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "check_failed", "severity": "critical", "license_id": "empty"}
    assert "no resource with a count and a positive limit" in alert.email


def test_a_resource_that_vanishes_at_the_limit_gets_a_notice_and_leaves_the_state(harness: Harness) -> None:
    # Given a license alerted at the limit for signatures
    add_licenses(harness, {"lic": usage_of(users=(10, 100), signatures=(1000, 1000))})
    harness.invoke(time=RUNS[0])

    # When the API stops listing signatures
    harness.simulator.licenses["lic"].usage = usage_of(users=(10, 100))
    summary = harness.invoke(time=RUNS[1])
    harness.invoke(time=RUNS[2])

    # Then one critical notice says so, the old mark is gone, and nothing repeats
    crossed, vanished = harness.alerts()
    assert crossed.attributes["event_type"] == "threshold_crossed"
    assert vanished.attributes == {"event_type": "resource_vanished", "severity": "critical", "license_id": "lic"}
    assert "signatures: no longer in the API's answer (last notified at the limit)" in vanished.email
    assert "signatures no longer reported" in vanished.sms
    assert summary["failed"] == []
    state = harness.table.get_item(Key={"license_id": "alert-state#lic", "captured_at": "state"})["Item"]
    assert state["resources"] == {}


def test_data_emptied_while_critical_gives_the_notice_at_once_and_the_failure_alert_later(harness: Harness) -> None:
    add_licenses(harness, {"lic": usage_of(signatures=(1000, 1000))})
    harness.invoke(time="2026-11-24T09:00:00Z")
    harness.simulator.licenses["lic"].usage = {}

    for at in RUNS:
        harness.invoke(time=at)

    assert [a.attributes["event_type"] for a in harness.alerts()] == [
        "threshold_crossed",
        "resource_vanished",
        "check_failed",
    ]
