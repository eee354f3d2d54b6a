"""`usage-monitor report`: write the HTML usage report of the last N days from the monitor's table.

The reading and rendering is `digest_run.build_report`, which the demo uses too. Licenses: `--license`,
else `LICENSE_IDS`, else every license the tokens secret names (as the scheduled run does); the secret's
token values are never printed or written.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from usage_monitor.alerting.types import AlertPolicy
from usage_monitor.cli import common
from usage_monitor.cli.common import CliError, add_command, env
from usage_monitor.core.license_entries import LicenseList, parse_entries, parse_separated
from usage_monitor.settings import parse_threshold_overrides

DEFAULT_DAYS = 30
DEFAULT_OUT = "report.html"
DEFAULT_SECRET_ID = "leegality-usage-monitor/tokens"


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "report",
        "write an HTML usage report with a chart per resource (one self-contained file)",
        "Read the stored snapshots of the last --days days and write one HTML file: a summary\n"
        "table (fullest first), then per license a chart per resource of percent used, with the\n"
        "thresholds, the limit and the forecast to the limit date. No scripts, no network fetches.",
    )
    parser.add_argument("--days", type=_days, default=DEFAULT_DAYS, help=f"how far back (default: {DEFAULT_DAYS})")
    parser.add_argument("--out", type=Path, default=Path(DEFAULT_OUT), help=f"file to write (default: {DEFAULT_OUT})")
    parser.add_argument(
        "--license",
        dest="licenses",
        action="extend",
        nargs="+",
        metavar="ID",
        help="licenses to report (default: LICENSE_IDS, else every license in the tokens secret)",
    )
    parser.add_argument("--table", help="the monitor's DynamoDB table (default: SNAPSHOT_TABLE)")
    parser.add_argument(
        "--secret-id", help=f"tokens secret naming the licenses (default: TOKENS_SECRET_ID or {DEFAULT_SECRET_ID})"
    )
    common.thresholds_option(parser)
    parser.set_defaults(handler=run_report)


def _days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 1 to 400")
    return int(text)


def run_report(args: argparse.Namespace) -> int:
    table_name = args.table or env("SNAPSHOT_TABLE")
    if not table_name:
        raise CliError("no table: pass --table NAME or set SNAPSHOT_TABLE (the stack output SnapshotTableName)")
    policy = _policy(args)
    session = common.aws_session(args)
    listed = _license_list(args, session)
    common.name_skipped(listed)
    license_ids = listed.ids
    # Imported here: `usage-monitor check` loads this module to register `report` and must stay free of
    # Powertools and boto3.
    from usage_monitor.reports.jobs import build_report
    from usage_monitor.storage.dynamo import DynamoTable
    from usage_monitor.storage.store import DynamoStore

    table = DynamoTable(session.client("dynamodb", config=common.aws_config()), table_name)
    now = datetime.now(UTC).replace(microsecond=0)
    with common.aws_errors(session.region_name, f"table {table_name}"):
        html = build_report(DynamoStore(table, retention_days=1), license_ids, now, args.days, policy)
    try:
        args.out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"Wrote {args.out.resolve()} ({len(license_ids)} licenses, last {args.days} days, {len(html):,} bytes).")
    return common.EXIT_ERROR if listed.invalid else common.EXIT_OK


def _policy(args: argparse.Namespace) -> AlertPolicy:
    policy = common.policy_of(args)
    overrides = parse_threshold_overrides(env("ALERT_THRESHOLD_OVERRIDES"))
    return replace(policy, overrides=overrides)


def _license_list(args: argparse.Namespace, session: Any) -> LicenseList:
    """`--license`, else `LICENSE_IDS`, else the secret's licenses: read entry by entry, as the scheduled run
    reads them, so a repeated or bad entry is named and skipped instead of stopping the report."""
    if args.licenses:
        options = ((f"option {n}", raw) for n, raw in enumerate(args.licenses, start=1))
        return parse_entries(options, "--license").require_valid("the --license options")
    configured = parse_separated(env("LICENSE_IDS"), "LICENSE_IDS").require_valid("LICENSE_IDS")
    if configured.entries:
        return configured
    from usage_monitor.leegality.tokens import parse_secret

    secret_id = args.secret_id or env("TOKENS_SECRET_ID") or DEFAULT_SECRET_ID
    with common.aws_errors(session.region_name, f"tokens secret {secret_id}"):
        response = session.client("secretsmanager", config=common.aws_config()).get_secret_value(SecretId=secret_id)
    named = parse_secret(str(response.get("SecretString") or ""), secret_id).license_list
    if not named.ids:
        raise CliError(f"no license to report: pass --license ID, set LICENSE_IDS, or name licenses in {secret_id}")
    return named
