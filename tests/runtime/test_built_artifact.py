"""The built function, run on Python 3.13 with only what Lambda gives it: the runtime's boto3 and the layer.

`make package`'s builder lays out the function (for this machine's platform), the Powertools layer and the
runtime's SDK in three directories; a bare `python3.13 -I -S` puts them on its path in Lambda's order,
imports the handler from the built directory and runs one scheduled run against the Leegality simulator
and a moto server in its own process, with X-Ray tracing on (segments caught on a local UDP socket).
Skipped, saying how to get one, where no Python 3.13 is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from local import lambda_runtime
from local.aws import REGION, ROOT, load_event, provision
from local.bench_processes import FAKE_AWS, MotoServer
from local.lambda_runtime import HOW_TO_GET_ONE, RuntimeTrees, build, find_python313
from local.package import RUNTIME_PACKAGES
from local.simulator import LeegalitySimulator, usage_of

PROBE = ROOT / "local" / "lambda_runtime_probe.py"
TRACE_ID = "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1"
HEALTHY = usage_of(users=(233, 1000), departments=(23, 1000), signatures=(23, 1000), certificates=(23, 1000))
FULL = usage_of(users=(50, 50), departments=(1, 10), signatures=(5, 100), certificates=(1, 10))


@pytest.fixture(scope="module")
def python313() -> str:
    found = find_python313()
    if found is None:
        pytest.skip(HOW_TO_GET_ONE)
    return found


@pytest.fixture(scope="module")
def trees(python313: str) -> RuntimeTrees:
    return build(ROOT / "build" / "runtime313")


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def xray_daemon() -> Iterator[socket.socket]:
    """A UDP socket standing in for the X-Ray daemon, which the SDK sends finished segments to."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        yield sock


def received_segments(sock: socket.socket) -> list[dict[str, Any]]:
    segments: list[dict[str, Any]] = []
    while True:
        try:
            datagram = sock.recv(65_536)
        except TimeoutError:
            return segments
        # Each datagram is a JSON header line, then the segment document.
        segments.append(json.loads(datagram.split(b"\n", 1)[1]))


def subsegment_names(documents: list[dict[str, Any]]) -> set[str]:
    names: set[str] = set()
    pending = list(documents)
    while pending:
        document = pending.pop()
        names.add(str(document.get("name")))
        pending += document.get("subsegments", [])
    return names


