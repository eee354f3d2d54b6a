"""What goes to SNS, as the store keeps it for a resend and the notifier publishes it.

Apart from `render` so that storage and delivery, loaded by every run, do not load the alert wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class OutgoingMessage:
    """Exactly what goes to SNS; also what a claimed-but-unconfirmed alert stores for a resend."""

    subject: str
    message_json: str
    attributes: Mapping[str, str]
