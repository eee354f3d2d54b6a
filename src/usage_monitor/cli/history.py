"""`usage-monitor history`: one license's stored snapshots, charted per resource or written as CSV."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from usage_monitor.cli import common
from usage_monitor.cli.common import CliError, add_command, env
from usage_monitor.reports.history import history_text, snapshot_from_item, write_csv
from usage_monitor.settings import validate_license_id

DEFAULT_HISTORY_DAYS = 14
MAX_HISTORY_DAYS = 3650  # ten years: longer than any snapshot retention in use


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "history",
        "chart a license's stored snapshots over time",
        "Read one license's snapshots from the monitor's DynamoDB table and chart each resource\n"
        "(▁ is 0%, █ is 100% of the limit), with a forecast line when one is available.",
    )
    parser.add_argument("license_id", metavar="LICENSE_ID")
    parser.add_argument(
        "--days",
        type=_days,
        default=DEFAULT_HISTORY_DAYS,
        help=f"how far back, 1 to {MAX_HISTORY_DAYS} (default: {DEFAULT_HISTORY_DAYS})",
    )
    parser.add_argument("--table", help="snapshot table (default: SNAPSHOT_TABLE)")
    common.thresholds_option(parser)
    parser.add_argument("--csv", action="store_true", help="write CSV rows instead of the chart")
    parser.set_defaults(handler=run_history)


def _days(text: str) -> int:
    """A whole number of days from 1 to `MAX_HISTORY_DAYS`: `now - days` must stay a date Python can hold."""
    if not re.fullmatch(r"[0-9]{1,9}", text.strip()) or not 1 <= int(text) <= MAX_HISTORY_DAYS:
        raise argparse.ArgumentTypeError(
            f"{common.quoted(text)} is not a whole number of days from 1 to {MAX_HISTORY_DAYS}"
        )
    return int(text)


def run_history(args: argparse.Namespace) -> int:
    license_id = validate_license_id(args.license_id.strip(), "LICENSE_ID")
    table_name = args.table or env("SNAPSHOT_TABLE")
    if not table_name:
        raise CliError("no snapshot table: pass --table NAME or set SNAPSHOT_TABLE")
    policy = common.policy_of(args)
    now = datetime.now(UTC).replace(microsecond=0)
    session = common.aws_session(args)
    items = query_snapshots(session, table_name, license_id, now - timedelta(days=args.days))
    snapshots = [snapshot_from_item(item) for item in items]
    if args.csv:
        write_csv(snapshots, sys.stdout)
        if not snapshots:
            common.print_error(f"no snapshots of {license_id} in the last {args.days} days in table {table_name}")
        return common.EXIT_OK
    if not snapshots:
        print(f"No snapshots of {license_id} in the last {args.days} days in table {table_name}.")
        return common.EXIT_OK
    print(history_text(license_id, snapshots, policy, now, f"last {args.days} days, table {table_name}"))
    return common.EXIT_OK


def query_snapshots(session: Any, table_name: str, license_id: str, since: datetime) -> list[dict[str, Any]]:
    """Every snapshot of the license captured at or after `since`, oldest first, all pages."""
    from usage_monitor.storage.dynamo import DynamoTable
    from usage_monitor.storage.store import query_history

    with common.aws_errors(session.region_name, f"table {table_name}"):
        table = DynamoTable(session.client("dynamodb", config=common.aws_config()), table_name)
        items = query_history(table, license_id, since)
    # Alert state and idempotency records live in other partitions; this guards older layouts.
    return [item for item in items if item.get("record_type", "snapshot") == "snapshot"]
