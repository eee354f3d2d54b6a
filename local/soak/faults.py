"""The soak's AWS-side faults (botocore hooks), and what it watches: output, secrets, memory.

SNS faults are `before-call` hooks, as in tests/integration/test_pending_alerts.py. DynamoDB throttling is a
`before-send` hook answering ProvisionedThroughputExceededException ahead of moto, every other attempt, so
botocore's standard retry mode (the code's `Config`) retries it as it would the real service.
"""

from __future__ import annotations

import gc
import io
import json
import re
import tracemalloc
from dataclasses import dataclass, field
from typing import Any, cast

from botocore.exceptions import ClientError

JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
SIGNATURE = re.compile(r"[A-Za-z0-9_-]{43}")  # an HS256 signature, base64url without padding


class FunctionKilled(BaseException):
    """Lambda stopping the function (timeout, out of memory) right after a claim: nothing catches it."""


@dataclass
class AwsFaults:
    sns: str = "up"  # up | down | kill (the next Publish ends the invocation)
    throttle_dynamodb: bool = False
    throttled: int = 0
    _flip: bool = False
    _moto_paused: bool = False

    def register(self, session: Any) -> None:
        session.events.register("before-call.sns.Publish", self._publish)
        session.events.register_first("before-send.dynamodb", self._dynamodb)
        session.events.register("needs-retry.dynamodb", self._restore_moto)

    def _publish(self, **_: Any) -> None:
        if self.sns == "kill":
            self.sns = "up"
            raise FunctionKilled
        if self.sns == "down":
            raise ClientError({"Error": {"Code": "InternalError", "Message": "SNS is down"}}, "Publish")

    def _dynamodb(self, request: Any, **_: Any) -> Any:
        if not self.throttle_dynamodb:
            return None
        self._flip = not self._flip
        if not self._flip:
            return None
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse
        from moto.core.models import botocore_stubber

        # botocore calls every before-send handler and keeps the first answer: moto must not also
        # carry out the request it did not answer, or the throttled write would land anyway.
        botocore_stubber.enabled = False
        self._moto_paused = True
        self.throttled += 1
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput for the table was exceeded.",
            }
        )
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "soak-throttled"}
        return AWSResponse(request.url, 400, cast(Any, headers), MockRawResponse(body))

    def _restore_moto(self, **_: Any) -> None:
        if self._moto_paused:
            from moto.core.models import botocore_stubber

            botocore_stubber.enabled = True
            self._moto_paused = False


class OutputCapture(io.TextIOBase):
    """Everything the function prints (Powertools' JSON logs and EMF lines), drained after each run."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._handlers: list[tuple[Any, Any]] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def drain(self) -> str:
        text = "".join(self._parts)
        self._parts.clear()
        return text

    def hold_logger(self) -> None:
        """Point the Powertools logger's handler here (it keeps the stream it was created with)."""
        from usage_monitor.observability import logger

        for handler in logger.handlers:
            if hasattr(handler, "setStream"):
                self._handlers.append((handler, handler.setStream(self)))

    def release_logger(self) -> None:
        for handler, stream in self._handlers:
            handler.setStream(stream)
        self._handlers.clear()


@dataclass
class SecretScanner:
    """Every secret the soak created (client secrets, static tokens, each minted JWT), searched for."""

    fixed: set[str] = field(default_factory=set)
    leaks: list[str] = field(default_factory=list)
    scanned_bytes: int = 0
    _signatures: set[str] = field(default_factory=set)
    _issued_seen: int = 0

    def add(self, *secrets: str) -> None:
        self.fixed.update(s for s in secrets if s)

    def scan(self, text: str, issued: dict[str, Any]) -> None:
        self.scanned_bytes += len(text)
        for secret in self.fixed:
            if secret in text:
                self.leaks.append(f"a configured secret ({len(secret)} characters)")
        for token in JWT.findall(text):
            if token in issued:
                self.leaks.append("a minted JWT")
        if len(issued) > self._issued_seen:  # the issuer's dict keeps insertion order: add the new ones only
            for token in list(issued)[self._issued_seen :]:
                self._signatures.add(token.rsplit(".", 1)[-1])
            self._issued_seen = len(issued)
        for part in SIGNATURE.findall(text):
            if part in self._signatures:
                self.leaks.append("the signature part of a minted JWT")

    def scan_table(self, table: Any) -> None:
        """Every item left in the table at the end (snapshots, alert states, idempotency records)."""
        text = "\n".join(
            json.dumps(item.to_json(), default=str) for ranges in table.items.values() for item in ranges.values()
        )
        self.scan(text, {})


@dataclass
class Vitals:
    """Run sizes: memory per run (RSS, and tracemalloc over a few windows), log bytes, EMF metrics."""

    rss: list[tuple[int, int]] = field(default_factory=list)
    retained: list[tuple[int, float]] = field(default_factory=list)  # (window start run, bytes kept per run)
    log_bytes: int = 0
    metric_names: set[str] = field(default_factory=set)
    stored_bytes: int = 0
    stored_items: int = 0
    windows: tuple[int, ...] = ()
    window_runs: int = 4
    _window_start: int | None = None

    def sample_start(self, run: int) -> int:
        if run in self.windows and not tracemalloc.is_tracing():
            tracemalloc.start(25)
            self._window_start = run
        return _rss()

    def sample_end(self, run: int, before: int) -> None:
        self.rss.append((run, _rss()))
        start = self._window_start
        if start is not None and run == start + self.window_runs - 1:
            gc.collect()  # cycles the next run would free anyway are not kept memory
            snapshot = tracemalloc.take_snapshot()
            tracemalloc.stop()
            self._window_start = None
            kept = sum(stat.size for stat in snapshot.statistics("traceback") if _function_owned(stat.traceback))
            self.retained.append((start, kept / self.window_runs))

    def metrics(self, output: str) -> None:
        for line in output.splitlines():
            if line.startswith('{"_aws"'):
                document = json.loads(line)
                for directive in document["_aws"].get("CloudWatchMetrics", []):
                    dimensions = [
                        ",".join(f"{d}={document.get(d)}" for d in dims) for dims in directive.get("Dimensions", [])
                    ]
                    for metric in directive.get("Metrics", []):
                        for dims in dimensions or [""]:
                            self.metric_names.add(f"{metric['Name']}[{dims}]")

    def rss_slope(self) -> float:
        """Bytes per run over the second half of the soak (least squares): a leak shows as a positive slope."""
        points = self.rss[len(self.rss) // 2 :]
        if len(points) < 2:
            return 0.0
        n = len(points)
        mean_x = sum(x for x, _ in points) / n
        mean_y = sum(y for _, y in points) / n
        var = sum((x - mean_x) ** 2 for x, _ in points)
        return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0


# The simulator's server threads (socketserver, http.server), moto, time-machine and the soak itself.
HARNESS = (
    "/moto/",
    "/local/",
    "/tests/",
    "time_machine",
    "tracemalloc",
    "/werkzeug/",
    "/responses/",
    "socketserver.py",
    "http/server.py",
)


def _function_owned(traceback: Any) -> bool:
    """An allocation the function made: no frame of it in moto, the simulator or the soak itself."""
    return not any(any(part in frame.filename for part in HARNESS) for frame in traceback)


def _rss() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
