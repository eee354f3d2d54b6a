"""One run of the monitor: check every license, store snapshots, notify what changed.

Pure rules live in `alerts`; this module sequences the adapters and makes sure one license's trouble
never stops the others.
"""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from usage_monitor.alerting.forecast import Forecast, UsagePoint, forecast
from usage_monitor.alerting.rules import evaluate
from usage_monitor.alerting.run_problems import evaluate_problem, run_problems
from usage_monitor.alerting.types import Alert, AlertState, ChangeKind, Evaluation, ProblemKind, RunProblem
from usage_monitor.core.aws_limits import SUMMARY_LIST_MAX, first_entries
from usage_monitor.core.errors import ConfigError, SecretUnavailable
from usage_monitor.core.license_entries import LicenseList
from usage_monitor.core.models import RUN_SCOPE, CheckError, CheckResult, FailureKind
from usage_monitor.events import RunRequest
from usage_monitor.fleet.check_pool import CheckPool, RemainingSeconds
from usage_monitor.fleet.delivery import AlertDelivery, Notifier
from usage_monitor.fleet.licenses import resolve_license_ids
from usage_monitor.fleet.notifying import deliver_evaluation
from usage_monitor.fleet.run_config import RunConfig, deadline_margin
from usage_monitor.leegality.credentials import RunCredentials, UsageClient
from usage_monitor.leegality.minting import TokenMinter
from usage_monitor.leegality.tokens import TokenBook, TokenSource
from usage_monitor.messages.figures import iso, usage_text
from usage_monitor.observability import FleetMetrics, log_every_entry, logger, metrics
from usage_monitor.storage.store import DynamoStore, StoredState, usage_points


@dataclass
class RunSummary:
    captured_at: str
    checked: int = 0
    failed: list[str] = field(default_factory=list)
    alerts: int = 0
    publish_failures: int = 0
    # List entries not checked (escaped), repeats checked once, licenses not reached before the deadline.
    skipped: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    unchecked: int = 0
    tokens_minted: int = 0
    damped: int = 0

    def to_dict(self) -> dict[str, Any]:
        extra = {
            # Count and first entries: the log names every one, the summary (the idempotency record) cannot.
            "skipped": first_entries(self.skipped, SUMMARY_LIST_MAX),
            "repeated": first_entries(self.repeated, SUMMARY_LIST_MAX),
            "unchecked": self.unchecked,
            "tokens_minted": self.tokens_minted,
        }
        return {
            "captured_at": self.captured_at,
            "checked": self.checked,
            "failed": self.failed,
            "alerts": self.alerts,
            **{key: value for key, value in extra.items() if value},
        }


