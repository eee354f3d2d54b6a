"""The alert delivery transaction with hand-written fakes: the store keeps one versioned item per license
and enforces the same conditions as DynamoStore; the notifier records or refuses what it is given."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from usage_monitor.alerts import AlertState
from usage_monitor.delivery import AlertDelivery, Delivered
from usage_monitor.notify import PublishFailed
from usage_monitor.render import OutgoingMessage
from usage_monitor.store import StateConflict, StoredState

NEW = OutgoingMessage("new alert", '{"default": "new"}', {"event_type": "threshold_crossed"})
OLD = OutgoingMessage("old alert", '{"default": "old"}', {"event_type": "check_failed"})


class FakeStore:
    """One item per license: (state, pending), with DynamoStore's version conditions."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[AlertState, OutgoingMessage | None]] = {}
        self.writes: list[str] = []
        self.conflict_on_save = False
        self.fail_save_after: int | None = None

    def put(self, license_id: str, state: AlertState, pending: OutgoingMessage | None = None) -> StoredState:
        self.items[license_id] = (state, pending)
        return StoredState(state, pending)

    def _version(self, license_id: str) -> int:
        item = self.items.get(license_id)
        return item[0].version if item else 0

    def save_state(
        self, license_id: str, state: AlertState, expected_version: int, pending: OutgoingMessage | None = None
    ) -> AlertState:
        if self.fail_save_after is not None and len(self.writes) >= self.fail_save_after:
            raise RuntimeError("DynamoDB unavailable")
        if self.conflict_on_save or self._version(license_id) != expected_version:
            raise StateConflict(license_id)
        new_state = replace(state, version=expected_version + 1)
        self.items[license_id] = (new_state, pending)
        self.writes.append("save")
        return new_state

    def confirm_published(self, license_id: str, version: int) -> None:
        if self._version(license_id) != version:
            raise StateConflict(license_id)
        self.items[license_id] = (self.items[license_id][0], None)
        self.writes.append("confirm")


class FakeNotifier:
    def __init__(self, refuse: int = 0) -> None:
        self.sent: list[OutgoingMessage] = []
        self.refuse = refuse  # the next `refuse` publishes fail

    def publish(self, message: OutgoingMessage) -> str:
        if self.refuse:
            self.refuse -= 1
            raise PublishFailed("SNS down")
        self.sent.append(message)
        return f"msg-{len(self.sent)}"


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def test_a_new_alert_is_claimed_published_and_confirmed(store: FakeStore) -> None:
    notifier = FakeNotifier()
    stored = store.put("lic-1", AlertState(version=3))
    delivered = AlertDelivery(store, notifier).deliver("lic-1", stored, AlertState(version=3), NEW)

    assert delivered == Delivered(published=1, message_id="msg-1")
    assert notifier.sent == [NEW]
    assert store.writes == ["save", "confirm"]
    state, pending = store.items["lic-1"]
    assert (state.version, pending) == (4, None)


def test_a_refused_publish_rolls_the_claim_back_so_the_next_run_sends_it(store: FakeStore) -> None:
    before = AlertState(version=3)
    stored = store.put("lic-1", before)

    delivered = AlertDelivery(store, FakeNotifier(refuse=1)).deliver("lic-1", stored, before, NEW)

    assert delivered == Delivered(published=0, publish_failures=1)
    state, pending = store.items["lic-1"]
    # Claimed at version 4 with the message, then put back as it was (one write later: version 5).
    assert (state.version, pending) == (5, None)
    assert replace(state, version=3) == before


def test_a_failed_roll_back_leaves_the_claim_with_its_pending_message(store: FakeStore) -> None:
    stored = store.put("lic-1", AlertState(version=3))
    store.fail_save_after = 1  # the claim succeeds, the roll-back does not

    delivered = AlertDelivery(store, FakeNotifier(refuse=1)).deliver("lic-1", stored, AlertState(version=3), NEW)

    assert delivered.publish_failures == 1
    assert store.items["lic-1"] == (AlertState(version=4), NEW)


def test_a_conflicting_claim_publishes_nothing(store: FakeStore) -> None:
    notifier = FakeNotifier()
    stored = store.put("lic-1", AlertState(version=3))
    store.conflict_on_save = True

    delivered = AlertDelivery(store, notifier).deliver("lic-1", stored, AlertState(version=3), NEW)

    assert delivered == Delivered()
    assert notifier.sent == []


def test_without_a_message_an_unchanged_state_is_not_written(store: FakeStore) -> None:
    stored = store.put("lic-1", AlertState(version=3))

    assert AlertDelivery(store, FakeNotifier()).deliver("lic-1", stored, AlertState(version=3), None) == Delivered()
    assert store.writes == []


def test_without_a_message_a_changed_state_is_saved_without_publishing(store: FakeStore) -> None:
    notifier = FakeNotifier()
    stored = store.put("lic-1", AlertState(version=3))
    after = replace(AlertState(version=3), silences={"*": datetime(2030, 1, 1, tzinfo=UTC)})

    AlertDelivery(store, notifier).deliver("lic-1", stored, after, None)

    assert store.writes == ["save"]
    assert notifier.sent == []


def test_a_pending_message_from_a_dead_run_is_redelivered_then_confirmed(store: FakeStore) -> None:
    notifier = FakeNotifier()
    stored = store.put("lic-1", AlertState(version=4), pending=OLD)

    delivered = AlertDelivery(store, notifier).deliver("lic-1", stored, AlertState(version=4), None)

    assert delivered == Delivered(published=1)
    assert notifier.sent == [OLD]
    assert store.items["lic-1"] == (AlertState(version=4), None)


def test_a_pending_message_goes_out_before_the_new_alert(store: FakeStore) -> None:
    notifier = FakeNotifier()
    stored = store.put("lic-1", AlertState(version=4), pending=OLD)

    delivered = AlertDelivery(store, notifier).deliver("lic-1", stored, AlertState(version=4), NEW)

    assert delivered == Delivered(published=2, message_id="msg-2")
    assert notifier.sent == [OLD, NEW]
