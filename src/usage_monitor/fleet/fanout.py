"""Fan-out past one invocation: the scheduled run dispatches chunks of licenses to SQS, workers check them.

With `FANOUT_QUEUE_URL` set, the scheduled function resolves the license list and sends one message per
chunk of `FANOUT_CHUNK_SIZE` licenses (SendMessageBatch, up to 10 per call). Each worker invocation runs
the ordinary `Monitor.run` on one chunk with the dispatcher's `captured_at`, so snapshots, alert state and
alerts are exactly those of a single run.

Message body (JSON, `chunk` counts from 1; `fleet` true when the dispatch is the configured fleet, not a
manual run's list, absent otherwise)::

    {"captured_at": "2026-11-24T09:15:00Z", "run_id": "...", "license_ids": ["a", "b"], "chunk": 1, "chunks": 3,
     "fleet": true}
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from usage_monitor.core.errors import ConfigError, MonitorError
from usage_monitor.events import RunRequest, parse_event_time
from usage_monitor.messages.figures import iso
from usage_monitor.observability import logger
from usage_monitor.settings import validate_license_id

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

BATCH_ENTRIES = 10  # SendMessageBatch's limit
# SendMessageBatch's limit on the sum of the bodies, and a single message's: 256 KiB (SQS has since raised
# both to 1 MiB; the lower figure works everywhere). 1,000 licenses of 128 characters fit in one message.
MAX_BATCH_BYTES = 256 * 1024
SEND_ATTEMPTS = 4


class DispatchFailed(MonitorError):
    """Chunks that could not be queued after retries; names the queue and the chunks."""


def chunk_ids(license_ids: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """Consecutive chunks of at most `size` IDs, in order; none for an empty list."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    return [tuple(license_ids[start : start + size]) for start in range(0, len(license_ids), size)]


@dataclass(frozen=True)
class Chunk:
    captured_at: datetime
    run_id: str
    license_ids: tuple[str, ...]
    chunk: int
    chunks: int
    # The dispatch covers the configured fleet: its chunks all in time clear a `capacity` problem.
    fleet: bool = False

    def body(self) -> dict[str, Any]:
        return {
            "captured_at": iso(self.captured_at),
            "run_id": self.run_id,
            "license_ids": list(self.license_ids),
            "chunk": self.chunk,
            "chunks": self.chunks,
            **({"fleet": True} if self.fleet else {}),
        }

    def request(self) -> RunRequest:
        """The worker's run: the dispatcher's capture time, so every chunk's snapshots share one key."""
        return RunRequest(
            captured_at=self.captured_at,
            run_id=self.run_id,
            license_ids=self.license_ids,
            chunk=(self.chunk, self.chunks),
            dispatch_of_fleet=self.fleet,
        )


def plan_chunks(
    captured_at: datetime, run_id: str, license_ids: Sequence[str], size: int, *, fleet: bool = False
) -> list[Chunk]:
    parts = chunk_ids(license_ids, size)
    return [Chunk(captured_at, run_id, part, number, len(parts), fleet) for number, part in enumerate(parts, start=1)]


def encode(chunk: Chunk) -> str:
    return json.dumps(chunk.body(), separators=(",", ":"))


