"""The benchmark's Leegality simulator, in a process of its own (`python -m local.bench_simulator CONFIG`).

Run by `local.benchmark`, never by hand. CONFIG is a JSON object: `n` licenses named like
`fleet_ids(n)`, `latency` in seconds, and `busy_every` (every k-th license is above 80%, 0 = none).
The process prints `{"base_url": ...}` on one line, then answers commands read from stdin, one per
line: `stats` prints a JSON line (requests served, this process's CPU seconds), `stop` or end of input
ends it. Its own process, so serving 16 concurrent requests never competes for the function's GIL.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

from local.simulator import LeegalitySimulator, usage_of


def fleet_ids(n: int) -> list[str]:
    return [f"bench-lic-{i:05d}" for i in range(n)]


def token_for(license_id: str) -> str:
    return f"tok-{license_id}"


def is_busy(index: int, busy_every: int) -> bool:
    return busy_every > 0 and index % busy_every == busy_every - 1


def fleet_usage(index: int, busy_every: int) -> dict[str, Any]:
    """Healthy: every resource below 80% (varied a little); busy: users at 85%, a new crossing."""
    if is_busy(index, busy_every):
        return usage_of(users=(850, 1000), departments=(12, 100), signatures=(2500, 10000), certificates=(40, 1000))
    return usage_of(
        users=(100 + index % 600, 1000),
        departments=(5 + index % 70, 100),
        signatures=(1000 + index % 6000, 10000),
        certificates=(10 + index % 700, 1000),
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    simulator = LeegalitySimulator(latency=float(config["latency"]))
    busy_every = int(config.get("busy_every", 0))
    for index, license_id in enumerate(fleet_ids(int(config["n"]))):
        simulator.add_license(license_id, token_for(license_id), fleet_usage(index, busy_every))
    started = time.monotonic()
    with simulator:
        print(json.dumps({"base_url": simulator.base_url}), flush=True)
        for line in sys.stdin:  # bounded by the parent: it sends `stop` or closes the pipe
            command = line.strip()
            if command == "stop":
                break
            if command == "stats":
                stats = {
                    "requests": len(simulator.requests),
                    "cpu_seconds": _cpu_seconds(),
                    "uptime_seconds": time.monotonic() - started,
                }
                print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
