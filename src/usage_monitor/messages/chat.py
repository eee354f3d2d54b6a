"""Pure: the alert as Amazon Q Developer in chat applications (formerly AWS Chatbot) renders it.

Slack and Microsoft Teams channels get SNS notifications through Amazon Q Developer, which subscribes to the
topic over HTTPS and shows only its documented custom-notification event
(https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html): `version` "1.0" and `source`
"custom" are required; `content` holds `textType` ("client-markdown", the only one supported), `title`,
`description`, `nextSteps` and `keywords`; `metadata` holds `threadId`, `summary`, `eventType` and
`additionalContext`. A plain-text body shows nothing in the channel, so the message's `https` form is this
event: email, SMS and SQS subscribers keep their own forms.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

CHAT_DESCRIPTION_MAX = 3000  # keeps one chat message readable; the email has the whole text
CHAT_TITLE_MAX = 250
CHAT_STEPS_MAX = 5  # what to do, a few lines under the description
CHAT_STEP_MAX = 300


def chat_notification(
    subject: str,
    body: str,
    attributes: Mapping[str, str],
    *,
    icon: str | None = None,
    next_steps: Sequence[str] = (),
) -> str:
    """The custom-notification event for `subject` / `body`, as the JSON string SNS delivers; the title's
    icon is the severity's unless `icon` is given. `next_steps` are what to do, in the email's own words."""
    severity = attributes.get("severity", "")
    license_id = attributes.get("license_id", "")
    event_type = attributes.get("event_type", "")
    if icon is None:
        icon = {"critical": ":red_circle:", "warning": ":warning:", "info": ":information_source:"}.get(severity, "")
    description = body if len(body) <= CHAT_DESCRIPTION_MAX else body[: CHAT_DESCRIPTION_MAX - 4] + "\n..."
    content: dict[str, object] = {
        "textType": "client-markdown",
        "title": _clip(f"{icon} {subject}".strip(), CHAT_TITLE_MAX),
        "description": description,
    }
    steps = [_clip(step, CHAT_STEP_MAX) for step in next_steps if step][:CHAT_STEPS_MAX]
    if steps:
        content["nextSteps"] = steps
    content["keywords"] = [k for k in (severity, event_type, license_id) if k]
    metadata: dict[str, object] = {
        # One thread per license in the channel: a crossing, its reminders and its recovery together.
        "threadId": f"leegality-usage-{license_id}" if license_id else "leegality-usage",
        "summary": _clip(subject, CHAT_TITLE_MAX),
    }
    if event_type:  # left out rather than sent empty: the channel shows no blank event type
        metadata["eventType"] = event_type
    metadata["additionalContext"] = {k: v for k, v in attributes.items() if v}
    event = {"version": "1.0", "source": "custom", "content": content, "metadata": metadata}
    return json.dumps(event, ensure_ascii=False)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
