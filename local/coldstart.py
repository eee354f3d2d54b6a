"""Cold start, measured as whole processes: the handler's import and its first wiring next to boto3's own.

Each probe runs in a fresh interpreter (perf_counter and process_time round the code), the probes taking
turns; the figure is the median. Three targets: `import usage_monitor.app` ≤ 1.5 x `import boto3`, and
import + the first `wire()` (boto3, the clients, idempotency) ≤ 1.3 x `import boto3` + one client, and the
same ≤ 1.1 x the floor: boto3, a DynamoDB and a Secrets Manager client and a urllib3 pool with a TLS
context built bare (what any monitor needs before its first request, without our code or Powertools).
`make bench` prints this section; alone (seconds, no servers):

    .venv/bin/python -m local.coldstart [--samples 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass

from local.aws import ACCOUNT_ID, REGION, ROOT, LocalStack

TARGET_IMPORT_RATIO = 1.5  # import usage_monitor.app vs import boto3
TARGET_WIRE_RATIO = 1.3  # import usage_monitor.app + wire() vs import boto3 + one client
TARGET_FLOOR_RATIO = 1.1  # import usage_monitor.app + wire() vs the same clients and pool built bare

BOTO3 = "import boto3"
BOTO3_CLIENT = "import boto3 + one client"
APP = "import usage_monitor.app"
APP_WIRED = "import usage_monitor.app + wire()"
FLOOR = "floor: boto3 + 2 clients + urllib3 pool"
IMPORT_PROBES = {
    BOTO3: "import boto3",
    BOTO3_CLIENT: "import boto3; boto3.client('dynamodb')",
    # The least any monitor must do before its first request: what wire() builds, without our code.
    FLOOR: (
        "import boto3, urllib3; from urllib3.util.ssl_ import create_urllib3_context; "
        "s = boto3.session.Session(); s.client('dynamodb'); s.client('secretsmanager'); "
        "urllib3.PoolManager(ssl_context=create_urllib3_context())"
    ),
    APP: "import usage_monitor.app",
    # What the first invocation adds before its first request: boto3, the clients, the idempotency layer.
    APP_WIRED: (
        "import os, usage_monitor.app; from usage_monitor.settings import Settings; "
        "from usage_monitor.wiring import wire; wire(Settings.from_env(os.environ))"
    ),
}
# Each figure and the one it is held against.
RATIOS = (
    (APP, BOTO3, TARGET_IMPORT_RATIO),
    (APP_WIRED, BOTO3_CLIENT, TARGET_WIRE_RATIO),
    (APP_WIRED, FLOOR, TARGET_FLOOR_RATIO),
)


@dataclass
class ImportTimes:
    """Per probe: perf_counter and process_time seconds of each sample, and the load meanwhile."""

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]
    load: float

    def median(self, label: str, *, cpu: bool = False) -> float:
        return statistics.median((self.cpu if cpu else self.wall)[label])

    def ratio(self, label: str = APP, base: str = BOTO3, *, cpu: bool = False) -> float:
        return self.median(label, cpu=cpu) / self.median(base, cpu=cpu)


CLOSED_PORT = "http://127.0.0.1:9"  # wiring makes no request; nothing listens here anyway


def probe_settings() -> dict[str, str]:
    """The function's settings, naming resources that need not exist: wiring only builds clients."""
    stack = LocalStack(
        table_name="usage-snapshots",
        topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:leegality-usage-alerts",
        queue_url="",
        secret_id="leegality-usage-monitor/tokens",
    )
    return stack.environment(f"{CLOSED_PORT}/api")


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


def cold_start_lines(imports: ImportTimes, samples: int) -> list[str]:
    """Each figure beside the one it is held against."""
    out = [
        f"Cold start: fresh interpreter per sample, perf_counter round the code, median of {samples}"
        " (CPU = process_time, less sensitive to other load)",
    ]
    for label, base, _ in RATIOS:
        for name in (base, label):
            wall, cpu = imports.median(name), imports.median(name, cpu=True)
            ratio = (
                ""
                if name == base
                else f"{imports.ratio(name, base):5.2f} x   CPU {imports.ratio(name, base, cpu=True):5.2f} x"
            )
            out.append(
                f"  {name:<42} {wall * 1000:6.1f} ms   CPU {cpu * 1000:6.1f} ms  {ratio:<24}"
                f"({', '.join(f'{t * 1000:.0f}' for t in imports.wall[name])} ms)"
            )
    out.append("  (the handler imports boto3 lazily, in wire(): the first invocation pays for it)")
    return out


def cold_start_targets(imports: ImportTimes) -> list[tuple[bool, str]]:
    busy = os.cpu_count() or 1
    results = []
    for label, base, target in RATIOS:
        ratio = imports.ratio(label, base)
        caveat = (
            f"; load average reached {imports.load:.1f} on {busy} CPUs, so wall samples are noisy: "
            f"the CPU-time ratio is {imports.ratio(label, base, cpu=True):.2f}"
            if imports.load > busy
            else ""
        )
        results.append(
            (
                ratio <= target,
                f"{label} ≤ {target} x {base}: {ratio:.2f} x "
                f"({imports.median(label) * 1000:.0f} ms vs {imports.median(base) * 1000:.0f} ms){caveat}",
            )
        )
    return results


def main(argv: list[str] | None = None) -> int:
    from local.bench_processes import function_env

    parser = argparse.ArgumentParser(prog="python -m local.coldstart", description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=9, help="fresh interpreters per figure (9)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    samples = max(1, args.samples)
    imports = measure_imports(samples, function_env(probe_settings(), CLOSED_PORT))
    targets = cold_start_targets(imports)
    print("\n".join(cold_start_lines(imports, samples)))
    print("\n".join(f"  {'PASS' if ok else 'FAIL'}  {text}" for ok, text in targets))
    return 1 if args.strict and not all(ok for ok, _ in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
