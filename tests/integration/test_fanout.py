"""Fan-out through the real handlers: the scheduled run dispatches chunks to SQS (moto), workers check them."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from local.aws import REGION, FakeContext, create_work_queue, lambda_sqs_event, load_event, put_license_list
from local.simulator import Reply, usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses, scheduled_event
from usage_monitor import app
from usage_monitor.core.errors import ConfigError
from usage_monitor.fleet.fanout import DispatchFailed

T1 = "2026-11-24T09:15:00Z"
SEVEN = [f"lic-{i}" for i in range(1, 8)]


@pytest.fixture
def queue_url(harness: Harness) -> str:
    url = create_work_queue(harness.session)
    harness.configure(FANOUT_QUEUE_URL=url, FANOUT_CHUNK_SIZE="3")
    return url


def _work(event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = app.worker_handler(event, FakeContext(function_name="usage-monitor-worker"))
    return response


def _bodies(event: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted((json.loads(r["body"]) for r in event["Records"]), key=lambda b: b["chunk"])


def _queued(harness: Harness, queue_url: str) -> int:
    attributes = harness.session.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_dispatcher_queues_chunks_and_workers_check_them_like_one_run(harness: Harness, queue_url: str) -> None:
    # Given 7 licenses (named by the secret), one of them over the 80% threshold, and chunks of 3
    add_licenses(harness, {i: (usage_of(users=(900, 1000)) if i == "lic-5" else HEALTHY) for i in SEVEN})
    event = scheduled_event(T1, event_id="exec-1")

    # When the schedule fires, the run only dispatches
    summary = harness.invoke(event)

    assert summary == {"captured_at": T1, "checked": 0, "failed": [], "alerts": 0, "dispatched": 7, "chunks": 3}
    assert harness.simulator.requests == []
    work = lambda_sqs_event(harness.session, queue_url)
    assert _bodies(work) == [
        {"captured_at": T1, "run_id": "exec-1", "license_ids": SEVEN[0:3], "chunk": 1, "chunks": 3, "fleet": True},
        {"captured_at": T1, "run_id": "exec-1", "license_ids": SEVEN[3:6], "chunk": 2, "chunks": 3, "fleet": True},
        {"captured_at": T1, "run_id": "exec-1", "license_ids": SEVEN[6:7], "chunk": 3, "chunks": 3, "fleet": True},
    ]

    # And the workers, fed what SQS delivers, check every license once
    assert _work(work) == {"batchItemFailures": []}

    assert sorted(r.license_id for r in harness.simulator.requests) == SEVEN
    snapshots = {i: harness.snapshot(i, T1) for i in SEVEN}
    assert {s["captured_at"] for s in snapshots.values()} == {T1}
    assert {s["status"] for s in snapshots.values()} == {"ok"}
    # Alerts as in single-run mode: the one license over its threshold, once.
    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "threshold_crossed", "severity": "warning", "license_id": "lic-5"}


def test_one_chunk_per_worker_invocation_as_the_template_configures(harness: Harness, queue_url: str) -> None:
    add_licenses(harness, dict.fromkeys(SEVEN, HEALTHY))
    harness.invoke(time=T1)
    work = lambda_sqs_event(harness.session, queue_url)

    for record in work["Records"]:  # BatchSize 1
        assert _work({"Records": [record]}) == {"batchItemFailures": []}

    assert sorted(r.license_id for r in harness.simulator.requests) == SEVEN


def test_an_invalid_chunk_is_reported_alone_while_the_other_succeeds(harness: Harness, queue_url: str) -> None:
    add_licenses(harness, dict.fromkeys(SEVEN[:4], HEALTHY))
    harness.invoke(time=T1)
    work = lambda_sqs_event(harness.session, queue_url)
    good, second = sorted(work["Records"], key=lambda r: json.loads(r["body"])["chunk"])
    bad = {**second, "body": "{not json"}

    response = _work({"Records": [good, bad]})

    assert response == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert sorted(r.license_id for r in harness.simulator.requests) == SEVEN[:3]
    assert harness.snapshot("lic-1", T1)["status"] == "ok"


def test_a_chunk_whose_run_fails_is_reported_for_retry_and_alerted_once(harness: Harness, queue_url: str) -> None:
    tokens = add_licenses(harness, dict.fromkeys(SEVEN, HEALTHY))
    harness.invoke(time=T1)
    work = lambda_sqs_event(harness.session, queue_url)
    # The secret becomes unreadable between dispatch and work.
    harness.session.client("secretsmanager", region_name=REGION).delete_secret(
        SecretId=harness.stack.secret_id, ForceDeleteWithoutRecovery=True
    )
    app.reset()

    response = _work(work)

    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == sorted(
        r["messageId"] for r in work["Records"]
    )
    assert harness.simulator.requests == []
    (alert,) = harness.alerts()  # one run-level alert, not one per chunk
    assert alert.attributes["license_id"] == "*"
    assert alert.attributes["event_type"] == "check_failed"

    # SQS redelivers the failed chunks; with the secret back, they are checked (no stale idempotency record).
    harness.session.client("secretsmanager", region_name=REGION).create_secret(
        Name=harness.stack.secret_id, SecretString=json.dumps({"default": "unused", **tokens})
    )
    app.reset()
    assert _work(work) == {"batchItemFailures": []}
    assert sorted(r.license_id for r in harness.simulator.requests) == SEVEN
    assert [a.attributes["event_type"] for a in harness.alerts()] == ["check_failed", "recovered"]


def test_a_redelivered_chunk_is_not_checked_twice(harness: Harness, queue_url: str) -> None:
    add_licenses(harness, dict.fromkeys(SEVEN[:3], HEALTHY))
    harness.invoke(time=T1)
    work = lambda_sqs_event(harness.session, queue_url)
    _work(work)

    assert _work(work) == {"batchItemFailures": []}
    assert len(harness.simulator.requests) == 3


def test_a_redelivered_scheduled_event_dispatches_nothing_twice(harness: Harness, queue_url: str) -> None:
    add_licenses(harness, dict.fromkeys(SEVEN, HEALTHY))
    event = scheduled_event(T1, event_id="exec-redelivered")

    first = harness.invoke(event)
    second = harness.invoke(event)

    assert second == first
    assert _queued(harness, queue_url) == 3


def test_the_dispatcher_reads_the_s3_list_too(harness: Harness, queue_url: str) -> None:
    for license_id in SEVEN:
        harness.simulator.add_license(license_id, "shared-SECRET", HEALTHY)
    harness.set_secret({"default": "shared-SECRET"})
    uri = put_license_list(harness.session, "\n".join(SEVEN[2:]))
    harness.configure(LICENSE_LIST_S3_URI=uri, LICENSE_IDS="lic-1,lic-2,lic-3")

    summary = harness.invoke(time=T1)

    assert (summary["dispatched"], summary["chunks"]) == (7, 3)
    assert [i for b in _bodies(lambda_sqs_event(harness.session, queue_url)) for i in b["license_ids"]] == SEVEN


def test_a_dispatcher_that_cannot_resolve_the_list_fails_and_alerts(harness: Harness, queue_url: str) -> None:
    harness.set_secret({"default": "shared-SECRET"})
    harness.configure(LICENSE_LIST_S3_URI="s3://no-such-bucket-here/licenses.txt")

    with pytest.raises(ConfigError, match=r"s3://no-such-bucket-here/licenses.txt"):
        harness.invoke(time=T1)

    assert _queued(harness, queue_url) == 0
    assert [a.attributes["license_id"] for a in harness.alerts()] == ["*"]


def test_a_queue_that_is_gone_fails_the_dispatch_naming_it(harness: Harness, queue_url: str) -> None:
    add_licenses(harness, dict.fromkeys(SEVEN, HEALTHY))
    harness.session.client("sqs", region_name=REGION).delete_queue(QueueUrl=queue_url)

    with pytest.raises(DispatchFailed, match=f"FANOUT_QUEUE_URL {queue_url}: SendMessageBatch failed"):
        harness.invoke(time=T1)
    assert [a.attributes["license_id"] for a in harness.alerts()] == ["*"]


def test_a_small_manual_run_is_checked_in_place(harness: Harness, queue_url: str) -> None:
    add_licenses(harness, dict.fromkeys(SEVEN, HEALTHY))

    summary = harness.invoke({"license_ids": ["lic-1", "lic-2"]})

    assert summary["checked"] == 2
    assert "dispatched" not in summary
    assert _queued(harness, queue_url) == 0


def test_a_manual_run_larger_than_a_chunk_is_dispatched(harness: Harness, queue_url: str) -> None:
    add_licenses(harness, dict.fromkeys(SEVEN, HEALTHY))

    summary = harness.invoke({"license_ids": SEVEN[:5]})

    assert (summary["dispatched"], summary["chunks"]) == (5, 2)
    bodies = _bodies(lambda_sqs_event(harness.session, queue_url))
    assert bodies[0]["run_id"] == bodies[1]["run_id"]
    assert bodies[0]["run_id"].startswith("manual-")


def test_the_sample_worker_event_runs(harness: Harness) -> None:
    license_id = "bd82845c-897b-4022-b5f7-679905c1979b"
    add_licenses(harness, {license_id: HEALTHY})

    assert _work(load_event("sqs-chunk.json")) == {"batchItemFailures": []}

    captured_at = json.loads(load_event("sqs-chunk.json")["Records"][0]["body"])["captured_at"]
    assert harness.snapshot(license_id, captured_at)["status"] == "ok"


def _skipped_lines(output: io.StringIO) -> list[list[str]]:
    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    return [line["skipped"] for line in lines if line["message"] == "license list entries skipped"]


def test_a_dispatched_manual_run_reports_its_bad_and_repeated_ids_like_one_checked_in_place(
    harness: Harness, log_output: io.StringIO
) -> None:
    # Given a manual run naming 5 licenses (more than a chunk of 3), one invalid entry and one repeat
    add_licenses(harness, dict.fromkeys(SEVEN, HEALTHY))
    request = {"license_ids": [*SEVEN[:3], "bad id!", "lic-1", *SEVEN[3:5]]}
    harness.configure()  # fan-out off: checked in place
    in_place = harness.invoke(request)
    in_place_logged = _skipped_lines(log_output)
    log_output.truncate(0)
    log_output.seek(0)

    # When the same request runs with fan-out on
    harness.configure(FANOUT_QUEUE_URL=create_work_queue(harness.session), FANOUT_CHUNK_SIZE="3")
    dispatched = harness.invoke(request)

    # Then it is dispatched, and its report is the in-place one: summary and log line alike
    assert (dispatched["dispatched"], dispatched["chunks"]) == (5, 2)
    assert in_place["checked"] == 5
    assert (dispatched["skipped"], dispatched["repeated"]) == (in_place["skipped"], in_place["repeated"])
    assert (dispatched["skipped"], dispatched["repeated"]) == (["bad id!"], ["lic-1"])
    assert _skipped_lines(log_output) == in_place_logged
    assert in_place_logged == [
        [
            "event field 'license_ids' position 4: 'bad id!' is not 1-128 characters of A-Z, a-z, 0-9, '.', '_', '-'",
            "event field 'license_ids' position 5: 'lic-1' is listed twice (first at position 1); checked once",
        ]
    ]


def _dispatch_and_work(harness: Harness, queue_url: str, time: str, slow_chunk: int | None = None) -> list[str]:
    """One scheduled dispatch, then its chunks one per worker invocation (BatchSize 1); `slow_chunk` gets a
    worker whose deadline comes before its first license answers. Returns the event types alerted after each."""
    harness.invoke(scheduled_event(time, event_id=f"exec-{time}"))
    records = sorted(
        lambda_sqs_event(harness.session, queue_url)["Records"], key=lambda r: json.loads(r["body"])["chunk"]
    )
    seen = []
    for number, record in enumerate(records, start=1):
        timeout = 1.5 if number == slow_chunk else 30.0
        context = FakeContext(function_name="usage-monitor-worker", timeout_seconds=timeout)
        assert app.worker_handler({"Records": [record]}, context) == {"batchItemFailures": []}
        seen.append(",".join(a.attributes["event_type"] for a in harness.alerts()))
    return seen


def test_a_workers_capacity_alert_recovers_when_a_later_dispatch_is_all_in_time(
    harness: Harness, queue_url: str
) -> None:
    # Given 7 licenses in chunks of 3, checked one at a time, and lic-4 (chunk 2) hanging on the first dispatch
    add_licenses(harness, dict.fromkeys(SEVEN, HEALTHY))
    harness.configure(
        FANOUT_QUEUE_URL=queue_url, FANOUT_CHUNK_SIZE="3", MAX_CONCURRENCY="1", DEADLINE_MARGIN_SECONDS="1"
    )
    harness.simulator.script("lic-4", Reply(action="hang", delay=2))

    # When chunk 2's worker reaches its deadline first
    after_first = _dispatch_and_work(harness, queue_url, "2026-11-24T09:15:00Z", slow_chunk=2)

    # Then one capacity alert, whose advice names the worker's knobs, not a timeout the template fixes
    assert after_first == ["", "capacity", "capacity"]
    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "capacity", "severity": "critical", "license_id": "*"}
    assert "Lower FanOutChunkSize (now 3) so each worker invocation checks fewer licenses" in alert.email
    assert "or raise MaxConcurrency (now 1)." in alert.email
    assert "Timeout" not in alert.email

    # When every chunk of the next dispatch reaches every license, the last one to finish sends `recovered`
    after_second = _dispatch_and_work(harness, queue_url, "2026-11-24T09:30:00Z")
    assert after_second == ["capacity", "capacity", "capacity,recovered"]

    # And a capacity problem after that is a new one, alerted again
    harness.simulator.script("lic-7", Reply(action="hang", delay=2))
    after_third = _dispatch_and_work(harness, queue_url, "2026-11-24T09:45:00Z", slow_chunk=3)
    assert after_third[-1] == "capacity,recovered,capacity"
