"""Pure alert rules: a resource's level, and what changed since the last notification.

Levels are threshold percentages. Reaching the limit (current ≥ limit) is always a level of its own,
100. The limit and (unless `critical_at_limit_only`) a resource's highest threshold are critical; lower
levels are warnings (`AlertPolicy.severity_for`). A notification goes out when a
resource reaches a higher level than was last notified, when a notified resource falls below every
threshold (recovered), when a license's checks start or stop failing, and as a reminder while an alert
stays active. State lives in DynamoDB between runs; this module only computes the next state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from usage_monitor.alerting.flapping import CHECK_SUBJECT, Damping, damp
from usage_monitor.alerting.forecast import Forecast, moved_closer, should_alert
from usage_monitor.alerting.types import (
    Alert,
    AlertPolicy,
    AlertState,
    ChangeKind,
    CheckChange,
    DampingNote,
    Evaluation,
    EventType,
    FailureStreak,
    ForecastMark,
    NotifiedLevel,
    ResourceChange,
    Severity,
)
from usage_monitor.core.models import CheckError, CheckResult, FailureKind, Resource


def evaluate(
    result: CheckResult,
    before: AlertState,
    policy: AlertPolicy,
    now: datetime,
    forecasts: Mapping[str, Forecast] | None = None,
) -> Evaluation:
    """The next alert state for one license and the alert (if any) that the change calls for.

    `forecasts` (by resource) are given on runs that computed them; they add forecast alerts and put
    the projected date into threshold alerts.
    """
    evaluation = _damped(_evaluate(result, before, policy, now, forecasts), result.license_id, before, policy, now)
    if forecasts is not None and evaluation.state.refused_at is not None:
        # Decided again with a fresh forecast, as the refused alert was: the retry it was owed has happened.
        return replace(evaluation, state=replace(evaluation.state, refused_at=None))
    return evaluation


STATE_CHANGES = frozenset(
    {ChangeKind.CROSSED, ChangeKind.RECOVERED, ChangeKind.CHECK_FAILED, ChangeKind.CHECK_RECOVERED, ChangeKind.VANISHED}
)


def _damped(
    evaluation: Evaluation, license_id: str, before: AlertState, policy: AlertPolicy, now: datetime
) -> Evaluation:
    """Flap damping on top of the per-change rules (see `flapping`)."""
    alert = evaluation.alert
    kinds = set() if alert is None else {c.kind for c in alert.resource_changes}
    if alert is not None and alert.check_change is not None:
        kinds.add(alert.check_change.kind)
    after = evaluation.state
    subjects = frozenset() if alert is None else _subjects(alert)
    flap, decision = damp(
        before.flap,
        changed=bool(kinds & STATE_CHANGES),
        previous_label=before.label(),
        label=after.label(),
        now=now,
        max_changes=policy.flap_max_changes,
        window=policy.flap_window,
        subjects=subjects,
    )
    after = replace(after, flap=flap)
    if decision is Damping.PASS:
        return Evaluation(after, alert)
    if decision is Damping.HOLD or decision is Damping.QUIET:
        return Evaluation(after, None, damped=alert is not None)
    critical = (
        after.critical(policy, license_id)
        if decision is Damping.SETTLE
        else (before.critical(policy, license_id) or after.critical(policy, license_id))
    )
    note = DampingNote(
        settled=decision is Damping.SETTLE,
        changes=len(flap.changes) if decision is Damping.START else len(before.flap.changes),
        since=(flap.changes or (now,))[0] if decision is Damping.START else (before.flap.held_since or now),
        window=policy.flap_window,
        states=flap.states if decision is Damping.START else before.flap.states,
        settled_at=after.label() if decision is Damping.SETTLE else "",
        subjects=flap.subjects if decision is Damping.START else before.flap.subjects,
    )
    base = alert or Alert(license_id, now, EventType.FLAPPING, Severity.WARNING, policy.thresholds)
    flapping = replace(
        base,
        event_type=EventType.FLAPPING,
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        damping=note,
    )
    return Evaluation(after, flapping)


def _subjects(alert: Alert) -> frozenset[str]:
    """What this alert's state changes are about: resource names, and the check."""
    names = {c.resource.name for c in alert.resource_changes if c.kind in STATE_CHANGES}
    if alert.check_change is not None and alert.check_change.kind in STATE_CHANGES:
        names.add(CHECK_SUBJECT)
    return frozenset(names)


