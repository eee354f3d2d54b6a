"""Pure: the types of the alert rules: levels, policy, the state notified per license, alerts.

The rules that move from one state to the next live in `alerting.rules`; run-level problems' rules in
`alerting.run_problems`. Both import their types from here, and nothing here imports them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from usage_monitor.alerting.flapping import FlapState
from usage_monitor.alerting.forecast import Forecast
from usage_monitor.core.models import CheckError, Resource
from usage_monitor.settings import Settings, ThresholdOverride


class ProblemKind(StrEnum):
    CONFIG = "config_problem"
    CAPACITY = "capacity"

    @property
    def state_key(self) -> str:
        return "*config" if self is ProblemKind.CONFIG else "*capacity"


@dataclass(frozen=True)
class RunProblem:
    """What is wrong with the run as a whole, in words for the alert; `fingerprint` tells changes apart."""

    kind: ProblemKind
    critical: bool
    summary: str
    details: tuple[str, ...] = ()
    short_details: tuple[str, ...] = ()
    advice: str = ""
    fingerprint: str = ""
    recovered: bool = False


LIMIT_LEVEL = Decimal(100)
# Scheduled runs a license may miss before its failure streak ends and its level marks count as stale.
STALE_AFTER_RUNS = 4


class EventType(StrEnum):
    THRESHOLD_CROSSED = "threshold_crossed"
    RECOVERED = "recovered"
    CHECK_FAILED = "check_failed"
    FORECAST = "forecast"
    RESOURCE_VANISHED = "resource_vanished"
    # Run-level problems (see run_problems): a bad configuration, a fleet too big for one run.
    CONFIG_PROBLEM = "config_problem"
    CAPACITY = "capacity"
    FLAPPING = "flapping"


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class ChangeKind(StrEnum):
    CROSSED = "crossed"
    REMINDER = "reminder"
    RECOVERED = "recovered"
    CHECK_FAILED = "check_failed"
    CHECK_RECOVERED = "check_recovered"
    FORECAST = "forecast"
    VANISHED = "vanished"


@dataclass(frozen=True)
class AlertPolicy:
    thresholds: tuple[Decimal, ...]
    remind_after: timedelta | None = timedelta(hours=24)
    failure_alert_after_runs: int = 3
    overrides: tuple[ThresholdOverride, ...] = ()
    forecast_alert_days: int = 14
    # Percentage points a resource must fall below a notified level's threshold before it leaves that
    # level (hysteresis): a count moving by one around a line must not alert on every run. 0 = none.
    hysteresis: Decimal = Decimal(0)
    # Flap damping: more than `flap_max_changes` notified changes within `flap_window` hold notices
    # until the license is stable for a window. 0 = off.
    flap_max_changes: int = 0
    flap_window: timedelta = timedelta(hours=6)
    # False: the highest configured threshold of a resource is critical as well as the limit (what the
    # template promises; the default SMS filter sends critical only). True: only the limit is critical.
    critical_at_limit_only: bool = False
    # Minutes between scheduled runs: a gap of more than `STALE_AFTER_RUNS` of them in a license's
    # checks ends its failure streak and lets its level marks be re-evaluated instead of trusted.
    run_interval: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertPolicy:
        remind = timedelta(hours=settings.remind_after_hours) if settings.remind_after_hours else None
        return cls(
            settings.alert_thresholds,
            remind,
            settings.failure_alert_after_runs,
            settings.threshold_overrides,
            settings.forecast_alert_days,
            settings.hysteresis_points,
            settings.flap_max_changes,
            timedelta(hours=settings.flap_window_hours),
            settings.critical_at_limit_only,
            timedelta(minutes=settings.schedule_minutes),
        )

    def thresholds_for(self, license_id: str | None, resource: str) -> tuple[Decimal, ...]:
        """The most specific override (license + resource, license, resource), else the defaults."""
        best: ThresholdOverride | None = None
        for override in self.overrides:
            if override.license_id not in (None, license_id) or override.resource not in (None, resource):
                continue
            if best is None or override.specificity > best.specificity:
                best = override
        return best.thresholds if best is not None else self.thresholds

    def level_of(self, resource: Resource, license_id: str | None = None) -> Decimal | None:
        """Highest threshold reached, or the limit level; None when below all (or not evaluable)."""
        if not resource.evaluable:
            return None
        current, limit = resource.current, resource.limit
        assert current is not None
        assert limit is not None
        # Exact arithmetic, not the rounded percent: 79.96% must not count as 80%. Fractions, not Decimals:
        # Decimal's 28-digit context rounded 30-digit counts, so 79.99...% read as 80%.
        thresholds = self.thresholds_for(license_id, resource.name)
        reached = [t for t in thresholds if current * 100 >= Fraction(t) * limit]
        if current >= limit:
            reached.append(LIMIT_LEVEL)
        return max(reached, default=None)

    def held_level(self, resource: Resource, notified: Decimal, license_id: str | None = None) -> Decimal | None:
        """The level a resource notified at `notified` keeps: the highest level at or below it whose clear
        line (`clears_below`) the resource has not fallen under; None once below all of them.

        With a margin of 0 this is `level_of` capped at `notified`, today's per-crossing behaviour.
        """
        if not resource.evaluable:
            return notified
        current, limit = resource.current, resource.limit
        assert current is not None
        assert limit is not None
        levels = [*self.thresholds_for(license_id, resource.name), LIMIT_LEVEL]
        # Exact arithmetic as in `level_of`: current / limit >= clear line / 100.
        held = [
            level
            for level in levels
            if level <= notified and current * 100 >= Fraction(self.clears_below(level)) * limit
        ]
        return max(held, default=None)

    def clears_below(self, level: Decimal) -> Decimal:
        """The percent under which a resource notified at `level` leaves it: `level` minus the margin, or
        the threshold itself when the margin would put the line at or below 0 % (a line nothing can fall
        under would hold the alert for ever)."""
        line = level - self.hysteresis
        return line if line > 0 else level

    def severity_for(self, level: Decimal, license_id: str | None, resource: str) -> Severity:
        """`critical` at the limit and, unless `critical_at_limit_only`, at the resource's highest threshold."""
        if level >= LIMIT_LEVEL:
            return Severity.CRITICAL
        if not self.critical_at_limit_only and level >= max(self.thresholds_for(license_id, resource)):
            return Severity.CRITICAL
        return Severity.WARNING

    def reminder_due(self, notified_at: datetime, now: datetime) -> bool:
        return self.remind_after is not None and now - notified_at >= self.remind_after

    @property
    def checking_gap(self) -> timedelta:
        """Longer than this without a check, and what was known about a license is history, not state."""
        return self.run_interval * STALE_AFTER_RUNS

    def streak_broken(self, streak: FailureStreak, now: datetime) -> bool:
        """Whether a gap in checking lies between the streak's last failure and `now`."""
        last = streak.last_failure(self.run_interval)
        return last is not None and now - last > self.checking_gap

    def stale_mark(self, mark: NotifiedLevel, now: datetime) -> bool:
        """A level mark is refreshed by its reminder at least every `remind_after` while the license is
        checked; one older than that plus the checking gap was not looked at for a while. Without
        reminders there is no such clock, and a mark is trusted."""
        return self.remind_after is not None and now - mark.notified_at > self.remind_after + self.checking_gap


