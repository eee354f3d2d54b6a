"""DynamoDB adapter: usage snapshots and per-license alert state, in one table (item shapes: `items`)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from usage_monitor.alerting.forecast import Forecast
from usage_monitor.alerting.types import AlertState
from usage_monitor.core.aws_limits import item_problems, summarize
from usage_monitor.core.models import CheckError, CheckResult, FailureKind
from usage_monitor.messages.figures import iso
from usage_monitor.messages.outgoing import OutgoingMessage
from usage_monitor.storage.items import (
    STATE_PREFIX,
    STATE_SORT_KEY,
    StoredState,
    parse_iso,
    snapshot_item,
    state_from_item,
    state_to_item,
    unstorable,
    usage_points,
)

# Item shapes live in `items`; named here too for the modules that read the table through this adapter.
__all__ = [
    "STATE_PREFIX",
    "STATE_SORT_KEY",
    "DynamoStore",
    "ItemFilter",
    "SnapshotWriter",
    "StateConflict",
    "StateUnstorable",
    "StoredState",
    "parse_iso",
    "query_history",
    "snapshot_item",
    "state_from_item",
    "state_to_item",
    "unstorable",
    "usage_points",
]

if TYPE_CHECKING:
    from usage_monitor.storage.dynamo import DynamoTable

BATCH_GET_LIMIT = 100
# Fan-out dispatch records (`chunk_in_time`): `#` cannot occur in a license ID or a run ID's partition.
DISPATCH_PREFIX = "dispatch#"
DISPATCH_RECORD_TTL = timedelta(days=2)  # longer than a chunk's retries (3 receives) and its queue's life
BATCH_GET_ATTEMPTS = 8
BATCH_WRITE_LIMIT = 25


class StateConflict(Exception):
    """Another run changed this license's alert state first; it owns the notification."""


class StateUnstorable(Exception):
    """The next alert state breaks DynamoDB's item rules; nothing was written."""


