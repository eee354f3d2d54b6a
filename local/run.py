"""`make demo`: one scheduled run, end to end, on this machine.

AWS is moto in-process; Leegality is the local simulator on 127.0.0.1 serving four licenses (healthy,
over a threshold, at its limit, bad token). Three use an OAuth2 client (one token minted and shared), the
fourth a static token, as the secret allows both. Runs the real Lambda handler twice (a second schedule tick
shows that alerts go out once per crossing) and prints the stored usage and the published alerts.
"""

from __future__ import annotations

import os
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

from local.aws import REGION, FakeContext, LocalStack, load_event, provision, published_alerts
from local.simulator import LeegalitySimulator, usage_of

LICENSES = {
    "acme-healthy-0001": usage_of(
        users=(233, 1000), departments=(23, 100), signatures=(2300, 10000), certificates=(23, 1000)
    ),
    "acme-busy-0002": usage_of(
        users=(412, 500), departments=(12, 50), signatures=(8620, 10000), certificates=(40, 100)
    ),
    "acme-full-0003": usage_of(users=(50, 50), departments=(3, 10), signatures=(1000, 1000), certificates=(2, 10)),
    "acme-badtoken-0004": usage_of(users=(1, 10), departments=(1, 10), signatures=(1, 10), certificates=(1, 10)),
}


DEMO_CLIENT = {"clientId": "acme-usage-monitor", "clientSecret": "demo-client-secret-not-real"}


def main() -> int:
    # Quiet Powertools for a person at a terminal; the JSON logs and EMF lines are for CloudWatch.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ.update(AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    import boto3
    from moto import mock_aws

    with LeegalitySimulator() as simulator, mock_aws():
        simulator.tokens.add_client(DEMO_CLIENT["clientId"], DEMO_CLIENT["clientSecret"])
        credentials: dict[str, Any] = {}
        for license_id, usage in LICENSES.items():
            if license_id == "acme-badtoken-0004":
                # A pasted static token that has expired: still accepted in the secret, refused by the API.
                simulator.add_license(license_id, "the-current-token", usage)
                credentials[license_id] = "an-expired-token"
            else:
                simulator.add_license(license_id, None, usage, client_id=DEMO_CLIENT["clientId"])
                credentials[license_id] = DEMO_CLIENT
        import json

        session = boto3.session.Session(region_name=REGION)
        stack = provision(session, json.dumps(credentials))
        os.environ.update(stack.environment(simulator.base_url))

        print("Leegality usage monitor: local run")
        print(f"  Leegality simulator: {simulator.base_url}  ·  AWS: moto (in-process, {REGION})")
        print(f"  thresholds {os.environ['ALERT_THRESHOLDS']}% (the limit is always critical)\n")

        event = load_event("scheduled.json")
        first = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
        _seed_history(session, stack, first)
        for tick in range(2):
            event = {**event, "id": f"demo-run-{tick}", "time": _iso(first + timedelta(minutes=15 * tick))}
            _run_once(session, stack, event, tick)
            print(
                f"  OAuth2 client {DEMO_CLIENT['clientId']!r}: token requests to the simulator so far: "
                f"{simulator.tokens.request_count} (one JWT, cached until shortly before its exp, shared by "
                f"{len(LICENSES) - 1} licenses)\n"
            )
    return 0


def _run_once(session: Any, stack: LocalStack, event: dict[str, Any], tick: int) -> None:
    from usage_monitor import app
    from usage_monitor.report import row_from_snapshot, usage_table
    from usage_monitor.settings import Settings
    from usage_monitor.wiring import policy_from

    before = len(published_alerts(stack.topic_arn))
    summary = app.lambda_handler(event, FakeContext())
    alerts = published_alerts(stack.topic_arn)[before:]
    print(f"Run {tick + 1}, scheduled at {event['time']}: {summary}")
    if tick == 0:
        table = session.resource("dynamodb", region_name=REGION).Table(stack.table_name)
        rows = [
            row_from_snapshot(table.get_item(Key={"license_id": lid, "captured_at": summary["captured_at"]})["Item"])
            for lid in LICENSES
        ]
        policy = policy_from(Settings.from_env(os.environ))
        print("\nSnapshots stored in DynamoDB (acme-busy-0002 also has two earlier days, for its forecast):")
        print(textwrap.indent(usage_table(rows, policy), "  "))
    print(f"\nAlerts published to SNS this run: {len(alerts)}")
    for alert in alerts:
        attributes = "  ".join(f"{k}={v}" for k, v in alert.attributes.items())
        print(f"\n  Subject: {alert.subject}\n  Attributes: {attributes}")
        print("  Email:\n" + textwrap.indent(alert.email, "    | ", lambda _line: True))
        print(f"  SMS ({len(alert.sms)} chars): {alert.sms}")
    if tick == 1 and not alerts:
        print("  (none: nothing crossed a new level since the last run; alerts go out once per crossing)")
    print()


# Two earlier days of the busy license, as earlier runs would have stored them, so the forecast has a
# history to fit: users +16 a day, signatures +210 a day.
BUSY_HISTORY = ((2, 380, 8200), (1, 396, 8410))


def _seed_history(session: Any, stack: LocalStack, first: datetime) -> None:
    from usage_monitor.models import CheckResult, Resource
    from usage_monitor.store import snapshot_item

    table = session.resource("dynamodb", region_name=REGION).Table(stack.table_name)
    for days_before, users, signatures in BUSY_HISTORY:
        moment = first - timedelta(days=days_before)
        resources = (Resource("users", users, 500), Resource("signatures", signatures, 10000))
        table.put_item(Item=snapshot_item(CheckResult("acme-busy-0002", moment, resources), moment, 400))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    sys.exit(main())