@dataclass(frozen=True)
class NotifiedLevel:
    """The level last notified for one resource, and when (for reminders)."""

    level: Decimal
    notified_at: datetime


@dataclass(frozen=True)
class FailureStreak:
    consecutive: int = 0
    since: datetime | None = None
    notified_at: datetime | None = None
    last_error: str | None = None
    # The failure kind last notified: a different kind mid-streak (a 5xx streak turning into a 401) is news.
    kind: str | None = None
    # When the latest failure of the streak was seen: a streak counts consecutive runs, not failures
    # months apart.
    last_failed_at: datetime | None = None

    def last_failure(self, run_interval: timedelta) -> datetime | None:
        """The latest failure; for a streak stored before `last_failed_at` existed, estimated from its
        start and length (one failure per run)."""
        if self.last_failed_at is not None or self.since is None:
            return self.last_failed_at
        return self.since + run_interval * max(self.consecutive - 1, 0)


@dataclass(frozen=True)
class ForecastMark:
    """A forecast alert already sent for one resource: re-sent only if the projected date moves closer."""

    days_to_limit: Decimal  # as the alert said, counted from `notified_at`
    notified_at: datetime
    limit_at: datetime | None = None  # the projected limit date the alert named

    @property
    def projected_at(self) -> datetime:
        """The projected date; for a mark stored before `limit_at` existed, its run plus its day count."""
        if self.limit_at is not None:
            return self.limit_at
        return self.notified_at + timedelta(days=float(self.days_to_limit))


