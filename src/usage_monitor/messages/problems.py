"""The words of a run-level problem alert (config_problem, capacity, and their recovered notices).

Pure text; `render` fits the subject and SMS to what SNS and one SMS segment accept.
"""

from __future__ import annotations

from usage_monitor.alerting.types import Alert, ProblemKind, RunProblem

TITLES = {ProblemKind.CONFIG: "configuration problem", ProblemKind.CAPACITY: "capacity problem"}
CLEARED = {
    ProblemKind.CONFIG: "The configuration problem is resolved: every license list entry and setting is valid.",
    ProblemKind.CAPACITY: "Every listed license was checked before the run's deadline again.",
}


def problem_texts(alert: Alert) -> tuple[str, str, str]:
    """(subject, email body, SMS text) before SNS's limits are applied."""
    problem = alert.problem
    assert problem is not None
    severity = alert.severity.value.upper()
    title = TITLES[problem.kind]
    reminder = " (reminder)" if alert.reminder else ""
    if problem.recovered:
        subject = f"[{severity}] Leegality monitor: {title} recovered"
        sms = f"Leegality monitor: {title} recovered"
        lines = [CLEARED[problem.kind]]
    else:
        subject = f"[{severity}] Leegality monitor: {'Reminder: ' if alert.reminder else ''}{problem.summary}"
        sms = f"Leegality monitor {severity}{reminder}: {problem.summary}" + _sms_details(problem)
        lines = [f"{problem.summary[:1].upper()}{problem.summary[1:]}:", *_bullets(problem), "", problem.advice]
    email = "\n".join(
        [
            f"Leegality usage monitor: {severity} ({title}){reminder}",
            "",
            "Scope:    the monitor's run (all licenses)",
            f"Checked:  {alert.captured_at.strftime('%Y-%m-%dT%H:%M:%SZ')} (UTC)",
            "",
            *lines,
            "",
            "-- Leegality usage monitor",
        ]
    )
    return subject, email, sms


def _bullets(problem: RunProblem) -> list[str]:
    return [f"- {detail}" for detail in problem.details]


def _sms_details(problem: RunProblem) -> str:
    return ": " + "; ".join(problem.short_details) if problem.short_details else ""
