"""Build the real adapters from `Settings`: boto3 clients, the HTTP client, idempotency, the run modes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from usage_monitor.alerting.run_problems import list_problem
from usage_monitor.alerting.types import ProblemKind
from usage_monitor.core.errors import MonitorError
from usage_monitor.core.license_entries import LicenseList
from usage_monitor.events import RunRequest
from usage_monitor.fleet.check_pool import RemainingSeconds
from usage_monitor.fleet.licenses import LicenseListSource, resolve_license_ids
from usage_monitor.fleet.monitor import Monitor, RunSummary, report_list
from usage_monitor.fleet.run_config import RunConfig
from usage_monitor.leegality.client import LeegalityClient, default_retry
from usage_monitor.leegality.minting import TokenMinter
from usage_monitor.leegality.throttle import RequestThrottle
from usage_monitor.leegality.tokens import TokenSource, powertools_secret_fetcher
from usage_monitor.leegality.trust import pool_manager, read_ca_bundle
from usage_monitor.messages.figures import iso
from usage_monitor.observability import logger, metrics
from usage_monitor.settings import Settings
from usage_monitor.storage.sns import SnsNotifier
from usage_monitor.storage.store import DynamoStore

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from usage_monitor.fleet.fanout import Chunk, SqsDispatcher
    from usage_monitor.reports.jobs import DigestSender

CONFIGURED_LISTS = "LICENSE_IDS and the LICENSE_LIST_S3_URI list"
IDEMPOTENCY_PARTITION = "idempotency#usage-monitor"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600  # Longer than Lambda's async retries (up to 6 h) and Scheduler's.

_T = TypeVar("_T")
RunOnce = Callable[..., dict[str, Any]]
ProcessBatch = Callable[[Mapping[str, Any], Any], dict[str, Any]]
"""(SQS event, Lambda context) → the partial batch response `{"batchItemFailures": [...]}`."""


@dataclass(frozen=True)
class Wired:
    settings: Settings
    monitor: Monitor
    run_once: RunOnce
    process_batch: ProcessBatch


def wire(settings: Settings, session: Any = None) -> Wired:
    import boto3
    from botocore.config import Config

    from usage_monitor.storage.dynamo import DynamoTable  # imports boto3: at wiring, like boto3 itself

    session = session or boto3.session.Session()
    # Standard mode retries throttling and transient errors with backoff on every AWS call.
    aws_config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
    # The low-level client, shared by the store and idempotency: the resource layer would double the
    # first invocation's set-up cost for the same requests (see usage_monitor.storage.dynamo).
    dynamodb_client = session.client("dynamodb", config=aws_config)
    throttle = RequestThrottle(settings.max_requests_per_second)
    ca_bundle = None
    if settings.ca_bundle_parameter:
        ssm = session.client("ssm", config=aws_config)
        ca_bundle = read_ca_bundle(settings.ca_bundle_parameter, ssm, settings.secret_cache_seconds)
    client = LeegalityClient(
        settings.base_url,
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
        max_connections=settings.max_concurrency,
        retry=default_retry(settings.retry_backoff_seconds, settings.retry_after_cap_seconds, throttle),
        http=pool_manager(settings.max_concurrency, ca_bundle),
        throttle=throttle,
        auth_header=settings.auth_header,
    )
    monitor = Monitor(
        tokens=TokenSource(
            settings.tokens_secret_id,
            powertools_secret_fetcher(
                settings.secret_cache_seconds, session.client("secretsmanager", config=aws_config)
            ),
            known_licenses=settings.license_ids,
        ),
        client=client,
        minter=TokenMinter.sharing(client, settings.base_url, max_age_seconds=settings.token_max_age_seconds),
        store=DynamoStore(DynamoTable(dynamodb_client, settings.snapshot_table), settings.snapshot_retention_days),
        notifier=SnsNotifier(settings.alert_topic_arn, lambda: session.client("sns", config=aws_config)),
        config=RunConfig.from_settings(settings),
    )
    # Optional adapters: their clients exist only when their setting is set.
    license_list = (
        LicenseListSource(
            settings.license_list_s3_uri,
            session.client("s3", config=aws_config),
            max_age_seconds=settings.secret_cache_seconds,
        )
        if settings.license_list_s3_uri
        else None
    )
    dispatcher = None
    if settings.fanout_queue_url:
        from usage_monitor.fleet.fanout import SqsDispatcher

        dispatcher = SqsDispatcher(settings.fanout_queue_url, session.client("sqs", config=aws_config))
    scheduled = ScheduledRun(settings, monitor, license_list, dispatcher)
    return Wired(
        settings,
        monitor,
        idempotent_run(settings, scheduled, dynamodb_client),
        # Built on the worker's first batch: the scheduled function never loads batch processing.
        _built_on_first_call(lambda: chunk_worker(settings, monitor, dynamodb_client)),
    )


def _built_on_first_call(build: Callable[[], ProcessBatch]) -> ProcessBatch:
    built: list[ProcessBatch] = []

    def process_batch(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        if not built:
            built.append(build())
        return built[0](event, context)

    return process_batch


class ScheduledRun:
    """One invocation of the scheduled function: check the licenses here, or dispatch them to workers.

    Monitor takes its static license IDs once, at construction, and resolves the rest per run from the
    `RunRequest` (`request.license_ids or LICENSE_IDS or the secret's licenses`). Rather than teach it a
    third source, the S3 list is read here, per run (cached like the secret, revalidated by ETag), and
    `LICENSE_IDS` + the list goes into `RunRequest.license_ids` (with the entries skipped, `fleet` set) when
    the event names no licenses. When both are empty, `license_ids` stays None so Monitor falls back to the
    secret's licenses as before.

    With `FANOUT_QUEUE_URL` set, runs are dispatched as chunks to SQS instead (see `fanout`), except a
    manual run whose override fits in one chunk, which is checked in place so its caller sees the result.
    A digest request (`"action": "digest"`) sends the weekly usage digest of the same licenses instead.

    A license list or dispatch failure fails the run, after the same run-level `check_failed` alert
    Monitor sends for an unreadable secret.
    """

    def __init__(
        self,
        settings: Settings,
        monitor: Monitor,
        license_list: LicenseListSource | None,
        dispatcher: SqsDispatcher | None,
    ) -> None:
        self.settings = settings
        self.monitor = monitor
        self.license_list = license_list
        self.dispatcher = dispatcher

    @cached_property
    def digest(self) -> DigestSender:
        """Built on the first digest request: scheduled runs never load the reports package."""
        from usage_monitor.reports.jobs import DigestSender

        monitor = self.monitor
        return DigestSender(
            monitor.store,
            monitor.notifier,
            monitor.config.policy,
            forecast_history=monitor.config.forecast_history,
            workers=self.settings.max_concurrency,
        )

    def __call__(self, request: RunRequest, remaining_seconds: RemainingSeconds) -> dict[str, Any]:
        if request.digest:  # the weekly digest: every license, read from the table, never dispatched
            ids = self._guarded(request, lambda: self._every_license(request).ids)
            return self.digest.send(ids, request.captured_at)
        override = request.license_ids
        if self.dispatcher is not None and not (override and len(override) <= self.settings.fanout_chunk_size):
            return self.dispatch(request, self.dispatcher)
        if override is None and self.license_list is not None:
            source = self.license_list
            listed = self._guarded(
                request, lambda: (self._configured() + source.load()).require_valid(CONFIGURED_LISTS)
            )
            request = replace(request, license_ids=listed.ids or None, skipped=listed.skipped, fleet=True)
        return self.monitor.run(request, remaining_seconds).to_dict()

    def _configured(self) -> LicenseList:
        return LicenseList(self.settings.license_ids, self.settings.license_ids_skipped)

    def dispatch(self, request: RunRequest, dispatcher: SqsDispatcher) -> dict[str, Any]:
        from usage_monitor.fleet.fanout import plan_chunks

        def plan() -> tuple[LicenseList, list[Chunk]]:
            listed = self._every_license(request)
            # A manual run has no scheduler execution id; the chunks still need one for idempotency.
            run_id = request.run_id or f"manual-{uuid.uuid4()}"
            size = self.settings.fanout_chunk_size
            return listed, plan_chunks(request.captured_at, run_id, listed.ids, size, fleet=not request.license_ids)

        listed, chunks = self._guarded(request, plan)
        alerts = 0
        if not request.license_ids:
            # Workers see chunks only: the dispatcher speaks for the configured list.
            problem = list_problem(listed.skipped, listed.entries, self.settings.config_problem_critical_percent)
            alerts = self.monitor.report_problem(ProblemKind.CONFIG, problem, request.captured_at)
        calls = self._guarded(request, lambda: dispatcher.send(chunks))
        dispatched = sum(len(c.license_ids) for c in chunks)
        metrics.add_metric(name="LicensesDispatched", unit=MetricUnit.Count, value=dispatched)
        # The same report as a run checked in place: skipped and repeated entries logged and summarised.
        run = RunSummary(captured_at=iso(request.captured_at), alerts=alerts)
        report_list(listed, run)
        summary = {**run.to_dict(), "dispatched": dispatched, "chunks": len(chunks)}
        logger.info("run dispatched", extra={**summary, "send_message_batch_calls": calls})
        return summary

    def _every_license(self, request: RunRequest) -> LicenseList:
        use_list = self.license_list is not None and not request.license_ids
        return resolve_license_ids(
            request.listed,
            self._configured(),
            self.license_list.load() if use_list and self.license_list is not None else LicenseList(),
            named=lambda: self.monitor.tokens.load().license_list,
        )

    def _guarded(self, request: RunRequest, step: Callable[[], _T]) -> _T:
        try:
            return step()
        except MonitorError as exc:  # ConfigError, SecretUnavailable, LicenseListUnavailable, DispatchFailed
            self.monitor.alert_run_failed(exc, request.captured_at)
            raise


def _persistence(settings: Settings, dynamodb_client: Any) -> Any:
    """Idempotency records live in the snapshot table under their own partition key."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(
        table_name=settings.snapshot_table,
        key_attr="license_id",
        sort_key_attr="captured_at",
        static_pk_value=IDEMPOTENCY_PARTITION,
        expiry_attr="expires_at",
        boto3_client=dynamodb_client,
    )


