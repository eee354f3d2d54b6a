"""Pure rendering of an `Alert` into what SNS sends: subject, email body, SMS line, attributes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from usage_monitor.alerting.forecast import ForecastStatus
from usage_monitor.alerting.types import (
    LIMIT_LEVEL,
    Alert,
    ChangeKind,
    CheckChange,
    DampingNote,
    EventType,
    ResourceChange,
    Severity,
)
from usage_monitor.core.models import RUN_SCOPE, FailureKind, Resource
from usage_monitor.messages.chat import chat_notification
from usage_monitor.messages.figures import iso, level_text, plain_number, usage_text
from usage_monitor.messages.outgoing import OutgoingMessage
from usage_monitor.messages.problems import problem_texts
from usage_monitor.messages.sms import gsm7, one_segment

SUBJECT_MAX = 100
SMS_MAX = 160
# Two copies (default and email) of at most this, plus the SMS, stay inside SNS's 256 KiB message
# and, stored as the pending alert, inside DynamoDB's 400 KB item.
BODY_MAX_BYTES = 100_000
AT_LIMIT_ADVICE = "At the limit nobody can sign: raise the license limit with Leegality or free capacity."


@dataclass(frozen=True)
class RenderedAlert:
    subject: str
    default: str
    email: str
    sms: str
    attributes: dict[str, str]
    # The chat form when it is not the email's text (the test alert names the chat channel); None: built from it.
    chat: str | None = None
    # What to do, in the email's own words: the chat form's `nextSteps`.
    next_steps: tuple[str, ...] = ()

    def outgoing(self) -> OutgoingMessage:
        """`Message` for `MessageStructure="json"`: one body per protocol, within SNS's 256 KiB."""
        # `https` is what Amazon Q Developer (Slack, Teams) receives; it renders only its custom-notification
        # event (see `chat`). Other HTTPS endpoints subscribed to the topic get the same JSON.
        bodies = {
            "default": _fit(self.default),
            "email": _fit(self.email),
            "sms": self.sms,
            "https": self.chat
            or chat_notification(self.subject, _fit(self.email), self.attributes, next_steps=self.next_steps),
        }
        return OutgoingMessage(self.subject, json.dumps(bodies, ensure_ascii=False), self.attributes)


def render(alert: Alert) -> RenderedAlert:
    if alert.problem is not None:
        subject, email, sms = problem_texts(alert)
        subject, sms = _clip(_ascii(subject), SUBJECT_MAX), one_segment(sms, SMS_MAX)
        steps: tuple[str, ...] = () if alert.problem.recovered or not alert.problem.advice else (alert.problem.advice,)
    else:
        subject, email, sms = _subject(alert), _email(alert), _sms(alert)
        steps = next_steps(alert)
    return RenderedAlert(
        subject=subject,
        default=email,
        email=email,
        sms=sms,
        attributes={
            "event_type": alert.event_type.value,
            "severity": alert.severity.value,
            "license_id": alert.license_id,
        },
        next_steps=steps,
    )


def next_steps(alert: Alert) -> tuple[str, ...]:
    """What the reader should do, sentence by sentence as the email says it (the chat's `nextSteps`)."""
    steps = []
    change = alert.check_change
    failing = change is not None and change.kind is not ChangeKind.CHECK_RECOVERED
    if failing and change is not None and change.error is not None and change.error.kind is not FailureKind.RUN_FAILED:
        steps.append(_not_monitored(change.error.kind))
    # Only when today's figures are at the limit: a reminder of a limit alert held at 96 % must not say so.
    if any(c.kind in (ChangeKind.CROSSED, ChangeKind.REMINDER) and c.resource.at_limit for c in alert.resource_changes):
        steps.append(AT_LIMIT_ADVICE)
    return tuple(steps)


def license_label(license_id: str) -> str:
    return "all licenses (the run failed)" if license_id == RUN_SCOPE else license_id


