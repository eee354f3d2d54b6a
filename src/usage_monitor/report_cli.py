"""`usage-monitor report`: write the HTML usage report of the last N days from the monitor's table.

`add_report` registers the subcommand; `build_report` is the part that reads DynamoDB and renders, used
by the demo too. Licenses: `--license`, else `LICENSE_IDS`, else every license the tokens secret names
(as the scheduled run does); the secret's token values are never printed or written.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from usage_monitor.alerts import AlertPolicy, AlertState
from usage_monitor.cli import (
    EXIT_CODES,
    EXIT_OK,
    CliError,
    aws_config,
    aws_errors,
    aws_options,
    aws_session,
    policy_of,
    thresholds_option,
)
from usage_monitor.settings import parse_license_ids, parse_threshold_overrides, validate_license_id

if TYPE_CHECKING:
    from usage_monitor.digest_run import HistoryStore
    from usage_monitor.report_html import LicenseHistory

DEFAULT_DAYS = 30
DEFAULT_OUT = "report.html"
DEFAULT_FORECAST_DAYS = 14
DEFAULT_SECRET_ID = "leegality-usage-monitor/tokens"


def add_report(commands: Any) -> None:
    parser = commands.add_parser(
        "report",
        parents=[aws_options()],
        help="write an HTML usage report with a chart per resource (one self-contained file)",
        description="Read the stored snapshots of the last --days days and write one HTML file: a summary\n"
        "table (fullest first), then per license a chart per resource of percent used, with the\n"
        "thresholds, the limit and the forecast to the limit date. No scripts, no network fetches.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    thresholds_option(parser)
    parser.set_defaults(handler=run_report)


def _days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 1 to 400")
    return int(text)


def run_report(args: argparse.Namespace) -> int:
    table_name = args.table or _env("SNAPSHOT_TABLE")
    if not table_name:
        raise CliError("no table: pass --table NAME or set SNAPSHOT_TABLE (the stack output SnapshotTableName)")
    policy = _policy(args)
    session = aws_session(args)
    license_ids = _license_ids(args, session)
    from usage_monitor.dynamo import DynamoTable
    from usage_monitor.store import DynamoStore

    table = DynamoTable(session.client("dynamodb", config=aws_config()), table_name)
    now = datetime.now(UTC).replace(microsecond=0)
    with aws_errors(session.region_name, f"table {table_name}"):
        html = build_report(DynamoStore(table, retention_days=1), license_ids, now, args.days, policy)
    try:
        args.out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"Wrote {args.out.resolve()} ({len(license_ids)} licenses, last {args.days} days, {len(html):,} bytes).")
    return EXIT_OK


def build_report(
    store: HistoryStore,
    license_ids: Sequence[str],
    now: datetime,
    days: int,
    policy: AlertPolicy,
    *,
    forecast_days: int = DEFAULT_FORECAST_DAYS,
    workers: int = 8,
) -> str:
    """Read each license's history of the last `days` days (and its alert state) and render the page."""
    # Imported here: `usage-monitor check` loads this module to register `report` and must stay free of
    # Powertools and boto3.
    from usage_monitor.digest import license_digest
    from usage_monitor.digest_run import read_licenses
    from usage_monitor.report_html import LicenseHistory, render_report
    from usage_monitor.store import parse_iso, usage_points

    window = timedelta(days=forecast_days)

    def build(license_id: str, items: list[dict[str, Any]], state: AlertState | None) -> LicenseHistory:
        digest = license_digest(license_id, items, state, policy, now, forecast_window=window)
        failures = [parse_iso(str(i["captured_at"])) for i in items if i.get("status") == "failed"]
        return LicenseHistory(digest, usage_points(items), failures)

    since = now - max(timedelta(days=days), window)
    histories = list(read_licenses(store, license_ids, since, build, workers=workers, tolerant=False))
    return render_report(histories, now, days, policy)


def _policy(args: argparse.Namespace) -> AlertPolicy:
    policy = policy_of(args)
    overrides = parse_threshold_overrides(_env("ALERT_THRESHOLD_OVERRIDES"))
    return AlertPolicy(policy.thresholds, overrides=overrides)


def _license_ids(args: argparse.Namespace, session: Any) -> tuple[str, ...]:
    if args.licenses:
        return tuple(dict.fromkeys(validate_license_id(i.strip(), "--license") for i in args.licenses))
    configured = parse_license_ids(_env("LICENSE_IDS"), "LICENSE_IDS")
    if configured:
        return configured
    from usage_monitor.tokens import parse_secret

    secret_id = args.secret_id or _env("TOKENS_SECRET_ID") or DEFAULT_SECRET_ID
    with aws_errors(session.region_name, f"tokens secret {secret_id}"):
        response = session.client("secretsmanager", config=aws_config()).get_secret_value(SecretId=secret_id)
    named = parse_secret(str(response.get("SecretString") or ""), secret_id).named_licenses
    if not named:
        raise CliError(f"no license to report: pass --license ID, set LICENSE_IDS, or name licenses in {secret_id}")
    return named


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()
