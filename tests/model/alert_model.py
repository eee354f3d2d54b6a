"""A reference model of what a user must be told, written from the README's alert rules, not from the code.

Scope: per-license messages (`threshold_crossed`, `recovered`, `resource_vanished`, `check_failed`,
`forecast`, `flapping`) with levels, the limit, hysteresis, recovery, failure streaks, reminders, flap
damping, mutes, threshold overrides and forecast alerts. Out of scope: the forecast *sentence* inside
threshold alerts, run-level alerts (license `*`) and the digest.

Forecasts (docs/alerts.md "Forecasts"): a least-squares line over the snapshots of the last
`FORECAST_HISTORY_DAYS` since the last reset (a drop in `current`, any change of `limit`), projected from the
latest value; a resource below every threshold (and not held at a notified level) projected to reach its
limit within `FORECAST_ALERT_DAYS` is told once, and again only when the projected date moves earlier by
max(1 day, a quarter of the time that was left until it). Where the docs are silent the model takes the
code's documented constants: a fit needs 3 points spanning an hour (the "3 needed" wording), a rate under
0.005 a day is flat (it would show as 0.00), and a date is held to the microsecond as a datetime holds it.
*When* a forecast is made is a cost rule: once per `FORECAST_INTERVAL_HOURS` per license, in the run a hash
of its ID picks, and whenever an alert is about to go out. The hash is an implementation detail, so the
model asks the public function that decides it (`usage_monitor.fleet.monitor.forecast_slot`); "about to go
out" means a crossing or reminder the flap damping does not hold (a mute applies later, to the words sent).
A resource's forecast mark is forgotten when a forecast made for it no longer qualifies, so a new approach
to the limit is told again. The snapshots a forecast reads are the runs the model observed with usage; a
run killed before its snapshot was written must be taken back with `unstored`.

One `observe` is one run's outcome for one license. When SNS refuses the message the real code rolls the
alert state back, so the next run decides again, with a fresh forecast as the refused message had (a forecast
alert is not left to the license's next routine forecast): call `rollback(license_id)` after an `observe`
whose message was not accepted.

`KNOWN_DIVERGENCES` lists rules the real code is known to break while a fix is under way, keyed by issue
item; while an entry is listed the model predicts today's behaviour on exactly that point. It is empty: the
fixes of issue 18 items 6-8 and issue 19 items 9 and 17 are merged and the model predicts those rules.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from usage_monitor.fleet.monitor import forecast_slot

KNOWN_DIVERGENCES: Mapping[str, str] = {}

LIMIT = Decimal(100)
STALE_AFTER_RUNS = 4  # README "Gaps in checking": longer than 4 schedule intervals unchecked is a gap
# Failures that will not fix themselves: alerted at once (README "Alerts": 401/403, a missing token).
AT_ONCE = frozenset({"token_rejected", "access_denied", "no_token", "credentials_rejected", "run_failed"})
# docs/alerts.md "Forecasts": "not enough history ... 3 needed"; the span and rate floors are the code's constants.
FORECAST_MIN_POINTS = 3
FORECAST_MIN_SPAN = timedelta(hours=1)
FORECAST_MIN_RATE_PER_DAY = Fraction(1, 200)
US_PER_DAY = 86_400_000_000
# Kinds of change that move a license's notified state (and so count towards flapping).
STATE_CHANGES = frozenset({"crossed", "recovered", "vanished", "check_failed", "check_recovered"})


@dataclass(frozen=True)
class Observation:
    """What one run saw for one license."""

    license_id: str
    at: datetime  # the run's captured_at (UTC)
    usage: Mapping[str, tuple[int, int]] | None  # resource -> (current, limit); None when the check failed
    failure: str | None = None  # the FailureKind value when usage is None


@dataclass(frozen=True)
class Change:
    """One line of a message: what happened to one resource (or to the check), with the figures it quotes."""

    kind: str  # crossed | reminder | recovered | vanished | forecast | check_failed | check_reminder | check_recovered
    resource: str | None = None
    level: Decimal | None = None  # the level reached or held (crossed, reminder)
    previous_level: Decimal | None = None  # the level it leaves (recovered, vanished)
    current: int | None = None
    limit: int | None = None
    runs: int | None = None  # check_failed, check_reminder: the failed runs in a row the message states
    limit_at: datetime | None = None  # forecast: the projected date the limit is reached
    rate: Fraction | None = None  # forecast: the fitted rate, a day


@dataclass(frozen=True)
class Expected:
    """One message a user must receive. Equality is what SNS attributes can show; the rest is its claims."""

    license_id: str
    event_type: str
    severity: str
    resource: str | None = field(default=None, compare=False)
    changes: tuple[Change, ...] = field(default=(), compare=False)
    reminder: bool = field(default=False, compare=False)
    settled: bool | None = field(default=None, compare=False)  # flapping: the settled notice (True) or the start


@dataclass
class _Mark:
    level: Decimal
    notified_at: datetime


@dataclass
class _License:
    marks: dict[str, _Mark] = field(default_factory=dict)
    failing: int = 0
    failing_since: datetime | None = None
    failure_notified_at: datetime | None = None
    failure_kind: str | None = None
    flap_changes: list[tuple[datetime, frozenset[str]]] = field(default_factory=list)
    held_since: datetime | None = None
    last_change: datetime | None = None
    flap_involved: set[str] = field(default_factory=set)
    silences: dict[str, datetime] = field(default_factory=dict)
    last_failure: datetime | None = None
    forecast_marks: dict[str, datetime] = field(default_factory=dict)  # resource -> the limit date told
    refused: bool = False  # SNS refused the last message: the next run with usage decides again, forecast included


@dataclass(frozen=True)
class Rules:
    """The alert settings, read from the same environment variables as the Lambda, with its defaults."""

    thresholds: tuple[Decimal, ...]
    overrides: Mapping[tuple[str | None, str | None], tuple[Decimal, ...]]
    hysteresis: Decimal
    remind_after: timedelta | None
    failure_after_runs: int
    flap_changes: int
    flap_window: timedelta
    schedule: timedelta
    critical_at_limit_only: bool = False
    forecast_alert_days: int = 14
    forecast_history: timedelta = timedelta(days=14)
    forecast_interval: timedelta = timedelta(hours=24)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Rules:
        overrides: dict[tuple[str | None, str | None], tuple[Decimal, ...]] = {}
        for entry in env.get("ALERT_THRESHOLD_OVERRIDES", "").split(";"):
            if entry.strip():
                target, _, values = entry.partition("=")
                license_id, slash, resource = target.strip().rpartition("/")
                key = (license_id.strip() if slash else None, None if resource.strip() == "*" else resource.strip())
                overrides[key] = _thresholds(values)
        remind = int(env.get("ALERT_REMIND_AFTER_HOURS", "").strip() or 24)
        rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", env.get("SCHEDULE_RATE", "").strip())
        unit = {"minute": 1, "hour": 60, "day": 1440}[rate.group(2)] if rate else 15
        return cls(
            thresholds=_thresholds(env.get("ALERT_THRESHOLDS", "").strip() or "80"),
            overrides=overrides,
            hysteresis=Decimal(env.get("ALERT_HYSTERESIS_POINTS", "").strip() or 5),
            remind_after=timedelta(hours=remind) if remind else None,
            failure_after_runs=int(env.get("FAILURE_ALERT_AFTER_RUNS", "").strip() or 3),
            flap_changes=int(env.get("ALERT_FLAP_CHANGES", "").strip() or 4),
            flap_window=timedelta(hours=int(env.get("ALERT_FLAP_WINDOW_HOURS", "").strip() or 6)),
            schedule=timedelta(minutes=int(rate.group(1)) * unit if rate else 15),
            critical_at_limit_only=env.get("CRITICAL_AT_LIMIT_ONLY", "").strip().lower() == "true",
            forecast_alert_days=int(env.get("FORECAST_ALERT_DAYS", "").strip() or 14),
            forecast_history=timedelta(days=int(env.get("FORECAST_HISTORY_DAYS", "").strip() or 14)),
            forecast_interval=timedelta(hours=int(env.get("FORECAST_INTERVAL_HOURS", "").strip() or 24)),
        )

    def thresholds_for(self, license_id: str, resource: str) -> tuple[Decimal, ...]:
        """The most specific override wins: license + resource, then license, then resource."""
        for key in ((license_id, resource), (license_id, None), (None, resource)):
            if key in self.overrides:
                return self.overrides[key]
        return self.thresholds


def _thresholds(text: str) -> tuple[Decimal, ...]:
    return tuple(sorted(Decimal(part.strip()) for part in text.split(",") if part.strip()))


def _at_or_above(current: int, limit: int, percent: Decimal) -> bool:
    """current / limit >= percent / 100, exactly."""
    return current * 100 >= Fraction(percent) * limit


class AlertModel:
    def __init__(self, env: Mapping[str, str], *, legacy: Iterable[str] = KNOWN_DIVERGENCES) -> None:
        self.rules = Rules.from_env(env)
        self.legacy = frozenset(legacy)
        self._licenses: dict[str, _License] = {}
        self._undo: dict[str, _License] = {}
        # The snapshots forecasts read: license -> run -> usage. Not rolled back with the alert state (a run
        # whose message SNS refused still stored its snapshot).
        self._history: dict[str, dict[datetime, dict[str, tuple[int, int]]]] = {}

    def configure(self, env: Mapping[str, str]) -> None:
        """New settings between runs (a redeploy); what was notified stays."""
        self.rules = Rules.from_env(env)

    def mute(self, license_id: str, resource: str | None, until: datetime | None) -> None:
        """`until` None: no expiry."""
        self._license(license_id).silences[resource or "*"] = until or datetime.max.replace(tzinfo=UTC)

    def unmute(self, license_id: str, resource: str | None) -> None:
        self._license(license_id).silences.pop(resource or "*", None)

    def unstored(self, license_id: str, at: datetime) -> None:
        """The run at `at` stored no snapshot of the license (killed before it got there): forecasts lack it."""
        self._history.get(license_id, {}).pop(at, None)

    def rollback(self, license_id: str) -> None:
        """The last observation's message was refused by SNS: the real code restores the state it read."""
        if license_id in self._undo:
            self._licenses[license_id] = self._undo.pop(license_id)
            self._licenses[license_id].refused = True

    def level(self, license_id: str, resource: str, current: int, limit: int) -> Decimal | None:
        """The highest threshold reached, or the limit (100); None below every threshold."""
        reached = [t for t in self.rules.thresholds_for(license_id, resource) if _at_or_above(current, limit, t)]
        if current >= limit:
            reached.append(LIMIT)
        return max(reached, default=None)

    def clears_below(self, license_id: str, resource: str, level: Decimal) -> Decimal:
        """The percent under which a resource notified at `level` leaves it (hysteresis)."""
        line = level - self.rules.hysteresis
        if line <= 0 and "18.6" not in self.legacy:
            return level  # a threshold within the margin clears below itself, so every level can clear
        return line

    def severity(self, license_id: str, resource: str, level: Decimal) -> str:
        if level >= LIMIT:
            return "critical"
        if self.rules.critical_at_limit_only:
            return "warning"
        if "19.17" not in self.legacy and level == max(self.rules.thresholds_for(license_id, resource)):
            return "critical"
        return "warning"

    def key(self, message_attributes: Mapping[str, str]) -> Expected | None:
        """The real SNS message, by its attributes, as a comparable `Expected` (None: not an alert)."""
        try:
            return Expected(
                message_attributes["license_id"], message_attributes["event_type"], message_attributes["severity"]
            )
        except KeyError:
            return None

    def notified(self, license_id: str) -> dict[str, Decimal]:
        """The level each resource of the license is notified (or held) at."""
        return {name: mark.level for name, mark in self._license(license_id).marks.items()}

    def muted(self, license_id: str, at: datetime) -> frozenset[str]:
        """Targets ("*" or a resource) muted at `at`: a mute stops applying at its expiry."""
        return frozenset(t for t, until in self._license(license_id).silences.items() if until > at)

    def observe(self, obs: Observation) -> list[Expected]:
        lic = self._license(obs.license_id)
        self._undo[obs.license_id] = copy.deepcopy(lic)
        before_label, before_critical = self._label(lic), self._critical(obs.license_id, lic)
        failure = obs.failure
        usage = dict(obs.usage) if obs.usage is not None else None
        if usage is not None and not any(limit > 0 for _, limit in usage.values()):
            failure = "no_usage_data"  # a 200 with nothing to evaluate counts as a failed check
        if failure is None and usage is None:
            raise ValueError("an observation without usage needs a failure kind")
        runs = self._history.setdefault(obs.license_id, {})
        if failure is None and usage is not None:  # a successful check's snapshot: a point for later forecasts
            runs[obs.at] = dict(usage)
        else:  # a failed check's snapshot has no figures, and replaces one an earlier run at this time stored
            runs.pop(obs.at, None)
        # README "Gaps in checking": a failure more than STALE_AFTER_RUNS intervals after the streak's last
        # failure starts a new streak (a streak counts consecutive runs).
        gap = lic.last_failure is not None and obs.at - lic.last_failure > self.checking_gap
        if failure is not None and gap and "19.9" not in self.legacy:
            lic.failing, lic.failing_since, lic.failure_notified_at, lic.failure_kind = 0, None, None, None
        if failure is not None:
            lic.last_failure = obs.at
        changes: list[Change] = []
        if failure is not None:
            changes += self._failed(lic, failure, obs.at)
            if failure == "no_usage_data":
                changes += self._vanished(lic, usage or {})
        else:
            assert usage is not None
            if lic.failure_notified_at is not None:
                changes.append(Change("check_recovered"))
            lic.failing, lic.failing_since, lic.failure_notified_at, lic.failure_kind = 0, None, None, None
            changes += self._levels(obs.license_id, lic, usage, obs.at)
            changes += self._vanished(lic, usage)
            if self._forecast_run(obs, lic, changes):
                changes += self._forecasts(obs.license_id, lic, usage, obs.at)
                lic.refused = False
        message = self._damped(obs, lic, changes, before_label, before_critical)
        return [message] if message is not None else []

    @property
    def checking_gap(self) -> timedelta:
        return STALE_AFTER_RUNS * self.rules.schedule

    def _stale(self, mark: _Mark, at: datetime) -> bool:
        remind = self.rules.remind_after
        return "19.9" not in self.legacy and remind is not None and at - mark.notified_at > remind + self.checking_gap

    def _license(self, license_id: str) -> _License:
        return self._licenses.setdefault(license_id, _License())

    def _failed(self, lic: _License, failure: str, at: datetime) -> list[Change]:
        lic.failing += 1
        lic.failing_since = lic.failing_since or at
        if lic.failure_notified_at is None:
            if failure in AT_ONCE or lic.failing >= self.rules.failure_after_runs:
                lic.failure_notified_at, lic.failure_kind = at, failure
                return [Change("check_failed", runs=lic.failing)]
            return []
        if lic.failure_kind != failure:  # still failing, for another reason: said once
            lic.failure_notified_at, lic.failure_kind = at, failure
            return [Change("check_failed", runs=lic.failing)]
        if self._reminder_due(lic.failure_notified_at, at):
            lic.failure_notified_at = at
            return [Change("check_reminder", runs=lic.failing)]
        return []

    def _levels(self, license_id: str, lic: _License, usage: dict[str, tuple[int, int]], at: datetime) -> list[Change]:
        changes = []
        for name, (current, limit) in usage.items():
            if limit <= 0:
                continue  # no percentage, no verdict: what was notified stays until figures return
            level = self.level(license_id, name, current, limit)
            mark = lic.marks.get(name)
            if mark is not None and level != mark.level and self._stale(mark, at):
                # Not looked at for a while (its reminder could not refresh it): today's level is news.
                if level is None:
                    del lic.marks[name]
                    changes.append(Change("recovered", name, None, mark.level, current, limit))
                else:
                    lic.marks[name] = _Mark(level, at)
                    changes.append(Change("crossed", name, level, mark.level, current, limit))
                continue
            if level is not None and (mark is None or level > mark.level):
                lic.marks[name] = _Mark(level, at)
                changes.append(Change("crossed", name, level, mark.level if mark else None, current, limit))
                continue
            if mark is None:
                continue
            held = self._held(license_id, name, current, limit, mark.level)
            if held is None:
                del lic.marks[name]
                changes.append(Change("recovered", name, None, mark.level, current, limit))
            elif held < mark.level:
                mark.level = held  # stepping down is silent, but crossing back up alerts again
            elif self._reminder_due(mark.notified_at, at):
                mark.notified_at = at
                changes.append(Change("reminder", name, held, mark.level, current, limit))
        return changes

    def _held(self, license_id: str, resource: str, current: int, limit: int, notified: Decimal) -> Decimal | None:
        """The highest level at or below the notified one whose clear line the resource is not under."""
        levels = [*self.rules.thresholds_for(license_id, resource), LIMIT]
        held = [
            lv
            for lv in levels
            if lv <= notified and _at_or_above(current, limit, self.clears_below(license_id, resource, lv))
        ]
        return max(held, default=None)

    @staticmethod
    def _vanished(lic: _License, usage: Mapping[str, tuple[int, int]]) -> list[Change]:
        changes = []
        for name in list(lic.marks):
            figures = usage.get(name)
            if figures is None or figures[1] <= 0:
                changes.append(Change("vanished", name, None, lic.marks.pop(name).level))
        return changes

    def _forecast_run(self, obs: Observation, lic: _License, changes: list[Change]) -> bool:
        """Whether this run forecasts: the license's routine slot, or an alert about to go out (not held)."""
        minutes = int(self.rules.schedule.total_seconds()) // 60
        if lic.refused or forecast_slot(obs.license_id, obs.at, self.rules.forecast_interval, minutes):
            return True
        return any(c.kind in ("crossed", "reminder") for c in changes) and not self._holds(lic, changes, obs.at)

    def _holds(self, lic: _License, changes: list[Change], at: datetime) -> bool:
        """Whether flap damping holds this run's message (the decision `_damped` takes, without taking it)."""
        if self.rules.flap_changes <= 0 or lic.held_since is None:
            return False
        if any(c.kind in STATE_CHANGES for c in changes):
            return True
        return at - (lic.last_change or lic.held_since) < self.rules.flap_window

    def _forecasts(
        self, license_id: str, lic: _License, usage: dict[str, tuple[int, int]], at: datetime
    ) -> list[Change]:
        """Forecast alerts for resources below every threshold whose limit date is near (or moved earlier)."""
        changes = []
        for name, (current, limit) in usage.items():
            if limit <= 0:
                continue  # no figures to forecast against: what was told stays until figures return
            below = name not in lic.marks and self.level(license_id, name, current, limit) is None
            near = self.projection(license_id, name, at) if below and self.rules.forecast_alert_days > 0 else None
            if near is None:
                lic.forecast_marks.pop(name, None)  # no longer near: forgotten, so a new approach is told
                continue
            limit_at, rate = near
            told = lic.forecast_marks.get(name)
            if told is None or told - limit_at >= max(timedelta(days=1), (told - at) / 4):
                lic.forecast_marks[name] = limit_at
                changes.append(Change("forecast", name, current=current, limit=limit, limit_at=limit_at, rate=rate))
        return changes

    def projection(self, license_id: str, resource: str, at: datetime) -> tuple[datetime, Fraction] | None:
        """(the date the resource reaches its limit, the rate a day) if within FORECAST_ALERT_DAYS of `at`, by
        least squares over the snapshots since the last reset; None when there is no such date (too little
        history, flat, at the limit already, or further away)."""
        since = at - self.rules.forecast_history
        runs = sorted(self._history.get(license_id, {}).items())
        points = [(t, usage[resource]) for t, usage in runs if since <= t <= at and resource in usage]
        start = 0
        for i in range(1, len(points)):
            (_, (before, before_limit)), (_, (current, limit)) = points[i - 1], points[i]
            if current < before or limit != before_limit:
                start = i  # a reset: what came before says nothing about the new situation
        segment = points[start:]
        if not segment:
            return None
        last_at, (current, limit) = segment[-1]
        if limit <= 0 or current >= limit:
            return None
        if len(segment) < FORECAST_MIN_POINTS or last_at - segment[0][0] < FORECAST_MIN_SPAN:
            return None
        days = [Fraction((t - segment[0][0]) // timedelta(microseconds=1), US_PER_DAY) for t, _ in segment]
        counts = [c for _, (c, _) in segment]
        mean_day, mean_count = sum(days, Fraction(0)) / len(days), Fraction(sum(counts), len(counts))
        spread = sum(((d - mean_day) ** 2 for d in days), Fraction(0))
        covariance = sum(((d - mean_day) * (c - mean_count) for d, c in zip(days, counts, strict=True)), Fraction(0))
        rate = covariance / spread
        if rate < FORECAST_MIN_RATE_PER_DAY:
            return None
        to_limit = (limit - current) / rate
        if to_limit > self.rules.forecast_alert_days + 1:
            return None  # far beyond the horizon (and maybe beyond what a datetime holds)
        limit_at = last_at + timedelta(microseconds=int(to_limit * US_PER_DAY))
        if limit_at - at > timedelta(days=self.rules.forecast_alert_days):
            return None  # "within N days" is by the date: 7 days and 14 minutes is not within 7
        return limit_at, rate

    def _reminder_due(self, notified_at: datetime, at: datetime) -> bool:
        return self.rules.remind_after is not None and at - notified_at >= self.rules.remind_after

    def _damped(
        self, obs: Observation, lic: _License, changes: list[Change], before_label: str, before_critical: bool
    ) -> Expected | None:
        """Flap damping, then mutes: more than ALERT_FLAP_CHANGES notified changes in the window hold notices."""
        moved = [c for c in changes if c.kind in STATE_CHANGES]
        involved = frozenset(c.resource or "check" for c in moved)
        window, most = self.rules.flap_window, self.rules.flap_changes
        if most <= 0:
            return self._send(obs, changes)
        if lic.held_since is not None:
            if moved:
                lic.last_change = obs.at
                lic.flap_involved |= involved
                return None
            if obs.at - (lic.last_change or lic.held_since) >= window:
                notice = self._flap_notice(obs, lic, True, self._critical(obs.license_id, lic))
                lic.held_since, lic.last_change, lic.flap_changes, lic.flap_involved = None, None, [], set()
                return notice
            return None
        if not moved:
            return self._send(obs, changes)
        kept = [(t, who) for t, who in lic.flap_changes if obs.at - t < window]
        # docs/alerts.md "Mutes and flapping": the subjects are over-inclusive, those of changes that left the
        # window stay while changes continue; they start afresh only with a change alone in its window.
        lic.flap_involved = (lic.flap_involved if kept else set()) | involved
        lic.flap_changes = [*kept, (obs.at, involved)][-(most + 1) :]
        if len(lic.flap_changes) > most:
            lic.held_since = lic.last_change = obs.at
            critical = before_critical or self._critical(obs.license_id, lic)
            return self._flap_notice(obs, lic, False, critical)
        return self._send(obs, changes)

    def _flap_notice(self, obs: Observation, lic: _License, settled: bool, critical: bool) -> Expected | None:
        muted = self.muted(obs.license_id, obs.at)
        if "*" in muted:
            return None
        if "18.8" not in self.legacy and lic.flap_involved and lic.flap_involved <= muted:
            return None  # a mute covers every message about what it mutes
        return Expected(obs.license_id, "flapping", "critical" if critical else "warning", settled=settled)

    def _send(self, obs: Observation, changes: list[Change]) -> Expected | None:
        """The message for this run's changes, minus what is muted, classified as the README's table says."""
        muted = self.muted(obs.license_id, obs.at)
        if "*" in muted:
            return None
        changes = [c for c in changes if c.resource is None or c.resource not in muted]
        if not changes:
            return None
        lid = obs.license_id
        kinds = {c.kind for c in changes}
        reminder = kinds <= {"reminder", "check_reminder"}
        raised = [c for c in changes if c.kind in ("crossed", "reminder")]
        gone = [c for c in changes if c.kind == "vanished"]
        if kinds & {"check_failed", "check_reminder"}:
            event, severity, about = "check_failed", "critical", None
        elif raised:
            top = max(raised, key=lambda c: (c.level or 0, self.severity(lid, c.resource or "", c.level or LIMIT)))
            severities = {self.severity(lid, c.resource or "", c.level or LIMIT) for c in raised}
            event, about = "threshold_crossed", top.resource
            severity = "critical" if "critical" in severities else "warning"
        elif gone:  # as urgent as the alert it leaves unresolved, so ahead of a forecast
            severities = {self.severity(lid, c.resource or "", c.previous_level or LIMIT) for c in gone}
            event, about = "resource_vanished", gone[0].resource
            severity = "critical" if "critical" in severities else "warning"
        elif "forecast" in kinds:
            event, severity, about = "forecast", "warning", next(c.resource for c in changes if c.kind == "forecast")
        else:
            event, severity, about = "recovered", "warning", None
        return Expected(lid, event, severity, about, tuple(changes), reminder)

    def _critical(self, license_id: str, lic: _License) -> bool:
        return lic.failure_notified_at is not None or any(
            self.severity(license_id, name, mark.level) == "critical" for name, mark in lic.marks.items()
        )

    @staticmethod
    def _label(lic: _License) -> str:
        parts = [f"{name} >= {mark.level}%" for name, mark in sorted(lic.marks.items())]
        return ", ".join([*parts, *(["check failing"] if lic.failure_notified_at else [])]) or "all below"
