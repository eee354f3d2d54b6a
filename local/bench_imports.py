"""The benchmark's cold-start figures: `import usage_monitor.app` next to a bare `import boto3`, each in a
fresh interpreter, wall and CPU time."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from dataclasses import dataclass

from local.aws import ROOT

BOTO3 = "import boto3"
APP = "import usage_monitor.app"
APP_WIRED = "import usage_monitor.app + wire()"
IMPORT_PROBES = {
    BOTO3: "import boto3",
    APP: "import usage_monitor.app",
    # What the first invocation adds before its first request: boto3, the clients, the idempotency layer.
    APP_WIRED: (
        "import os, usage_monitor.app; from usage_monitor.settings import Settings; "
        "from usage_monitor.wiring import wire; wire(Settings.from_env(os.environ))"
    ),
}


@dataclass
class ImportTimes:
    """Per probe: perf_counter and process_time seconds of each sample, and the load meanwhile."""

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]
    load: float

    def median(self, label: str, *, cpu: bool = False) -> float:
        return statistics.median((self.cpu if cpu else self.wall)[label])

    def ratio(self, *, cpu: bool = False) -> float:
        return self.median(APP, cpu=cpu) / self.median(BOTO3, cpu=cpu)


def import_seconds(code: str, env: dict[str, str]) -> tuple[float, float]:
    probe = (
        "import time\nt, c = time.perf_counter(), time.process_time()\n"
        f"{code}\nprint(time.perf_counter() - t, time.process_time() - c)"
    )
    completed = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    wall, cpu = completed.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def measure_imports(samples: int, env: dict[str, str]) -> ImportTimes:
    """Fresh interpreter per sample, the probes taking turns; one unrecorded warm-up each."""
    for code in IMPORT_PROBES.values():
        import_seconds(code, env)
    times = ImportTimes({label: [] for label in IMPORT_PROBES}, {label: [] for label in IMPORT_PROBES}, 0.0)
    loads = [os.getloadavg()[0]]
    for _ in range(samples):
        for label, code in IMPORT_PROBES.items():
            wall, cpu = import_seconds(code, env)
            times.wall[label].append(wall)
            times.cpu[label].append(cpu)
        loads.append(os.getloadavg()[0])
    times.load = max(loads)
    return times
