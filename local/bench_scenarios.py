"""The benchmark's scenarios: per fleet size N, the latency, cpu, alert and dispatcher runs of the real handler.

Each scenario provisions AWS afresh in moto, starts a simulator, runs `local.bench_function` once with a list of
scheduled invocations, and collects what the function, the simulator and moto reported. A run that did not
check every license, or alerted where it should not have, makes the figures invalid: it raises.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local.aws import REGION, ROOT, create_work_queue, provision
from local.bench_processes import MotoServer, SimulatorProcess, function_env
from local.bench_simulator import fleet_ids, is_busy, token_for

FIRST_TIME = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
RUN_INTERVAL = timedelta(minutes=15)
FANOUT_CHUNK_SIZE = 500  # licenses per work message in the dispatcher scenario (the setting's default)


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


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


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
