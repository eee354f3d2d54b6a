"""The alert delivery transaction: claim the alert-state version, publish, then confirm or roll back.

The claim comes first so that of two overlapping runs only one publishes a transition (the other gets
`StateConflict`), and the claimed item carries the message as `pending`, so an alert claimed by a run that
then died is still sent: a later run finds it and redelivers it. A pending message stays on the item
through every write until SNS accepted it, and a run redelivers it only after claiming it conditionally
(`claimed_at`, older than any Lambda run can last), so two overlapping runs never both send it. What to
send is decided elsewhere (`alerts`, `render`); this module only makes sure it goes out once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Protocol

from usage_monitor.alerting.types import AlertState
from usage_monitor.messages.figures import iso
from usage_monitor.messages.outgoing import OutgoingMessage
from usage_monitor.observability import logger
from usage_monitor.storage.sns import PublishFailed
from usage_monitor.storage.store import StateConflict, StateUnstorable, StoredState


class Notifier(Protocol):
    def publish(self, message: OutgoingMessage) -> str: ...


class AlertStateStore(Protocol):
    def save_state(
        self,
        license_id: str,
        state: AlertState,
        expected_version: int,
        pending: OutgoingMessage | None = None,
        claimed_at: str | None = None,
    ) -> AlertState: ...

    def claim_pending(self, license_id: str, version: int, previous_claim: str | None, claimed_at: str) -> None: ...

    def release_pending(self, license_id: str, version: int, claimed_at: str) -> None: ...

    def confirm_published(self, license_id: str, version: int) -> None: ...


# A claim younger than this may belong to a run still publishing: Lambda stops every run within 15 minutes.
CLAIM_EXPIRY = timedelta(minutes=15)


class Redelivery(Enum):
    SENT = "sent"
    FAILED = "failed"  # still pending, claim given back: the next run tries again
    IN_FLIGHT = "in_flight"  # another run holds a live claim on it: the license is left to that run


@dataclass(frozen=True)
class Delivered:
    """What one license's delivery did this run."""

    published: int = 0  # messages SNS accepted: a redelivered pending one and the new one
    publish_failures: int = 0  # new alerts SNS refused (rolled back, so the next run sends them)
    message_id: str | None = None  # SNS MessageId of the new alert, when it was published


class AlertDelivery:
    def __init__(
        self,
        store: AlertStateStore,
        notifier: Notifier,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.notifier = notifier
        # Wall-clock time, not the run's scheduled time: claims compare across runs that overlap.
        self.clock = clock

    def deliver(
        self, license_id: str, stored: StoredState, after: AlertState, message: OutgoingMessage | None
    ) -> Delivered:
        """Sends a pending message left by an earlier run, then saves `after`, with `message` if any.

        Without a message, `after` is saved only when it differs from the stored state. A pending message
        that still cannot be sent is kept on every write, and a new message waits for it (the state is not
        advanced, so the next run decides it again).
        """
        state = stored.state
        published = 0
        owed: OutgoingMessage | None = None
        if stored.pending is not None:
            outcome = self._deliver_pending(license_id, stored.pending, state.version, stored.pending_claimed_at)
            if outcome is Redelivery.IN_FLIGHT:
                return Delivered()
            if outcome is Redelivery.SENT:
                published += 1
            else:
                owed = stored.pending
        try:
            if message is None:
                if after != state:
                    self.store.save_state(license_id, after, state.version, pending=owed)
                return Delivered(published)
            if owed is not None:
                logger.error(
                    "alert held back: an earlier alert is still not published; the next run sends both",
                    extra={"license_id": license_id},
                )
                return Delivered(published, publish_failures=1)
            claimed = self.store.save_state(
                license_id, after, state.version, pending=message, claimed_at=iso(self.clock())
            )
        except StateConflict:
            logger.warning(
                "alert state changed by another run; leaving this license to it",
                extra={"license_id": license_id},
            )
            return Delivered(published)
        except StateUnstorable as exc:
            # One license's state breaks DynamoDB's item rules: say so, send nothing, leave the rest alone.
            logger.error("alert state not stored; no alert sent", extra={"license_id": license_id, "error": str(exc)})
            return Delivered(published, publish_failures=1)
        try:
            message_id = self.notifier.publish(message)
        except PublishFailed as exc:
            logger.error(
                "alert not published; state rolled back so the next run sends it",
                extra={"license_id": license_id, "error": str(exc)},
            )
            self._roll_back(license_id, state, claimed.version)
            return Delivered(published, publish_failures=1)
        self._confirm(license_id, claimed.version)
        return Delivered(published + 1, message_id=message_id)

    def _deliver_pending(
        self, license_id: str, pending: OutgoingMessage, version: int, previous: str | None
    ) -> Redelivery:
        """A previous run claimed an alert and stopped before confirming it: claim it, then send it."""
        now = self.clock()
        if previous is not None and now - datetime.fromisoformat(previous) < CLAIM_EXPIRY:
            logger.info("pending alert is being sent by another run", extra={"license_id": license_id})
            return Redelivery.IN_FLIGHT
        claimed_at = iso(now)
        try:
            self.store.claim_pending(license_id, version, previous, claimed_at)
        except StateConflict:
            logger.info("another run took the pending alert first", extra={"license_id": license_id})
            return Redelivery.IN_FLIGHT
        try:
            self.notifier.publish(pending)
        except PublishFailed:
            logger.error("pending alert still not published", extra={"license_id": license_id})
            self._release(license_id, version, claimed_at)
            return Redelivery.FAILED
        self._confirm(license_id, version)
        return Redelivery.SENT

    def _release(self, license_id: str, version: int, claimed_at: str) -> None:
        try:
            self.store.release_pending(license_id, version, claimed_at)
        except Exception:
            # The claim expires on its own; a later run redelivers the message then.
            logger.exception("giving back the pending alert's claim failed", extra={"license_id": license_id})

    def _roll_back(self, license_id: str, before: AlertState, claimed_version: int) -> None:
        try:
            self.store.save_state(license_id, replace(before, refused_at=self.clock()), claimed_version)
        except Exception:
            # The claim keeps its pending alert, which the next run delivers instead.
            logger.exception("rolling back the alert claim failed", extra={"license_id": license_id})

    def _confirm(self, license_id: str, version: int) -> None:
        try:
            self.store.confirm_published(license_id, version)
        except StateConflict:
            logger.warning("alert state changed before confirmation", extra={"license_id": license_id})
