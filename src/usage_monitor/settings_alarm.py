"""A setting the code rejects still reaches the alert topic, as a run-level `config_problem`.

Without this, a value the template let through (say `ALERT_THRESHOLDS=0`) fails every run before any
alert code, and the only trace is the Errors alarm, which the SMS filter drops. The same holds for what
building the run reads beyond the environment (the CA bundle's SSM parameter: missing, not PEM, a block
that does not load), so both steps go through `built_or_alert`. The table and the topic are the two
settings needed to send it: when one of them is the bad one, the error is only raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from usage_monitor.alerting.run_problems import evaluate_problem, settings_problem
from usage_monitor.alerting.types import AlertPolicy, AlertState, ProblemKind
from usage_monitor.core.errors import ConfigError
from usage_monitor.fleet.delivery import AlertDelivery
from usage_monitor.fleet.notifying import deliver_evaluation
from usage_monitor.observability import logger
from usage_monitor.settings import Settings
from usage_monitor.storage.sns import SnsNotifier
from usage_monitor.storage.store import DynamoStore, StoredState

_Built = TypeVar("_Built")


def settings_or_alert(env: Mapping[str, str], now: datetime, session: Any = None) -> Settings:
    """`Settings.from_env`; on a `ConfigError`, publishes it once per distinct error, then re-raises."""
    try:
        return Settings.from_env(env)
    except ConfigError as exc:
        alert_settings_error(env, exc, now, session)
        raise


def built_or_alert(
    env: Mapping[str, str], now: datetime, build: Callable[[Settings], _Built], session: Any = None
) -> _Built:
    """Settings, then `build(settings)` (the adapters); a `ConfigError` from either is published once per
    distinct error, as a settings error is, then re-raised."""
    settings = settings_or_alert(env, now, session)
    try:
        return build(settings)
    except ConfigError as exc:
        alert_settings_error(env, exc, now, session)
        raise


def alert_settings_error(env: Mapping[str, str], error: ConfigError, now: datetime, session: Any = None) -> None:
    """Best effort: never hides the original error."""
    table_name = env.get("SNAPSHOT_TABLE", "").strip()
    topic_arn = env.get("ALERT_TOPIC_ARN", "").strip()
    if not table_name or not topic_arn:
        return
    try:
        import boto3

        from usage_monitor.storage.dynamo import DynamoTable

        session = session or boto3.session.Session()
        store = DynamoStore(DynamoTable(session.client("dynamodb"), table_name), 1)
        delivery = AlertDelivery(store, SnsNotifier(topic_arn, session.client("sns")))
        key = ProblemKind.CONFIG.state_key
        stored = store.load_states([key]).get(key, StoredState(AlertState()))
        # The thresholds play no part in a run-level problem's severity; any valid policy decides it.
        policy = AlertPolicy((Decimal(80),))
        evaluation = evaluate_problem(ProblemKind.CONFIG, settings_problem(str(error)), stored.state, policy, now)
        deliver_evaluation(delivery, key, stored, evaluation, now)
    except Exception:
        logger.exception("could not alert about the settings error")
