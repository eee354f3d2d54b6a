"""Slack / Teams through Amazon Q Developer: the real handler publishes its custom-notification event."""

from __future__ import annotations

import json

from moto.sns.models import sns_backends

from local.aws import ACCOUNT_ID, REGION
from local.simulator import usage_of
from tests.integration.conftest import Harness, add_licenses
from tests.unit.messages.test_chat import assert_custom_notification


def test_a_published_alert_has_a_chat_form_amazon_q_developer_renders(harness: Harness) -> None:
    add_licenses(harness, {"busy": usage_of(users=(850, 1000))})

    harness.invoke(time="2026-11-24T09:15:00Z")

    [(_id, message, subject, _attributes, _group)] = (
        sns_backends[ACCOUNT_ID][REGION].topics[harness.stack.topic_arn].sent_notifications
    )
    bodies = json.loads(message)
    event = json.loads(bodies["https"])
    assert_custom_notification(event)
    assert event["content"]["title"] == f":warning: {subject}"
    assert event["content"]["description"] == bodies["email"]
    assert event["metadata"]["threadId"] == "leegality-usage-busy"
    # Email, SMS and SQS subscribers still get their own forms
    assert bodies["sms"].startswith("Leegality busy WARNING")
