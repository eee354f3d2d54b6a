"""The benchmark's function process (`python -m local.bench_function CONFIG_PATH`): the real handler, alone.

Run by `local.benchmark`, never by hand. The process imports the handler, invokes it once per entry of
the config's `runs` (a warm container: module state and caches persist between runs, as in Lambda) and
writes what it measured to the config's `result_path` as JSON. AWS is a moto server in another process
(reached through `AWS_ENDPOINT_URL`), Leegality the simulator in a third, so this process's CPU time and
peak RSS are the function's own.

Measurement aids, installed before the handler is imported and cheap next to what they time:
- every botocore API call is counted, timed and its retries summed, by service and operation;
- `LeegalityClient.check` is wrapped to record when each license's check started and ended, so a run's
  wall time splits into set-up (before the first check), the checks, and the tail (after the last one).
"""

from __future__ import annotations

import cProfile
import gc
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class ApiCounter:
    """Counts `BaseClient._make_api_call` per (service, operation): calls, seconds, retry attempts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: dict[str, dict[str, list[float]]] = {}

    def reset(self) -> None:
        with self._lock:
            self.calls = {}

    def install(self) -> None:
        from botocore.client import BaseClient
        from botocore.exceptions import ClientError

        original: Callable[..., Any] = getattr(BaseClient, "_make_api_call")  # noqa: B009
        counter = self

        def counted(client: Any, operation_name: str, api_params: Any) -> Any:
            started = time.perf_counter()
            retries = 0
            try:
                response = original(client, operation_name, api_params)
            except ClientError as exc:
                retries = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
                raise
            else:
                if isinstance(response, dict):
                    retries = int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
                return response
            finally:
                counter._add(
                    client.meta.service_model.service_name, operation_name, time.perf_counter() - started, retries
                )

        setattr(BaseClient, "_make_api_call", counted)  # noqa: B010

    def _add(self, service: str, operation: str, seconds: float, retries: int) -> None:
        with self._lock:
            entry = self.calls.setdefault(service, {}).setdefault(operation, [0, 0.0, 0])
            entry[0] += 1
            entry[1] += seconds
            entry[2] += retries


class CheckClock:
    """Start and end (perf_counter) of every license check, from the worker threads."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []

    def install(self) -> None:
        from usage_monitor.leegality.client import LeegalityClient

        original: Callable[..., Any] = LeegalityClient.check
        spans = self.spans

        def timed(client: Any, license_id: str, token: str, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(client, license_id, token, **kwargs)
            finally:
                spans.append((started, time.perf_counter()))  # list.append is atomic under the GIL

        setattr(LeegalityClient, "check", timed)  # noqa: B010

    def summary(self, run_started: float, run_ended: float) -> dict[str, float]:
        spans = sorted(self.spans)
        if not spans:
            return {"count": 0}
        durations = sorted(end - start for start, end in spans)
        first_start = spans[0][0]
        last_end = max(end for _, end in spans)
        busy = sum(durations)
        return {
            "count": len(spans),
            "setup_s": first_start - run_started,
            "span_s": last_end - first_start,
            "tail_s": run_ended - last_end,
            "mean_s": busy / len(durations),
            "p50_s": durations[len(durations) // 2],
            "p99_s": durations[min(len(durations) - 1, int(len(durations) * 0.99))],
            "max_s": durations[-1],
            "concurrency": busy / max(last_end - first_start, 1e-9),
        }


class GcClock:
    """Time spent in the cyclic garbage collector, and collections per generation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0

    def install(self) -> None:
        gc.callbacks.append(self._callback)

    def reset(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1


def proc_status_kb(field: str) -> int:
    """VmHWM (peak resident set) or VmRSS of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux reports KiB as well


def cpu_times() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime, usage.ru_stime


def stdout_bytes() -> int:
    sys.stdout.flush()
    try:
        return os.fstat(sys.stdout.fileno()).st_size
    except OSError:
        return 0


def main(argv: list[str]) -> int:
    config: dict[str, Any] = json.loads(Path(argv[0]).read_text())
    counter = ApiCounter()
    counter.install()
    started = time.perf_counter()
    from usage_monitor import app  # the handler module, as Lambda imports it

    import_seconds = time.perf_counter() - started
    from local.aws import FakeContext
    from usage_monitor.observability import logger

    clock = CheckClock()
    clock.install()
    collector = GcClock()
    collector.install()
    result: dict[str, Any] = {
        "import_s": import_seconds,
        "rss_after_import_kb": proc_status_kb("VmRSS"),
        "runs": [],
    }
    for spec in config["runs"]:
        logger.setLevel(spec.get("log_level", "WARNING"))
        counter.reset()
        clock.spans.clear()
        collector.reset()
        event = {
            "source": "aws.scheduler",
            "detail-type": "Scheduled Event",
            "id": spec["id"],
            "time": spec["time"],
            "detail": {},
        }
        log_before = stdout_bytes()
        profiler = cProfile.Profile() if spec.get("profile_path") else None
        user0, sys0 = cpu_times()
        context = FakeContext(timeout_seconds=float(config.get("timeout_seconds", 300)), memory_limit_in_mb=256)
        run_started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        summary = app.lambda_handler(event, context)
        if profiler is not None:
            profiler.disable()
        run_ended = time.perf_counter()
        user1, sys1 = cpu_times()
        if profiler is not None:
            profiler.dump_stats(spec["profile_path"])
        result["runs"].append(
            {
                "name": spec["name"],
                "wall_s": run_ended - run_started,
                "cpu_user_s": user1 - user0,
                "cpu_sys_s": sys1 - sys0,
                "checked": summary.get("checked"),
                "failed": len(summary.get("failed") or []),
                "alerts": summary.get("alerts"),
                # a fan-out dispatch (FANOUT_QUEUE_URL set) checks nothing and reports what it queued
                **{key: summary[key] for key in ("dispatched", "chunks") if key in summary},
                "calls": counter.calls,
                "checks": clock.summary(run_started, run_ended),
                "rss_hwm_kb": proc_status_kb("VmHWM"),
                "rss_kb": proc_status_kb("VmRSS"),
                "log_bytes": stdout_bytes() - log_before,
                "threads_after": threading.active_count(),
                "gc_s": collector.seconds,
                "gc_collections": list(collector.collections),
            }
        )
    Path(config["result_path"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
