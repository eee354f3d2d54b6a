"""What one run is told by its settings, taken from `Settings` once rather than field by field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from usage_monitor.alerting.types import AlertPolicy
from usage_monitor.core.license_entries import SkippedEntry
from usage_monitor.settings import Settings


@dataclass(frozen=True)
class RunConfig:
    """The rules and limits of a run: alert policy, the configured list, concurrency, deadline, forecasts."""

    policy: AlertPolicy
    license_ids: tuple[str, ...] = ()
    license_ids_skipped: tuple[SkippedEntry, ...] = ()
    max_concurrency: int = 16
    deadline_margin_seconds: float = 20.0
    forecast_history: timedelta = timedelta(days=14)
    forecast_interval: timedelta = timedelta(hours=24)
    schedule_minutes: int = 15
    metrics_top_licenses: int = 3
    config_problem_critical_percent: float = 10.0
    # FanOut's chunk size, None when FanOut is off.
    fan_out_chunk_size: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RunConfig:
        return cls(
            policy=AlertPolicy.from_settings(settings),
            license_ids=settings.license_ids,
            license_ids_skipped=settings.license_ids_skipped,
            max_concurrency=settings.max_concurrency,
            deadline_margin_seconds=settings.deadline_margin_seconds,
            forecast_history=timedelta(days=settings.forecast_history_days),
            forecast_interval=timedelta(hours=settings.forecast_interval_hours),
            schedule_minutes=settings.schedule_minutes,
            metrics_top_licenses=settings.metrics_top_licenses,
            config_problem_critical_percent=settings.config_problem_critical_percent,
            fan_out_chunk_size=settings.fanout_chunk_size if settings.fanout_queue_url else None,
        )


def deadline_margin(configured: float, remaining_seconds: float | None) -> float:
    """The run's safety margin: the configured one, but at most a quarter of the time the run has, so an
    invocation with less than the margin left still checks what it can."""
    return configured if remaining_seconds is None else max(min(configured, remaining_seconds / 4), 0.0)
