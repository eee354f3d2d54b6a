"""The alert delivery transaction with hand-written fakes: the store keeps one versioned item per license
and enforces the same conditions as DynamoStore; the notifier records or refuses what it is given."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from usage_monitor.alerting.types import AlertState
from usage_monitor.fleet.delivery import AlertDelivery, Delivered
from usage_monitor.messages.outgoing import OutgoingMessage
from usage_monitor.storage.sns import PublishFailed
from usage_monitor.storage.store import StateConflict, StoredState

NOW = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
NEW = OutgoingMessage("new alert", '{"default": "new"}', {"event_type": "threshold_crossed"})
OLD = OutgoingMessage("old alert", '{"default": "old"}', {"event_type": "check_failed"})


class FakeStore:
    """One item per license: (state, pending, claimed_at), with DynamoStore's version and claim conditions."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[AlertState, OutgoingMessage | None, str | None]] = {}
        self.writes: list[str] = []
        self.conflict_on_save = False
        self.fail_save_after: int | None = None

    def put(
        self, license_id: str, state: AlertState, pending: OutgoingMessage | None = None, claimed_at: str | None = None
    ) -> StoredState:
        self.items[license_id] = (state, pending, claimed_at)
        return StoredState(state, pending, claimed_at)

    def _version(self, license_id: str) -> int:
        item = self.items.get(license_id)
        return item[0].version if item else 0

    def save_state(
        self,
        license_id: str,
        state: AlertState,
        expected_version: int,
        pending: OutgoingMessage | None = None,
        claimed_at: str | None = None,
    ) -> AlertState:
        if self.fail_save_after is not None and len(self.writes) >= self.fail_save_after:
            raise RuntimeError("DynamoDB unavailable")
        if self.conflict_on_save or self._version(license_id) != expected_version:
            raise StateConflict(license_id)
        new_state = replace(state, version=expected_version + 1)
        self.items[license_id] = (new_state, pending, claimed_at if pending else None)
        self.writes.append("save")
        return new_state

    def claim_pending(self, license_id: str, version: int, previous_claim: str | None, claimed_at: str) -> None:
        state, pending, current = self.items[license_id]
        if state.version != version or pending is None or current != previous_claim:
            raise StateConflict(license_id)
        self.items[license_id] = (state, pending, claimed_at)
        self.writes.append("claim")

    def release_pending(self, license_id: str, version: int, claimed_at: str) -> None:
        state, pending, current = self.items[license_id]
        if state.version != version or current != claimed_at:
            raise StateConflict(license_id)
        self.items[license_id] = (state, pending, None)
        self.writes.append("release")

    def confirm_published(self, license_id: str, version: int) -> None:
        if self._version(license_id) != version:
            raise StateConflict(license_id)
        self.items[license_id] = (self.items[license_id][0], None, None)
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


def delivery(store: FakeStore, notifier: FakeNotifier, now: datetime = NOW) -> AlertDelivery:
    return AlertDelivery(store, notifier, clock=lambda: now)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def test_a_new_alert_is_claimed_published_and_confirmed(store: FakeStore) -> None:
    notifier = FakeNotifier()
    stored = store.put("lic-1", AlertState(version=3))
    delivered = delivery(store, notifier).deliver("lic-1", stored, AlertState(version=3), NEW)

    assert delivered == Delivered(published=1, message_id="msg-1")
    assert notifier.sent == [NEW]
    assert store.writes == ["save", "confirm"]
    state, pending, _ = store.items["lic-1"]
    assert (state.version, pending) == (4, None)


def test_a_refused_publish_rolls_the_claim_back_so_the_next_run_sends_it(store: FakeStore) -> None:
    before = AlertState(version=3)
    stored = store.put("lic-1", before)

    delivered = delivery(store, FakeNotifier(refuse=1)).deliver("lic-1", stored, before, NEW)

    assert delivered == Delivered(published=0, publish_failures=1)
    state, pending, _ = store.items["lic-1"]
    # Claimed at version 4 with the message, then put back as it was (one write later: version 5), marked
    # refused so that the next run decides again with a fresh forecast.
    assert (state.version, pending) == (5, None)
    assert replace(state, version=3) == replace(before, refused_at=NOW)


def test_a_failed_roll_back_leaves_the_claim_with_its_pending_message(store: FakeStore) -> None:
    stored = store.put("lic-1", AlertState(version=3))
    store.fail_save_after = 1  # the claim succeeds, the roll-back does not

    delivered = delivery(store, FakeNotifier(refuse=1)).deliver("lic-1", stored, AlertState(version=3), NEW)

    assert delivered.publish_failures == 1
    assert store.items["lic-1"] == (AlertState(version=4), NEW, "2026-11-24T09:15:00Z")


