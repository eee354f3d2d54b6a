"""Alert rules: levels, and what evaluate() notifies from one run to the next."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from usage_monitor.alerting.forecast import Forecast, ForecastStatus
from usage_monitor.alerting.rules import apply_silences, evaluate
from usage_monitor.alerting.types import (
    Alert,
    AlertPolicy,
    AlertState,
    ChangeKind,
    DampingNote,
    Evaluation,
    EventType,
    FailureStreak,
    NotifiedLevel,
    ResourceChange,
    Severity,
)
from usage_monitor.core.models import CheckError, CheckResult, FailureKind, Resource

LICENSE = "bd82845c-897b-4022-b5f7-679905c1979b"
T0 = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
RUN_EVERY = timedelta(minutes=15)
POLICY = AlertPolicy(thresholds=(Decimal(80), Decimal(95)))
D80, D95, D100 = Decimal(80), Decimal(95), Decimal(100)


def users(current: int | None, limit: int | None = 1000, name: str = "users") -> Resource:
    return Resource(name, current, limit)


def ok(*resources: Resource, at: datetime = T0) -> CheckResult:
    return CheckResult(LICENSE, at, resources=resources)


def failed(kind: FailureKind, status: int | None = None, at: datetime = T0) -> CheckResult:
    return CheckResult(LICENSE, at, error=CheckError(kind, "Internal Server Error", status))


def notified(level: Decimal, at: datetime = T0, name: str = "users") -> AlertState:
    return AlertState(resources={name: NotifiedLevel(level, at)})


def run(result: CheckResult, before: AlertState, now: datetime, policy: AlertPolicy = POLICY) -> Evaluation:
    return evaluate(result, before, policy, now)


# --- level_of -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "limit", "level"),
    [
        (0, 1000, None),
        (7996, 10000, None),  # 79.96%: below 80 even though it is "almost" 80
        (799999, 1000000, None),
        (8000, 10000, D80),  # exactly 80%
        (800, 1000, D80),
        (9499, 10000, D80),
        (9500, 10000, D95),  # exactly 95%
        (9999, 10000, D95),
        (1000, 1000, D100),  # at the limit: 100 although 100 is not a threshold
        (1, 1, D100),
        (1001, 1000, D100),
        (1200, 1000, D100),
    ],
)
def test_level_of_with_80_and_95(current: int, limit: int, level: Decimal | None) -> None:
    assert POLICY.level_of(users(current, limit)) == level


@pytest.mark.parametrize(
    ("current", "level"),
    [
        (799, None),
        (800, D80),
        (999, D80),
        (1000, D100),
        (1100, D100),
        (1199, D100),
        (1200, Decimal(120)),
        (5000, Decimal(120)),
    ],
)
def test_threshold_above_100_is_reached_only_at_that_percentage(current: int, level: Decimal | None) -> None:
    policy = AlertPolicy(thresholds=(D80, Decimal(120)))

    assert policy.level_of(users(current, 1000)) == level


def test_fractional_threshold_uses_exact_arithmetic() -> None:
    policy = AlertPolicy(thresholds=(Decimal("99.95"),))

    assert policy.level_of(users(19989, 20000)) is None  # 99.945%
    assert policy.level_of(users(19990, 20000)) == Decimal("99.95")


@pytest.mark.parametrize(
    "resource",
    [users(None, 1000), users(990, None), users(None, None), users(5, 0), users(0, 0)],
)
def test_unevaluable_resource_has_no_level(resource: Resource) -> None:
    assert POLICY.level_of(resource) is None


@pytest.mark.parametrize(
    ("thresholds", "at_limit_only", "level", "severity"),
    [
        ("80", False, D80, Severity.CRITICAL),  # the highest threshold is critical
        ("80,95", False, D80, Severity.WARNING),
        ("80,95", False, Decimal(95), Severity.CRITICAL),
        ("80,95", True, Decimal(95), Severity.WARNING),  # CRITICAL_AT_LIMIT_ONLY
        ("80,95", True, Decimal("99.9"), Severity.WARNING),
        ("80,95", True, D100, Severity.CRITICAL),
        ("80,95", False, Decimal(120), Severity.CRITICAL),
    ],
)
def test_severity_for_level(thresholds: str, at_limit_only: bool, level: Decimal, severity: Severity) -> None:
    policy = AlertPolicy(tuple(Decimal(t) for t in thresholds.split(",")), critical_at_limit_only=at_limit_only)
    assert policy.severity_for(level, "lic", "users") is severity


@pytest.mark.parametrize(
    ("elapsed", "due"),
    [(timedelta(hours=23, minutes=59, seconds=59), False), (timedelta(hours=24), True), (timedelta(days=3), True)],
)
def test_reminder_due_after_remind_after(elapsed: timedelta, due: bool) -> None:
    assert POLICY.reminder_due(T0, T0 + elapsed) is due
    assert AlertPolicy(thresholds=(D80,), remind_after=None).reminder_due(T0, T0 + elapsed) is False


# --- evaluate: thresholds ---------------------------------------------------------------------------


def test_first_crossing_alerts_with_a_warning() -> None:
    # Given nothing notified yet, When users reach 85%
    evaluation = run(ok(users(850)), AlertState(), T0)

    # Then one threshold_crossed warning for users at 80, remembered with its time
    alert = evaluation.alert
    assert alert is not None
    assert (alert.license_id, alert.captured_at) == (LICENSE, T0)
    assert alert.event_type is EventType.THRESHOLD_CROSSED
    assert alert.severity is Severity.WARNING
    assert alert.thresholds == (D80, D95)
    assert not alert.reminder
    assert alert.check_change is None
    (change,) = alert.resource_changes
    assert (change.kind, change.resource.name, change.level, change.previous_level) == (
        ChangeKind.CROSSED,
        "users",
        D80,
        None,
    )
    assert evaluation.state.resources == {"users": NotifiedLevel(D80, T0)}
    assert evaluation.state_changed(AlertState())


def test_below_every_threshold_with_nothing_notified_is_silent() -> None:
    evaluation = run(ok(users(799)), AlertState(), T0)

    assert evaluation.alert is None
    assert not evaluation.state_changed(AlertState())


@pytest.mark.parametrize("current", [800, 850, 949])
def test_same_level_next_run_is_silent_and_leaves_state_unchanged(current: int) -> None:
    before = AlertState(resources={"users": NotifiedLevel(D80, T0)}, version=7)

    evaluation = run(ok(users(current)), before, T0 + RUN_EVERY)

    assert evaluation.alert is None
    assert evaluation.state == before
    assert not evaluation.state_changed(before)


def test_escalation_from_80_to_95_alerts_again() -> None:
    now = T0 + RUN_EVERY

    evaluation = run(ok(users(960)), notified(D80), now)

    assert evaluation.alert is not None
    assert evaluation.alert.event_type is EventType.THRESHOLD_CROSSED
    assert evaluation.alert.severity is Severity.CRITICAL  # 95 % is the highest threshold (issue 19 item 17)
    (change,) = evaluation.alert.resource_changes
    assert (change.kind, change.level, change.previous_level) == (ChangeKind.CROSSED, D95, D80)
    assert evaluation.state.resources["users"] == NotifiedLevel(D95, now)


@pytest.mark.parametrize("current", [1000, 1500])
def test_reaching_the_limit_is_critical(current: int) -> None:
    evaluation = run(ok(users(current)), notified(D95), T0 + RUN_EVERY)

    assert evaluation.alert is not None
    assert evaluation.alert.event_type is EventType.THRESHOLD_CROSSED
    assert evaluation.alert.severity is Severity.CRITICAL
    assert evaluation.alert.resource_changes[0].level == D100
    assert evaluation.state.resources["users"].level == D100


def test_jumping_straight_to_the_limit_is_one_critical_alert() -> None:
    evaluation = run(ok(users(1000)), AlertState(), T0)

    assert evaluation.alert is not None
    assert evaluation.alert.severity is Severity.CRITICAL
    assert [c.level for c in evaluation.alert.resource_changes] == [D100]


@pytest.mark.parametrize("previous", [D80, D95, D100])
def test_dropping_below_lowest_threshold_recovers_and_clears_state(previous: Decimal) -> None:
    evaluation = run(ok(users(500)), notified(previous), T0 + RUN_EVERY)

    alert = evaluation.alert
    assert alert is not None
    assert alert.event_type is EventType.RECOVERED
    assert alert.severity is Severity.WARNING
    (change,) = alert.resource_changes
    assert (change.kind, change.level, change.previous_level) == (ChangeKind.RECOVERED, None, previous)
    assert evaluation.state.resources == {}
    assert not evaluation.state.active


def test_step_down_is_silent_but_recrossing_alerts_again() -> None:
    # Given 95 notified at T0
    before = notified(D95)

    # When usage falls to 85%: silent, but the mark drops to 80 (keeping the notification time)
    down = run(ok(users(850)), before, T0 + RUN_EVERY)
    assert down.alert is None
    assert down.state.resources["users"] == NotifiedLevel(D80, T0)
    assert down.state_changed(before)

    # Then crossing 95 again is a new crossing
    up = run(ok(users(960)), down.state, T0 + 2 * RUN_EVERY)
    assert up.alert is not None
    (change,) = up.alert.resource_changes
    assert (change.kind, change.level, change.previous_level) == (ChangeKind.CROSSED, D95, D80)


def test_reminder_after_remind_after_at_the_same_level() -> None:
    before = notified(D95)

    early = run(ok(users(960)), before, T0 + timedelta(hours=23, minutes=45))
    due = run(ok(users(960)), before, T0 + timedelta(hours=24))

    assert early.alert is None
    alert = due.alert
    assert alert is not None
    assert alert.reminder is True
    assert alert.event_type is EventType.THRESHOLD_CROSSED
    assert [c.kind for c in alert.resource_changes] == [ChangeKind.REMINDER]
    # The reminder restarts the clock.
    assert due.state.resources["users"] == NotifiedLevel(D95, T0 + timedelta(hours=24))


def test_crossing_plus_reminder_is_not_a_reminder() -> None:
    before = AlertState(
        resources={"users": NotifiedLevel(D80, T0), "signatures": NotifiedLevel(D80, T0 + timedelta(hours=20))}
    )

    evaluation = run(ok(users(850), users(960, name="signatures")), before, T0 + timedelta(hours=24))

    assert evaluation.alert is not None
    assert {c.kind for c in evaluation.alert.resource_changes} == {ChangeKind.REMINDER, ChangeKind.CROSSED}
    assert evaluation.alert.reminder is False


def test_without_remind_after_there_is_never_a_reminder() -> None:
    policy = AlertPolicy(thresholds=(D80, D95), remind_after=None)
    before = notified(D100)

    evaluation = run(ok(users(1000)), before, T0 + timedelta(days=365), policy)

    assert evaluation.alert is None
    assert not evaluation.state_changed(before)


def test_an_alerted_resource_left_without_figures_gets_a_notice_and_its_mark_cleared() -> None:
    # Issue 15 item 4: silence here used to leave the old mark (and the user's last alert) standing forever.
    before = notified(D80)

    for resource in (users(None), users(960, None), users(960, 0)):
        evaluation = run(ok(resource), before, T0 + timedelta(days=2))

        assert evaluation.alert is not None
        assert evaluation.alert.event_type is EventType.RESOURCE_VANISHED
        assert evaluation.alert.severity is Severity.WARNING
        assert [c.kind for c in evaluation.alert.resource_changes] == [ChangeKind.VANISHED]
        assert evaluation.state.resources == {}


def test_a_resource_missing_from_the_answer_while_at_the_limit_gets_a_critical_notice() -> None:
    before = notified(D100, name="signatures")

    evaluation = run(ok(users(10)), before, T0 + timedelta(minutes=15))

    assert evaluation.alert is not None
    assert evaluation.alert.event_type is EventType.RESOURCE_VANISHED
    assert evaluation.alert.severity is Severity.CRITICAL
    assert "signatures" not in evaluation.state.resources


def test_a_vanished_limit_outranks_a_forecast_in_the_same_message() -> None:
    # Given signatures notified at the limit (critical), and users climbing toward theirs
    before = notified(D100, name="signatures")
    now = T0 + timedelta(minutes=15)
    outlook = {"users": Forecast(ForecastStatus.RISING, Decimal(3), now + timedelta(days=3), Decimal(10))}

    # When signatures lose their limit in the run that forecasts users
    evaluation = evaluate(ok(users(100), users(1000, 0, name="signatures")), before, POLICY, now, outlook)

    # Then the message keeps the urgency of the alert it leaves unresolved (an SMS subscriber filters on it)
    assert evaluation.alert is not None
    assert (evaluation.alert.event_type, evaluation.alert.severity) == (EventType.RESOURCE_VANISHED, Severity.CRITICAL)
    assert sorted(c.kind for c in evaluation.alert.resource_changes) == [ChangeKind.FORECAST, ChangeKind.VANISHED]


def test_no_usage_data_follows_the_failure_streak_and_clears_vanished_marks() -> None:
    error = CheckError(FailureKind.NO_USAGE_DATA, "200 response has no resource with a count and a positive limit")
    state = notified(D100)
    sent = []
    for minutes in (15, 30, 45):
        evaluation = run(CheckResult(LICENSE, T0, error=error), state, T0 + timedelta(minutes=minutes))
        state = evaluation.state
        sent.append(evaluation.alert.event_type if evaluation.alert else None)

    assert sent == [EventType.RESOURCE_VANISHED, None, EventType.CHECK_FAILED]
    assert state.resources == {}
    assert state.failures.consecutive == 3


def test_several_resources_share_one_message() -> None:
    result = ok(users(850), users(1000, name="signatures"), users(10, name="departments"))

    evaluation = run(result, AlertState(), T0)

    alert = evaluation.alert
    assert alert is not None
    assert [(c.resource.name, c.level) for c in alert.resource_changes] == [("users", D80), ("signatures", D100)]
    assert alert.severity is Severity.CRITICAL  # the worst of the changes
    assert set(evaluation.state.resources) == {"users", "signatures"}


def test_crossing_and_recovery_in_one_run_is_threshold_crossed() -> None:
    before = notified(D95, name="departments")

    evaluation = run(ok(users(10, name="departments"), users(850)), before, T0 + RUN_EVERY)

    alert = evaluation.alert
    assert alert is not None
    assert alert.event_type is EventType.THRESHOLD_CROSSED
    assert alert.severity is Severity.WARNING
    assert [c.kind for c in alert.resource_changes] == [ChangeKind.RECOVERED, ChangeKind.CROSSED]
    assert set(evaluation.state.resources) == {"users"}


# --- evaluate: failing checks ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [FailureKind.TOKEN_REJECTED, FailureKind.ACCESS_DENIED, FailureKind.NO_TOKEN])
def test_rejected_token_or_denied_access_alerts_at_once(kind: FailureKind) -> None:
    status = {FailureKind.TOKEN_REJECTED: 401, FailureKind.ACCESS_DENIED: 403}.get(kind)

    evaluation = run(failed(kind, status), AlertState(), T0)

    alert = evaluation.alert
    assert alert is not None
    assert alert.event_type is EventType.CHECK_FAILED
    assert alert.severity is Severity.CRITICAL
    assert alert.check_change is not None
    assert alert.check_change.kind is ChangeKind.CHECK_FAILED
    assert alert.check_change.consecutive_failures == 1
    assert evaluation.state.failures.notified_at == T0
    assert evaluation.state.active


def test_server_error_alerts_only_on_the_third_run_in_a_row() -> None:
    state = AlertState()
    alerts = []
    for i in range(4):
        now = T0 + i * RUN_EVERY
        evaluation = run(failed(FailureKind.HTTP_ERROR, 500, at=now), state, now)
        alerts.append(evaluation.alert)
        assert evaluation.state.failures.consecutive == i + 1
        assert evaluation.state.failures.since == T0
        state = evaluation.state

    assert [a is not None for a in alerts] == [False, False, True, False]
    third = alerts[2]
    assert third is not None
    assert third.event_type is EventType.CHECK_FAILED
    assert third.severity is Severity.CRITICAL
    assert third.check_change is not None
    assert third.check_change.consecutive_failures == 3
    assert third.check_change.failing_since == T0
    assert state.failures.notified_at == T0 + 2 * RUN_EVERY
    assert state.failures.last_error == "Internal Server Error · HTTP 500"


def test_failure_streak_is_remembered_even_without_an_alert() -> None:
    evaluation = run(failed(FailureKind.HTTP_ERROR, 500), AlertState(), T0)

    assert evaluation.alert is None
    assert evaluation.state_changed(AlertState())
    assert evaluation.state.failures == FailureStreak(1, T0, None, "Internal Server Error · HTTP 500", None, T0)


def test_failing_check_keeps_notified_resources() -> None:
    before = notified(D95)

    evaluation = run(failed(FailureKind.UNREACHABLE), before, T0 + RUN_EVERY)

    assert evaluation.state.resources == before.resources


def test_notified_failure_reminds_after_remind_after() -> None:
    def failing_until(moment: datetime) -> AlertState:  # failed on every run up to the one before `moment`
        return AlertState(failures=FailureStreak(3, T0, T0, "x", last_failed_at=moment - RUN_EVERY))

    quiet = run(failed(FailureKind.HTTP_ERROR, 500), failing_until(T0 + timedelta(hours=1)), T0 + timedelta(hours=1))
    due = run(failed(FailureKind.HTTP_ERROR, 500), failing_until(T0 + timedelta(hours=24)), T0 + timedelta(hours=24))

    assert quiet.alert is None
    assert due.alert is not None
    assert due.alert.event_type is EventType.CHECK_FAILED
    assert due.alert.reminder is True
    assert due.state.failures.notified_at == T0 + timedelta(hours=24)


def test_a_gap_in_checking_ends_a_failure_streak() -> None:
    # Issue 19 item 9: two failures, then no check for months: the next failure starts a new streak.
    before = AlertState(failures=FailureStreak(2, T0, None, "x", last_failed_at=T0 + RUN_EVERY))

    evaluation = run(failed(FailureKind.HTTP_ERROR, 503), before, T0 + timedelta(days=120))

    assert evaluation.alert is None
    assert (evaluation.state.failures.consecutive, evaluation.state.failures.since) == (1, T0 + timedelta(days=120))


def test_a_streak_stored_without_its_last_failure_is_dated_from_its_start_and_length() -> None:
    before = AlertState(failures=FailureStreak(2, T0, None, "x"))

    next_run = run(failed(FailureKind.HTTP_ERROR, 503), before, T0 + 2 * RUN_EVERY)
    much_later = run(failed(FailureKind.HTTP_ERROR, 503), before, T0 + timedelta(days=1))

    assert next_run.alert is not None  # the third failure in a row
    assert much_later.alert is None


def test_a_stale_level_mark_is_re_evaluated_not_trusted() -> None:
    # A 95% mark last refreshed 3 days ago (reminders every 24 h): 92% today is no longer held by the band.
    before = notified(D95)
    evaluation = run(ok(users(920)), before, T0 + timedelta(days=3))

    assert evaluation.alert is not None
    (change,) = evaluation.alert.resource_changes
    assert (change.kind, change.level, change.previous_level) == (ChangeKind.CROSSED, D80, D95)
    assert evaluation.state.resources["users"].level == D80


def test_success_after_notified_failure_sends_a_recovered_notice_and_resets_the_streak() -> None:
    before = AlertState(failures=FailureStreak(3, T0, T0 + 2 * RUN_EVERY, "Internal Server Error · HTTP 500"))

    evaluation = run(ok(users(100)), before, T0 + 3 * RUN_EVERY)

    alert = evaluation.alert
    assert alert is not None
    assert alert.event_type is EventType.RECOVERED
    assert alert.severity is Severity.WARNING
    assert alert.check_change is not None
    assert alert.check_change.kind is ChangeKind.CHECK_RECOVERED
    assert alert.check_change.consecutive_failures == 3
    assert alert.check_change.failing_since == T0
    assert evaluation.state.failures == FailureStreak()
    assert not evaluation.state.active


def test_success_with_a_crossing_after_notified_failure_is_threshold_crossed() -> None:
    before = AlertState(failures=FailureStreak(1, T0, T0, "denied"))

    evaluation = run(ok(users(1000)), before, T0 + RUN_EVERY)

    assert evaluation.alert is not None
    assert evaluation.alert.event_type is EventType.THRESHOLD_CROSSED
    assert evaluation.alert.severity is Severity.CRITICAL
    assert evaluation.alert.check_change is not None
    assert evaluation.alert.check_change.kind is ChangeKind.CHECK_RECOVERED


def test_success_after_unnotified_failures_is_silent_but_resets_the_counter() -> None:
    before = AlertState(failures=FailureStreak(2, T0, None, "Internal Server Error · HTTP 500"))

    evaluation = run(ok(users(100)), before, T0 + 2 * RUN_EVERY)

    assert evaluation.alert is None
    assert evaluation.state.failures == FailureStreak()
    assert evaluation.state_changed(before)

    # And a later failure starts counting from one again.
    again = run(failed(FailureKind.HTTP_ERROR, 500), evaluation.state, T0 + 3 * RUN_EVERY)
    assert again.alert is None
    assert again.state.failures.consecutive == 1


def test_state_changed_ignores_the_version() -> None:
    before = AlertState(version=4)

    assert not Evaluation(AlertState(version=9), None).state_changed(before)
    assert Evaluation(AlertState(failures=FailureStreak(1, T0), version=4), None).state_changed(before)


# --- Threshold overrides and forecast alerts -----------------------------------------------------


def test_most_specific_threshold_override_wins() -> None:
    from usage_monitor.settings import parse_threshold_overrides

    overrides = parse_threshold_overrides("signatures=70,90; lic-1/*=50; lic-1/signatures=99")
    policy = AlertPolicy((Decimal(80),), overrides=overrides)

    assert policy.thresholds_for("lic-1", "signatures") == (Decimal(99),)
    assert policy.thresholds_for("lic-1", "users") == (Decimal(50),)
    assert policy.thresholds_for("lic-2", "signatures") == (Decimal(70), Decimal(90))
    assert policy.thresholds_for("lic-2", "users") == (Decimal(80),)
    assert policy.level_of(Resource("signatures", 75, 100), "lic-2") == Decimal(70)
    assert policy.level_of(Resource("signatures", 75, 100), "lic-1") is None


def _rising(days: str) -> Forecast:
    return Forecast(ForecastStatus.RISING, days_to_limit=Decimal(days), rate_per_day=Decimal(10), points_used=5)


def test_forecast_alert_once_then_only_when_the_date_moves_closer() -> None:
    policy = AlertPolicy((Decimal(80),), forecast_alert_days=14)
    now = datetime(2026, 11, 24, tzinfo=UTC)
    result = CheckResult("lic", now, resources=(Resource("signatures", 500, 1000),))

    first = evaluate(result, AlertState(), policy, now, {"signatures": _rising("10")})
    same = evaluate(result, first.state, policy, now + timedelta(hours=1), {"signatures": _rising("9.5")})
    closer = evaluate(result, same.state, policy, now + timedelta(hours=2), {"signatures": _rising("7")})
    beyond = evaluate(result, closer.state, policy, now + timedelta(hours=3), {"signatures": _rising("30")})

    assert first.alert is not None
    assert first.alert.event_type is EventType.FORECAST
    assert same.alert is None
    assert closer.alert is not None
    assert beyond.alert is None
    assert beyond.state.forecasts == {}


def test_a_refused_alert_is_owed_until_a_run_decides_again_with_a_forecast() -> None:
    policy = AlertPolicy((Decimal(80),), forecast_alert_days=14)
    now = datetime(2026, 11, 24, tzinfo=UTC)
    result = CheckResult("lic", now, resources=(Resource("signatures", 500, 1000),))
    refused = AlertState(version=4, refused_at=now - timedelta(minutes=15))

    without_forecast = evaluate(result, refused, policy, now)
    decided = evaluate(result, refused, policy, now, {"signatures": _rising("10")})

    assert without_forecast.state.refused_at == refused.refused_at  # e.g. a run that could not read history
    assert decided.alert is not None
    assert decided.alert.event_type is EventType.FORECAST
    assert decided.state.refused_at is None


def test_no_forecast_alert_above_a_threshold_or_when_disabled() -> None:
    now = datetime(2026, 11, 24, tzinfo=UTC)
    above = CheckResult("lic", now, resources=(Resource("signatures", 900, 1000),))
    below = CheckResult("lic", now, resources=(Resource("signatures", 500, 1000),))
    outlook = {"signatures": _rising("3")}

    crossing = evaluate(above, AlertState(), AlertPolicy((Decimal(80),)), now, outlook)
    disabled = evaluate(below, AlertState(), AlertPolicy((Decimal(80),), forecast_alert_days=0), now, outlook)

    assert crossing.alert is not None
    assert crossing.alert.event_type is EventType.THRESHOLD_CROSSED
    assert [c.kind for c in crossing.alert.resource_changes] == [ChangeKind.CROSSED]
    assert crossing.alert.resource_changes[0].forecast == outlook["signatures"]
    assert disabled.alert is None


HYSTERESIS = AlertPolicy(thresholds=(Decimal(80), Decimal(95)), hysteresis=Decimal(5))


@pytest.mark.parametrize(
    ("current", "limit", "notified", "held"),
    [
        (799, 1000, 80, Decimal(80)),  # inside the 80% band (clears below 75%)
        (750, 1000, 80, Decimal(80)),  # exactly at the band's edge still holds
        (749, 1000, 80, None),  # below 75%: recovered
        (920, 1000, 95, Decimal(95)),  # inside the 95% band (clears below 90%)
        (890, 1000, 95, Decimal(80)),  # left 95, still inside 80's band: the mark steps down
        (49, 50, 100, Decimal(100)),  # 98%: the limit level holds until below 95%
        (47, 50, 100, Decimal(95)),  # 94%: left the limit, still at the 95% warning's band
        (20, 50, 100, None),
    ],
)
def test_held_level_keeps_a_notified_level_inside_its_band(current, limit, notified, held):
    resource = Resource("users", current, limit)

    assert HYSTERESIS.held_level(resource, Decimal(notified)) == held


@pytest.mark.parametrize(("current", "notified"), [(799, 80), (960, 95), (999, 100), (700, 80)])
def test_held_level_with_margin_zero_is_the_plain_level_capped_at_the_mark(current, notified):
    policy = AlertPolicy(thresholds=(Decimal(80), Decimal(95)))
    resource = Resource("users", current, 1000)

    level = policy.level_of(resource)
    expected = None if level is None else min(level, Decimal(notified))
    assert policy.held_level(resource, Decimal(notified)) == expected


def test_hovering_at_a_threshold_alerts_once_with_hysteresis():
    state = AlertState()
    sent = []
    for i, current in enumerate([800, 799] * 10):
        evaluation = run(ok(users(current)), state, T0 + RUN_EVERY * i, HYSTERESIS)
        state = evaluation.state
        if evaluation.alert is not None:
            sent.append(evaluation.alert.event_type)

    assert sent == [EventType.THRESHOLD_CROSSED]
    assert state.resources["users"].level == Decimal(80)


def test_clears_below_names_the_edge_of_the_band():
    assert HYSTERESIS.clears_below(Decimal(80)) == Decimal(75)
    assert HYSTERESIS.clears_below(Decimal(100)) == Decimal(95)


def test_a_level_held_by_hysteresis_gets_no_forecast_alert():
    # 780/1000 after an 80% alert is inside the band: the warning stands, so no forecast alert joins it
    policy = AlertPolicy(thresholds=(D80, D95), hysteresis=Decimal(5))
    outlook = _rising("3")
    before = notified(D80)

    evaluation = evaluate(ok(users(780)), before, policy, T0 + RUN_EVERY, {"users": outlook})

    assert evaluation.alert is None
    assert evaluation.state.resources["users"].level == D80


# --- Issue 18 item 8: a mute covers the flapping notices about what it mutes --------------------------------


def flapping_notice(*subjects: str) -> Alert:
    note = DampingNote(False, 5, T0, timedelta(hours=6), ("all below thresholds", "users >= 95%"), "", subjects)
    return Alert(LICENSE, T0, EventType.FLAPPING, Severity.WARNING, POLICY.thresholds, damping=note)


@pytest.mark.parametrize(
    ("subjects", "muted", "held"),
    [
        (("users",), {"users"}, True),
        (("signatures", "users"), {"users"}, False),  # also about an unmuted resource
        (("*check", "users"), {"users"}, False),  # a flapping check is about the license
        (("users",), {"*"}, True),
        ((), {"users"}, False),  # nothing known about its subjects: only a whole-license mute holds it
    ],
)
def test_a_flapping_notice_is_held_when_all_it_is_about_is_muted(
    subjects: tuple[str, ...], muted: set[str], held: bool
) -> None:
    silences = {target: T0 + timedelta(days=1) for target in muted}

    assert (apply_silences(flapping_notice(*subjects), silences, T0) is None) is held


def test_a_flapping_notice_sent_for_an_unmuted_resource_leaves_out_the_muted_ones_lines() -> None:
    # Given a flapping notice about users and signatures, carrying this run's signatures crossing
    crossing = ResourceChange(ChangeKind.CROSSED, Resource("signatures", 1000, 1000), Decimal(100), D80)
    notice = replace(flapping_notice("signatures", "users"), resource_changes=(crossing,))

    # When only signatures is muted
    sent = apply_silences(notice, {"signatures": T0 + timedelta(days=1)}, T0)

    # Then the notice still goes out (users is not muted) without the muted resource's line
    assert sent is not None
    assert sent.damping == notice.damping
    assert sent.resource_changes == ()


def test_the_flap_state_collects_what_its_changes_were_about() -> None:
    policy = AlertPolicy(thresholds=(D80, D95), flap_max_changes=2)
    state, now = AlertState(), T0
    for current in (960, 700, 960):
        state = run(ok(users(current)), state, now, policy).state
        now += RUN_EVERY

    assert state.flap.holding
    assert state.flap.subjects == ("users",)