@dataclass(frozen=True)
class AlertState:
    """What has been notified for one license; `version` guards concurrent writers."""

    resources: Mapping[str, NotifiedLevel] = field(default_factory=dict)
    failures: FailureStreak = FailureStreak()
    version: int = 0
    forecasts: Mapping[str, ForecastMark] = field(default_factory=dict)
    # Mutes: resource name (or "*" for the whole license) → muted until.
    silences: Mapping[str, datetime] = field(default_factory=dict)
    flap: FlapState = field(default_factory=FlapState)
    # When SNS last refused an alert decided from this state (which was then restored): the next run decides
    # again with a fresh forecast, as the refused one had, rather than at the license's next routine forecast.
    refused_at: datetime | None = None

    @property
    def active(self) -> bool:
        return bool(self.resources) or self.failures.notified_at is not None

    def critical(self, policy: AlertPolicy, license_id: str) -> bool:
        """Whether what is notified includes a critical level (or a failing check)."""
        return self.failures.notified_at is not None or any(
            policy.severity_for(mark.level, license_id, name) is Severity.CRITICAL
            for name, mark in self.resources.items()
        )

    def label(self) -> str:
        """What is notified, in words: the states a flapping notice says it moves between."""
        parts = [
            f"{name} at the limit" if mark.level == LIMIT_LEVEL else f"{name} >= {mark.level.normalize():f}%"
            for name, mark in sorted(self.resources.items())
        ]
        if self.failures.notified_at is not None:
            parts.append("check failing")
        return ", ".join(parts) or "all below thresholds"


@dataclass(frozen=True)
class ResourceChange:
    kind: ChangeKind
    resource: Resource
    level: Decimal | None
    previous_level: Decimal | None
    forecast: Forecast | None = None
    # For a crossing or reminder: the level's severity under the policy, and the percent below which it
    # clears. `reached` False: a reminder of a level held by hysteresis, not reached by today's figures.
    # For a vanished resource, `severity` is that of the alert it leaves unresolved.
    severity: Severity = Severity.WARNING
    clears_below: Decimal | None = None
    reached: bool = True


@dataclass(frozen=True)
class CheckChange:
    kind: ChangeKind
    error: CheckError | None
    consecutive_failures: int
    failing_since: datetime | None = None


@dataclass(frozen=True)
class DampingNote:
    """Why a `flapping` message was sent: the hold starts (`settled` False) or ends."""

    settled: bool
    changes: int
    since: datetime
    window: timedelta
    states: tuple[str, ...]
    settled_at: str = ""
    # What the flapping was about (resource names, `flapping.CHECK_SUBJECT`): mutes of all of them hold it.
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Alert:
    """One message for one license and run, listing every change."""

    license_id: str
    captured_at: datetime
    event_type: EventType
    severity: Severity
    thresholds: tuple[Decimal, ...]
    resource_changes: tuple[ResourceChange, ...] = ()
    check_change: CheckChange | None = None
    # Thresholds of resources in this message that differ from `thresholds` (overrides).
    resource_thresholds: Mapping[str, tuple[Decimal, ...]] = field(default_factory=dict)
    # Set for run-level problem alerts (and their recovered notices) only.
    problem: RunProblem | None = None
    damping: DampingNote | None = None
    # Whether each resource's highest threshold is critical too (False: only the limit is).
    highest_is_critical: bool = True

    @property
    def reminder(self) -> bool:
        """Nothing new: every change is a repeat of a still-active alert."""
        kinds = {c.kind for c in self.resource_changes}
        if self.check_change is not None:
            kinds.add(self.check_change.kind)
        return kinds == {ChangeKind.REMINDER}


@dataclass(frozen=True)
class Evaluation:
    state: AlertState
    alert: Alert | None
    # A notice held back by flap damping (counted in the AlertsDamped metric).
    damped: bool = False

    def state_changed(self, before: AlertState) -> bool:
        return replace(self.state, version=before.version) != before