class DynamoStore:
    def __init__(self, table: DynamoTable, retention_days: int) -> None:
        self.table = table
        self.retention_days = retention_days

    @contextmanager
    def snapshot_writer(self) -> Iterator[SnapshotWriter]:
        """Buffers puts into BatchWriteItem calls of 25 (see `SnapshotWriter`)."""
        writer = SnapshotWriter(self.table, self.retention_days)
        try:
            yield writer
        finally:
            writer.flush()  # also when the run stops early: what was checked is kept

    def history(self, license_id: str, since: datetime, only: ItemFilter | None = None) -> list[dict[str, Any]]:
        return query_history(self.table, license_id, since, only=only)

    def load_states(self, license_ids: Iterable[str]) -> dict[str, StoredState]:
        """Alert state for each license that has one, read 100 keys per BatchGetItem."""
        ids = list(dict.fromkeys(license_ids))
        found: dict[str, StoredState] = {}
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            keys = [
                {"license_id": STATE_PREFIX + i, "captured_at": STATE_SORT_KEY}
                for i in ids[start : start + BATCH_GET_LIMIT]
            ]
            for attempt in range(BATCH_GET_ATTEMPTS):
                items, keys = self.table.batch_get(keys)
                for item in items:
                    found[str(item["license"])] = state_from_item(item)
                if not keys:
                    break
                # Throttled keys come back unprocessed; botocore does not retry those for us.
                time.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise RuntimeError(f"DynamoDB left alert-state keys unprocessed after {BATCH_GET_ATTEMPTS} tries")
        return found

    def save_state(
        self,
        license_id: str,
        state: AlertState,
        expected_version: int,
        pending: OutgoingMessage | None = None,
        claimed_at: str | None = None,
    ) -> AlertState:
        """Conditional put: fails with `StateConflict` if another run wrote since we read."""
        from botocore.exceptions import ClientError

        new_state = replace(state, version=expected_version + 1)
        condition = "attribute_not_exists(license_id)" if expected_version == 0 else "version = :expected"
        item = state_to_item(license_id, new_state, pending, claimed_at)
        problems = item_problems(item)
        if problems:
            raise StateUnstorable(f"alert state of {license_id} cannot be stored: {summarize(problems)}")
        kwargs: dict[str, Any] = {"ConditionExpression": condition}
        if expected_version:
            kwargs["ExpressionAttributeValues"] = {":expected": expected_version}
        try:
            self.table.put_item(item, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StateConflict(license_id) from exc
            raise
        return new_state

    def claim_pending(self, license_id: str, version: int, previous_claim: str | None, claimed_at: str) -> None:
        """Take the pending message to send it; `StateConflict` if another run took it or wrote first.

        The condition names the claim this run saw, so of two runs that both saw the same (stale or
        absent) claim exactly one gets to send the message.
        """
        seen = "pending.claimed_at = :seen" if previous_claim else "attribute_not_exists(pending.claimed_at)"
        values: dict[str, Any] = {":version": version, ":now": claimed_at}
        if previous_claim:
            values[":seen"] = previous_claim
        self._update_state(
            license_id,
            UpdateExpression="SET pending.claimed_at = :now",
            ConditionExpression=f"version = :version AND attribute_exists(pending) AND {seen}",
            ExpressionAttributeValues=values,
        )

    def release_pending(self, license_id: str, version: int, claimed_at: str) -> None:
        """Give back a claim whose publish failed, so the next run retries without waiting it out."""
        self._update_state(
            license_id,
            UpdateExpression="REMOVE pending.claimed_at",
            ConditionExpression="version = :version AND pending.claimed_at = :mine",
            ExpressionAttributeValues={":version": version, ":mine": claimed_at},
        )

    def _update_state(self, license_id: str, **update: Any) -> None:
        from botocore.exceptions import ClientError

        try:
            key = {"license_id": STATE_PREFIX + license_id, "captured_at": STATE_SORT_KEY}
            self.table.update_item(key, **update)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StateConflict(license_id) from exc
            raise

    def chunk_in_time(self, run_id: str, captured_at: datetime, chunk: int, chunks: int) -> bool:
        """Records that fan-out chunk `chunk` of the dispatch (`run_id`, `captured_at`) reached every
        license; True once all `chunks` have, for the worker whose chunk completed the set.

        One item per dispatch, a string set of chunk numbers grown with an atomic `ADD`: a redelivered
        chunk adds nothing, and workers finishing together each see the set their own write made.
        """
        key = {"license_id": DISPATCH_PREFIX + run_id, "captured_at": iso(captured_at)}
        attributes = self.table.update_item(
            key,
            UpdateExpression=(
                "ADD chunks_in_time :chunk SET record_type = :type, chunks = :chunks, expires_at = :expires"
            ),
            ExpressionAttributeValues={
                ":chunk": {str(chunk)},
                ":type": "dispatch",
                ":chunks": chunks,
                ":expires": int((captured_at + DISPATCH_RECORD_TTL).timestamp()),
            },
            ReturnValues="ALL_NEW",
        )
        return len(attributes.get("chunks_in_time", ())) >= chunks

    def confirm_published(self, license_id: str, version: int) -> None:
        """Clear the pending alert once SNS accepted it (same version: nobody else wrote)."""
        self._update_state(
            license_id,
            UpdateExpression="REMOVE pending",
            ConditionExpression="version = :version",
            ExpressionAttributeValues={":version": version},
        )


@dataclass(frozen=True)
class ItemFilter:
    """A Query FilterExpression and the values it names, e.g. `ItemFilter("status = :ok", {":ok": "ok"})`."""

    expression: str
    values: Mapping[str, Any]


def query_history(
    table: DynamoTable, license_id: str, since: datetime, *, only: ItemFilter | None = None
) -> list[dict[str, Any]]:
    """Snapshots of one license from `since` on, oldest first (paginated Query).

    `only` becomes the Query's FilterExpression: DynamoDB still reads (and bills) every item in the
    range, but returns only the matching ones, which saves the parsing.
    """
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "license_id = :license_id AND captured_at >= :since",
        "ExpressionAttributeValues": {":license_id": license_id, ":since": iso(since)},
    }
    if only is not None:
        kwargs["FilterExpression"] = only.expression
        kwargs["ExpressionAttributeValues"] = {**only.values, **kwargs["ExpressionAttributeValues"]}
    return table.query(**kwargs)


