"""`make bench`: the real Lambda handler against the local Leegality simulator, with injected latency.

Three processes, all on 127.0.0.1: a moto server (AWS; `local.bench_moto`), the Leegality simulator
(`local.bench_simulator`) and the function (`local.bench_function`), so the function's CPU time and peak
RSS are its own. For each fleet size N (every license in one tokens secret, LICENSE_IDS empty) it runs:

- latency: L = 100 ms per Leegality request, MAX_CONCURRENCY = C = 16, all licenses healthy; a first
  run and a steady-state run 15 minutes later (usage unchanged, so nothing to alert). Wall time against
  the bound N·L/C, peak RSS, AWS API calls.
- cpu: the same two runs with L = 0, plus a steady run at INFO (production's log level) with stdout to a
  file: user+sys CPU of the function process per license, log bytes per license.
- alerts: L = 0, a share of the licenses above 80% on the first run (alert states created, SNS publish),
  then a steady run: the alert path's AWS calls.
- dispatcher: FANOUT_QUEUE_URL set (chunks of FANOUT_CHUNK_SIZE = 500), one run: the scheduled handler
  only queues the licenses to SQS (SendMessageBatch); wall, CPU and AWS calls per license, and the
  chunks read back from the queue.

and, in the same run, the cold start (local.coldstart): `import usage_monitor.app` next to a bare
`import boto3`, and import + the first `wire()` next to `import boto3` + one client; and the weekly
digest at N = 1,000 (`local.bench_digest`: AWS calls per license, message size, CPU). It prints
plain-text tables and one PASS/FAIL line per target. Every wait is bounded; nothing leaves 127.0.0.1.

    .venv/bin/python -m local.benchmark [--quick | --sizes 100,1000,10000] [--latency-ms 100]
        [--alert-share 0.05] [--no-info] [--profile DIR] [--keep DIR] [--strict]

`--profile DIR` writes cProfile stats of the largest N's steady runs (the handler's thread only);
`--keep DIR` keeps each function process's raw JSON (per-operation AWS times, check timings, GC time).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local.aws import REGION, ROOT, create_work_queue, provision
from local.bench_simulator import fleet_ids, is_busy, token_for
from local.coldstart import (
    CLOSED_PORT,
    ImportTimes,
    cold_start_lines,
    cold_start_targets,
    measure_imports,
    probe_settings,
)

DEFAULT_SIZES = (100, 1_000, 10_000)
QUICK_SIZES = (100, 1_000)
FIRST_TIME = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
RUN_INTERVAL = timedelta(minutes=15)

TARGET_STEADY_CALLS = 0.1  # AWS API calls per license, steady state
TARGET_RSS_MIB = 128.0  # peak RSS at N = 10,000
TARGET_RSS_AT = 10_000
TARGET_EFFICIENCY = 0.9  # N·L/C / wall, steady run at the largest N
SECRET_STRING_LIMIT = 65_536  # Secrets Manager's SecretString quota, which moto does not enforce
FANOUT_CHUNK_SIZE = 500  # licenses per work message in the dispatcher scenario (the setting's default)

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class Options:
    sizes: tuple[int, ...]
    latency: float
    concurrency: int
    alert_share: float
    import_samples: int
    info: bool
    profile_dir: Path | None
    strict: bool
    keep_dir: Path | None


@dataclass
class Scenario:
    """One function process: its runs, and what the simulator and moto did meanwhile."""

    name: str
    latency: float
    runs: list[dict[str, Any]]
    import_s: float
    rss_after_import_kb: int
    simulator_requests: int
    simulator_cpu_s: float
    moto_cpu_s: float
    wall_s: float
    queued: QueuedWork | None = None  # the work queue after a fan-out dispatch


@dataclass(frozen=True)
class QueuedWork:
    """The fan-out work queue after the dispatcher ran: SQS's message count, and the messages read back."""

    approximate_messages: int
    received_messages: int
    license_ids: int
    distinct_license_ids: int


@dataclass
class SizeResult:
    n: int
    secret_bytes: int
    busy: int
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    dispatcher: Scenario | None = None  # kept apart: it checks no license, so the tables above exclude it


# --- processes -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of another process, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