def run_built_handler(
    python313: str, trees: RuntimeTrees, env: dict[str, str], event: dict[str, Any]
) -> dict[str, Any]:
    config = {
        "task": str(trees.task),
        "layer": str(trees.layer),
        "runtime": str(trees.runtime),
        "handler": "usage_monitor.app.lambda_handler",
        "event": event,
    }
    completed = subprocess.run(
        [python313, "-I", "-S", str(PROBE), json.dumps(config)],
        env=env,
        cwd=trees.task,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    output: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return output


def test_built_function_runs_a_scheduled_run_on_python_3_13_with_the_layer_and_the_runtime_sdk(
    python313: str,
    trees: RuntimeTrees,
    moto_server: MotoServer,
    xray_daemon: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {**FAKE_AWS, "AWS_ENDPOINT_URL": moto_server.url}.items():
        monkeypatch.setenv(name, value)
    session = boto3.session.Session(region_name=REGION)
    secret = {"acme-healthy-0001": "token-healthy-secret-1", "acme-full-0003": "token-full-secret-3"}
    stack = provision(session, json.dumps(secret))
    daemon_port = xray_daemon.getsockname()[1]
    with LeegalitySimulator() as simulator:
        simulator.add_license("acme-healthy-0001", secret["acme-healthy-0001"], HEALTHY)
        simulator.add_license("acme-full-0003", secret["acme-full-0003"], FULL)
        function_env = stack.environment(simulator.base_url)
        del function_env["POWERTOOLS_TRACE_DISABLED"]  # traced, as deployed (Tracing: Active)
        env = {
            **FAKE_AWS,
            **function_env,
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_ENDPOINT_URL": moto_server.url,
            # What Lambda sets for a traced invocation; the SDK sends segments to the daemon address.
            "AWS_LAMBDA_FUNCTION_NAME": "leegality-usage-monitor",
            "LAMBDA_TASK_ROOT": str(trees.task),
            "_X_AMZN_TRACE_ID": TRACE_ID,
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
            "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        }
        output = run_built_handler(python313, trees, env, load_event("scheduled.json"))

    assert output["python"][:2] == [3, 13]
    result = output["result"]
    assert result["checked"] == 2, result
    assert result["failed"] == []
    assert result["alerts"] == 1  # acme-full-0003 is at its limit

    modules: dict[str, str] = output["modules"]
    assert modules["usage_monitor.app"].startswith(str(trees.task))
    assert modules["urllib3"].startswith(str(trees.task))
    for name in ("aws_lambda_powertools", "aws_xray_sdk"):
        assert modules[name].startswith(str(trees.layer)), (name, modules[name])
    for name in ("boto3", "botocore"):
        assert modules[name].startswith(str(trees.runtime)), (name, modules[name])
    allowed = (str(trees.task), str(trees.layer), str(trees.runtime), output["stdlib"])
    strays = {name: path for name, path in modules.items() if not path.startswith(allowed)}
    assert not strays, f"imported from outside the Lambda paths: {strays}"

    # The built package itself carries no SDK of its own.
    assert not [name for name in RUNTIME_PACKAGES if (trees.task / name).exists()]

    # Stored and published through the runtime's boto3 against moto.
    dynamodb = session.client("dynamodb")
    snapshot = dynamodb.get_item(
        TableName=stack.table_name,
        Key={"license_id": {"S": "acme-full-0003"}, "captured_at": {"S": load_event("scheduled.json")["time"]}},
    )["Item"]
    assert snapshot["status"] == {"S": "ok"}
    assert snapshot["users"]["M"]["percent"] == {"N": "100.0"}
    inbox = session.client("sqs").receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert len(inbox.get("Messages", [])) == 1
    assert "acme-full-0003" in inbox["Messages"][0]["Body"]

    # Tracing works from the layer's X-Ray SDK: the handler's subsegment and the patched botocore calls.
    segments = received_segments(xray_daemon)
    assert {s.get("trace_id") for s in segments} == {TRACE_ID.split(";")[0].removeprefix("Root=")}
    assert {"## _run", "dynamodb", "secretsmanager", "sns"} <= subsegment_names(segments)


def test_only_a_real_cpython_3_13_is_taken_and_without_one_the_skip_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shim = tmp_path / "python3.13"  # what a pyenv shim does when 3.13 is not installed
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    other_python = sys.executable  # the dev interpreter: not 3.13 in CI (pyproject targets 3.11)
    monkeypatch.setattr(lambda_runtime, "candidates", lambda: [str(tmp_path / "missing"), str(shim), other_python])
    if sys.version_info[:2] != (3, 13):
        assert lambda_runtime.find_python313() is None
    assert "pyenv install 3.13" in lambda_runtime.HOW_TO_GET_ONE
    real = find_python313()
    if real is not None:
        monkeypatch.setattr(lambda_runtime, "candidates", lambda: [str(shim), real])
        assert lambda_runtime.find_python313() == real


# Runs in the bare 3.13 with every source of the built function broken: only bytecode can import the package.
FROM_BYTECODE = """
import importlib.util, json, sys
sys.path[:0] = sys.argv[1:4]
import usage_monitor.app, usage_monitor.wiring, urllib3
compiled_as = usage_monitor.wiring.wire.__code__.co_filename
print(json.dumps({"compiled_as": compiled_as, "magic": importlib.util.MAGIC_NUMBER.hex()}))
"""


def test_the_built_function_imports_from_its_bytecode_as_lambdas_read_only_task_directory_needs(
    python313: str, trees: RuntimeTrees, tmp_path: Path
) -> None:
    task = tmp_path / "task"
    shutil.copytree(trees.task, task)
    sources = sorted(task.rglob("*.py"))
    assert len(sources) > 50
    headers = {
        source.relative_to(task): (source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc").read_bytes()[:8]
        for source in sources
    }
    # PEP 552 flags 0b01: hash-based and not checked against the source, whatever time the zip gives the files.
    assert {header[4:8] for header in headers.values()} == {(0b01).to_bytes(4, "little")}
    # Break every source: a module compiled at import would fail, one loaded from its bytecode does not.
    for source in sources:
        source.write_text("raise SystemExit('compiled from source: the build shipped no usable bytecode')\n")
    completed = subprocess.run(
        [python313, "-I", "-S", "-B", "-c", FROM_BYTECODE, str(task), str(trees.layer), str(trees.runtime)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    loaded = json.loads(completed.stdout)
    assert {header[:4].hex() for header in headers.values()} == {loaded["magic"]}  # 3.13's own bytecode
    # Tracebacks name where the code is (Python fixes up the bytecode's file names on import), not the build's.
    assert loaded["compiled_as"] == str(task / "usage_monitor" / "wiring.py")