def _evaluate(
    result: CheckResult,
    before: AlertState,
    policy: AlertPolicy,
    now: datetime,
    forecasts: Mapping[str, Forecast] | None = None,
) -> Evaluation:
    if result.error is not None:
        failures, check_change = _failed_check(result.error, before.failures, policy, now)
        after = replace(before, failures=failures)
        gone: tuple[ResourceChange, ...] = ()
        if result.error.kind is FailureKind.NO_USAGE_DATA:  # the API did answer: what it lacks is gone
            kept, gone = _vanished(result, before.resources, policy)
            after = replace(after, resources=kept)
        return _finish(result.license_id, now, policy, after, gone, check_change)
    check_change = None
    if before.failures.notified_at is not None:
        check_change = CheckChange(ChangeKind.CHECK_RECOVERED, None, before.failures.consecutive, before.failures.since)
    resources, changes = _resource_changes(result, before.resources, policy, now, forecasts or {})
    resources, gone = _vanished(result, resources, policy)
    changes += gone
    after = replace(before, resources=resources, failures=FailureStreak())
    if forecasts is not None:
        marks, forecast_changes = _forecast_changes(result, before.forecasts, policy, now, forecasts, resources)
        after = replace(after, forecasts=marks)
        changes += forecast_changes
    return _finish(result.license_id, now, policy, after, changes, check_change)


def _resource_changes(
    result: CheckResult,
    notified: Mapping[str, NotifiedLevel],
    policy: AlertPolicy,
    now: datetime,
    forecasts: Mapping[str, Forecast],
) -> tuple[dict[str, NotifiedLevel], tuple[ResourceChange, ...]]:
    resources = dict(notified)
    changes: list[ResourceChange] = []
    for resource in result.resources:
        if not resource.evaluable:
            continue  # No figures, no verdict: keep whatever was notified until we can tell.
        level = policy.level_of(resource, result.license_id)
        previous = notified.get(resource.name)
        previous_level = previous.level if previous else None
        outlook = forecasts.get(resource.name)
        if previous is not None and level != previous.level and policy.stale_mark(previous, now):
            # Not looked at for a while: today's level is news in itself, the band's memory is not.
            if level is None:
                changes.append(ResourceChange(ChangeKind.RECOVERED, resource, None, previous_level))
                del resources[resource.name]
            else:
                changes.append(
                    _raised(ChangeKind.CROSSED, resource, level, previous_level, outlook, policy, result.license_id)
                )
                resources[resource.name] = NotifiedLevel(level, now)
            continue
        if previous is None:
            if level is not None:
                changes.append(_raised(ChangeKind.CROSSED, resource, level, None, outlook, policy, result.license_id))
                resources[resource.name] = NotifiedLevel(level, now)
            continue
        if level is not None and level > previous.level:
            changes.append(
                _raised(ChangeKind.CROSSED, resource, level, previous_level, outlook, policy, result.license_id)
            )
            resources[resource.name] = NotifiedLevel(level, now)
            continue
        # Inside a notified level's hysteresis band nothing is sent and the mark does not move.
        held = policy.held_level(resource, previous.level, result.license_id)
        if held is None:
            changes.append(ResourceChange(ChangeKind.RECOVERED, resource, None, previous_level))
            del resources[resource.name]
        elif held < previous.level:
            # Stepping down stays silent, but lowers the mark so crossing back up is a new crossing.
            resources[resource.name] = NotifiedLevel(held, previous.notified_at)
        elif policy.reminder_due(previous.notified_at, now):
            changes.append(
                _raised(ChangeKind.REMINDER, resource, held, previous_level, outlook, policy, result.license_id)
            )
            resources[resource.name] = NotifiedLevel(held, now)
    return resources, tuple(changes)