class Monitor:
    """One run over the fleet; `config` holds its rules and limits, the rest are its adapters."""

    def __init__(
        self,
        *,
        tokens: TokenSource,
        client: UsageClient,
        store: DynamoStore,
        notifier: Notifier,
        config: RunConfig,
        minter: TokenMinter | None = None,
    ) -> None:
        self.tokens = tokens
        self.minter = minter
        self.client = client
        self.store = store
        self.notifier = notifier
        self.delivery = AlertDelivery(store, notifier)
        self.config = config

    def run(self, request: RunRequest, remaining_seconds: RemainingSeconds | None = None) -> RunSummary:
        summary = RunSummary(captured_at=iso(request.captured_at))
        try:
            book = self.tokens.load()
            listed = self._license_ids(request, book)
        except (SecretUnavailable, ConfigError) as exc:
            self.alert_run_failed(exc, request.captured_at, summary)
            raise
        license_ids = listed.ids
        credentials = RunCredentials(book, self.tokens.secret_id, self.minter, self.tokens.refresh)
        fleet = FleetMetrics(top_licenses=self.config.metrics_top_licenses)
        # Alert state is read (BatchGetItem, 100 keys a call) while the first checks are in flight.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="state") as loader:
            run_keys = (RUN_SCOPE, *(kind.state_key for kind in ProblemKind))
            loading = loader.submit(self.store.load_states, (*license_ids, *run_keys))
            margin = deadline_margin(
                self.config.deadline_margin_seconds, None if remaining_seconds is None else remaining_seconds()
            )
            pool = CheckPool(self.client, self.tokens, self.config.max_concurrency, margin)
            checks = pool.results(license_ids, credentials, remaining_seconds)
            first = next(checks, None)
            states = loading.result()
        with self.store.snapshot_writer() as snapshots:
            for result in chain([first] if first is not None else [], checks):
                if result.error is not None and result.error.kind is FailureKind.DEADLINE:
                    # Not reached: a run-level capacity problem, not this license's failure (no alert state).
                    summary.unchecked += 1
                    if self._before_deadline(remaining_seconds, margin / 2):
                        snapshots.put(result, request.captured_at)
                    continue
                stored = states.get(result.license_id, StoredState(AlertState()))
                forecasts, evaluation = self._forecasts_for(result, stored.state, request.captured_at)
                stored_as = snapshots.put(result, request.captured_at, forecasts)
                if stored_as is not result:  # not storable as answered: a failed check like any other
                    result, forecasts, evaluation = stored_as, None, None
                self._record(result, summary, fleet, forecasts)
                summary.alerts += self._notify(
                    result, stored, request.captured_at, summary, forecasts, fleet, evaluation
                )
        report_rejected(snapshots.rejected, summary)
        # The run as a whole worked: a notified run failure gets its `recovered` notice.
        run_state = states.get(RUN_SCOPE, StoredState(AlertState()))
        summary.alerts += self._notify(
            CheckResult(RUN_SCOPE, request.captured_at), run_state, request.captured_at, summary, None, fleet
        )
        report_list(listed, summary)
        # Only a run over the configured fleet can tell that its list is clean again (not a chunk or an override).
        fleet_run = request.fleet or not request.license_ids
        capacity = (self.config.max_concurrency, self.config.fan_out_chunk_size)
        problems = run_problems(
            listed, fleet_run, summary.unchecked, self.config.config_problem_critical_percent, capacity
        )
        for kind, problem in problems.items():
            known: dict[str, StoredState] | None = states
            may_recover = fleet_run
            if kind is ProblemKind.CAPACITY and problem is None and self._dispatch_in_time(request):
                # The last chunk of a fleet dispatch that all reached every license: the fleet fits again.
                # Its state is read afresh, since other chunks ran since this one read it.
                may_recover = True
                known = None
            summary.alerts += self.report_problem(
                kind, problem, request.captured_at, summary, known, fleet, may_recover=may_recover
            )
        summary.tokens_minted = credentials.tokens_minted
        self._emit_run_metrics(summary, fleet)
        metrics.add_metric(name="TokensMinted", unit=MetricUnit.Count, value=credentials.tokens_minted)
        metrics.add_metric(name="TokenEndpointFailures", unit=MetricUnit.Count, value=credentials.endpoint_failures)
        logger.info("run finished", extra={**summary.to_dict(), "publish_failures": summary.publish_failures})
        return summary

    def alert_run_failed(self, exc: Exception, captured_at: datetime, summary: RunSummary | None = None) -> None:
        """Try to tell subscribers that nothing is being checked; never hides the original error.

        Sent once (license `*`), with a `recovered` notice after the next good run. Public because the
        steps before a run (reading the license list, dispatching chunks) fail the same way.
        """
        summary = summary or RunSummary(captured_at=iso(captured_at))
        try:
            stored = self.store.load_states([RUN_SCOPE]).get(RUN_SCOPE, StoredState(AlertState()))
            error = CheckError(FailureKind.RUN_FAILED, str(exc))
            self._notify(CheckResult(RUN_SCOPE, captured_at, error=error), stored, captured_at, summary)
        except Exception:
            logger.exception("could not alert about the failed run")

    def report_problem(
        self,
        kind: ProblemKind,
        problem: RunProblem | None,
        captured_at: datetime,
        summary: RunSummary | None = None,
        states: dict[str, StoredState] | None = None,
        fleet: FleetMetrics | None = None,
        *,
        may_recover: bool = True,
    ) -> int:
        """Alert a run-level problem (None: none this run) once per change; returns alerts published.

        Public because a settings error, found before any run, is reported the same way.
        """
        key = kind.state_key
        if states is None:
            states = self.store.load_states([key])
        stored = states.get(key, StoredState(AlertState()))
        evaluation = evaluate_problem(
            kind, problem, stored.state, self.config.policy, captured_at, may_recover=may_recover
        )
        summary = summary or RunSummary(captured_at=iso(captured_at))
        return self._notify(CheckResult(key, captured_at), stored, captured_at, summary, None, fleet, evaluation)

    def _dispatch_in_time(self, request: RunRequest) -> bool:
        """For a chunk of a fleet dispatch that reached every license: records it, and says whether every
        chunk of that dispatch now has (the dispatcher knows the dispatch, each worker only its chunk)."""
        if request.chunk is None or not request.dispatch_of_fleet or request.run_id is None:
            return False
        try:
            return self.store.chunk_in_time(request.run_id, request.captured_at, *request.chunk)
        except Exception:  # Never worth the chunk's results: the next dispatch can clear the problem.
            logger.exception("could not record the chunk as checked in time", extra={"run_id": request.run_id})
            return False

    def _license_ids(self, request: RunRequest, book: TokenBook) -> LicenseList:
        if request.listed is not None:
            return request.listed
        configured = LicenseList(self.config.license_ids, self.config.license_ids_skipped)
        return resolve_license_ids(None, configured, LicenseList(), lambda: book.license_list)

    @staticmethod
    def _before_deadline(remaining_seconds: RemainingSeconds | None, reserve: float) -> bool:
        return remaining_seconds is None or remaining_seconds() > reserve

    def _record(
        self,
        result: CheckResult,
        summary: RunSummary,
        fleet: FleetMetrics,
        forecasts: dict[str, Forecast] | None,
    ) -> None:
        summary.checked += 1
        if result.error is not None:
            summary.failed.append(result.license_id)
            logger.warning(
                "license check failed",
                extra={
                    "license_id": result.license_id,
                    "failure": result.error.kind.value,
                    "http_status": result.error.http_status,
                    "code": result.error.code,
                    "detail_code": result.error.detail_code,
                    "error": result.error.message,
                },
            )
            return
        fleet.observe_usage(
            result.license_id, {r.name: float(r.percent) for r in result.resources if r.percent is not None}
        )
        for name, outlook in (forecasts or {}).items():
            if outlook.days_to_limit is not None:
                fleet.observe_days_to_limit(name, float(outlook.days_to_limit))
        problems = [p for r in result.resources for p in r.problems] + list(result.problems)
        # A healthy license logs at DEBUG: at INFO, one line per license per run is most of the log bill
        # of a large fleet, and the snapshot already holds the same figures.
        alerting = any(self.config.policy.level_of(r, result.license_id) is not None for r in result.resources)
        log = logger.warning if problems else logger.info if alerting else logger.debug
        log(
            "license checked",
            extra={
                "license_id": result.license_id,
                "usage": {r.name: usage_text(r) for r in result.resources},
                **({"problems": problems} if problems else {}),
            },
        )

    def _forecasts_for(
        self, result: CheckResult, state: AlertState, captured_at: datetime
    ) -> tuple[dict[str, Forecast] | None, Evaluation | None]:
        """Forecasts when this run is the license's forecast slot, or when an alert will cite one.

        Also returns the evaluation without forecasts when deciding needed it and it stays valid (no
        forecast made), so the license is not evaluated twice.
        """
        if result.error is not None or not any(r.evaluable for r in result.resources):
            return None, None
        # A license whose last alert SNS refused decides again now, forecast included (see AlertState.refused_at).
        if not self._forecast_slot(result.license_id, captured_at) and state.refused_at is None:
            plain = evaluate(result, state, self.config.policy, captured_at)
            if not _will_alert_on_thresholds(plain.alert):
                return None, plain
        try:
            items = self.store.history(result.license_id, captured_at - self.config.forecast_history)
        except Exception:  # A forecast is never worth losing the license's snapshot or alert over.
            logger.exception("could not read usage history for a forecast", extra={"license_id": result.license_id})
            return None, None
        points = usage_points(item for item in items if item.get("captured_at") != iso(captured_at))
        outlooks: dict[str, Forecast] = {}
        for resource in result.resources:
            if resource.current is None:
                continue
            series = [*points.get(resource.name, []), UsagePoint(captured_at, resource.current, resource.limit)]
            outlooks[resource.name] = forecast(series, captured_at)
        return outlooks, None

    def _forecast_slot(self, license_id: str, captured_at: datetime) -> bool:
        return forecast_slot(license_id, captured_at, self.config.forecast_interval, self.config.schedule_minutes)

    def _notify(
        self,
        result: CheckResult,
        stored: StoredState,
        captured_at: datetime,
        summary: RunSummary,
        forecasts: dict[str, Forecast] | None = None,
        fleet: FleetMetrics | None = None,
        evaluation: Evaluation | None = None,
    ) -> int:
        """Decide what changed and hand it to the delivery transaction; returns alerts published."""
        license_id = result.license_id
        state = stored.state
        if evaluation is None:
            evaluation = evaluate(result, state, self.config.policy, captured_at, forecasts)
        summary.damped += evaluation.damped
        alert, delivered = deliver_evaluation(self.delivery, license_id, stored, evaluation, captured_at)
        summary.publish_failures += delivered.publish_failures
        if alert is None or delivered.message_id is None:
            return delivered.published
        logger.info(
            "alert published",
            extra={
                "license_id": license_id,
                "event_type": alert.event_type.value,
                "severity": alert.severity.value,
                "message_id": delivered.message_id,
            },
        )
        if fleet is not None:
            fleet.alerts_by_type[alert.event_type.value] += 1
        return delivered.published

    def _emit_run_metrics(self, summary: RunSummary, fleet: FleetMetrics) -> None:
        metrics.add_metric(name="ChecksSucceeded", unit=MetricUnit.Count, value=summary.checked - len(summary.failed))
        metrics.add_metric(name="ChecksFailed", unit=MetricUnit.Count, value=len(summary.failed))
        metrics.add_metric(name="AlertsPublishedTotal", unit=MetricUnit.Count, value=summary.alerts)
        metrics.add_metric(name="AlertPublishFailures", unit=MetricUnit.Count, value=summary.publish_failures)
        metrics.add_metric(name="LicensesUnchecked", unit=MetricUnit.Count, value=summary.unchecked)
        metrics.add_metric(name="AlertsDamped", unit=MetricUnit.Count, value=summary.damped)
        fleet.emit()


