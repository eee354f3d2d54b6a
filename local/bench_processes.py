"""The benchmark's helper processes: moto's server and the Leegality simulator, and the environments they run in.

Each runs in a process of its own on 127.0.0.1 so the function process's CPU time and peak RSS are its own;
every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from local.aws import REGION, ROOT

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