def _raised(
    kind: ChangeKind,
    resource: Resource,
    level: Decimal,
    previous_level: Decimal | None,
    outlook: Forecast | None,
    policy: AlertPolicy,
    license_id: str,
) -> ResourceChange:
    """A crossing or reminder with what its words need: severity, clear line, whether today's figures
    reach the level (a reminder inside the hysteresis band does not)."""
    today = policy.level_of(resource, license_id)
    return ResourceChange(
        kind,
        resource,
        level,
        previous_level,
        outlook,
        severity=policy.severity_for(level, license_id, resource.name),
        clears_below=policy.clears_below(level),
        reached=today is not None and today >= level,
    )


def _vanished(
    result: CheckResult, notified: Mapping[str, NotifiedLevel], policy: AlertPolicy
) -> tuple[dict[str, NotifiedLevel], tuple[ResourceChange, ...]]:
    """Alerted resources the answer no longer gives figures for: a notice each, and the mark is cleared.

    Silence would leave the last alert standing with nothing behind it; once figures return, the
    resource is evaluated afresh (a crossing alerts again).
    """
    reported = {r.name: r for r in result.resources}
    marks = dict(notified)
    changes: list[ResourceChange] = []
    for name, mark in notified.items():
        resource = reported.get(name)
        if resource is None or not resource.evaluable:
            changes.append(
                ResourceChange(
                    ChangeKind.VANISHED,
                    resource or Resource(name, None, None),
                    None,
                    mark.level,
                    severity=policy.severity_for(mark.level, result.license_id, name),
                )
            )
            del marks[name]
    return marks, tuple(changes)


def _forecast_changes(
    result: CheckResult,
    notified: Mapping[str, ForecastMark],
    policy: AlertPolicy,
    now: datetime,
    forecasts: Mapping[str, Forecast],
    levels: Mapping[str, NotifiedLevel],
) -> tuple[dict[str, ForecastMark], tuple[ResourceChange, ...]]:
    """Forecast alerts for resources still below every threshold (above one, the threshold alert speaks).

    A resource held at a notified level by hysteresis (78% after an 80% alert) is not below: its threshold
    alert still stands.
    """
    marks = dict(notified)
    changes: list[ResourceChange] = []
    for resource in result.resources:
        outlook = forecasts.get(resource.name)
        if outlook is None or not resource.evaluable:
            continue
        below_thresholds = resource.name not in levels and policy.level_of(resource, result.license_id) is None
        if not (
            below_thresholds and policy.forecast_alert_days and should_alert(outlook, policy.forecast_alert_days, now)
        ):
            marks.pop(resource.name, None)  # no longer projected to run out soon: forget, silently
            continue
        assert outlook.days_to_limit is not None
        previous = notified.get(resource.name)
        projected = outlook.limit_at or now + timedelta(days=float(outlook.days_to_limit))
        if previous is None or moved_closer(previous.projected_at, projected, now):
            changes.append(ResourceChange(ChangeKind.FORECAST, resource, None, None, outlook))
            marks[resource.name] = ForecastMark(outlook.days_to_limit, now, projected)
    return marks, tuple(changes)


def _failed_check(
    error: CheckError, before: FailureStreak, policy: AlertPolicy, now: datetime
) -> tuple[FailureStreak, CheckChange | None]:
    if policy.streak_broken(before, now):
        before = FailureStreak()  # not checked for a while: this failure starts a new streak
    consecutive = before.consecutive + 1
    since = before.since or now
    notified_at = before.notified_at
    kind = before.kind
    change = None
    if notified_at is None:
        if error.needs_attention_now or consecutive >= policy.failure_alert_after_runs:
            change = CheckChange(ChangeKind.CHECK_FAILED, error, consecutive, since)
            notified_at, kind = now, error.kind.value
    elif kind is not None and kind != error.kind.value:
        # Still failing, but for another reason (e.g. the token now needs fixing): say so once.
        change = CheckChange(ChangeKind.CHECK_FAILED, error, consecutive, since)
        notified_at, kind = now, error.kind.value
    elif policy.reminder_due(notified_at, now):
        change = CheckChange(ChangeKind.REMINDER, error, consecutive, since)
        notified_at = now
    return FailureStreak(consecutive, since, notified_at, error.describe(), kind, now), change


