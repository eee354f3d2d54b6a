"""The EMF metrics a run prints: bounded whatever the fleet size."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.simulator import usage_of
from tests.integration.conftest import Harness, add_licenses


def emf_documents(text: str) -> list[dict[str, Any]]:
    documents = []
    for line in text.splitlines():
        if line.startswith('{"_aws"'):
            documents.append(json.loads(line))
    return documents


def metric_values(documents: list[dict[str, Any]], name: str) -> dict[tuple[tuple[str, str], ...], Any]:
    """Metric `name` by its dimension values (service left out)."""
    found = {}
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            if any(m["Name"] == name for m in directive["Metrics"]):
                dimensions = tuple(
                    (key, document[key]) for key in sorted(directive["Dimensions"][0]) if key != "service"
                )
                found[dimensions] = document[name]
    return found


def test_run_metrics_are_bounded_and_name_the_fullest_licenses(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    add_licenses(
        harness,
        {
            "a": usage_of(users=(10, 100), signatures=(50, 100)),
            "b": usage_of(users=(99, 100), signatures=(10, 100)),
            "c": usage_of(users=(85, 100), signatures=(20, 100)),
            "d": usage_of(users=(1, 100), signatures=(1, 100)),
        },
    )
    harness.monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    harness.configure(METRICS_TOP_LICENSES="2")
    capsys.readouterr()

    harness.invoke(time="2026-11-24T09:15:00Z")

    documents = emf_documents(capsys.readouterr().out)
    assert metric_values(documents, "ChecksSucceeded") == {(): [4.0]}
    assert metric_values(documents, "ChecksFailed") == {(): [0.0]}
    assert metric_values(documents, "UsagePercentMax") == {
        (("resource", "signatures"),): [50.0],
        (("resource", "users"),): [99.0],
    }
    assert metric_values(documents, "AlertsPublished") == {(("event_type", "threshold_crossed"),): [2.0]}
    # Per-license usage only for the 2 fullest licenses (b at 99%, c at 85%), not for all four.
    per_license = metric_values(documents, "UsagePercent")
    assert {dict(key)["license_id"] for key in per_license} == {"b", "c"}
    assert per_license[(("license_id", "b"), ("resource", "users"))] == [99.0]