def forecast_slot(license_id: str, captured_at: datetime, interval: timedelta, schedule_minutes: int) -> bool:
    """Whether this run is the license's turn for its routine forecast.

    The runs of one `interval` are numbered by their scheduled time; each license takes the run whose
    number matches a hash of its ID. So every license is forecast once per interval, about 1/96 of the
    fleet per run at 15-minute runs and a daily interval, with no state to read or write, and every
    fan-out chunk of a run agrees (they share `captured_at`).
    """
    slots = max(int(interval.total_seconds() // 60) // schedule_minutes, 1)
    run_number = int(captured_at.timestamp()) // 60 // schedule_minutes
    return zlib.crc32(license_id.encode()) % slots == run_number % slots


def _will_alert_on_thresholds(alert: Alert | None) -> bool:
    return alert is not None and any(
        c.kind in (ChangeKind.CROSSED, ChangeKind.REMINDER) for c in alert.resource_changes
    )


def report_list(listed: LicenseList, summary: RunSummary) -> None:
    """What a run says about its list, whether it checks it in place or dispatches it: every skipped entry
    in the log, the invalid and the repeated ones in the summary, their counts as metrics."""
    if listed.skipped:
        described = [s.describe() for s in listed.skipped]
        log_every_entry(logger.warning, "license list entries skipped", "skipped", described)
    summary.skipped = [s.escaped for s in listed.invalid]
    summary.repeated = [s.escaped for s in listed.skipped if s.duplicate]
    metrics.add_metric(name="LicenseEntriesSkipped", unit=MetricUnit.Count, value=len(summary.skipped))
    metrics.add_metric(name="LicenseEntriesRepeated", unit=MetricUnit.Count, value=len(summary.repeated))


def report_rejected(license_ids: list[str], summary: RunSummary) -> None:
    """Snapshots DynamoDB refused even one by one (each logged by the writer) count as failed checks."""
    for license_id in license_ids:
        if license_id not in summary.failed:
            summary.failed.append(license_id)
    if license_ids:
        metrics.add_metric(name="SnapshotsRejected", unit=MetricUnit.Count, value=len(license_ids))
