"""An evaluation turned into what is saved and sent: live mutes applied, then the delivery transaction.

Shared by a run (`Monitor`) and by the settings-error alert, which has no run and no `Monitor`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from usage_monitor.alerting.rules import apply_silences
from usage_monitor.alerting.types import Alert, Evaluation
from usage_monitor.fleet.delivery import AlertDelivery, Delivered
from usage_monitor.messages.outgoing import OutgoingMessage
from usage_monitor.observability import logger
from usage_monitor.storage.store import StoredState


def deliver_evaluation(
    delivery: AlertDelivery, license_id: str, stored: StoredState, evaluation: Evaluation, now: datetime
) -> tuple[Alert | None, Delivered]:
    """(the alert as published or None when there was none or it was muted, what the delivery did)."""
    state = stored.state
    # Expired mutes are dropped from the state as it is saved anyway; live ones only hold back publishing.
    after = replace(evaluation.state, silences={t: u for t, u in state.silences.items() if u > now})
    alert = apply_silences(evaluation.alert, state.silences, now) if evaluation.alert else None
    if evaluation.alert is not None and alert is None:
        logger.info("alert muted", extra={"license_id": license_id, "event_type": evaluation.alert.event_type})
    return alert, delivery.deliver(license_id, stored, after, _outgoing(alert) if alert else None)


def _outgoing(alert: Alert) -> OutgoingMessage:
    # Loaded with the first alert, not at start: most runs send none, and the wording costs about 2 ms of
    # every cold start (docs/performance.md, "Cold start").
    from usage_monitor.messages.render import render

    return render(alert).outgoing()
