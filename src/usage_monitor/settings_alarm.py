"""A setting the code rejects still reaches the alert topic, as a run-level `config_problem`.

Without this, a value the template let through (say `ALERT_THRESHOLDS=80,80`) fails every run before
any alert code, and the only trace is the Errors alarm, which the SMS filter drops. The table and the
topic are the two settings needed to send it: when one of them is the bad one, the error is only raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from usage_monitor.alerts import AlertPolicy
from usage_monitor.errors import ConfigError, MonitorError
from usage_monitor.models import CheckResult
from usage_monitor.monitor import Monitor
from usage_monitor.notify import SnsNotifier
from usage_monitor.observability import logger
from usage_monitor.run_problems import ProblemKind, settings_problem
from usage_monitor.settings import Settings
from usage_monitor.store import DynamoStore
from usage_monitor.tokens import TokenSource


def settings_or_alert(env: Mapping[str, str], now: datetime, session: Any = None) -> Settings:
    """`Settings.from_env`; on a `ConfigError`, publishes it once per distinct error, then re-raises."""
    try:
        return Settings.from_env(env)
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

        from usage_monitor.dynamo import DynamoTable

        session = session or boto3.session.Session()
        table = DynamoTable(session.client("dynamodb"), table_name)
        # Only the alert-state and publishing paths of a Monitor run here: tokens and checks are never used.
        monitor = Monitor(
            tokens=TokenSource(env.get("TOKENS_SECRET_ID", ""), _no_secret),
            client=_NoChecks(),
            store=DynamoStore(table, 1),
            notifier=SnsNotifier(topic_arn, session.client("sns")),
            policy=AlertPolicy((Decimal(80),)),
        )
        monitor.report_problem(ProblemKind.CONFIG, settings_problem(str(error)), now)
    except Exception:
        logger.exception("could not alert about the settings error")


def _no_secret(secret_id: str, force_fetch: bool) -> str:
    raise MonitorError("a settings error alert reads no secret")


class _NoChecks:
    def check(self, license_id: str, token: str, *, redact: Any = ()) -> CheckResult:
        raise MonitorError("a settings error alert checks no license")
