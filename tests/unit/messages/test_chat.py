"""The `https` form of every message: Amazon Q Developer's documented custom-notification event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from usage_monitor.alerting.types import Alert, ChangeKind, CheckChange, EventType, ResourceChange, Severity
from usage_monitor.core.models import CheckError, FailureKind, Resource
from usage_monitor.messages.chat import CHAT_DESCRIPTION_MAX, chat_notification
from usage_monitor.messages.render import render, render_test_alert

NOW = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)


def assert_custom_notification(event: dict[str, Any]) -> None:
    """The event schema of https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html."""
    assert set(event) <= {"version", "source", "id", "content", "metadata"}
    assert event["version"] == "1.0"  # required, must be 1.0
    assert event["source"] == "custom"  # required, must be custom
    content = event["content"]
    assert set(content) <= {"textType", "title", "description", "nextSteps", "keywords"}
    assert content["textType"] == "client-markdown"  # the only textType supported
    assert isinstance(content["title"], str)
    assert isinstance(content["description"], str)
    assert content["description"]
    assert all(isinstance(k, str) for k in content.get("keywords", []))
    metadata = event.get("metadata", {})
    assert set(metadata) <= {"threadId", "summary", "eventType", "relatedResources", "additionalContext"}
    for key in ("threadId", "summary", "eventType"):
        assert isinstance(metadata.get(key, ""), str)
    assert all(isinstance(v, str) for v in metadata.get("additionalContext", {}).values())


def crossed() -> Alert:
    resource = Resource("users", 850, 1000)
    change = ResourceChange(ChangeKind.CROSSED, resource, Decimal(80), None)
    return Alert("lic-1", NOW, EventType.THRESHOLD_CROSSED, Severity.WARNING, (Decimal(80),), (change,))


@pytest.mark.parametrize("rendered", [render(crossed()), render_test_alert(NOW)], ids=["crossed", "test-alert"])
def test_every_message_carries_a_valid_custom_notification_for_chat(rendered: Any) -> None:
    bodies = json.loads(rendered.outgoing().message_json)

    event = json.loads(bodies["https"])

    assert_custom_notification(event)
    assert rendered.subject in event["content"]["title"]
    assert event["metadata"]["eventType"] == rendered.attributes["event_type"]


def test_the_thread_is_per_license_and_the_keywords_filterable() -> None:
    attributes = {"event_type": "threshold_crossed", "severity": "critical", "license_id": "lic-9"}

    event = json.loads(chat_notification("[CRITICAL] lic-9: users at limit", "body", attributes))

    assert event["metadata"]["threadId"] == "leegality-usage-lic-9"
    assert event["content"]["keywords"] == ["critical", "threshold_crossed", "lic-9"]
    assert event["content"]["title"].startswith(":red_circle: ")


def test_a_long_body_is_cut_for_the_channel() -> None:
    event = json.loads(chat_notification("s", "x" * 50_000, {"severity": "info"}))

    assert len(event["content"]["description"]) == CHAT_DESCRIPTION_MAX
    assert_custom_notification(event)


def chat_event(alert: Alert) -> dict[str, Any]:
    bodies = json.loads(render(alert).outgoing().message_json)
    event: dict[str, Any] = json.loads(bodies["https"])
    assert_custom_notification(event)
    return event


def test_next_steps_say_what_to_do_in_the_emails_own_words_at_the_limit() -> None:
    # Given a resource crossing into the limit
    resource = Resource("signatures", 1000, 1000)
    change = ResourceChange(ChangeKind.CROSSED, resource, Decimal(100), Decimal(80))
    alert = Alert("lic-1", NOW, EventType.THRESHOLD_CROSSED, Severity.CRITICAL, (Decimal(80),), (change,))

    # When it is rendered
    event = chat_event(alert)

    # Then the chat's next steps are the email's advice, word for word
    (step,) = event["content"]["nextSteps"]
    assert "nobody can sign" in step
    assert step in render(alert).email


def test_next_steps_for_a_rejected_token_name_the_token_like_the_email() -> None:
    # Given a license whose token the API rejects
    error = CheckError(FailureKind.TOKEN_REJECTED, "Invalid or expired token", http_status=401)
    check = CheckChange(ChangeKind.CHECK_FAILED, error, 1, NOW)
    alert = Alert("lic-1", NOW, EventType.CHECK_FAILED, Severity.CRITICAL, (Decimal(80),), check_change=check)

    # When it is rendered
    event = chat_event(alert)

    # Then the one next step is the email's "check its token" sentence
    (step,) = event["content"]["nextSteps"]
    assert "check its token in the tokens secret" in step
    assert step in render(alert).email


def test_a_warning_below_the_limit_has_no_next_steps() -> None:
    assert "nextSteps" not in chat_event(crossed())["content"]


def test_an_empty_event_type_is_left_out_rather_than_sent_empty() -> None:
    event = json.loads(chat_notification("subject", "body", {"severity": "info", "event_type": ""}))

    assert_custom_notification(event)
    assert "eventType" not in event["metadata"]
