"""A fan-out worker whose chunks all fail is heard: the metric it emits is the one WorkChunksFailedAlarm watches.

Failed chunks go back to SQS as `batchItemFailures`, so the invocation succeeds and WorkerErrorsAlarm (Lambda
Errors) stays OK; issue 19 item 16.
"""

from __future__ import annotations

from typing import Any

import pytest

from local.aws import REGION, FakeContext, create_work_queue, lambda_sqs_event
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from tests.integration.test_metrics import emf_documents
from tests.template.conftest import load_sam_template
from usage_monitor import app

T1 = "2026-11-24T09:15:00Z"
SEVEN = [f"lic-{i}" for i in range(1, 8)]


def _alarm() -> dict[str, Any]:
    properties: dict[str, Any] = load_sam_template()["Resources"]["WorkChunksFailedAlarm"]["Properties"]
    return properties


def _sum_as_the_alarm_reads_it(documents: list[dict[str, Any]], alarm: dict[str, Any]) -> float:
    """Sum of the alarm's metric over the EMF documents in its namespace with exactly its dimensions."""
    wanted = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    total = 0.0
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            if directive["Namespace"] != alarm["Namespace"]:
                continue
            if not any(m["Name"] == alarm["MetricName"] for m in directive["Metrics"]):
                continue
            for dimension_set in directive["Dimensions"]:
                if {key: document[key] for key in dimension_set} == wanted:
                    value = document[alarm["MetricName"]]
                    total += sum(value) if isinstance(value, list) else value
    return total


def test_a_worker_whose_every_chunk_fails_raises_the_failed_chunks_alarm(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 7 licenses dispatched as 3 chunks, and the secret unreadable by the time the worker runs
    queue_url = create_work_queue(harness.session)
    harness.configure(FANOUT_QUEUE_URL=queue_url, FANOUT_CHUNK_SIZE="3")
    add_licenses(harness, dict.fromkeys(SEVEN, HEALTHY))
    harness.invoke(time=T1)
    work = lambda_sqs_event(harness.session, queue_url)
    harness.session.client("secretsmanager", region_name=REGION).delete_secret(
        SecretId=harness.stack.secret_id, ForceDeleteWithoutRecovery=True
    )
    app.reset()
    capsys.readouterr()

    # When the worker gets them: a successful invocation that hands every chunk back for retry
    response = app.worker_handler(work, FakeContext(function_name="usage-monitor-worker"))
    assert len(response["batchItemFailures"]) == len(work["Records"]) == 3

    # Then the metric it emits breaches WorkChunksFailedAlarm as the template defines it
    alarm = _alarm()
    failed = _sum_as_the_alarm_reads_it(emf_documents(capsys.readouterr().out), alarm)
    assert failed == 3
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert failed >= alarm["Threshold"]
    assert load_sam_template()["Resources"]["WorkChunksFailedAlarm"]["Condition"] == "FanOutEnabled"
