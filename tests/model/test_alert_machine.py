"""Stateful property test: the real `lambda_handler` (moto, the Leegality simulator) against the reference model.

Hypothesis drives random sequences of usage changes (hovering at a line, jumps across levels, limit
changes, resources that vanish, steady climbs toward the limit that forecasts see coming), check failures
of every kind, token revocation and rotation, mutes, time jumps from 15 minutes to days, settings changes
between runs, SNS outages and repeated or overlapping scheduler events. After every run: the messages SNS
got are exactly the ones the model expects (event type and severity), every figure, level and forecast (day
count, date, rate) they state is true of the stored snapshots, nothing muted is told, and nothing is left
pending. At the end every level must clear.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from tests.model.alert_model import KNOWN_DIVERGENCES, AlertModel, Expected, Observation
from tests.model.claims import Message, checked_at, false_claims
from tests.model.world import FAULTS, FunctionKilled, World, iso, scheduled_event

LICENSES = ("lic-a", "lic-b")
RESOURCES = ("users", "signatures")
START = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
BASE = {
    "ALERT_THRESHOLDS": "80,95",
    # A routine forecast once an hour (4 slots at 15-minute runs) instead of once a day, so a few dozen runs
    # meet each license's slot several times; a variant puts the daily interval back.
    "FORECAST_INTERVAL_HOURS": "1",
    "HTTP_RETRY_BACKOFF_SECONDS": "0.01",
    "HTTP_RETRY_AFTER_CAP_SECONDS": "0.1",
    "HTTP_READ_TIMEOUT_SECONDS": "2",
    "HTTP_CONNECT_TIMEOUT_SECONDS": "2",
}
# Settings changed between runs (a redeploy), each on top of BASE.
SETTINGS: tuple[dict[str, str], ...] = (
    {},
    {"ALERT_HYSTERESIS_POINTS": "0"},
    {"ALERT_THRESHOLDS": "50,80,95"},
    {"ALERT_THRESHOLD_OVERRIDES": "signatures=70,90; lic-b/users=60; lic-a/*=90"},
    {"ALERT_THRESHOLD_OVERRIDES": "users=5,50"},  # a threshold within the hysteresis margin
    {"ALERT_FLAP_CHANGES": "2", "ALERT_FLAP_WINDOW_HOURS": "2"},
    {"ALERT_FLAP_CHANGES": "0", "ALERT_HYSTERESIS_POINTS": "10"},
    {"ALERT_REMIND_AFTER_HOURS": "1"},
    {"ALERT_REMIND_AFTER_HOURS": "0", "FAILURE_ALERT_AFTER_RUNS": "1"},
    {"FORECAST_ALERT_DAYS": "2"},
    {"FORECAST_INTERVAL_HOURS": "24", "FORECAST_HISTORY_DAYS": "1"},
)
# Percentages at and around every line the settings above draw.
LINES = (0, 4, 5, 6, 40, 45, 50, 55, 59, 60, 65, 69, 70, 75, 79, 80, 85, 89, 90, 94, 95, 96, 99, 100, 101, 150)
MINUTES = (15, 15, 15, 30, 60, 120, 360, 1440, 4320)
# Messages the real code sent, by event type, over every example: the fixed-seed run must include forecasts.
SENT: Counter[str] = Counter()


class AlertMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World(LICENSES)
        self.usage: dict[str, dict[str, tuple[int, int]]] = {
            lid: {"users": (233, 1000), "signatures": (23, 1000)} for lid in LICENSES
        }
        self.owed: dict[str, Expected] = {}
        self.variant: dict[str, str] = {}
        self.faults: dict[str, str] = {}
        self.revoked: set[str] = set()
        self.now = START
        self.runs = 0
        self.last_event: dict[str, Any] | None = None
        self.model = AlertModel(self._settings_env())
        try:
            self.world.deploy(self._settings_env())
        except BaseException:
            self.world.release()
            raise

    def _settings_env(self) -> dict[str, str]:
        return {**BASE, **self.variant}

    def teardown(self) -> None:
        try:
            self._every_level_clears()
        finally:
            self.world.release()

    # --- rules ---------------------------------------------------------------------------------------

    @rule(
        lid=st.sampled_from(LICENSES),
        resource=st.sampled_from(RESOURCES),
        percent=st.sampled_from(LINES),
        nudge=st.sampled_from((0, 0, -1, 1)),
        limit=st.sampled_from((50, 100, 1000, 1500)),
        then_run=st.booleans(),
    )
    def set_usage(self, lid: str, resource: str, percent: int, nudge: int, limit: int, then_run: bool) -> None:
        self.usage[lid][resource] = (max(0, percent * limit // 100 + nudge), limit)
        if then_run:  # most usage changes are seen by the next run; some pile up first
            self.run(15)

    @rule(
        lid=st.sampled_from(LICENSES),
        resource=st.sampled_from(RESOURCES),
        start=st.sampled_from((5, 20, 40, 60)),
        per_mille=st.sampled_from((1, 3, 10)),
        runs=st.integers(4, 10),
        minutes=st.sampled_from((15, 15, 45)),  # 45 minutes walks through the hourly slots, 60 would not
    )
    def climb(self, lid: str, resource: str, start: int, per_mille: int, runs: int, minutes: int) -> None:
        """A steady climb from below every threshold, `per_mille` of the limit a run: from about 2 days to the
        limit (3 per mille every 15 minutes from 40 %) to over a month (1 per mille an hour)."""
        limit = self.usage[lid].get(resource, (0, 1000))[1] or 1000
        step = max(1, per_mille * limit // 1000)
        for i in range(runs):
            self.usage[lid][resource] = (start * limit // 100 + i * step, limit)
            self.run(minutes)

    @rule(lid=st.sampled_from(LICENSES), resource=st.sampled_from(RESOURCES), limit=st.sampled_from((0, 60, 2000)))
    def change_limit(self, lid: str, resource: str, limit: int) -> None:
        """A renewal (higher limit), a cut, or a limit of 0 (no figures to evaluate)."""
        current = self.usage[lid].get(resource, (10, 100))[0]
        self.usage[lid][resource] = (current, limit)

    @rule(
        lid=st.sampled_from(LICENSES),
        resource=st.sampled_from(RESOURCES),
        points=st.sampled_from((1, 2, 4)),
        hours=st.sampled_from((1, 25)),
    )
    def slip_into_the_band(self, lid: str, resource: str, points: int, hours: int) -> None:
        """A notified resource falls a few points below its level (inside the band), and a reminder comes due."""
        notified = self.model.notified(lid).get(resource)
        if notified is None:
            return
        limit = self.usage[lid].get(resource, (0, 1000))[1] or 1000
        self.usage[lid][resource] = (max(0, int((notified - points) * limit) // 100), limit)
        self.run(hours * 60)

    @rule(
        lid=st.sampled_from(LICENSES),
        resource=st.sampled_from(RESOURCES),
        low=st.sampled_from((10, 70, 79)),
        high=st.sampled_from((81, 96, 100)),
        runs=st.integers(2, 6),
        muted=st.booleans(),
    )
    def flap(self, lid: str, resource: str, low: int, high: int, runs: int, muted: bool) -> None:
        """A resource jumping across the band run after run, sometimes muted first (a mute meets flap damping)."""
        if muted:
            self.mute_license(lid, resource, 6)
        limit = self.usage[lid].get(resource, (0, 1000))[1] or 1000
        for i in range(runs):
            self.usage[lid][resource] = ((high if i % 2 == 0 else low) * limit // 100, limit)
            self.run(15)

    @rule(lid=st.sampled_from(LICENSES), resource=st.sampled_from(RESOURCES))
    def drop_resource(self, lid: str, resource: str) -> None:
        self.usage[lid].pop(resource, None)

    @rule(lid=st.sampled_from(LICENSES), fault=st.sampled_from(sorted(FAULTS)))
    def fail_next_check(self, lid: str, fault: str) -> None:
        self.faults[lid] = fault
        self.run(15)

    @rule(lid=st.sampled_from(LICENSES))
    def revoke_token(self, lid: str) -> None:
        self.world.revoke(lid)
        self.revoked.add(lid)

    @rule(lid=st.sampled_from(LICENSES))
    def rotate_token(self, lid: str) -> None:
        self.world.rotate(lid)
        self.revoked.discard(lid)

    @rule(
        lid=st.sampled_from(LICENSES),
        resource=st.sampled_from((None, *RESOURCES)),
        hours=st.sampled_from((1, 6, 48)),
    )
    def mute_license(self, lid: str, resource: str | None, hours: int) -> None:
        until = self.now + timedelta(hours=hours)
        self.world.mute(lid, resource, until)
        self.model.mute(lid, resource, until)

    @rule(lid=st.sampled_from(LICENSES), resource=st.sampled_from((None, *RESOURCES)))
    def unmute_license(self, lid: str, resource: str | None) -> None:
        self.world.unmute(lid, resource)
        self.model.unmute(lid, resource)

    @rule(variant=st.sampled_from(range(len(SETTINGS))))
    def change_settings(self, variant: int) -> None:
        self.variant = dict(SETTINGS[variant])
        self.model.configure(self._settings_env())
        self.world.deploy(self._settings_env())

    @rule(mode=st.sampled_from(("up", "down", "kill")))
    def sns(self, mode: str) -> None:
        """SNS up or down until changed, or the next run killed at its first Publish (after the claim)."""
        self.world.sns_mode = mode

    @rule(minutes=st.sampled_from(MINUTES))
    def run_later(self, minutes: int) -> None:
        self.run(minutes)

    @rule(minutes=st.sampled_from(MINUTES))
    def run(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self.runs += 1
        self._invoke(f"run-{self.runs}")

    @precondition(lambda self: self.last_event is not None)
    @rule()
    def redeliver_event(self) -> None:
        """The scheduler delivers the same event (id and time) again: nothing is checked or sent twice."""
        assert self.last_event is not None
        self.world.invoke(self.last_event)
        assert self.world.new_messages() == [], "a redelivered event sent messages"

    @precondition(lambda self: self.last_event is not None)
    @rule()
    def overlapping_run(self) -> None:
        """Another event for the same scheduled time (a manual re-run): a whole run at the same captured_at."""
        self.runs += 1
        self._invoke(f"again-{self.runs}")

    # --- one run and its invariants ----------------------------------------------------------------

    def _observation(self, lid: str) -> Observation:
        if lid in self.faults:  # a scripted reply is served whatever the token
            return Observation(lid, self.now, None, FAULTS[self.faults[lid]][0])
        if lid in self.revoked:
            return Observation(lid, self.now, None, "token_rejected")
        return Observation(lid, self.now, dict(self.usage[lid]))

    def _invoke(self, event_id: str) -> None:
        for lid in LICENSES:
            self.world.serve(lid, self.usage[lid], self.faults.get(lid))
        mode = self.world.sns_mode
        versions = {lid: self.world.state(lid).get("version") for lid in LICENSES}
        wanted = {lid: self.model.observe(self._observation(lid)) for lid in LICENSES}
        expected: list[Expected] = []
        for lid, messages in wanted.items():
            if messages and mode == "down":
                event("a message refused by SNS, rolled back")
                self.model.rollback(lid)  # SNS refuses it: the claim is rolled back, the next run decides again
            elif mode != "down":
                expected += messages
        if mode != "down" and self.owed:
            event("a killed run's claimed message redelivered")
            expected += self.owed.values()  # a killed run's claimed message, sent first by the next run
        self.last_event = scheduled_event(self.now, event_id)
        try:
            self.world.invoke(self.last_event)
        except FunctionKilled:
            self._after_kill(wanted, versions)
            return
        finally:
            self.world.sns_mode = "down" if mode == "down" else "up"
            self.faults.clear()
            self.world.simulator.scripts.clear()
        if mode != "down":
            self.owed.clear()
        sent = self.world.new_messages()
        got = Counter(self.model.key(m.attributes) for m in sent)
        for message in sent:
            event(f"sent {message.attributes['event_type']} {message.attributes['severity']}")
            SENT[message.attributes["event_type"]] += 1
        assert got == Counter(expected), f"at {iso(self.now)}: sent {sorted(map(str, got))}, model {expected}"
        self._claims_are_true(sent, expected)
        self._nothing_pending()

    def _after_kill(self, wanted: dict[str, list[Expected]], versions: dict[str, Any]) -> None:
        """Lambda stopped the run at its first Publish: whatever was claimed is owed, the rest never happened."""
        assert self.world.new_messages() == [], "a killed run published"
        event("a run killed after its claim")
        for lid in LICENSES:
            if not self.world.stored(lid, iso(self.now)):
                self.model.unstored(lid, self.now)  # not reached: no snapshot for later forecasts either
            state = self.world.state(lid)
            if state.get("version") == versions[lid]:
                self.model.rollback(lid)  # not reached (or killed redelivering): nothing of this run was saved
            elif "pending" in state:
                assert lid not in self.owed, f"{lid}: a second claim while one is owed"
                assert len(wanted[lid]) == 1, f"{lid}: claimed, the model expected {wanted[lid]}"
                self.owed[lid] = wanted[lid][0]
            else:
                assert not wanted[lid], f"{lid}: the model expected {wanted[lid]}, the run saved no claim"
            if "pending" in state:
                self.world.age_claim(lid)
        self.last_event = None  # the killed event's idempotency record stays in progress

    def _claims_are_true(self, sent: list[Message], expected: list[Expected]) -> None:
        wording = "18.7" in KNOWN_DIVERGENCES  # reminders may still word a held level as reached
        for message in sent:
            lid, at = message.attributes["license_id"], checked_at(message)
            if at == iso(self.now):  # a killed run's message, redelivered now, was decided before any later mute
                muted = self.model.muted(lid, self.now)
                assert "*" not in muted, f"a message about muted license {lid}"
                flapping = message.attributes["event_type"] == "flapping"
                for name in set() if flapping and "18.8" in KNOWN_DIVERGENCES else muted:
                    assert f"- {name}:" not in message.email, f"muted {lid}/{name} told: {message.email}"
            snapshot = self.world.snapshot(lid, at)
            # Two messages of one license can share a key (a redelivered one and this run's): take the one it is.
            candidates = [e for e in expected if self.model.key(message.attributes) == e]
            verdicts = [
                (e, false_claims(message, e, snapshot, self.model, reminder_wording=wording)) for e in candidates
            ]
            match, problems = next(((e, p) for e, p in verdicts if not p), verdicts[0])
            del expected[next(i for i, e in enumerate(expected) if e is match)]  # by identity: equal keys abound
            assert not problems, f"{message.subject}\n{message.email}\n{message.sms}\n" + "\n".join(problems)

    def _nothing_pending(self) -> None:
        for lid in LICENSES:
            pending = "pending" in self.world.state(lid)
            assert pending == (lid in self.owed), f"{lid}: pending {pending}, owed {self.owed.get(lid)}"

    def _every_level_clears(self) -> None:
        """Usage back to normal, faults fixed, mutes lifted, SNS up: within a few runs nothing is left notified."""
        self.world.sns_mode = "up"
        self.faults.clear()
        for lid in LICENSES:
            for resource in (None, *RESOURCES):
                self.world.unmute(lid, resource)
                self.model.unmute(lid, resource)
            if lid in self.revoked:
                self.rotate_token(lid)
            self.usage[lid] = dict.fromkeys(RESOURCES, (1, 1000))
        for _ in range(3):  # recoveries, then (if flapping) the settled notice a window later
            self.now += timedelta(hours=7)
            self.runs += 1
            self._invoke(f"drain-{self.runs}")
        stuck_by_design = "18.6" in KNOWN_DIVERGENCES and "users=5" in self.variant.get("ALERT_THRESHOLD_OVERRIDES", "")
        for lid in LICENSES:
            state = self.world.state(lid)
            marks = set((state.get("resources") or {}).keys())
            if stuck_by_design:
                marks.discard("users")
            assert not marks, f"{lid}: levels that never clear: {state.get('resources')}"
            assert (state.get("failures") or {}).get("consecutive", 0) == 0


PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
MACHINE_SETTINGS = settings(
    PROFILE,
    # `make test` (the ci profile, derandomized): a modest run; `make fuzz`: the profile's thousands.
    max_examples=15 if PROFILE.derandomize else PROFILE.max_examples,
    stateful_step_count=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.property
def test_alert_machine() -> None:
    SENT.clear()
    run_state_machine_as_test(AlertMachine, settings=MACHINE_SETTINGS)
    if PROFILE.derandomize:  # the fixed seed of `make test`: forecast alerts stay covered, not only allowed
        assert SENT["forecast"] >= 1, f"no forecast alert in the fixed-seed run: {dict(SENT)}"