def _headline(alert: Alert) -> str:
    prefix = "Reminder: " if alert.reminder else ""
    if alert.damping is not None:
        if alert.damping.settled:
            return f"settled after flapping: {alert.damping.settled_at}"
        return "flapping between " + " / ".join(alert.damping.states) + ", notices held"
    if alert.event_type is EventType.CHECK_FAILED:
        return f"{prefix}usage check failing"
    crossed = [c for c in alert.resource_changes if c.kind in (ChangeKind.CROSSED, ChangeKind.REMINDER)]
    if crossed:
        top = max(crossed, key=lambda c: c.level or 0)
        more = f" +{len(crossed) - 1} more" if len(crossed) > 1 else ""
        level = top.level or Decimal(0)
        if not top.reached:  # held by hysteresis: say where it was raised and where it is now
            return f"{prefix}{top.resource.name} raised at {_level_short(level)}, now {usage_text(top.resource)}{more}"
        what = "at limit" if level >= LIMIT_LEVEL else f">= {plain_number(level)}%"
        return f"{prefix}{top.resource.name} {what} {usage_text(top.resource)}{more}"
    gone = [c for c in alert.resource_changes if c.kind is ChangeKind.VANISHED]
    if alert.event_type is EventType.RESOURCE_VANISHED and gone:
        more = f" +{len(gone) - 1} more" if len(gone) > 1 else ""
        return f"{gone[0].resource.name} no longer reported{more}"
    outlooks = [c for c in alert.resource_changes if c.kind is ChangeKind.FORECAST]
    if outlooks:
        soonest = min(outlooks, key=lambda c: _days(c) or Decimal(0))
        more = f" +{len(outlooks) - 1} more" if len(outlooks) > 1 else ""
        return f"{soonest.resource.name} may reach its limit in {_days_text(soonest, alert.captured_at)}{more}"
    return "recovered"


def _level_short(level: Decimal) -> str:
    return "limit" if level >= LIMIT_LEVEL else f">= {plain_number(level)}%"


def _days(change: ResourceChange) -> Decimal | None:
    return change.forecast.days_to_limit if change.forecast is not None else None


def _days_text(change: ResourceChange, now: datetime) -> str:
    return "?" if change.forecast is None else change.forecast.when_short(now)


def _subject(alert: Alert) -> str:
    head = f"[{alert.severity.value.upper()}] Leegality "
    tail = f": {_headline(alert)}"
    room = SUBJECT_MAX - len(head) - len(tail)
    subject = head + _clip(license_label(alert.license_id), max(room, 12)) + tail
    # SNS subjects must be ASCII without line breaks.
    return _clip(_ascii(subject), SUBJECT_MAX)


def _change_line(change: ResourceChange, now: datetime) -> str:
    usage = usage_text(change.resource)
    # "Reached the limit" already says what an at-limit forecast would.
    telling = change.forecast is not None and change.forecast.status is not ForecastStatus.AT_LIMIT
    outlook = f"; {change.forecast.describe(now)}" if telling and change.forecast is not None else ""
    if change.kind is ChangeKind.RECOVERED:
        return f"- {change.resource.name}: {usage}: recovered, back below every threshold"
    if change.kind is ChangeKind.FORECAST:
        return f"- {change.resource.name}: {usage}: below every threshold{outlook}"
    if change.kind is ChangeKind.VANISHED:
        was = f"last notified at {level_text(change.previous_level)}" if change.previous_level is not None else ""
        return (
            f"- {change.resource.name}: {_vanished_text(change.resource)} ({was}): its alert is cleared, "
            "and it is alerted afresh once figures return"
        )
    assert change.level is not None
    severity = "CRITICAL" if change.severity is Severity.CRITICAL else "warning"
    if not change.reached:
        # Inside the hysteresis band: the level is still held, but today's figures are below its line.
        below = "the limit" if change.level >= LIMIT_LEVEL else "that threshold"
        return (
            f"- {change.resource.name}: raised at {level_text(change.level)} ({severity}, still held); "
            f"now {usage}, below {below}; the alert clears below {_clear_text(change)}{outlook}"
        )
    verb = "still at or above" if change.kind is ChangeKind.REMINDER else "reached"
    return f"- {change.resource.name}: {usage}: {verb} {level_text(change.level)} ({severity}){outlook}"