class MotoServer:
    """moto's server (`local.bench_moto`) on 127.0.0.1, in its own process; `reset()` empties every backend."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "local.bench_moto", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=self._log,
            env={**clean_environ(), **FAKE_AWS},
            cwd=ROOT,
        )
        self._wait_ready(timeout=60.0)
        self.partition_query = "partition-scoped Query on" in log_path.read_text(errors="replace")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"moto server not ready after {timeout:g} s")

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            response.read()

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()


class SimulatorProcess:
    """`local.bench_simulator` in its own process; talks one JSON line per command over stdin/stdout."""

    def __init__(self, n: int, latency: float, busy_every: int) -> None:
        config = json.dumps({"n": n, "latency": latency, "busy_every": busy_every})
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "local.bench_simulator", config],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.base_url = str(self._read_line(timeout=60.0)["base_url"])

    def _read_line(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise RuntimeError(f"simulator silent for {timeout:g} s")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"simulator exited with {self.process.poll()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def stats(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        return self._read_line(timeout=30.0)

    def stop(self) -> None:
        if self.process.stdin is not None and self.process.poll() is None:
            try:
                self.process.stdin.write("stop\n")
                self.process.stdin.close()
            except OSError:
                pass
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        stop_process(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()


# --- environment ---------------------------------------------------------------------------------------


def clean_environ() -> dict[str, str]:
    """This process's environment without any AWS or Powertools setting that could leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "_X_AMZN", "LAMBDA_"))}


