"""`make demo`: one scheduled run, end to end, on this machine.

AWS is moto in-process; Leegality is the local simulator on 127.0.0.1 serving four licenses (healthy,
over a threshold, at its limit, bad token). Three use an OAuth2 client (one token minted and shared), the
fourth a static token, as the secret allows both. Runs the real Lambda handler twice (a second schedule tick
shows that alerts go out once per crossing) and prints the stored usage and the published alerts. Then
seeds the month before (as earlier runs would have stored it), sends the weekly digest through the same
handler (events/digest.json) and prints it as email and SMS, and writes the HTML usage report to
build/demo/report.html. Last, a license hovering at the 80% line for eight runs shows hysteresis: one alert.
"""

from __future__ import annotations

import os
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

from local.aws import REGION, ROOT, FakeContext, LocalStack, load_event, provision, published_alerts
from local.simulator import LeegalitySimulator, usage_of

REPORT_PATH = ROOT / "build" / "demo" / "report.html"
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
        print(f"  thresholds {os.environ['ALERT_THRESHOLDS']}% (the highest threshold and the limit are critical)\n")

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
        _seed_month(session, stack, first)
        digest_at = first + timedelta(minutes=30)
        _send_digest(stack, digest_at)
        _write_report(session, stack, digest_at)
    _hover_demo(first)
    return 0


HOVER = "acme-hover-0005"
HOVER_USERS = (800, 799, 800, 799, 800, 799, 800, 799)


def _hover_demo(first: datetime) -> None:
    """A license whose users move by one around the 80% line, as admins add and remove users all day:
    with the default hysteresis it alerts once; without (margin 0) it alerts on every run."""
    import json

    import boto3
    from moto import mock_aws

    from usage_monitor import app

    print(f"\nHysteresis: {HOVER} hovers at the 80% line for {len(HOVER_USERS)} runs (users out of 1000)")
    sent_by_margin: dict[str, int] = {}
    for margin in ("5", "0"):
        with LeegalitySimulator() as simulator, mock_aws():
            simulator.add_license(HOVER, "token-for-hover", usage_of(users=(800, 1000)))
            session = boto3.session.Session(region_name=REGION)
            stack = provision(session, json.dumps({HOVER: "token-for-hover"}))
            # Margin 0 also without flap damping: today's one message per crossing, for comparison.
            damping = "4" if margin == "5" else "0"
            env = stack.environment(simulator.base_url, ALERT_HYSTERESIS_POINTS=margin, ALERT_FLAP_CHANGES=damping)
            os.environ.update(env)
            app.reset()
            for tick, users in enumerate(HOVER_USERS):
                simulator.licenses[HOVER].usage = usage_of(users=(users, 1000))
                before = len(published_alerts(stack.topic_arn))
                time = _iso(first + timedelta(days=1, minutes=15 * tick))
                app.lambda_handler({"id": f"hover-{margin}-{tick}", "time": time}, FakeContext())
                new = published_alerts(stack.topic_arn)[before:]
                if margin == "5":
                    said = ", ".join(f"{a.attributes['event_type']} ({a.attributes['severity']})" for a in new)
                    print(f"  run {tick + 1}  users {users}/1000  ->  {said or 'nothing (inside the band)'}")
            sent_by_margin[margin] = len(published_alerts(stack.topic_arn))
        app.reset()
    print(
        f"  {sent_by_margin['5']} alert in {len(HOVER_USERS)} runs with ALERT_HYSTERESIS_POINTS=5 (the 80% warning "
        f"clears below 75%); {sent_by_margin['0']} with ALERT_HYSTERESIS_POINTS=0 and no flap damping"
    )


def _run_once(session: Any, stack: LocalStack, event: dict[str, Any], tick: int) -> None:
    from usage_monitor import app
    from usage_monitor.alerting.types import AlertPolicy
    from usage_monitor.reports.history import row_from_snapshot, usage_table
    from usage_monitor.settings import Settings

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
        policy = AlertPolicy.from_settings(Settings.from_env(os.environ))
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
    from usage_monitor.core.models import CheckResult, Resource
    from usage_monitor.storage.store import snapshot_item

    table = session.resource("dynamodb", region_name=REGION).Table(stack.table_name)
    for days_before, users, signatures in BUSY_HISTORY:
        moment = first - timedelta(days=days_before)
        resources = (Resource("users", users, 500), Resource("signatures", signatures, 10000))
        table.put_item(Item=snapshot_item(CheckResult("acme-busy-0002", moment, resources), moment, 400))


