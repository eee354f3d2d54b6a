"""Benchmark scenario: a client-credentials fleet (`python -m local.bench_oauth [--n 1000]`).

N licenses share one OAuth2 client. The real handler runs in this process against moto (in-process) and
the local simulator (latency 0): a cold run, a warm run 15 minutes later, and a run after the server
dropped every token (each license's first call is refused with 401). Prints token requests per run, which
must be one per client, never one per license. Also run, in a subprocess, at the end of `make bench`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from local.aws import REGION, FakeContext, provision
from local.bench_simulator import fleet_ids
from local.simulator import LeegalitySimulator, usage_of

CLIENT = {"clientId": "bench-client", "clientSecret": "bench-client-secret"}


def measure(n: int, concurrency: int) -> list[str]:
    os.environ.update(
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        POWERTOOLS_LOG_LEVEL="WARNING",
        POWERTOOLS_METRICS_DISABLED="true",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from moto import mock_aws

    from usage_monitor import app

    lines = [f"Client-credentials fleet: N = {n:,} licenses sharing one OAuth2 client, MAX_CONCURRENCY = {concurrency}"]
    with LeegalitySimulator() as simulator, mock_aws():
        simulator.tokens.add_client(CLIENT["clientId"], CLIENT["clientSecret"])
        ids = fleet_ids(n)
        for index, license_id in enumerate(ids):
            simulator.add_license(license_id, None, usage_of(users=(100 + index % 600, 1000)), client_id="bench-client")
        stack = provision(boto3.session.Session(region_name=REGION), json.dumps({"default": CLIENT}))
        os.environ.update(
            stack.environment(simulator.base_url, LICENSE_IDS=",".join(ids), MAX_CONCURRENCY=str(concurrency))
        )
        app.reset()
        rows = []
        for label, time_, expire in (
            ("cold run", "2026-11-24T09:15:00Z", False),
            ("warm run (+15 min)", "2026-11-24T09:30:00Z", False),
            ("after the server dropped the token", "2026-11-24T09:45:00Z", True),
        ):
            if expire:
                simulator.tokens.expire_all()
            tokens_before, usage_before = simulator.tokens.request_count, len(simulator.requests)
            started = time.perf_counter()
            event: dict[str, Any] = {"source": "aws.scheduler", "id": f"bench-{time_}", "time": time_, "detail": {}}
            summary = app.lambda_handler(event, FakeContext())
            wall = time.perf_counter() - started
            rows.append(
                (
                    label,
                    simulator.tokens.request_count - tokens_before,
                    len(simulator.requests) - usage_before,
                    len(summary["failed"]),
                    wall,
                )
            )
    lines.append(f"  {'run':<36} {'token requests':>14} {'usage calls':>12} {'failed':>7} {'wall':>8}")
    for label, tokens, usage, failed, wall in rows:
        lines.append(f"  {label:<36} {tokens:>14} {usage:>12} {failed:>7} {wall:>7.1f}s")
    worst = max(row[1] for row in rows)
    verdict = "PASS" if worst <= 1 and all(row[3] == 0 for row in rows) else "FAIL"
    lines.append(f"  {verdict}  token requests per run ≤ 1 per client (max {worst}), no failed check")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.bench_oauth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="licenses sharing the client (1000)")
    parser.add_argument("--concurrency", type=int, default=16, help="MAX_CONCURRENCY (16)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    lines = measure(max(1, min(args.n, 20_000)), max(1, min(args.concurrency, 256)))
    print("\n".join(lines))
    return 0 if lines[-1].lstrip().startswith("PASS") else 1


if __name__ == "__main__":
    sys.exit(main())