def _clear_text(change: ResourceChange) -> str:
    return "?" if change.clears_below is None else f"{plain_number(change.clears_below)}%"


def _vanished_text(resource: Resource) -> str:
    if resource.current is None and resource.limit is None and not resource.problems:
        return "no longer in the API's answer"
    return f"no usable figures any more ({usage_text(resource)})"


def _check_lines(change: CheckChange) -> list[str]:
    if change.kind is ChangeKind.CHECK_RECOVERED:
        since = f" (failing since {iso(change.failing_since)})" if change.failing_since else ""
        return [f"The usage check works again after {change.consecutive_failures} failed run(s){since}."]
    assert change.error is not None
    since = iso(change.failing_since) if change.failing_since else "this run"
    if change.error.kind is FailureKind.RUN_FAILED:
        return [
            f"The monitor's run is failing, so no license is being checked: {change.error.describe()}.",
            f"Failed {change.consecutive_failures} run(s) in a row, since {since}.",
        ]
    return [
        f"The usage check for this license is failing: {change.error.describe()}.",
        f"Failed {change.consecutive_failures} run(s) in a row, since {since}.",
        _not_monitored(change.error.kind),
    ]


def _not_monitored(kind: FailureKind) -> str:
    return "Usage is not monitored for this license until this is fixed" + _what_to_fix(kind)


def _what_to_fix(kind: FailureKind) -> str:
    if kind is FailureKind.CREDENTIALS_REJECTED:
        return ": check its OAuth2 client in SignStation (Settings → API Credentials) and in the tokens secret."
    if kind in (FailureKind.TOKEN_REJECTED, FailureKind.ACCESS_DENIED, FailureKind.NO_TOKEN):
        return ": check its token in the tokens secret."
    return "."


def _damping_lines(note: DampingNote) -> list[str]:
    hours = plain_number(Decimal(int(note.window.total_seconds())) / 3600)
    if note.settled:
        return [
            f"Settled: after flapping since {iso(note.since)}, nothing has changed for {hours} hours.",
            f"It settled at: {note.settled_at}. Notices for this license resume from here as usual.",
        ]
    return [
        f"Flapping: the alert state changed {note.changes} times since {iso(note.since)}, between: "
        + "; ".join(note.states)
        + ".",
        f"Further notices for this license are held until it has been stable for {hours} hours; "
        "then one message says where it settled. Every run is still stored.",
    ]


def _email(alert: Alert) -> str:
    lines = [
        f"Leegality license usage: {alert.severity.value.upper()}{' (reminder)' if alert.reminder else ''}",
        "",
        f"License:  {license_label(alert.license_id)}",
        f"Checked:  {iso(alert.captured_at)} (UTC)",
        "",
    ]
    if alert.damping is not None:
        lines += [*_damping_lines(alert.damping), ""]
    if alert.check_change is not None:
        lines += [*_check_lines(alert.check_change), ""]
    if alert.resource_changes:
        lines += [_change_line(c, alert.captured_at) for c in alert.resource_changes]
        lines.append("")
    thresholds = _percents(alert.thresholds)
    overrides = "".join(f"; {name}: {_percents(own)}" for name, own in sorted(alert.resource_thresholds.items()))
    critical = (
        "the highest threshold and reaching the limit are"
        if alert.highest_is_critical
        else ("only reaching the limit is")
    )
    lines.append(f"Thresholds: {thresholds}{overrides}; {critical} critical.")
    if AT_LIMIT_ADVICE in next_steps(alert):
        lines.append(AT_LIMIT_ADVICE)
    lines += ["", "-- Leegality usage monitor"]
    return "\n".join(lines)


def _percents(thresholds: tuple[Decimal, ...]) -> str:
    return ", ".join(f"{plain_number(t)}%" for t in thresholds)


