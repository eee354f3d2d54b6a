"""Pure rules for run-level problems: a bad configuration, and a fleet too big for one run.

Each kind has its own alert-state item under the run-level scope (`*config`, `*capacity`; `*` cannot
occur in a license ID), beside `*` for a failed run, and follows the rules of every other alert: one
message when the problem appears or changes, a reminder while it lasts, a `recovered` notice when it is
gone. What was notified is kept in the state's failure streak: `last_error` holds the problem's
fingerprint, `notified_at` when it was sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from usage_monitor.alerting.types import (
    Alert,
    AlertPolicy,
    AlertState,
    ChangeKind,
    CheckChange,
    Evaluation,
    EventType,
    FailureStreak,
    ProblemKind,
    RunProblem,
    Severity,
)
from usage_monitor.core.license_entries import LicenseList, SkippedEntry
from usage_monitor.core.models import RUN_SCOPE

LISTED_MAX = 10  # bad entries named in one alert; the run's log names every one


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:16]


def list_problem(skipped: Sequence[SkippedEntry], entries: int, critical_percent: float) -> RunProblem | None:
    """The license list's skipped entries as one problem; critical above `critical_percent` invalid."""
    if not skipped:
        return None
    invalid = [s for s in skipped if not s.duplicate]
    repeated = len(skipped) - len(invalid)
    checked = entries - len(skipped)
    critical = bool(invalid) and 100 * len(invalid) > critical_percent * max(entries, 1)
    counts = [f"{len(invalid)} invalid" if invalid else "", f"{repeated} repeated" if repeated else ""]
    summary = f"{' and '.join(c for c in counts if c)} license list entr{'y' if len(skipped) == 1 else 'ies'}"
    ordered = [*invalid, *(s for s in skipped if s.duplicate)]
    details = tuple(s.describe() for s in ordered[:LISTED_MAX])
    if len(ordered) > LISTED_MAX:
        details += (f"... and {len(ordered) - LISTED_MAX} more (the run's log names every one)",)
    return RunProblem(
        ProblemKind.CONFIG,
        critical,
        summary,
        details,
        tuple(f"{s.where} {s.escaped}" for s in ordered[:LISTED_MAX]),
        f"Invalid entries are not checked; repeated IDs are checked once. The {checked} valid IDs were "
        "checked. Correct or remove these entries; a recovered notice follows once the list is clean.",
        # Source, entry and verdict, not the line: inserting a line above a bad entry is no new problem.
        _fingerprint(*(f"{s.source}|{s.raw}|{s.duplicate}" for s in skipped)),
    )


def settings_problem(message: str) -> RunProblem:
    """A setting the code rejects: every run fails before checking anything."""
    return RunProblem(
        ProblemKind.CONFIG,
        True,
        "a setting is invalid, no license is being checked",
        (message,),
        (message,),
        "Fix the stack parameter (or the function's environment variable) named above and redeploy.",
        _fingerprint(message),
    )


def capacity_problem(unchecked: int, total: int, max_concurrency: int, chunk_size: int | None) -> RunProblem:
    """Licenses not reached before the run's deadline, with what to change (`chunk_size`: FanOut's, None off).

    With FanOut on, the knobs a stack parameter sets for each worker invocation: its share of licenses
    and how many it checks at once (the worker's timeout is fixed by the template).
    """
    if chunk_size is not None:
        advice = (
            f"Lower FanOutChunkSize (now {chunk_size}) so each worker invocation checks fewer licenses, "
            f"or raise MaxConcurrency (now {max_concurrency})."
        )
    else:
        advice = (
            f"Raise MaxConcurrency (now {max_concurrency}) or the function's Timeout, "
            "or turn on FanOut so each run is split over worker invocations."
        )
    return RunProblem(
        ProblemKind.CAPACITY,
        True,
        f"{unchecked} of {total} licenses not checked before the run's deadline",
        (f"{unchecked} of {total} licenses were not checked: the run reached its deadline first.",),
        (),
        advice,
        # One problem while it lasts: the count varies from run to run without being news.
        "capacity",
    )


def run_problems(
    listed: LicenseList, fleet_run: bool, unchecked: int, critical_percent: float, capacity: tuple[int, int | None]
) -> dict[ProblemKind, RunProblem | None]:
    """This run's problem (or None) per kind it can speak for.

    A manual override's bad entries are the caller's, shown in the run's summary: only a run over the
    configured fleet reports (or clears) the list's config_problem.
    """
    problems: dict[ProblemKind, RunProblem | None] = {}
    if fleet_run:
        problems[ProblemKind.CONFIG] = list_problem(listed.skipped, listed.entries, critical_percent)
    total = len(listed.ids)
    problems[ProblemKind.CAPACITY] = capacity_problem(unchecked, total, *capacity) if unchecked else None
    return problems


def evaluate_problem(
    kind: ProblemKind,
    problem: RunProblem | None,
    before: AlertState,
    policy: AlertPolicy,
    now: datetime,
    *,
    may_recover: bool = True,
) -> Evaluation:
    """The next state and the alert (if any) for one problem kind; `problem` None means none this run.

    `may_recover` is False for runs that see only part of the fleet (a fan-out chunk, a manual run):
    their clean result says nothing about the whole list or the whole run.
    """
    streak = before.failures
    if problem is None:
        if streak.notified_at is None or not may_recover:
            return Evaluation(before, None)
        gone = RunProblem(kind, False, "recovered", recovered=True)
        alert = Alert(RUN_SCOPE, now, EventType.RECOVERED, Severity.WARNING, policy.thresholds, problem=gone)
        return Evaluation(replace(before, failures=FailureStreak()), alert)
    severity = Severity.CRITICAL if problem.critical else Severity.WARNING
    event_type = EventType(kind.value)
    if streak.notified_at is None or streak.last_error != problem.fingerprint:
        since = streak.since or now
        after = replace(before, failures=FailureStreak(streak.consecutive + 1, since, now, problem.fingerprint))
        return Evaluation(after, Alert(RUN_SCOPE, now, event_type, severity, policy.thresholds, problem=problem))
    if policy.reminder_due(streak.notified_at, now):
        reminder = CheckChange(ChangeKind.REMINDER, None, streak.consecutive, streak.since)
        after = replace(before, failures=replace(streak, notified_at=now))
        alert = Alert(RUN_SCOPE, now, event_type, severity, policy.thresholds, check_change=reminder, problem=problem)
        return Evaluation(after, alert)
    return Evaluation(before, None)