# The month before the demo runs, every 6 hours, as earlier runs would have stored it, so the digest's
# 7-day change and the report's charts have something to show: (days before the runs, usage) per license.
# acme-busy-0002 got a new license period 12 days ago (a reset: its counts started again from low values).
MONTH_DAYS = 30


def _month_usage(license_id: str, days_before: float) -> dict[str, tuple[int, int]] | None:
    d = days_before
    match license_id:
        case "acme-healthy-0001":
            return {
                "users": (int(233 - 2 * d), 1000),
                "departments": (23, 100),
                "signatures": (int(2300 - 25 * d), 10000),
                "certificates": (int(23 - 0.2 * d), 1000),
            }
        case "acme-busy-0002":
            fixed = {"departments": (12, 50), "certificates": (int(40 - d), 100)}
            if d > 12:  # the previous license period
                return {
                    "users": (int(470 - 3 * (d - 12)), 500),
                    **fixed,
                    "signatures": (int(9300 - 60 * (d - 12)), 10000),
                }
            return {
                "users": (int(220 + 16 * (12 - d)), 500),
                **fixed,
                "signatures": (int(6100 + 210 * (12 - d)), 10000),
            }
        case "acme-full-0003":
            return {
                "users": (min(50, int(50 - 1.2 * (d - 8))) if d > 8 else 50, 50),
                "departments": (3, 10),
                "signatures": (min(1000, int(1000 - 30 * (d - 5))) if d > 5 else 1000, 1000),
                "certificates": (2, 10),
            }
        case _:
            return None


def _seed_month(session: Any, stack: LocalStack, first: datetime) -> None:
    from usage_monitor.core.models import CheckError, CheckResult, FailureKind, Resource
    from usage_monitor.storage.store import snapshot_item

    table = session.resource("dynamodb", region_name=REGION).Table(stack.table_name)
    failed = CheckError(FailureKind.TOKEN_REJECTED, "Invalid or expired token", 401, "LE_ERR_SS_401")
    with table.batch_writer() as batch:
        for license_id in LICENSES:
            for step in range(MONTH_DAYS * 4, 12, -1):  # every 6 hours, up to 3 days before (seeded above)
                moment = first - timedelta(hours=6 * step)
                usage = _month_usage(license_id, step / 4)
                if usage is None or (license_id == "acme-healthy-0001" and step in (60, 61)):
                    result = CheckResult(license_id, moment, error=failed)
                else:
                    resources = tuple(Resource(name, current, limit) for name, (current, limit) in usage.items())
                    result = CheckResult(license_id, moment, resources)
                batch.put_item(Item=snapshot_item(result, moment, 400))


def _send_digest(stack: LocalStack, at: datetime) -> None:
    from usage_monitor import app

    before = len(published_alerts(stack.topic_arn))
    event = {**load_event("digest.json"), "id": "demo-digest", "time": _iso(at)}
    summary = app.lambda_handler(event, FakeContext())
    print(f"Weekly digest (events/digest.json, as the digest schedule sends it) at {event['time']}: {summary}")
    for digest in published_alerts(stack.topic_arn)[before:]:
        attributes = "  ".join(f"{k}={v}" for k, v in digest.attributes.items())
        print(f"\n  Subject: {digest.subject}\n  Attributes: {attributes}")
        print("  Email:\n" + textwrap.indent(digest.email, "    | ", lambda _line: True))
        print(f"  SMS ({len(digest.sms)} chars): {digest.sms}")
    print()


def _write_report(session: Any, stack: LocalStack, now: datetime) -> None:
    from usage_monitor.alerting.types import AlertPolicy
    from usage_monitor.reports.jobs import build_report
    from usage_monitor.settings import Settings
    from usage_monitor.storage.dynamo import DynamoTable
    from usage_monitor.storage.store import DynamoStore

    table = DynamoTable(session.client("dynamodb", region_name=REGION), stack.table_name)
    policy = AlertPolicy.from_settings(Settings.from_env(os.environ))
    html = build_report(DynamoStore(table, 400), tuple(LICENSES), now, MONTH_DAYS, policy)
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    REPORT_PATH.write_text(html, encoding="utf-8")
    print(f"HTML usage report (as `usage-monitor report --days {MONTH_DAYS}` writes it): {REPORT_PATH}")
    print(f"  {len(html):,} bytes, self-contained: open it in a browser, print it, or send it to a phone.")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    sys.exit(main())