class SnapshotWriter:
    """Snapshots in BatchWriteItem calls of 25 (boto3's batch writer resends `UnprocessedItems`).

    Each item is checked against DynamoDB's rules before it joins a batch; one that does not fit is
    replaced by a `failed` snapshot saying what was out of range. A batch DynamoDB still rejects as a
    whole is written item by item, so the good items land and the bad one is named in `rejected`.
    """

    def __init__(self, table: DynamoTable, retention_days: int) -> None:
        self._table = table
        self._retention_days = retention_days
        self._batch: list[dict[str, Any]] = []
        self.rejected: list[str] = []

    def put(
        self, result: CheckResult, captured_at: datetime, forecasts: Mapping[str, Forecast] | None = None
    ) -> CheckResult:
        """Queue the snapshot; returns the result as stored: `result`, or its `invalid_value` stand-in."""
        item = snapshot_item(result, captured_at, self._retention_days, forecasts)
        problems = item_problems(item)
        if problems:
            result = unstorable(result, summarize(problems))
            item = snapshot_item(result, captured_at, self._retention_days)
        self._batch.append(item)
        if len(self._batch) >= BATCH_WRITE_LIMIT:
            self.flush()
        return result

    def flush(self) -> None:
        items, self._batch = self._batch, []
        if not items:
            return
        try:
            with self._table.batch_writer(overwrite_by_pkeys=["license_id", "captured_at"]) as batch:
                for item in items:
                    batch.put_item(Item=item)
        except _rejections() as exc:
            if not _rejected_as_invalid(exc):
                raise
            from usage_monitor.observability import logger  # here: the CLI's `check` must not load Powertools

            logger.warning("snapshot batch rejected; writing its items one by one", extra={"error": _reason(exc)})
            for item in items:
                self._put_alone(item)

    def _put_alone(self, item: dict[str, Any]) -> None:
        license_id = str(item["license_id"])
        try:
            self._table.put_item(item)
            return
        except _rejections() as exc:
            if not _rejected_as_invalid(exc):
                raise
            reason = _reason(exc)
        from usage_monitor.observability import logger

        logger.error("DynamoDB rejected a snapshot", extra={"license_id": license_id, "error": reason})
        self.rejected.append(license_id)
        stand_in = CheckResult(
            license_id,
            parse_iso(str(item["checked_at"])),
            error=CheckError(FailureKind.INVALID_VALUE, f"DynamoDB rejected the snapshot: {reason}"),
        )
        try:
            self._table.put_item(snapshot_item(stand_in, parse_iso(str(item["captured_at"])), self._retention_days))
        except _rejections():
            logger.exception("could not store the failed snapshot either", extra={"license_id": license_id})


def _rejections() -> tuple[type[Exception], ...]:
    """What a request refused for its content raises: DynamoDB's ValidationException (a ClientError), or
    the serializer's own errors before any call (decimal signals such as `Rounded`, TypeError for an
    unsupported type, botocore's parameter validation)."""
    from botocore.exceptions import ClientError, ParamValidationError

    return (ClientError, ParamValidationError, ArithmeticError, TypeError, ValueError)


def _rejected_as_invalid(exc: Exception) -> bool:
    """A request DynamoDB (or the serializer before it) refuses for its content, not for load or access."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") == "ValidationException"
    return True


def _reason(exc: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {str(error.get('Message', ''))[:300]}"
    return f"{type(exc).__name__} while serializing"