def _finish(
    license_id: str,
    now: datetime,
    policy: AlertPolicy,
    after: AlertState,
    changes: tuple[ResourceChange, ...],
    check_change: CheckChange | None,
) -> Evaluation:
    if not changes and check_change is None:
        return Evaluation(after, None)
    event_type, severity = _classify(changes, check_change)
    overridden = {
        c.resource.name: own
        for c in changes
        if (own := policy.thresholds_for(license_id, c.resource.name)) != policy.thresholds
    }
    alert = Alert(
        license_id,
        now,
        event_type,
        severity,
        policy.thresholds,
        changes,
        check_change,
        overridden,
        highest_is_critical=not policy.critical_at_limit_only,
    )
    return Evaluation(after, alert)


def _classify(changes: tuple[ResourceChange, ...], check_change: CheckChange | None) -> tuple[EventType, Severity]:
    """check_failed outranks threshold_crossed, then resource_vanished, then forecast, then recovered.

    A vanished resource is as urgent as the alert it leaves unresolved (critical for a limit), so it outranks
    a forecast, which is always a warning: otherwise an SMS subscriber (severity critical) would miss it.
    """
    if check_change is not None and check_change.kind in (ChangeKind.CHECK_FAILED, ChangeKind.REMINDER):
        return EventType.CHECK_FAILED, Severity.CRITICAL
    raised = [c for c in changes if c.kind in (ChangeKind.CROSSED, ChangeKind.REMINDER) and c.level is not None]
    if raised:
        return EventType.THRESHOLD_CROSSED, _highest(raised)
    gone = [c for c in changes if c.kind is ChangeKind.VANISHED and c.previous_level is not None]
    if gone:
        return EventType.RESOURCE_VANISHED, _highest(gone)
    if any(c.kind is ChangeKind.FORECAST for c in changes):
        return EventType.FORECAST, Severity.WARNING
    return EventType.RECOVERED, Severity.WARNING


def _highest(changes: list[ResourceChange]) -> Severity:
    return Severity.CRITICAL if any(c.severity is Severity.CRITICAL for c in changes) else Severity.WARNING


WHOLE_LICENSE = "*"


def active_silences(silences: Mapping[str, datetime], now: datetime) -> frozenset[str]:
    """Mutes still in force: an expired one stops applying at once, whether or not TTL removed it."""
    return frozenset(target for target, until in silences.items() if until > now)


def apply_silences(alert: Alert, silences: Mapping[str, datetime], now: datetime) -> Alert | None:
    """The alert minus what is muted, or None when nothing is left to send.

    Only publishing is muted: the caller still stores the evaluated state, so a muted crossing is
    remembered (no replay after unmuting, reminders and recovery notices continue).
    """
    muted = active_silences(silences, now)
    if not muted:
        return alert
    if WHOLE_LICENSE in muted:
        return None
    if alert.damping is not None:
        # About what flapped: held when every resource it was about is muted; a flapping check (or more
        # subjects than were kept) is about the license, which only a whole-license mute covers.
        subjects = set(alert.damping.subjects)
        if subjects and subjects <= muted:
            return None
        # Sent for what is not muted: a muted resource's own lines stay out of it all the same.
        kept = tuple(c for c in alert.resource_changes if c.resource.name not in muted)
        return alert if kept == alert.resource_changes else replace(alert, resource_changes=kept)
    changes = tuple(c for c in alert.resource_changes if c.resource.name not in muted)
    if changes == alert.resource_changes:
        return alert
    if not changes and alert.check_change is None:
        return None
    event_type, severity = _classify(changes, alert.check_change)
    return replace(alert, resource_changes=changes, event_type=event_type, severity=severity)
