"""Every log line and metric set a run prints stays within CloudWatch's limits, at the limit itself."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from local.aws import put_license_list
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from usage_monitor.core.aws_limits import LOG_LINE_MAX_BYTES, LOG_LIST_MAX, SUMMARY_LIST_MAX
from usage_monitor.observability import logger

T1 = "2026-11-24T09:15:00Z"
INVALID_LINES = 9_000


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the Powertools logger writes. Its handler holds the stdout of the moment it was built (pytest's
    own capture, at import), which `capsys` does not see; EMF metrics are printed and `capsys` sees those."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


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