def function_env(stack_env: dict[str, str], moto_url: str) -> dict[str, str]:
    return {
        **clean_environ(),
        **stack_env,
        **FAKE_AWS,
        "AWS_ENDPOINT_URL": moto_url,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def secret_json(n: int) -> str:
    return json.dumps({license_id: token_for(license_id) for license_id in fleet_ids(n)})


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def run_spec(scenario: str, n: int, index: int, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "id": f"bench-{scenario}-{n}-{index}",
        "time": iso(FIRST_TIME + index * RUN_INTERVAL),
        **extra,
    }


# --- scenarios -----------------------------------------------------------------------------------------


def run_scenario(
    *,
    name: str,
    n: int,
    latency: float,
    busy_every: int,
    runs: list[dict[str, Any]],
    moto: MotoServer,
    session: Any,
    options: Options,
    workdir: Path,
    fanout: bool = False,
) -> Scenario:
    moto.reset()
    stack = provision(session, secret_json(n))
    overrides = {"MAX_CONCURRENCY": str(options.concurrency)}
    queue_url = ""
    if fanout:
        queue_url = create_work_queue(session)
        overrides.update(FANOUT_QUEUE_URL=queue_url, FANOUT_CHUNK_SIZE=str(FANOUT_CHUNK_SIZE))
    simulator = SimulatorProcess(n, latency, busy_every)
    try:
        env = function_env(stack.environment(simulator.base_url, **overrides), moto.url)
        config_path = workdir / f"{name}-{n}.config.json"
        result_path = workdir / f"{name}-{n}.result.json"
        log_path = workdir / f"{name}-{n}.stdout.log"
        config_path.write_text(json.dumps({"runs": runs, "result_path": str(result_path), "timeout_seconds": 300}))
        bound = n * latency / options.concurrency
        timeout = 120 + len(runs) * (3 * bound + 120)
        before = simulator.stats()
        moto_before = moto.cpu_seconds()
        started = time.perf_counter()
        with log_path.open("wb") as stdout:
            completed = subprocess.run(  # noqa: S603
                [sys.executable, "-m", "local.bench_function", str(config_path)],
                env=env,
                cwd=ROOT,
                stdout=stdout,
                stderr=subprocess.PIPE,
                timeout=timeout,
                check=False,
            )
        wall = time.perf_counter() - started
        after = simulator.stats()
        moto_cpu = moto.cpu_seconds() - moto_before
    finally:
        simulator.stop()
    if completed.returncode != 0:
        tail = completed.stderr.decode(errors="replace")[-4000:]
        raise RuntimeError(f"function process failed ({name}, N={n}, exit {completed.returncode}):\n{tail}")
    result = json.loads(result_path.read_text())
    return Scenario(
        name=name,
        latency=latency,
        runs=result["runs"],
        import_s=result["import_s"],
        rss_after_import_kb=result["rss_after_import_kb"],
        simulator_requests=int(after["requests"]) - int(before["requests"]),
        simulator_cpu_s=float(after["cpu_seconds"]) - float(before["cpu_seconds"]),
        moto_cpu_s=moto_cpu,
        wall_s=wall,
        queued=read_work_queue(session, queue_url) if fanout else None,
    )


def read_work_queue(session: Any, queue_url: str) -> QueuedWork:
    """ApproximateNumberOfMessages, then every message received once (left in the queue) and its licenses."""
    sqs = session.client("sqs", region_name=REGION)
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    approximate = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    received = 0
    license_ids: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            break
        received += len(messages)
        for message in messages:
            license_ids += json.loads(message["Body"])["license_ids"]
    return QueuedWork(approximate, received, len(license_ids), len(set(license_ids)))


def measure_size(n: int, moto: MotoServer, session: Any, options: Options, workdir: Path) -> SizeResult:
    busy_every = max(1, round(1 / options.alert_share)) if options.alert_share > 0 else 0
    busy = sum(is_busy(i, busy_every) for i in range(n))
    result = SizeResult(n=n, secret_bytes=len(secret_json(n).encode()), busy=busy)
    profile = options.profile_dir is not None and n == max(options.sizes)

    def profiled(scenario: str) -> dict[str, Any]:
        if not profile:
            return {}
        assert options.profile_dir is not None
        return {"profile_path": str(options.profile_dir / f"{scenario}-{n}-steady.pstats")}

    common = {"n": n, "moto": moto, "session": session, "options": options, "workdir": workdir}
    bound = n * options.latency / options.concurrency
    progress(f"N={n:,}: latency scenario (L={options.latency * 1000:g} ms, bound {bound:.1f} s per run)")
    result.scenarios["latency"] = run_scenario(
        name="latency",
        latency=options.latency,
        busy_every=0,
        runs=[
            run_spec("latency", n, 0, "first"),
            run_spec("latency", n, 1, "steady", **profiled("latency")),
        ],
        **common,
    )
    progress(f"N={n:,}: cpu scenario (L=0)")
    cpu_runs = [run_spec("cpu", n, 0, "first"), run_spec("cpu", n, 1, "steady", **profiled("cpu"))]
    if options.info:
        cpu_runs.append(run_spec("cpu", n, 2, "steady, INFO logs", log_level="INFO"))
    result.scenarios["cpu"] = run_scenario(name="cpu", latency=0.0, busy_every=0, runs=cpu_runs, **common)
    if busy:
        progress(f"N={n:,}: alert scenario (L=0, {busy:,} licenses above 80%)")
        result.scenarios["alerts"] = run_scenario(
            name="alerts",
            latency=0.0,
            busy_every=busy_every,
            runs=[run_spec("alerts", n, 0, "first"), run_spec("alerts", n, 1, "steady")],
            **common,
        )
    check_runs(result)
    progress(f"N={n:,}: dispatcher scenario (FANOUT_QUEUE_URL set, chunk {FANOUT_CHUNK_SIZE})")
    result.dispatcher = run_scenario(
        name="dispatcher",
        latency=0.0,
        busy_every=0,
        runs=[run_spec("dispatcher", n, 0, "dispatch")],
        fanout=True,
        **common,
    )
    check_dispatch(result)
    return result


def check_dispatch(result: SizeResult) -> None:
    """The dispatch must have checked nothing and queued every license once, in ⌈N / chunk⌉ messages."""
    scenario = result.dispatcher
    assert scenario is not None
    assert scenario.queued is not None
    run, queued = scenario.runs[0], scenario.queued
    chunks = -(-result.n // FANOUT_CHUNK_SIZE)
    if (
        run["checked"] != 0
        or run["failed"]
        or run.get("dispatched") != result.n
        or run.get("chunks") != chunks
        or scenario.simulator_requests != 0
        or queued.approximate_messages != chunks
        or queued.received_messages != chunks
        or queued.license_ids != result.n
        or queued.distinct_license_ids != result.n
    ):
        raise RuntimeError(
            f"dispatcher at N={result.n}: checked {run['checked']}, failed {run['failed']}, dispatched "
            f"{run.get('dispatched')} in {run.get('chunks')} chunks (expected {chunks}), simulator requests "
            f"{scenario.simulator_requests}, queue {queued}; figures invalid"
        )


def check_runs(result: SizeResult) -> None:
    """Every run must have checked every license without failure, and alerted only where expected."""
    for scenario in result.scenarios.values():
        for index, run in enumerate(scenario.runs):
            expected_alerts = result.busy if scenario.name == "alerts" and index == 0 else 0
            if run["checked"] != result.n or run["failed"] or run["alerts"] != expected_alerts:
                raise RuntimeError(
                    f"{scenario.name} run {run['name']!r} at N={result.n}: checked {run['checked']}, "
                    f"failed {run['failed']}, alerts {run['alerts']} (expected {expected_alerts}); figures invalid"
                )


# --- what was measured --------------------------------------------------------------------------------


def source_fingerprint() -> str:
    """A hash of the handler's source files, to notice src/ changing while the benchmark runs."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _git(*args: str) -> str:
    # Fixed git subcommands from this file only, no outside input.
    return subprocess.run(  # noqa: S603
        ["git", *args],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout.strip()


def source_description() -> str:
    """`<commit>` or `<commit> + uncommitted changes in src/`, from git when it is there."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "src")
    except (OSError, subprocess.SubprocessError):
        return "(not a git checkout)"
    return f"commit {head}" + (" + uncommitted changes in src/" if dirty else "")


# --- report --------------------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def calls_by_service(run: dict[str, Any]) -> dict[str, int]:
    return {service: int(sum(op[0] for op in ops.values())) for service, ops in run["calls"].items()}


def total_calls(run: dict[str, Any]) -> int:
    return sum(calls_by_service(run).values())


def aws_seconds(run: dict[str, Any]) -> float:
    return sum(float(op[1]) for ops in run["calls"].values() for op in ops.values())


def operations_text(run: dict[str, Any]) -> str:
    parts = []
    for ops in run["calls"].values():
        for operation, (count, _seconds, retries) in sorted(ops.items()):
            parts.append(f"{operation} {int(count)}" + (f" (+{int(retries)} retries)" if retries else ""))
    return " ".join(parts)


def cpu_ms_per_license(run: dict[str, Any], n: int) -> float:
    return (float(run["cpu_user_s"]) + float(run["cpu_sys_s"])) * 1000 / n


def mib(kb: int) -> float:
    return kb / 1024


def table(headers: list[str], rows: list[list[str]], align: str) -> list[str]:
    """`align`: one character per column, `<` or `>`."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        text = "  ".join(c.ljust(w) if a == "<" else c.rjust(w) for c, w, a in zip(cells, widths, align, strict=True))
        return text.rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def render(
    results: list[SizeResult], imports: ImportTimes, options: Options, partition_query: bool
) -> tuple[list[str], bool]:
    latency_ms = options.latency * 1000
    c = options.concurrency
    out = [
        "Leegality usage monitor: handler benchmark",
        f"  real handler (usage_monitor.app.lambda_handler) in its own process; moto server and Leegality simulator "
        f"in two others; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        f"  L = {latency_ms:g} ms injected per Leegality request, C = MAX_CONCURRENCY = {c}; one secret maps all "
        "N licenses, LICENSE_IDS empty",
        "  logs at WARNING except the 'INFO logs' row (production logs at INFO; there stdout goes to a file)",
        "",
        f"Wall time: L = {latency_ms:g} ms, all licenses healthy; 'steady' = a second run 15 min later, "
        "usage unchanged",
    ]
    rows = []
    for r in results:
        scenario = r.scenarios["latency"]
        bound = r.n * options.latency / c
        for run in scenario.runs:
            checks = run["checks"]
            rows.append(
                [
                    f"{r.n:,}",
                    run["name"],
                    f"{bound:.2f} s",
                    f"{run['wall_s']:.2f} s",
                    f"{bound / run['wall_s']:.3f}",
                    f"{checks['setup_s']:.2f} s",
                    f"{checks['span_s']:.2f} s",
                    f"{checks['tail_s']:.2f} s",
                    f"{checks['mean_s'] * 1000:.1f} ms",
                    f"{checks['concurrency']:.1f}",
                    f"{aws_seconds(run):.2f} s",
                    f"{mib(run['rss_hwm_kb']):.1f} MiB",
                ]
            )
    out += table(
        [
            "N",
            "run",
            "bound N·L/C",
            "wall",
            "efficiency",
            "set-up",
            "checks",
            "tail",
            "mean check",
            "in flight",
            "AWS time",
            "peak RSS",
        ],
        rows,
        "><>>>>>>>>>>",
    )
    out += [
        "  set-up = handler start → first Leegality request; checks = first request → last response;",
        "  tail = last response → handler return; in flight = mean concurrent checks; AWS time = time inside",
        "  botocore calls (all on the handler's thread; moto's server closes every connection, so each call",
        "  here includes a TCP connect that production's keep-alive avoids); peak RSS = VmHWM of the function",
        "  process (MiB, the unit of Lambda's MemorySize), "
        + ", ".join(f"{mib(r.scenarios['latency'].rss_after_import_kb):.0f}" for r in results)
        + " MiB right after importing the handler.",
        "",
        "CPU: L = 0, user+sys CPU time of the function process (all threads) / N; 'first' includes the first",
        "invocation's wiring (boto3 import, clients), a fixed cost that dominates at small N",
    ]
    rows = []
    for r in results:
        labelled = [(run["name"], run) for run in r.scenarios["cpu"].runs]
        if "alerts" in r.scenarios:
            share = f"{r.busy / r.n:.0%}"
            alert_runs = r.scenarios["alerts"].runs
            labelled += [(f"first, {share} alerting", alert_runs[0]), ("steady after alerts", alert_runs[1])]
        for label, run in labelled:
            rows.append(
                [
                    f"{r.n:,}",
                    label,
                    f"{cpu_ms_per_license(run, r.n):.2f}",
                    f"{run['wall_s']:.2f} s",
                    f"{r.n / run['wall_s']:,.0f}",
                    f"{run['log_bytes'] / r.n:,.0f}",
                    f"{mib(run['rss_hwm_kb']):.1f} MiB",
                ]
            )
    out += table(["N", "run", "CPU ms/license", "wall", "licenses/s", "log bytes/license", "peak RSS"], rows, "><>>>>>")
    out += ["", "AWS API calls per license, by service (counted in the function process around botocore)"]
    rows = []
    services = ("dynamodb", "secretsmanager", "sns")
    for r in results:
        labelled = [
            ("first, healthy", r.scenarios["latency"].runs[0]),
            ("steady, healthy", r.scenarios["latency"].runs[1]),
        ]
        if "alerts" in r.scenarios:
            share = f"{r.busy / r.n:.0%}"
            labelled += [
                (f"first, {share} alerting", r.scenarios["alerts"].runs[0]),
                ("steady after alerts", r.scenarios["alerts"].runs[1]),
            ]
        for label, run in labelled:
            by_service = calls_by_service(run)
            rows.append(
                [
                    f"{r.n:,}",
                    label,
                    *(f"{by_service.get(s, 0) / r.n:.4f}" for s in services),
                    f"{total_calls(run) / r.n:.4f}",
                    operations_text(run),
                ]
            )
    out += table(["N", "run", *services, "total", "calls"], rows, "><>>>><")
    out += [
        "  moto: "
        + (
            "a Query reads only its partition (local.bench_moto), as in DynamoDB"
            if partition_query
            else "plain moto, whose Query sorts the WHOLE table: Query times grow with the table"
        ),
        "",
    ]
    out += dispatcher_lines(results)
    out += simulator_lines(results, options)
    out += secret_lines(results)
    out += ["", *cold_start_lines(imports, options.import_samples)]
    targets, all_pass = target_lines(results, imports, options)
    out += ["", "Targets", *targets]
    return out, all_pass


def dispatcher_lines(results: list[SizeResult]) -> list[str]:
    dispatched = [(r, r.dispatcher) for r in results if r.dispatcher is not None]
    if not dispatched:
        return []
    lines = [
        f"Fan-out dispatcher (FANOUT_QUEUE_URL set, chunk {FANOUT_CHUNK_SIZE}): one scheduled run, no license "
        "checked, all queued; AWS calls per license"
    ]
    rows = []
    services = ("dynamodb", "secretsmanager", "sqs")
    for r, scenario in dispatched:
        run, queued = scenario.runs[0], scenario.queued
        assert queued is not None
        by_service = calls_by_service(run)
        rows.append(
            [
                f"{r.n:,}",
                f"{run['wall_s']:.3f} s",
                f"{cpu_ms_per_license(run, r.n):.3f}",
                *(f"{by_service.get(s, 0) / r.n:.4f}" for s in services),
                f"{total_calls(run) / r.n:.4f}",
                operations_text(run),
                f"{queued.approximate_messages:,}",
                f"{queued.license_ids:,}",
                f"{mib(run['rss_hwm_kb']):.1f} MiB",
            ]
        )
    lines += table(
        ["N", "wall", "CPU ms/license", *services, "total", "calls", "chunks sent", "licenses in them", "peak RSS"],
        rows,
        ">>>>>>><>>>",
    )
    lines += [
        "  the function process's first invocation, so wall and CPU include its wiring (boto3 import, clients);",
        "  chunks sent = the work queue's ApproximateNumberOfMessages, licenses in them = read back by",
        "  ReceiveMessage (each once); the Leegality simulator served no request",
        "",
    ]
    return lines


def simulator_lines(results: list[SizeResult], options: Options) -> list[str]:
    lines = ["Simulator and moto (separate processes), CPU busy during the function process's lifetime:"]
    for r in results:
        for scenario in r.scenarios.values():
            expected = r.n * len(scenario.runs)
            served = scenario.simulator_requests
            sim_util = scenario.simulator_cpu_s / scenario.wall_s
            moto_util = scenario.moto_cpu_s / scenario.wall_s
            verdict = ""
            if scenario.latency > 0:
                ok = served == expected and sim_util < 0.5
                verdict = "  → not the bottleneck" if ok else "  → CHECK: may limit the run"
            lines.append(
                f"  N={r.n:>6,}  {scenario.name:<8} L={scenario.latency * 1000:>3g} ms: simulator served "
                f"{served:,} requests (expected {expected:,}), {sim_util:5.1%} of a core; moto {moto_util:5.1%}"
                f"{verdict}"
            )
    return lines


def secret_lines(results: list[SizeResult]) -> list[str]:
    lines = []
    for r in results:
        if r.secret_bytes > SECRET_STRING_LIMIT:
            lines.append(
                f"  NOTE N={r.n:,}: the tokens secret is {r.secret_bytes:,} bytes; Secrets Manager caps a SecretString "
                f"at {SECRET_STRING_LIMIT:,} bytes (moto does not), so this fleet cannot be deployed as one secret"
            )
    return lines


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def target_lines(results: list[SizeResult], imports: ImportTimes, options: Options) -> tuple[list[str], bool]:
    lines = []
    outcomes = []
    steady = [
        (total_calls(r.scenarios[s].runs[1]) / r.n, r.n, s)
        for r in results
        for s in ("latency", "alerts")
        if s in r.scenarios
    ]
    worst_calls, worst_n, _ = max(steady)
    ok = worst_calls <= TARGET_STEADY_CALLS
    outcomes.append(ok)
    per_n = ", ".join(f"{total_calls(r.scenarios['latency'].runs[1]) / r.n:.4f} at N={r.n:,}" for r in results)
    lines.append(
        f"  {verdict(ok)}  steady-state AWS API calls ≤ {TARGET_STEADY_CALLS} per license: "
        f"worst {worst_calls:.4f} (N={worst_n:,}); {per_n}"
    )
    at_target = [r for r in results if r.n == TARGET_RSS_AT]
    if at_target:
        r = at_target[0]
        peak = max(mib(run["rss_hwm_kb"]) for s in r.scenarios.values() for run in s.runs)
        ok = peak <= TARGET_RSS_MIB
        outcomes.append(ok)
        lines.append(
            f"  {verdict(ok)}  peak RSS ≤ {TARGET_RSS_MIB:g} MiB at N={TARGET_RSS_AT:,}: {peak:.1f} MiB "
            "(highest of all its runs)"
        )
    else:
        lines.append(f"  SKIP  peak RSS ≤ {TARGET_RSS_MIB:g} MiB at N={TARGET_RSS_AT:,}: that size was not run")
    for ok, text in cold_start_targets(imports):
        outcomes.append(ok)
        lines.append(f"  {verdict(ok)}  {text}")
    largest = max(results, key=lambda r: r.n)
    bound = largest.n * options.latency / options.concurrency
    efficiency = bound / largest.scenarios["latency"].runs[1]["wall_s"]
    ok = efficiency >= TARGET_EFFICIENCY
    outcomes.append(ok)
    lines.append(
        f"  {verdict(ok)}  efficiency N·L/C ÷ wall ≥ {TARGET_EFFICIENCY} (steady run, N={largest.n:,}): "
        f"{efficiency:.3f}"
    )
    return lines, all(outcomes)


# --- main ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m local.benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 100 and 1,000 only")
    parser.add_argument("--sizes", help="comma-separated fleet sizes, e.g. 100,1000,10000")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="latency injected per request (100)")
    parser.add_argument("--concurrency", type=int, default=16, help="MAX_CONCURRENCY (16)")
    parser.add_argument("--alert-share", type=float, default=0.05, help="share alerting in the alert run (0.05)")
    parser.add_argument("--import-samples", type=int, default=5, help="fresh interpreters per import figure (5)")
    parser.add_argument("--no-info", action="store_true", help="skip the INFO-logging CPU run")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the largest N's steady runs here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--keep", type=Path, help="keep raw results, function stdout and moto's log in this directory")
    args = parser.parse_args(argv)
    if args.sizes:
        sizes = tuple(int(s.replace("_", "").replace(",", "")) for s in args.sizes.split(",") if s.strip())
    else:
        sizes = QUICK_SIZES if args.quick else DEFAULT_SIZES
    if not sizes or min(sizes) < 1 or max(sizes) > 100_000:
        parser.error("sizes must be between 1 and 100,000")
    if not 0 <= args.alert_share <= 1 or not 1 <= args.concurrency <= 256 or not 0 <= args.latency_ms <= 5_000:
        parser.error("--alert-share in [0, 1], --concurrency in [1, 256], --latency-ms in [0, 5000]")
    for directory in (args.profile, args.keep):
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
    return Options(
        sizes=tuple(sorted(set(sizes))),
        latency=args.latency_ms / 1000,
        concurrency=args.concurrency,
        alert_share=args.alert_share,
        import_samples=max(1, args.import_samples),
        info=not args.no_info,
        profile_dir=args.profile.resolve() if args.profile else None,
        strict=args.strict,
        keep_dir=args.keep.resolve() if args.keep else None,
    )


def digest_lines(n: int = 1_000) -> list[str]:
    """The weekly digest's AWS calls per license, message size and CPU (`local.bench_digest`, own process)."""
    progress(f"weekly digest at N = {n:,}")
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "local.bench_digest", "--n", str(n)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_environ(),
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        return [f"Weekly digest: the measurement failed (exit {done.returncode}): {done.stderr.strip()[-500:]}"]
    return done.stdout.strip().splitlines()


def main(argv: list[str] | None = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    load_before = os.getloadavg()
    source, fingerprint = source_description(), source_fingerprint()
    with tempfile.TemporaryDirectory(prefix="usage-monitor-bench-") as tmp:
        workdir = options.keep_dir or Path(tmp)
        moto = MotoServer(workdir / "moto.log")
        try:
            os.environ.update({**FAKE_AWS, "AWS_ENDPOINT_URL": moto.url})
            import boto3

            session = boto3.session.Session(region_name=REGION)
            results = [measure_size(n, moto, session, options, workdir) for n in options.sizes]
        finally:
            moto.stop()
        progress(f"cold imports ({options.import_samples} samples each)")
        import_env = function_env(probe_settings(), CLOSED_PORT)
        imports = measure_imports(options.import_samples, import_env)
    digest = digest_lines()
    load_after = os.getloadavg()
    lines, all_pass = render(results, imports, options, moto.partition_query)
    lines += ["", *digest]
    lines[4:4] = [
        f"  load average (1 min) at start {load_before[0]:.2f}, at end {load_after[0]:.2f} on {os.cpu_count()} CPUs: "
        "other work on this machine inflates wall times",
        f"  source measured: {source} (src fingerprint {fingerprint})",
    ]
    if source_fingerprint() != fingerprint:
        lines.insert(6, "  WARNING: src/ changed while the benchmark ran; runs may have measured different code")
    lines += ["", f"Benchmark took {time.perf_counter() - started:.0f} s."]
    print("\n".join(lines))
    if options.profile_dir is not None:
        print(f"cProfile stats (handler thread only) in {options.profile_dir}")
    return 1 if options.strict and not all_pass else 0


if __name__ == "__main__":
    sys.exit(main())