def idempotent_run(
    settings: Settings, action: Callable[[RunRequest, RemainingSeconds], dict[str, Any]], dynamodb_client: Any
) -> RunOnce:
    """A redelivered scheduled event (same `id` and `time`) returns the first run's summary.

    The whole action is covered, license list and dispatch included: a redelivered event neither
    checks nor dispatches anything twice. Manual runs carry neither field and are never deduplicated.
    """
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    config = IdempotencyConfig(event_key_jmespath="[id, time]", expires_after_seconds=IDEMPOTENCY_TTL_SECONDS)

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="event", persistence_store=_persistence(settings, dynamodb_client), config=config
    )
    def run_once(
        *, event: dict[str, Any], request: RunRequest, remaining_seconds: RemainingSeconds, context: Any = None
    ) -> dict[str, Any]:
        return action(request, remaining_seconds)

    def call(**kwargs: Any) -> dict[str, Any]:
        context = kwargs.get("context")
        if context is not None:
            config.register_lambda_context(context)
        summary: dict[str, Any] = run_once(**kwargs)
        return summary

    return call


def chunk_worker(settings: Settings, monitor: Monitor, dynamodb_client: Any) -> ProcessBatch:
    """The SQS worker: each record is one chunk, run by the ordinary `Monitor.run`.

    Powertools batch processing reports a failed record (bad body, unreadable secret, ...) in
    `batchItemFailures`, so SQS retries that chunk alone; after 3 receives it lands in the dead-letter
    queue. A redelivered chunk (run_id, captured_at, chunk) that already succeeded returns its stored
    summary without checking again; snapshots are keyed by `captured_at` and alert writes are conditional
    anyway, so even a repeat would not duplicate data or alerts.
    """
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    from usage_monitor.fleet.fanout import parse_chunk

    # The response always lists the failed chunks, even when every record failed, rather than raising.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    config = IdempotencyConfig(
        event_key_jmespath="[run_id, captured_at, chunk]", expires_after_seconds=IDEMPOTENCY_TTL_SECONDS
    )

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="work", persistence_store=_persistence(settings, dynamodb_client), config=config
    )
    def run_chunk(*, work: dict[str, Any], chunk: Chunk, remaining_seconds: RemainingSeconds | None) -> dict[str, Any]:
        return monitor.run(chunk.request(), remaining_seconds).to_dict()

    def record_handler(record: SQSRecord, lambda_context: Any = None) -> dict[str, Any]:
        try:
            chunk = parse_chunk(record.body)
        except MonitorError:
            logger.exception("work message rejected", extra={"message_id": record.message_id})
            metrics.add_metric(name="WorkChunksFailed", unit=MetricUnit.Count, value=1)
            raise
        keys = {"run_id": chunk.run_id, "chunk": f"{chunk.chunk}/{chunk.chunks}", "message_id": record.message_id}
        logger.append_keys(**keys)
        try:
            summary: dict[str, Any] = run_chunk(
                work=chunk.body(), chunk=chunk, remaining_seconds=_remaining(lambda_context)
            )
        except Exception:
            logger.exception("work chunk failed; SQS will retry it")
            metrics.add_metric(name="WorkChunksFailed", unit=MetricUnit.Count, value=1)
            raise
        finally:
            logger.remove_keys(list(keys))
        return summary

    def process_batch(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        if context is not None:
            config.register_lambda_context(context)
        response: dict[str, Any] = dict(
            process_partial_response(
                event=dict(event), record_handler=record_handler, processor=processor, context=context
            )
        )
        return response

    return process_batch


def _remaining(context: Any) -> RemainingSeconds | None:
    if context is None:
        return None
    return lambda: context.get_remaining_time_in_millis() / 1000
