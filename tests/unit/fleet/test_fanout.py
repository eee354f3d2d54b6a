"""fanout: chunking, the message body, SendMessageBatch packing and retries (with a fake SQS client)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from usage_monitor.core.errors import ConfigError
from usage_monitor.fleet.fanout import (
    BATCH_ENTRIES,
    Chunk,
    DispatchFailed,
    SqsDispatcher,
    batches,
    chunk_ids,
    encode,
    parse_chunk,
    plan_chunks,
)

CAPTURED = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
QUEUE = "https://sqs.ap-south-1.amazonaws.com/123456789012/work"

# -------------------------------------------------------------------------------------------------- chunking


@pytest.mark.parametrize(
    ("count", "size", "lengths"),
    [(0, 3, []), (1, 3, [1]), (3, 3, [3]), (7, 3, [3, 3, 1]), (9, 3, [3, 3, 3]), (5, 1, [1] * 5), (5, 500, [5])],
)
def test_chunks_are_consecutive_and_at_most_size(count: int, size: int, lengths: list[int]):
    ids = [f"lic-{i}" for i in range(count)]
    chunks = chunk_ids(ids, size)
    assert [len(c) for c in chunks] == lengths
    assert [i for c in chunks for i in c] == ids


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        chunk_ids(["a"], 0)


def test_planned_chunks_share_the_capture_time_and_count_from_one():
    chunks = plan_chunks(CAPTURED, "run-1", [f"l{i}" for i in range(7)], 3)
    assert [(c.chunk, c.chunks, c.license_ids) for c in chunks] == [
        (1, 3, ("l0", "l1", "l2")),
        (2, 3, ("l3", "l4", "l5")),
        (3, 3, ("l6",)),
    ]
    assert {c.captured_at for c in chunks} == {CAPTURED}
    assert {c.run_id for c in chunks} == {"run-1"}


# ------------------------------------------------------------------------------------------ message body


def test_body_round_trips_and_becomes_the_workers_run_request():
    chunk = Chunk(CAPTURED, "run-1", ("a", "b"), 2, 3)
    body = encode(chunk)
    assert json.loads(body) == {
        "captured_at": "2026-11-24T09:15:00Z",
        "run_id": "run-1",
        "license_ids": ["a", "b"],
        "chunk": 2,
        "chunks": 3,
    }
    assert parse_chunk(body) == chunk
    request = parse_chunk(body).request()
    assert (request.captured_at, request.run_id, request.license_ids) == (CAPTURED, "run-1", ("a", "b"))
    assert (request.chunk, request.dispatch_of_fleet) == ((2, 3), False)


def test_a_chunk_of_a_fleet_dispatch_says_so_and_older_bodies_without_the_field_are_not():
    fleet_chunk = Chunk(CAPTURED, "run-1", ("a",), 1, 1, fleet=True)

    assert json.loads(encode(fleet_chunk))["fleet"] is True
    assert parse_chunk(encode(fleet_chunk)).request().dispatch_of_fleet is True
    assert parse_chunk(_body()).fleet is False


def _body(**changes: Any) -> str:
    document: dict[str, Any] = {
        "captured_at": "2026-11-24T09:15:00Z",
        "run_id": "r",
        "license_ids": ["a"],
        "chunk": 1,
        "chunks": 1,
    }
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not ...})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{not json", "not JSON"),
        ("[1]", "must be a JSON object"),
        (_body(license_ids=...), "lacks license_ids"),
        (_body(license_ids=[]), "non-empty list"),
        (_body(license_ids=["a", 1]), "non-empty list"),
        (_body(license_ids=["bad id"]), "'bad id'"),
        (_body(license_ids=["a", "a"]), "twice"),
        (_body(run_id=""), "run_id"),
        (_body(chunk=0), "1 <= chunk <= chunks"),
        (_body(chunk=2, chunks=1), "1 <= chunk <= chunks"),
        (_body(chunk=True), "whole numbers"),
        (_body(captured_at="yesterday"), "ISO-8601"),
        (_body(fleet="yes"), "'fleet' must be true or false"),
    ],
)
def test_malformed_bodies_are_config_errors(body: str, expected: str):
    with pytest.raises(ConfigError, match=expected):
        parse_chunk(body)


# ------------------------------------------------------------------------------------- batch packing


def test_batches_hold_at_most_ten_entries():
    entries = [(f"chunk-{i}", "x") for i in range(23)]
    assert [len(b) for b in batches(entries)] == [10, 10, 3]
    assert [e for b in batches(entries) for e in b] == entries


def test_batches_respect_the_total_byte_limit():
    entries = [(f"chunk-{i}", "x" * 40) for i in range(5)]
    assert [len(b) for b in batches(entries, max_bytes=100)] == [2, 2, 1]


def test_a_single_message_over_the_limit_names_the_chunk_size_setting():
    with pytest.raises(ConfigError, match="FANOUT_CHUNK_SIZE"):
        batches([("chunk-1", "x" * 101)], max_bytes=100)


def test_the_largest_allowed_template_chunk_fits_one_message():
    # template.yaml caps FanOutChunkSize at 1000; 1000 IDs of the maximum 128 characters must fit.
    ids = [f"{i:04d}" + "x" * 124 for i in range(1000)]
    [chunk] = plan_chunks(CAPTURED, "scheduler-execution-id-0123456789", ids, 1000)
    assert len(batches([("chunk-1", encode(chunk))])) == 1


# ------------------------------------------------------------------------------------------ dispatcher


class FakeSqs:
    """send_message_batch that fails the entries listed in `fail` (one list per call)."""

    def __init__(self, fail: list[dict[str, dict[str, Any]]] | None = None) -> None:
        self.fail = list(fail or [])
        self.calls: list[list[dict[str, Any]]] = []
        self.sent: dict[str, str] = {}

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        assert QueueUrl == QUEUE
        assert len(Entries) <= BATCH_ENTRIES
        self.calls.append(Entries)
        failing = self.fail.pop(0) if self.fail else {}
        failed = [{"Id": e["Id"], **failing[e["Id"]]} for e in Entries if e["Id"] in failing]
        for entry in Entries:
            if entry["Id"] not in failing:
                self.sent[entry["Id"]] = entry["MessageBody"]
        return {"Successful": [], "Failed": failed}


def _dispatcher(sqs: Any, sleeps: list[float] | None = None) -> SqsDispatcher:
    return SqsDispatcher(QUEUE, sqs, sleep=(sleeps if sleeps is not None else []).append)


def test_every_chunk_is_sent_ten_per_call():
    sqs = FakeSqs()
    chunks = plan_chunks(CAPTURED, "r", [f"l{i}" for i in range(25)], 1)

    calls = _dispatcher(sqs).send(chunks)

    assert calls == 3
    assert [len(c) for c in sqs.calls] == [10, 10, 5]
    assert [parse_chunk(body) for body in sqs.sent.values()] == chunks


def test_failed_entries_are_resent_alone():
    transient = {"Code": "InternalError", "Message": "try again", "SenderFault": False}
    sqs = FakeSqs(fail=[{"chunk-2": transient}])
    sleeps: list[float] = []

    calls = _dispatcher(sqs, sleeps).send(plan_chunks(CAPTURED, "r", ["a", "b", "c"], 1))

    assert calls == 2
    assert [[e["Id"] for e in call] for call in sqs.calls] == [["chunk-1", "chunk-2", "chunk-3"], ["chunk-2"]]
    assert sorted(sqs.sent) == ["chunk-1", "chunk-2", "chunk-3"]
    assert sleeps == [0.2]


def test_entries_still_failing_after_the_attempts_raise_naming_queue_and_chunk():
    transient = {"Code": "InternalError", "Message": "try again", "SenderFault": False}
    sqs = FakeSqs(fail=[{"chunk-1": transient}] * 4)

    with pytest.raises(DispatchFailed) as raised:
        _dispatcher(sqs).send(plan_chunks(CAPTURED, "r", ["a", "b"], 1))

    assert len(sqs.calls) == 4
    assert str(raised.value) == f"FANOUT_QUEUE_URL {QUEUE}: could not queue chunk-1 InternalError: try again"


def test_a_sender_fault_is_not_retried():
    sqs = FakeSqs(fail=[{"chunk-1": {"Code": "InvalidMessageContents", "Message": "bad", "SenderFault": True}}])

    with pytest.raises(DispatchFailed, match="InvalidMessageContents"):
        _dispatcher(sqs).send(plan_chunks(CAPTURED, "r", ["a"], 1))
    assert len(sqs.calls) == 1


def test_a_failed_call_is_a_dispatch_failure_naming_the_queue():
    class Denied:
        def send_message_batch(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "SendMessageBatch")

    with pytest.raises(DispatchFailed, match=f"FANOUT_QUEUE_URL {QUEUE}: SendMessageBatch failed: AccessDenied"):
        _dispatcher(Denied()).send(plan_chunks(CAPTURED, "r", ["a"], 1))
