"""run_problems: once per change, reminders, recovery only from a run that sees the whole fleet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from usage_monitor.alerting.run_problems import capacity_problem, evaluate_problem, list_problem
from usage_monitor.alerting.types import AlertPolicy, AlertState, EventType, ProblemKind, RunProblem, Severity
from usage_monitor.core.license_entries import parse_lines
from usage_monitor.messages.render import SMS_MAX, render

NOW = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
POLICY = AlertPolicy((Decimal(80),), remind_after=timedelta(hours=24))
URI_SOURCE = "LICENSE_LIST_S3_URI s3://b/k"


def problem_for(text: str, critical_percent: float = 10.0) -> RunProblem | None:
    listed = parse_lines(text, URI_SOURCE)
    return list_problem(listed.skipped, listed.entries, critical_percent)


def test_the_same_bad_entries_alert_once_even_when_they_move_to_another_line() -> None:
    first = evaluate_problem(ProblemKind.CONFIG, problem_for("a\nb c\n"), AlertState(), POLICY, NOW)
    assert first.alert is not None
    assert first.alert.event_type is EventType.CONFIG_PROBLEM

    moved = problem_for("new\na\nb c\n")
    again = evaluate_problem(ProblemKind.CONFIG, moved, first.state, POLICY, NOW + timedelta(minutes=15))
    assert again.alert is None
    assert again.state == first.state  # nothing to write


def test_a_changed_set_of_bad_entries_is_a_new_alert_and_a_long_one_a_reminder() -> None:
    first = evaluate_problem(ProblemKind.CONFIG, problem_for("a\nb c\n"), AlertState(), POLICY, NOW)
    changed = evaluate_problem(ProblemKind.CONFIG, problem_for("a\nb c\nd/e\n"), first.state, POLICY, NOW)
    assert changed.alert is not None
    assert not changed.alert.reminder

    later = NOW + timedelta(hours=24)
    reminder = evaluate_problem(ProblemKind.CONFIG, problem_for("a\nb c\nd/e\n"), changed.state, POLICY, later)
    assert reminder.alert is not None
    assert reminder.alert.reminder
    assert render(reminder.alert).subject.startswith("[CRITICAL] Leegality monitor: Reminder: ")


def test_recovery_needs_a_run_over_the_whole_fleet() -> None:
    raised = evaluate_problem(ProblemKind.CAPACITY, capacity_problem(5, 10, 16, None), AlertState(), POLICY, NOW)

    partial = evaluate_problem(ProblemKind.CAPACITY, None, raised.state, POLICY, NOW, may_recover=False)
    assert partial.alert is None
    whole = evaluate_problem(ProblemKind.CAPACITY, None, raised.state, POLICY, NOW)
    assert whole.alert is not None
    assert whole.alert.event_type is EventType.RECOVERED
    assert whole.state.failures.notified_at is None


def test_severity_follows_the_share_of_invalid_entries_and_repeats_alone_are_a_warning() -> None:
    few = problem_for("\n".join(f"lic-{n}" for n in range(19)) + "\nbad one\n")  # 1 in 20: 5 %
    many = problem_for("lic-1\nbad one\n")  # 1 in 2: 50 %
    repeats = problem_for("lic-1\nlic-1\n")
    assert few is not None
    assert many is not None
    assert repeats is not None
    assert (few.critical, many.critical, repeats.critical) == (False, True, False)
    alert = evaluate_problem(ProblemKind.CONFIG, repeats, AlertState(), POLICY, NOW).alert
    assert alert is not None
    assert alert.severity is Severity.WARNING


def test_at_most_ten_entries_are_listed_and_the_sms_stays_one_segment() -> None:
    problem = problem_for("\n".join(f"bad entry {n}" for n in range(25)) + "\nok\n")
    assert problem is not None
    assert len(problem.details) == 11
    assert problem.details[-1] == "... and 15 more (the run's log names every one)"
    alert = evaluate_problem(ProblemKind.CONFIG, problem, AlertState(), POLICY, NOW).alert
    assert alert is not None
    rendered = render(alert)
    assert len(rendered.sms) <= SMS_MAX
    assert rendered.attributes == {"event_type": "config_problem", "severity": "critical", "license_id": "*"}
