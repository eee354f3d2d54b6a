"""Lambda entry points: wire settings, AWS clients and the monitor, then run one check.

`lambda_handler` is the scheduled function (a run, or with fan-out on, a dispatch of chunks to SQS);
`worker_handler` is the fan-out worker, fed those chunks by an SQS event source mapping.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from usage_monitor.events import parse_event
from usage_monitor.observability import get_tracer, logger, metrics
from usage_monitor.settings import Settings
from usage_monitor.settings_alarm import built_or_alert
from usage_monitor.wiring import Wired, wire

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

_wired: Wired | None = None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Scheduled (Scheduler or classic EventBridge) or manual `{"license_ids": [...]}` run."""
    # The Tracer is created here, not at import: it loads the X-Ray SDK (see observability).
    traced: Callable[[Mapping[str, Any], LambdaContext], dict[str, Any]] = get_tracer().capture_lambda_handler(_run)
    return traced(event, context)


def _run(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = datetime.now(UTC)
    wired = built_or_alert(os.environ, now, _wire)
    request = parse_event(event, now)
    return wired.run_once(
        event=dict(event or {}),
        request=request,
        remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
        context=context,
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def worker_handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SQS batch of work chunks → `{"batchItemFailures": [...]}` naming the chunks to retry."""
    traced: Callable[[Mapping[str, Any], LambdaContext], dict[str, Any]] = get_tracer().capture_lambda_handler(_work)
    return traced(event, context)


def _work(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A worker that cannot be built fails every chunk: alerted like the scheduled run's settings error.
    return built_or_alert(os.environ, datetime.now(UTC), _wire).process_batch(event, context)


def _wire(settings: Settings) -> Wired:
    """Clients and caches are built once per container, so warm runs reuse the secret cache."""
    global _wired
    if _wired is None or _wired.settings != settings:
        _wired = wire(settings)
    return _wired


def reset() -> None:
    """Forget cached clients (each test starts its own moto mock)."""
    global _wired
    _wired = None
