"""The weekly digest's cost: AWS calls per license at N licenses, message size, and one realistic history.

    .venv/bin/python -m local.bench_digest [--n 1000]

Runs the real handler with the digest schedule's event (events/digest.json) against a moto server in
another process (so this process's CPU time is the digest's own), after seeding N licenses with 15 daily
snapshots each (5% with an open alert and a mute). Every botocore call is counted
(`local.bench_function.ApiCounter`). A second measurement reads one license holding 14 days of 15-minute
snapshots (what a deployment stores) in full and sampled as the digest reads it: items parsed, Query
calls, CPU. `make bench` runs this too and prints the same lines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local.aws import REGION, FakeContext, load_event, provision
from local.bench_function import ApiCounter

DIGEST_AT = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
SNS_MESSAGE_LIMIT = 262_144


def seed(table: Any, license_ids: list[str], days: int, every: timedelta) -> int:
    from usage_monitor.core.models import CheckResult, Resource
    from usage_monitor.storage.store import snapshot_item

    written = 0
    steps = int(timedelta(days=days) / every)
    with table.batch_writer() as batch:
        for n, license_id in enumerate(license_ids):
            for step in range(steps, -1, -1):
                at = DIGEST_AT - every * step - timedelta(minutes=15)
                grown = steps - step
                resources = (
                    Resource("users", 100 + n % 300 + grown // 8, 500),
                    Resource("departments", 5, 50),
                    Resource("signatures", 2000 + 7 * (n % 900) + grown, 10000),
                    Resource("certificates", 10, 100),
                )
                batch.put_item(Item=snapshot_item(CheckResult(license_id, at, resources), at, 400))
                written += 1
    return written


def alert_some(table: Any, license_ids: list[str], share: float) -> int:
    from decimal import Decimal

    from usage_monitor.alerting.types import AlertState, NotifiedLevel
    from usage_monitor.storage.store import state_to_item

    chosen = license_ids[: int(len(license_ids) * share)]
    with table.batch_writer() as batch:
        for license_id in chosen:
            state = AlertState(
                resources={"users": NotifiedLevel(Decimal(80), DIGEST_AT - timedelta(days=1))},
                silences={"signatures": DIGEST_AT + timedelta(days=2)},
                version=1,
            )
            batch.put_item(Item=state_to_item(license_id, state, None))
    return len(chosen)


def run_digest(counter: ApiCounter, event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
    from usage_monitor import app

    app.reset()
    counter.reset()
    summary: dict[str, Any] = app.lambda_handler(event, FakeContext())
    calls = {service: {op: int(entry[0]) for op, entry in ops.items()} for service, ops in counter.calls.items()}
    return summary, calls


def cpu_and_wall(action: Any) -> tuple[Any, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = action()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def measure(n: int) -> list[str]:
    """AWS is a moto server in another process, so this process's CPU time is the digest's own."""
    from local.bench_processes import FAKE_AWS, MotoServer

    os.environ.update({**FAKE_AWS, "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
    counter = ApiCounter()
    counter.install()
    lines = []
    with tempfile.TemporaryDirectory(prefix="usage-monitor-bench-digest-") as tmp:
        moto = MotoServer(Path(tmp) / "moto.log")
        try:
            os.environ["AWS_ENDPOINT_URL"] = moto.url
            lines += _fleet(n, counter)
            moto.reset()
            lines += _one_realistic_license(counter)
        finally:
            moto.stop()
    return lines


def _fleet(n: int, counter: ApiCounter) -> list[str]:
    import boto3

    session = boto3.session.Session(region_name=REGION)
    license_ids = [f"bench-{i:05d}-0000-4000-8000-000000000000" for i in range(n)]
    stack = provision(session, json.dumps({i: f"token-{i}" for i in license_ids}))
    os.environ.update(stack.environment("http://127.0.0.1:9/api"))
    table = session.resource("dynamodb", region_name=REGION).Table(stack.table_name)
    items = seed(table, license_ids, days=15, every=timedelta(days=1))
    alerted = alert_some(table, license_ids, 0.05)
    event = {**load_event("digest.json"), "time": DIGEST_AT.strftime("%Y-%m-%dT%H:%M:%SZ")}
    (summary, calls), cpu, wall = cpu_and_wall(lambda: run_digest(counter, event))
    total = sum(sum(ops.values()) for ops in calls.values())
    ops = ", ".join(f"{op} {count:,}" for service in calls.values() for op, count in sorted(service.items()))
    message = _published(session, stack.queue_url)
    listed = sum(1 for line in message.splitlines() if line[:1].isdigit() and ". " in line[:5])
    return [
        f"Weekly digest at N = {n:,} ({items:,} daily snapshots; {alerted} licenses with an open alert and a "
        "mute); AWS is a moto server in another process:",
        f"  AWS calls: {total:,} = {total / n:.3f} per license ({ops})",
        f"  SNS message: {summary['message_bytes']:,} bytes of {SNS_MESSAGE_LIMIT:,} allowed "
        f"({summary['message_bytes'] / SNS_MESSAGE_LIMIT:.0%}); the email lists {listed} licenses and summarises "
        "the rest",
        f"  digest CPU {cpu:.1f} s ({cpu / n * 1000:.1f} ms per license), wall {wall:.1f} s",
    ]


def _one_realistic_license(counter: ApiCounter) -> list[str]:
    """14 days of 15-minute snapshots, as a deployment stores them: the full read against the sampled one."""
    import boto3

    from usage_monitor.reports.jobs import read_licenses
    from usage_monitor.storage.dynamo import DynamoTable
    from usage_monitor.storage.store import DynamoStore

    session = boto3.session.Session(region_name=REGION)
    stack = provision(session, "{}")
    table = session.resource("dynamodb", region_name=REGION).Table(stack.table_name)
    items = seed(table, ["one"], days=14, every=timedelta(minutes=15))
    store = DynamoStore(DynamoTable(session.client("dynamodb", region_name=REGION), stack.table_name), 400)
    since = DIGEST_AT - timedelta(days=14)
    lines = [f"One license with 14 days of 15-minute snapshots ({items:,} items), 5 reads each:"]
    for label, sample in (("full history", None), ("sampled (digest)", DIGEST_AT)):
        cpus, returned = [], 0
        counter.reset()
        for _ in range(5):
            found, cpu, _ = cpu_and_wall(lambda s=sample: next(read_licenses(store, ["one"], since, _count, sample=s)))
            cpus.append(cpu)
            returned = found
        queries = counter.calls.get("dynamodb", {}).get("Query", [0])[0] // 5
        lines.append(
            f"  {label}: {returned:,} items returned by {queries} Query call(s), "
            f"{min(cpus) * 1000:.0f} ms CPU (best of 5)"
        )
    return lines


def _count(license_id: str, items: list[dict[str, Any]], state: Any) -> int:
    return len(items)


def _published(session: Any, queue_url: str) -> str:
    """The digest's email body, as the topic's SQS subscriber received it."""
    from local.aws import delivered_messages

    envelopes = delivered_messages(session, queue_url)
    # An SQS subscriber gets the `default` body, which for the digest is the email.
    email: str = envelopes[-1]["Message"] if envelopes else ""
    return email


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.bench_digest", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="licenses (default: 1000)")
    args = parser.parse_args(argv)
    print("\n".join(measure(args.n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
