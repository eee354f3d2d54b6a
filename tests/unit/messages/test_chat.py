"""The `https` form of every message: Amazon Q Developer's documented custom-notification event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from usage_monitor.alerting.types import Alert, ChangeKind, EventType, ResourceChange, Severity
from usage_monitor.core.models import Resource
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