def test_a_conflicting_claim_publishes_nothing(store: FakeStore) -> None:
    notifier = FakeNotifier()
    stored = store.put("lic-1", AlertState(version=3))
    store.conflict_on_save = True

    delivered = delivery(store, notifier).deliver("lic-1", stored, AlertState(version=3), NEW)

    assert delivered == Delivered()
    assert notifier.sent == []


def test_without_a_message_an_unchanged_state_is_not_written(store: FakeStore) -> None:
    stored = store.put("lic-1", AlertState(version=3))

    assert delivery(store, FakeNotifier()).deliver("lic-1", stored, AlertState(version=3), None) == Delivered()
    assert store.writes == []


def test_without_a_message_a_changed_state_is_saved_without_publishing(store: FakeStore) -> None:
    notifier = FakeNotifier()
    stored = store.put("lic-1", AlertState(version=3))
    after = replace(AlertState(version=3), silences={"*": datetime(2030, 1, 1, tzinfo=UTC)})

    delivery(store, notifier).deliver("lic-1", stored, after, None)

    assert store.writes == ["save"]
    assert notifier.sent == []


def test_a_pending_message_from_a_dead_run_is_redelivered_then_confirmed(store: FakeStore) -> None:
    notifier = FakeNotifier()
    stored = store.put("lic-1", AlertState(version=4), pending=OLD)

    delivered = delivery(store, notifier).deliver("lic-1", stored, AlertState(version=4), None)

    assert delivered == Delivered(published=1)
    assert notifier.sent == [OLD]
    assert store.items["lic-1"] == (AlertState(version=4), None, None)


def test_a_pending_message_goes_out_before_the_new_alert(store: FakeStore) -> None:
    notifier = FakeNotifier()
    stored = store.put("lic-1", AlertState(version=4), pending=OLD)

    delivered = delivery(store, notifier).deliver("lic-1", stored, AlertState(version=4), NEW)

    assert delivered == Delivered(published=2, message_id="msg-2")
    assert notifier.sent == [OLD, NEW]


def test_a_redelivery_that_fails_keeps_the_pending_message_through_a_later_state_write(store: FakeStore) -> None:
    stored = store.put("lic-1", AlertState(version=4), pending=OLD)
    streak = replace(AlertState(version=4), silences={"*": datetime(2030, 1, 1, tzinfo=UTC)})

    delivered = delivery(store, FakeNotifier(refuse=1)).deliver("lic-1", stored, streak, None)

    assert delivered == Delivered()
    # Claimed, given back, then the new state written with the message still owed and unclaimed.
    assert store.writes == ["claim", "release", "save"]
    assert store.items["lic-1"] == (replace(streak, version=5), OLD, None)


def test_a_new_alert_waits_while_an_earlier_one_is_still_owed(store: FakeStore) -> None:
    notifier = FakeNotifier(refuse=1)
    stored = store.put("lic-1", AlertState(version=4), pending=OLD)

    delivered = delivery(store, notifier).deliver("lic-1", stored, AlertState(version=4), NEW)

    assert delivered == Delivered(publish_failures=1)
    assert notifier.sent == []
    assert store.items["lic-1"] == (AlertState(version=4), OLD, None)


def test_a_pending_message_under_a_live_claim_is_left_to_the_run_holding_it(store: FakeStore) -> None:
    notifier = FakeNotifier()
    stored = store.put("lic-1", AlertState(version=4), pending=OLD, claimed_at="2026-11-24T09:10:00Z")

    delivered = delivery(store, notifier).deliver("lic-1", stored, AlertState(version=4), NEW)

    assert delivered == Delivered()
    assert notifier.sent == []
    assert store.writes == []


def test_a_claim_older_than_any_run_is_taken_over_and_sent(store: FakeStore) -> None:
    notifier = FakeNotifier()
    stored = store.put("lic-1", AlertState(version=4), pending=OLD, claimed_at="2026-11-24T08:59:59Z")

    delivered = delivery(store, notifier).deliver("lic-1", stored, AlertState(version=4), None)

    assert delivered == Delivered(published=1)
    assert notifier.sent == [OLD]
    assert store.writes == ["claim", "confirm"]


def test_of_two_runs_that_saw_the_same_stale_claim_only_one_sends(store: FakeStore) -> None:
    notifier = FakeNotifier()
    seen = store.put("lic-1", AlertState(version=4), pending=OLD)
    second = delivery(store, notifier, now=NOW + timedelta(seconds=1))

    store.claim_pending("lic-1", 4, None, "2026-11-24T09:15:00Z")  # the first run takes it ...
    assert second.deliver("lic-1", seen, AlertState(version=4), None) == Delivered()  # ... the second backs off
    assert notifier.sent == []
