"""The alert delivery transaction: claim the alert-state version, publish, then confirm or roll back.

The claim comes first so that of two overlapping runs only one publishes a transition (the other gets
`StateConflict`), and the claimed item carries the message as `pending`, so an alert claimed by a run that
then died is still sent: the next run finds it and redelivers it. What to send is decided elsewhere
(`alerts`, `render`); this module only makes sure it goes out once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from usage_monitor.alerts import AlertState
from usage_monitor.notify import PublishFailed
from usage_monitor.observability import logger
from usage_monitor.render import OutgoingMessage
from usage_monitor.store import StateConflict, StoredState


class Notifier(Protocol):
    def publish(self, message: OutgoingMessage) -> str: ...


class AlertStateStore(Protocol):
    def save_state(
        self,
        license_id: str,
        state: AlertState,
        expected_version: int,
        pending: OutgoingMessage | None = None,
    ) -> AlertState: ...

    def confirm_published(self, license_id: str, version: int) -> None: ...


@dataclass(frozen=True)
class Delivered:
    """What one license's delivery did this run."""

    published: int = 0  # messages SNS accepted: a redelivered pending one and the new one
    publish_failures: int = 0  # new alerts SNS refused (rolled back, so the next run sends them)
    message_id: str | None = None  # SNS MessageId of the new alert, when it was published


class AlertDelivery:
    def __init__(self, store: AlertStateStore, notifier: Notifier) -> None:
        self.store = store
        self.notifier = notifier

    def deliver(
        self, license_id: str, stored: StoredState, after: AlertState, message: OutgoingMessage | None
    ) -> Delivered:
        """Sends a pending message left by an earlier run, then saves `after`, with `message` if any.

        Without a message, `after` is saved only when it differs from the stored state.
        """
        state = stored.state
        published = 0
        if stored.pending is not None:
            published += self._deliver_pending(license_id, stored.pending, state.version)
        try:
            if message is None:
                if after != state:
                    self.store.save_state(license_id, after, state.version)
                return Delivered(published)
            claimed = self.store.save_state(license_id, after, state.version, pending=message)
        except StateConflict:
            logger.warning(
                "alert state changed by another run; leaving this license to it",
                extra={"license_id": license_id},
            )
            return Delivered(published)
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

    def _deliver_pending(self, license_id: str, pending: OutgoingMessage, version: int) -> int:
        """A previous run claimed an alert and stopped before confirming it: send it now."""
        try:
            self.notifier.publish(pending)
        except PublishFailed:
            logger.error("pending alert still not published", extra={"license_id": license_id})
            return 0
        self._confirm(license_id, version)
        return 1

    def _roll_back(self, license_id: str, before: AlertState, claimed_version: int) -> None:
        try:
            self.store.save_state(license_id, before, claimed_version)
        except Exception:
            # The claim keeps its pending alert, which the next run delivers instead.
            logger.exception("rolling back the alert claim failed", extra={"license_id": license_id})

    def _confirm(self, license_id: str, version: int) -> None:
        try:
            self.store.confirm_published(license_id, version)
        except StateConflict:
            logger.warning("alert state changed before confirmation", extra={"license_id": license_id})
