"""Build the real adapters from `Settings`: boto3 clients, the HTTP client, idempotency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from usage_monitor.alerts import AlertPolicy
from usage_monitor.events import RunRequest
from usage_monitor.leegality import LeegalityClient, default_retry
from usage_monitor.monitor import Monitor, RemainingSeconds
from usage_monitor.notify import SnsNotifier
from usage_monitor.settings import Settings
from usage_monitor.store import DynamoStore
from usage_monitor.throttle import RequestThrottle
from usage_monitor.tokens import TokenSource, powertools_secret_fetcher

IDEMPOTENCY_PARTITION = "idempotency#usage-monitor"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600  # Longer than Lambda's async retries (up to 6 h) and Scheduler's.

RunOnce = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Wired:
    settings: Settings
    monitor: Monitor
    run_once: RunOnce


def policy_from(settings: Settings) -> AlertPolicy:
    remind = timedelta(hours=settings.remind_after_hours) if settings.remind_after_hours else None
    return AlertPolicy(
        settings.alert_thresholds,
        remind,
        settings.failure_alert_after_runs,
        settings.threshold_overrides,
        settings.forecast_alert_days,
    )


def wire(settings: Settings, session: Any = None) -> Wired:
    import boto3
    from botocore.config import Config

    session = session or boto3.session.Session()
    # Standard mode retries throttling and transient errors with backoff on every AWS call.
    aws_config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
    table = session.resource("dynamodb", config=aws_config).Table(settings.snapshot_table)
    throttle = RequestThrottle(settings.max_requests_per_second)
    monitor = Monitor(
        tokens=TokenSource(
            settings.tokens_secret_id,
            powertools_secret_fetcher(
                settings.secret_cache_seconds, session.client("secretsmanager", config=aws_config)
            ),
        ),
        client=LeegalityClient(
            settings.base_url,
            connect_timeout=settings.connect_timeout_seconds,
            read_timeout=settings.read_timeout_seconds,
            max_connections=settings.max_concurrency,
            retry=default_retry(settings.retry_backoff_seconds, settings.retry_after_cap_seconds, throttle),
            throttle=throttle,
        ),
        store=DynamoStore(table, settings.snapshot_retention_days),
        notifier=SnsNotifier(settings.alert_topic_arn, session.client("sns", config=aws_config)),
        policy=policy_from(settings),
        license_ids=settings.license_ids,
        max_concurrency=settings.max_concurrency,
        deadline_margin_seconds=settings.deadline_margin_seconds,
        forecast_history=timedelta(days=settings.forecast_history_days),
        forecast_interval=timedelta(hours=settings.forecast_interval_hours),
    )
    # A plain client: the resource's own client would re-serialise Powertools' typed attributes.
    dynamodb_client = session.client("dynamodb", config=aws_config)
    return Wired(settings, monitor, idempotent_run(settings, monitor, dynamodb_client))


def idempotent_run(settings: Settings, monitor: Monitor, dynamodb_client: Any) -> RunOnce:
    """A redelivered scheduled event (same `id` and `time`) returns the first run's summary.

    Records live in the snapshot table under their own partition key, so the function still writes
    exactly one table; manual runs carry neither field and are never deduplicated.
    """
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(
        table_name=settings.snapshot_table,
        key_attr="license_id",
        sort_key_attr="captured_at",
        static_pk_value=IDEMPOTENCY_PARTITION,
        expiry_attr="expires_at",
        boto3_client=dynamodb_client,
    )
    config = IdempotencyConfig(event_key_jmespath="[id, time]", expires_after_seconds=IDEMPOTENCY_TTL_SECONDS)

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="event", persistence_store=persistence, config=config
    )
    def run_once(
        *, event: dict[str, Any], request: RunRequest, remaining_seconds: RemainingSeconds, context: Any = None
    ) -> dict[str, Any]:
        return monitor.run(request, remaining_seconds).to_dict()

    def call(**kwargs: Any) -> dict[str, Any]:
        context = kwargs.get("context")
        if context is not None:
            config.register_lambda_context(context)
        summary: dict[str, Any] = run_once(**kwargs)
        return summary

    return call
