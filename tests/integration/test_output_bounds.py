"""Every log line and metric set a run prints stays within CloudWatch's limits, at the limit itself."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from local.aws import put_license_list
from local.simulator import usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from tests.integration.test_metrics import emf_documents, metric_values
from usage_monitor.core.aws_limits import LOG_LINE_MAX_BYTES, LOG_LIST_MAX, SUMMARY_LIST_MAX
from usage_monitor.core.models import KNOWN_RESOURCES
from usage_monitor.observability import MAX_RESOURCE_SERIES

T1 = "2026-11-24T09:15:00Z"
INVALID_LINES = 9_000


def printed_lines(text: str) -> list[dict[str, Any]]:
    """Every line the run printed, each parsed as JSON (a cut line would fail here) and within the bound."""
    documents = []
    for line in text.splitlines():
        assert len(line.encode("utf-8")) <= LOG_LINE_MAX_BYTES, line[:200]
        documents.append(json.loads(line))
    return documents


def logged(documents: list[dict[str, Any]], message: str) -> list[dict[str, Any]]:
    return [d for d in documents if d.get("message") == message]


def test_a_list_of_9000_invalid_lines_logs_bounded_lines_that_still_name_every_entry(
    harness: Harness, log_output: io.StringIO
) -> None:
    # Given an S3 list with two good IDs and 9,000 invalid lines, long enough that one line naming them
    # all would be about 1.4 MB ("run finished" alone over 500 KB)
    add_licenses(harness, {"lic-a": HEALTHY, "lic-b": HEALTHY})
    bad = [f"acme customer number {n:05d} with a name far too long to be a license ID" for n in range(INVALID_LINES)]
    harness.configure(LICENSE_LIST_S3_URI=put_license_list(harness.session, "\n".join(["lic-a", "lic-b", *bad])))

    # When the run goes
    summary = harness.invoke(time=T1)

    # Then every printed line parses and is within 256 KB
    documents = printed_lines(log_output.getvalue())
    assert summary["checked"] == 2
    # The summary (Lambda's response, the idempotency record: 400 KB at most) holds the count and the first ones
    assert len(summary["skipped"]) == SUMMARY_LIST_MAX + 1
    assert summary["skipped"][-1] == f"... and {INVALID_LINES - SUMMARY_LIST_MAX} more ({INVALID_LINES} in all)"
    # The entries are named across as many WARNING lines as it takes, LOG_LIST_MAX each, every one once
    pages = logged(documents, "license list entries skipped")
    assert len(pages) == INVALID_LINES // LOG_LIST_MAX
    assert pages[0]["entries"] == f"1-{LOG_LIST_MAX} of {INVALID_LINES}"
    named = [entry for page in pages for entry in page["skipped"]]
    assert len(named) == INVALID_LINES
    assert named[-1].startswith(f"LICENSE_LIST_S3_URI s3://fleet-config/licenses.txt line {INVALID_LINES + 2}: ")
    # "run finished" logs the summary: the count and the first entries, like the alert
    (finished,) = logged(documents, "run finished")
    assert finished["skipped"] == summary["skipped"]
    assert finished["skipped"][0] == bad[0][:60]
    assert finished["checked"] == 2


def _many_resources(license_id: str, fullness: int, run: int) -> dict[str, Any]:
    """The documented four plus 96 resources whose names are the license's own and change every run."""
    odd = {f"{license_id.replace('-', '_')}_r{run}_{n}": (fullness - n % 7, 100) for n in range(96)}
    return usage_of(users=(fullness, 100), departments=(5, 100), signatures=(6, 100), certificates=(7, 100), **odd)


def test_metric_sets_stay_within_their_caps_with_100_resources_whose_names_change(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 5 licenses answering 100 resources each (96 named after the license), the 3 fullest with metrics
    harness.monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    licenses = {f"lic-{n}": 50 + 10 * n for n in range(5)}
    add_licenses(harness, {i: _many_resources(i, full, run=1) for i, full in licenses.items()})
    harness.configure(METRICS_TOP_LICENSES="3")
    capsys.readouterr()

    for run, time in enumerate(("2026-11-24T09:15:00Z", "2026-11-24T09:30:00Z"), start=1):
        for license_id, full in licenses.items():  # the odd names change from one run to the next
            harness.simulator.add_license(
                license_id, f"tok-{license_id}-SECRET", _many_resources(license_id, full, run)
            )

        # When the run goes
        harness.invoke(time=time)

        # Then every EMF document parses, fits the log-line bound and holds at most Powertools' 100 metrics
        documents = emf_documents(capsys.readouterr().out)
        for document in documents:
            assert len(json.dumps(document).encode()) <= LOG_LINE_MAX_BYTES
            assert all(len(d["Metrics"]) <= 100 for d in document["_aws"]["CloudWatchMetrics"])
        # At most 20 resource names, the documented four among them whatever else the answers list
        fleet_wide = {dict(key)["resource"] for key in metric_values(documents, "UsagePercentMax")}
        assert len(fleet_wide) == MAX_RESOURCE_SERIES
        assert set(KNOWN_RESOURCES) <= fleet_wide
        assert len(metric_values(documents, "DaysToLimitMin")) <= MAX_RESOURCE_SERIES
        # UsagePercent: 4 series for each of the 3 fullest licenses (12, not 300), the documented four
        per_license = metric_values(documents, "UsagePercent")
        assert {tuple(sorted(dict(key).items())) for key in per_license} == {
            (("license_id", i), ("resource", r)) for i in ("lic-2", "lic-3", "lic-4") for r in KNOWN_RESOURCES
        }
        assert per_license[(("license_id", "lic-4"), ("resource", "users"))] == [90.0]
