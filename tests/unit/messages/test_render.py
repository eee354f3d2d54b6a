"""Rendering an Alert for SNS: subject and SMS limits, email content, message structure, attributes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from usage_monitor.alerting.types import (
    Alert,
    AlertPolicy,
    ChangeKind,
    CheckChange,
    EventType,
    ResourceChange,
    Severity,
)
from usage_monitor.core.models import CheckError, FailureKind, Resource
from usage_monitor.messages.figures import iso, level_text, percent_text, usage_text
from usage_monitor.messages.render import SMS_MAX, SUBJECT_MAX, render

LICENSE = "bd82845c-897b-4022-b5f7-679905c1979b"
LONG_LICENSE = "L" * 64 + "-" + "9" * 63  # 128 characters, the longest allowed
AT = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
THRESHOLDS = (Decimal(80), Decimal(95))
POLICY = AlertPolicy(THRESHOLDS, hysteresis=Decimal(5))
TOKEN_ERROR = CheckError(FailureKind.TOKEN_REJECTED, "Invalid or expired token", 401, "LE_ERR_SS_401", "LE_ERR_SS_303")
SERVER_ERROR = CheckError(FailureKind.HTTP_ERROR, "Internal Server Error", 500, "LE_ERR_SS_500")


def change(
    name: str,
    current: int,
    limit: int,
    level: Decimal | None,
    kind: ChangeKind = ChangeKind.CROSSED,
    previous: Decimal | None = None,
) -> ResourceChange:
    """A change as the rules make it: the level's severity, clear line and whether today's figures reach it."""
    resource = Resource(name, current, limit)
    if level is None:
        return ResourceChange(kind, resource, level, previous)
    today = POLICY.level_of(resource)
    return ResourceChange(
        kind,
        resource,
        level,
        previous,
        severity=POLICY.severity_for(level, LICENSE, name),
        clears_below=POLICY.clears_below(level),
        reached=today is not None and today >= level,
    )


def crossed_alert(license_id: str = LICENSE, *changes: ResourceChange, severity: Severity = Severity.WARNING) -> Alert:
    changes = changes or (change("users", 850, 1000, Decimal(80)),)
    return Alert(license_id, AT, EventType.THRESHOLD_CROSSED, severity, THRESHOLDS, changes)


def many_changes(count: int, kind: ChangeKind = ChangeKind.CROSSED) -> tuple[ResourceChange, ...]:
    level = None if kind is ChangeKind.RECOVERED else Decimal(100)
    # Long resource names and big numbers to make every line as long as possible.
    return tuple(
        change(f"resource_with_a_long_name_{i:02d}_" + "x" * 30, 123456789012 + i, 123456789012, level, kind)
        for i in range(count)
    )


def failed_alert(license_id: str, error: CheckError = TOKEN_ERROR, kind: ChangeKind = ChangeKind.CHECK_FAILED) -> Alert:
    return Alert(
        license_id,
        AT,
        EventType.CHECK_FAILED,
        Severity.CRITICAL,
        THRESHOLDS,
        check_change=CheckChange(kind, error, 3, AT),
    )


AlertFactory = Callable[[str], Alert]

ALERT_SHAPES: list[tuple[str, AlertFactory]] = [
    ("crossed", lambda lic: crossed_alert(lic, *many_changes(12), severity=Severity.CRITICAL)),
    ("reminder", lambda lic: crossed_alert(lic, *many_changes(12, ChangeKind.REMINDER), severity=Severity.CRITICAL)),
    (
        "recovered",
        lambda lic: Alert(
            lic, AT, EventType.RECOVERED, Severity.WARNING, THRESHOLDS, many_changes(12, ChangeKind.RECOVERED)
        ),
    ),
    ("check_failed", lambda lic: failed_alert(lic)),
    ("check_failed_reminder", lambda lic: failed_alert(lic, SERVER_ERROR, ChangeKind.REMINDER)),
    (
        "check_recovered",
        lambda lic: Alert(
            lic,
            AT,
            EventType.RECOVERED,
            Severity.WARNING,
            THRESHOLDS,
            check_change=CheckChange(ChangeKind.CHECK_RECOVERED, None, 3, AT),
        ),
    ),
]


@pytest.mark.parametrize("license_id", [LICENSE, LONG_LICENSE])
@pytest.mark.parametrize(("shape", "factory"), ALERT_SHAPES, ids=[s for s, _ in ALERT_SHAPES])
def test_subject_fits_sns_limits(license_id: str, shape: str, factory: AlertFactory) -> None:
    subject = render(factory(license_id)).subject

    assert len(subject) <= SUBJECT_MAX == 100
    assert subject.isascii()
    assert "\n" not in subject
    assert "\r" not in subject
    assert subject.startswith("[")
    # At least the start of the license ID is always there to tell licenses apart.
    assert f"Leegality {license_id[:9]}" in subject


@pytest.mark.parametrize("license_id", [LICENSE, LONG_LICENSE])
@pytest.mark.parametrize(("shape", "factory"), ALERT_SHAPES, ids=[s for s, _ in ALERT_SHAPES])
def test_sms_fits_one_ascii_segment(license_id: str, shape: str, factory: AlertFactory) -> None:
    sms = render(factory(license_id)).sms

    assert len(sms) <= SMS_MAX == 160
    assert sms.isascii()
    assert "\n" not in sms
    assert sms.startswith("Leegality ")


def test_sms_with_ten_resources_and_a_long_id_is_clipped() -> None:
    sms = render(crossed_alert(LONG_LICENSE, *many_changes(10), severity=Severity.CRITICAL)).sms

    assert len(sms) == SMS_MAX
    assert sms.endswith("...")
    assert sms.isascii()


def test_non_ascii_error_text_is_made_ascii_in_subject_and_sms() -> None:
    error = CheckError(FailureKind.HTTP_ERROR, "Ungültige Antwort — “Gateway”\nzeile 2", 502)

    rendered = render(failed_alert(LICENSE, error))

    assert rendered.sms.isascii()
    assert "\n" not in rendered.sms
    assert "HTTP 502" in rendered.sms
    assert rendered.subject.isascii()


def test_short_subject_and_sms_read_naturally() -> None:
    rendered = render(crossed_alert())

    assert rendered.subject == f"[WARNING] Leegality {LICENSE}: users >= 80% 850/1000 (85.0%)"
    assert rendered.sms == f"Leegality {LICENSE} WARNING: users 850/1000 (85.0%) >=80%"


def test_subject_names_the_worst_resource_and_counts_the_rest() -> None:
    alert = crossed_alert(
        LICENSE,
        change("users", 850, 1000, Decimal(80)),
        change("signatures", 1000, 1000, Decimal(100)),
        change("departments", 960, 1000, Decimal(95)),
        severity=Severity.CRITICAL,
    )

    subject = render(alert).subject

    # The headline wins over the tail of the license ID when room runs out.
    assert subject.startswith("[CRITICAL] Leegality bd82845c-")
    assert subject.endswith(": signatures at limit 1000/1000 (100.0%) +2 more")
    assert len(subject) == SUBJECT_MAX


def test_reminder_is_marked_in_subject_sms_and_email() -> None:
    rendered = render(crossed_alert(LICENSE, change("users", 850, 1000, Decimal(80), ChangeKind.REMINDER, Decimal(80))))

    assert "Reminder: users >= 80%" in rendered.subject
    assert "(reminder)" in rendered.sms
    assert "WARNING (reminder)" in rendered.email
    assert "still at or above the 80% threshold" in rendered.email


def test_email_lists_license_usage_thresholds_and_time() -> None:
    alert = crossed_alert(
        LICENSE,
        change("users", 850, 1000, Decimal(80)),
        change("signatures", 1200, 1000, Decimal(100)),
        change("departments", 10, 1000, None, ChangeKind.RECOVERED, Decimal(95)),
        severity=Severity.CRITICAL,
    )

    email = render(alert).email

    assert f"License:  {LICENSE}" in email
    assert "Checked:  2026-11-24T09:15:00Z (UTC)" in email
    assert "- users: 850/1000 (85.0%): reached the 80% threshold (warning)" in email
    assert "- signatures: 1200/1000 (120.0%): reached the limit (CRITICAL)" in email
    assert "- departments: 10/1000 (1.0%): recovered, back below every threshold" in email
    assert "Thresholds: 80%, 95%; the highest threshold and reaching the limit are critical." in email
    assert "At the limit nobody can sign" in email


def test_email_without_a_limit_change_does_not_warn_about_signing() -> None:
    email = render(crossed_alert()).email

    assert "At the limit nobody can sign" not in email
    assert email.startswith("Leegality license usage: WARNING\n")


def test_failed_check_email_explains_error_and_token() -> None:
    email = render(failed_alert(LICENSE)).email

    assert "Invalid or expired token · HTTP 401 · LE_ERR_SS_401/LE_ERR_SS_303" in email
    assert "Failed 3 run(s) in a row, since 2026-11-24T09:15:00Z." in email
    assert "check its token in the tokens secret" in email


def test_failed_server_check_does_not_blame_the_token() -> None:
    email = render(failed_alert(LICENSE, SERVER_ERROR)).email

    assert "Internal Server Error · HTTP 500 · LE_ERR_SS_500" in email
    assert "token" not in email.lower()


def test_check_recovered_email_and_sms() -> None:
    rendered = render(ALERT_SHAPES[-1][1](LICENSE))

    assert "The usage check works again after 3 failed run(s) (failing since 2026-11-24T09:15:00Z)." in rendered.email
    assert "check OK again" in rendered.sms
    assert rendered.subject.endswith(": recovered")


def test_outgoing_message_is_sns_json_structure() -> None:
    rendered = render(crossed_alert())

    outgoing = rendered.outgoing()

    bodies = json.loads(outgoing.message_json)
    assert set(bodies) == {"default", "email", "sms", "https"}
    chat = json.loads(bodies.pop("https"))
    assert bodies == {"default": rendered.default, "email": rendered.email, "sms": rendered.sms}
    assert chat["source"] == "custom"
    assert chat["content"]["description"] == rendered.email
    assert outgoing.subject == rendered.subject
    assert dict(outgoing.attributes) == rendered.attributes


@pytest.mark.parametrize(
    ("alert", "attributes"),
    [
        (crossed_alert(), {"event_type": "threshold_crossed", "severity": "warning", "license_id": LICENSE}),
        (
            crossed_alert(LONG_LICENSE, *many_changes(1), severity=Severity.CRITICAL),
            {"event_type": "threshold_crossed", "severity": "critical", "license_id": LONG_LICENSE},
        ),
        (failed_alert(LICENSE), {"event_type": "check_failed", "severity": "critical", "license_id": LICENSE}),
        (
            Alert(
                LICENSE, AT, EventType.RECOVERED, Severity.WARNING, THRESHOLDS, many_changes(1, ChangeKind.RECOVERED)
            ),
            {"event_type": "recovered", "severity": "warning", "license_id": LICENSE},
        ),
    ],
)
def test_attributes_are_exact(alert: Alert, attributes: dict[str, str]) -> None:
    # The full license ID, never clipped: subscription filter policies match on it.
    assert render(alert).attributes == attributes


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "n/a"), (Decimal("85.0"), "85.0%"), (Decimal(0), "0.0%"), (Decimal("120.0"), "120.0%")],
)
def test_percent_text(value: Decimal | None, text: str) -> None:
    assert percent_text(value) == text


@pytest.mark.parametrize(
    ("level", "text"),
    [(Decimal(100), "the limit"), (Decimal(80), "the 80% threshold"), (Decimal("95.5"), "the 95.5% threshold")],
)
def test_level_text(level: Decimal, text: str) -> None:
    assert level_text(level) == text


@pytest.mark.parametrize(
    ("resource", "text"),
    [
        (Resource("users", 233, 1000), "233/1000 (23.3%)"),
        (Resource("users", None, 1000), "?/1000 (n/a)"),
        (Resource("users", 5, None), "5/? (n/a)"),
        (Resource("users", 5, 0), "5/0 (n/a)"),
    ],
)
def test_usage_text(resource: Resource, text: str) -> None:
    assert usage_text(resource) == text


def test_iso_is_second_precision_with_z() -> None:
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