def _sms(alert: Alert) -> str:
    head = f"Leegality {_clip(license_label(alert.license_id), 40)} {alert.severity.value.upper()}"
    parts: list[str] = []
    if alert.damping is not None:
        if alert.damping.settled:
            parts.append(f"settled: {alert.damping.settled_at}")
        else:
            parts.append(f"flapping, {alert.damping.changes} changes since {alert.damping.since:%H:%M}Z, notices held")
    if alert.check_change is not None:
        if alert.check_change.kind is ChangeKind.CHECK_RECOVERED:
            parts.append("check OK again")
        elif alert.check_change.error is not None:
            error = alert.check_change.error
            status = f"HTTP {error.http_status} " if error.http_status else ""
            parts.append(f"check failing: {status}{error.message}")
    for change in alert.resource_changes:
        usage = usage_text(change.resource)
        if change.kind is ChangeKind.RECOVERED:
            parts.append(f"{change.resource.name} {usage} recovered")
        elif change.kind is ChangeKind.FORECAST:
            parts.append(f"{change.resource.name} {usage} limit in {_days_text(change, alert.captured_at)}")
        elif change.kind is ChangeKind.VANISHED:
            parts.append(f"{change.resource.name} no longer reported")
        elif change.level is not None and not change.reached:
            level = "limit" if change.level >= LIMIT_LEVEL else f">={plain_number(change.level)}%"
            parts.append(f"{change.resource.name} raised at {level}, now {usage}, clears <{_clear_text(change)}")
        elif change.level is not None:
            mark = "LIMIT" if change.level >= LIMIT_LEVEL else f">={plain_number(change.level)}%"
            soon = (
                f" limit in {_days_text(change, alert.captured_at)}"
                if _days(change) is not None and change.level < LIMIT_LEVEL
                else ""
            )
            parts.append(f"{change.resource.name} {usage} {mark}{soon}")
    if alert.reminder:
        head += " (reminder)"
    # Counted in GSM-7 septets, with nothing that would switch the message to UCS-2: always one segment.
    return one_segment(f"{head}: " + "; ".join(parts), SMS_MAX)


def _ascii(text: str) -> str:
    return gsm7(text)


def _fit(body: str) -> str:
    """Whole lines up to `BODY_MAX_BYTES` of UTF-8 (lone surrogates from upstream text replaced), then a note."""
    body = body.encode("utf-8", "replace").decode("utf-8")
    if len(body.encode("utf-8")) <= BODY_MAX_BYTES:
        return body
    lines = body.split("\n")
    kept: list[str] = []
    size = 200  # room for the note
    for line in lines:
        size += len(line.encode("utf-8")) + 1
        if size > BODY_MAX_BYTES:
            break
        kept.append(line[: BODY_MAX_BYTES // 2])
    cut = len(lines) - len(kept)
    return "\n".join([*kept, f"... {cut} more lines not shown (message size limit); the snapshot holds every figure."])


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


TEST_EVENT_TYPE = "test"
TEST_ICON = ":white_check_mark:"


def render_test_alert(now: datetime) -> RenderedAlert:
    """A sample alert, marked as a test everywhere a person could see it; each form names its own channel."""
    sent = f"Sent:  {iso(now)} (UTC) by `usage-monitor test-alert`"

    def body(channel: str) -> str:
        return "\n".join(
            [
                "Leegality license usage: TEST ALERT (nothing is wrong)",
                "",
                sent,
                "",
                f"If you are reading this, {channel} to the usage monitor's alerts works.",
                "A real alert looks like this:",
                "- signatures: 8620/10000 (86.2%): reached the 80% threshold (warning)",
                "",
                "-- Leegality usage monitor",
            ]
        )

    subject = "[TEST] Leegality usage monitor: test alert, nothing is wrong"
    # Severity critical so that SMS subscriptions filtered to critical alerts get it too; the chat form
    # shows a test icon instead of the critical one, since nothing is wrong.
    attributes = {"event_type": TEST_EVENT_TYPE, "severity": "critical", "license_id": "test"}
    return RenderedAlert(
        subject=subject,
        default=body("your subscription (SQS queue, Lambda function or other endpoint)"),
        email=body("your email subscription"),
        sms="Leegality usage monitor TEST alert: your SMS subscription works. Nothing is wrong.",
        attributes=attributes,
        chat=chat_notification(
            subject, body("your chat channel (Slack or Microsoft Teams)"), attributes, icon=TEST_ICON
        ),
    )