def parse_chunk(body: str) -> Chunk:
    """A work message's body → `Chunk`; anything malformed raises `ConfigError` saying what."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"work message is not JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"work message must be a JSON object, got {type(document).__name__}")
    missing = [k for k in ("captured_at", "run_id", "license_ids", "chunk", "chunks") if k not in document]
    if missing:
        raise ConfigError(f"work message lacks {', '.join(missing)}")
    ids = document["license_ids"]
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ConfigError("work message field 'license_ids' must be a non-empty list of strings")
    for license_id in ids:
        validate_license_id(license_id, "work message field 'license_ids'")
    if len(set(ids)) != len(ids):
        raise ConfigError("work message field 'license_ids' lists a license twice")
    run_id, number, total = document["run_id"], document["chunk"], document["chunks"]
    if not isinstance(run_id, str) or not run_id:
        raise ConfigError("work message field 'run_id' must be a non-empty string")
    if not _is_int(number) or not _is_int(total) or not 1 <= number <= total:
        raise ConfigError("work message fields 'chunk' and 'chunks' must be whole numbers, 1 <= chunk <= chunks")
    fleet = document.get("fleet", False)
    if not isinstance(fleet, bool):
        raise ConfigError("work message field 'fleet' must be true or false")
    return Chunk(parse_event_time(document["captured_at"]), run_id, tuple(ids), number, total, fleet)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def batches(entries: Sequence[tuple[str, str]], max_bytes: int = MAX_BATCH_BYTES) -> list[list[tuple[str, str]]]:
    """(entry id, body) pairs → SendMessageBatch calls: at most 10 entries and `max_bytes` of bodies each."""
    calls: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    size = 0
    for entry_id, body in entries:
        length = len(body.encode("utf-8"))
        if length > max_bytes:
            raise ConfigError(
                f"FANOUT_CHUNK_SIZE: a chunk's message is {length} bytes, more than SQS accepts ({max_bytes}); "
                "lower FANOUT_CHUNK_SIZE"
            )
        if current and (len(current) == BATCH_ENTRIES or size + length > max_bytes):
            calls.append(current)
            current, size = [], 0
        current.append((entry_id, body))
        size += length
    if current:
        calls.append(current)
    return calls


class SqsDispatcher:
    """Sends chunks with SendMessageBatch; entries SQS reports as failed are resent, then it raises.

    botocore's standard retry mode already retries whole calls (throttling, 5xx); this handles the
    per-entry failures a 200 response can carry. A sender fault (the message itself is wrong) is not resent.
    """

    def __init__(
        self,
        queue_url: str,
        client: SQSClient,
        *,
        attempts: int = SEND_ATTEMPTS,
        backoff_seconds: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.queue_url = queue_url
        self._client = client
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep

    def send(self, chunks: Sequence[Chunk]) -> int:
        """Queues every chunk; returns the number of SendMessageBatch calls made."""
        bodies = {f"chunk-{c.chunk}": encode(c) for c in chunks}
        calls = 0
        for batch in batches(list(bodies.items())):
            calls += self._send_batch(dict(batch))
        return calls

    def _send_batch(self, pending: dict[str, str]) -> int:
        failures: dict[str, str] = {}
        for attempt in range(1, self._attempts + 1):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": entry_id, "MessageBody": body} for entry_id, body in pending.items()
            ]
            try:
                response = self._client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception as exc:  # botocore already retried throttling and 5xx
                raise DispatchFailed(
                    f"FANOUT_QUEUE_URL {self.queue_url}: SendMessageBatch failed: {_describe(exc)}"
                ) from exc
            failed = response.get("Failed", [])
            if not failed:
                return attempt
            failures = {f["Id"]: f"{f.get('Code', 'error')}: {f.get('Message', '')}".rstrip(": ") for f in failed}
            if any(f.get("SenderFault") for f in failed):
                break
            pending = {entry_id: pending[entry_id] for entry_id in failures}
            logger.warning(
                "work messages not queued; retrying them",
                extra={"queue_url": self.queue_url, "failed": sorted(failures), "attempt": attempt},
            )
            if attempt < self._attempts:
                self._sleep(self._backoff * 2 ** (attempt - 1))
        detail = "; ".join(f"{entry_id} {reason}" for entry_id, reason in sorted(failures.items()))
        raise DispatchFailed(f"FANOUT_QUEUE_URL {self.queue_url}: could not queue {detail}")


def _describe(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = error.get("Code", "unknown error")
        message = error.get("Message", "")
        return f"{code}: {message}" if message else str(code)
    return f"{type(exc).__name__}: {exc}"
