"""`usage-monitor`: check licenses now, show a license's stored usage history, run the local demo.

Commands are argparse subparsers, each registered by one `_add_<name>(commands)` function listed in
`COMMANDS`; a handler takes the parsed arguments and returns the exit code. To add a command (`mute`,
`unmute`, `mutes` and `test-alert` are planned), write its registrar and handler, append the registrar
to `COMMANDS`, and reuse `aws_options` / `aws_session` / `aws_errors` for AWS access and `CliError`
for failures. A `CliError` (or `ConfigError`) becomes one line on stderr and exit code 2, never a
traceback.

boto3 is imported only by commands that talk to AWS: `check` with `LEEGALITY_TOKEN` set needs no AWS.
No output ever contains a token: the HTTP client redacts upstream messages, and errors name secrets and
licenses, never values.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from usage_monitor.alerts import AlertPolicy, severity_of
from usage_monitor.entries import parse_entries
from usage_monitor.errors import ConfigError
from usage_monitor.leegality import LeegalityClient
from usage_monitor.models import CheckError, CheckResult, FailureKind, Resource
from usage_monitor.render import iso, percent_text
from usage_monitor.report import UsageRow, level_label, row_from_snapshot, usage_table
from usage_monitor.settings import (
    PRODUCTION_BASE_URL,
    SANDBOX_BASE_URL,
    parse_hysteresis,
    parse_thresholds,
    validate_base_url,
    validate_license_id,
)
from usage_monitor.store import parse_iso
from usage_monitor.tokens import TokenBook, parse_secret

PROG = "usage-monitor"
EXIT_OK = 0
EXIT_OVER_THRESHOLD = 1
EXIT_ERROR = 2

DEFAULT_SECRET_ID = "leegality-usage-monitor/tokens"
DEFAULT_THRESHOLDS = "80,95"
DEFAULT_HISTORY_DAYS = 14
MAX_CHECK_WORKERS = 8
SPARK_CHARS = "▁▂▃▄▅▆▇█"
SPARK_POINTS = 60
NO_CREDENTIALS = (
    "no AWS credentials: set AWS_PROFILE (or pass --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)

EXIT_CODES = """\
exit codes:
  0  done; for check: every license is below all thresholds
  1  check: a resource of some license is at or above a threshold (or at its limit)
  2  a check failed (token rejected, unknown license, network, bad response), a LICENSE_ID was
     skipped as invalid (the others are still checked), or a usage, configuration or AWS error
     (no credentials, table or secret not found); wins over 1
"""


class CliError(Exception):
    """A failure to report as one line on stderr with exit code 2."""


Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, and turn every expected failure into one stderr line and an exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed already
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_ERROR)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (CliError, ConfigError) as exc:
        print_error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (`... --csv | head`): stop quietly, and keep the interpreter's
        # final flush from complaining about the closed pipe.
        _silence_stdout()
        return EXIT_ERROR


def print_error(message: str) -> None:
    """One line, whatever the message held."""
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)


def print_warning(message: str) -> None:
    print(f"{PROG}: warning: {' '.join(message.split())}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Check Leegality license usage now, or show what the deployed monitor stored.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(commands)
    return parser


# --- shared options and AWS access (for every command that needs them) ---


def aws_options(description: str | None = None) -> argparse.ArgumentParser:
    """A parent parser with `--region` and `--profile`, for commands that call AWS."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("AWS", description)
    group.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / the profile's)")
    group.add_argument("--profile", help="AWS named profile (default: AWS_PROFILE)")
    return parent


def thresholds_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--thresholds",
        metavar="PERCENTS",
        help=f"alert thresholds, e.g. 80,95 (default: ALERT_THRESHOLDS or {DEFAULT_THRESHOLDS}); the limit "
        "itself is always critical",
    )


def policy_of(args: argparse.Namespace) -> AlertPolicy:
    raw = args.thresholds if args.thresholds is not None else _env("ALERT_THRESHOLDS") or DEFAULT_THRESHOLDS
    source = "--thresholds" if args.thresholds is not None else "ALERT_THRESHOLDS"
    return AlertPolicy(parse_thresholds(raw, source), hysteresis=parse_hysteresis(_env("ALERT_HYSTERESIS_POINTS")))


def aws_session(args: argparse.Namespace) -> Any:
    """A boto3 session for `--profile` / `--region`; imports boto3 only now."""
    try:
        import boto3
        from botocore.exceptions import ProfileNotFound
    except ImportError:
        raise CliError("this command needs boto3: pip install boto3") from None
    profile = getattr(args, "profile", None)
    try:
        session = boto3.session.Session(profile_name=profile, region_name=getattr(args, "region", None))
    except ProfileNotFound:
        raise CliError(f"AWS profile {profile!r} not found in the AWS config or credentials file") from None
    if not session.region_name:
        raise CliError("no AWS region: pass --region or set AWS_REGION or AWS_DEFAULT_REGION")
    return session


def aws_config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20)


@contextmanager
def aws_errors(region: str, resource: str) -> Iterator[None]:
    """Turn botocore failures into one-line `CliError`s; `resource` names what was asked for.

    AWS error messages name ARNs and actions, never secret values, so they are safe to show.
    """
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError:
        raise CliError(NO_CREDENTIALS) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "unknown"))
        message = str(error.get("Message", "")).strip()
        if code == "ResourceNotFoundException":
            raise CliError(f"{resource} not found in region {region}") from None
        if code in ("UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken"):
            raise CliError(f"AWS rejected the credentials ({code}): {message or 'refresh them and retry'}") from None
        if code in ("AccessDeniedException", "AccessDenied"):
            raise CliError(f"access denied to {resource} in region {region}: {message}") from None
        raise CliError(f"AWS {exc.operation_name} on {resource} failed ({code}): {message}") from None
    except BotoCoreError as exc:
        raise CliError(f"AWS error for {resource}: {exc}") from None


# --- check ---


def _add_check(commands: Any) -> None:
    parser = commands.add_parser(
        "check",
        parents=[aws_options("used only to read the tokens secret, when LEEGALITY_TOKEN is unset")],
        help="call the Leegality API now for one or more licenses",
        description="Call the Leegality usage-statistics API once per license and print the usage table.\n"
        "Token: LEEGALITY_TOKEN (one token for every license) or, when it is unset, the deployed\n"
        "tokens secret (a bare token, or a JSON object of license ID -> token and an optional 'default').",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("license_ids", nargs="+", metavar="LICENSE_ID")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--base-url", help=f"API base URL (default: LEEGALITY_BASE_URL or production, {PRODUCTION_BASE_URL})"
    )
    where.add_argument("--sandbox", action="store_true", help=f"use the sandbox, {SANDBOX_BASE_URL}")
    parser.add_argument(
        "--secret-id",
        help=f"tokens secret when LEEGALITY_TOKEN is unset (default: TOKENS_SECRET_ID or {DEFAULT_SECRET_ID})",
    )
    thresholds_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON (a list, one object per license)")
    parser.set_defaults(handler=run_check)


def resolve_base_url(base_url: str | None, *, sandbox: bool, env: Mapping[str, str]) -> str:
    """`--sandbox`, else `--base-url`, else `LEEGALITY_BASE_URL`, else production; validated."""
    if sandbox:
        return SANDBOX_BASE_URL
    source, url = "--base-url", base_url
    if url is None:
        source, url = "LEEGALITY_BASE_URL", env.get("LEEGALITY_BASE_URL", "").strip() or PRODUCTION_BASE_URL
    try:
        return validate_base_url(url)
    except ConfigError:
        raise CliError(f"{source}: {url!r} must be an https:// URL (http:// only for loopback)") from None


def run_check(args: argparse.Namespace) -> int:
    listed = parse_entries(((f"argument {n}", raw) for n, raw in enumerate(args.license_ids, start=1)), "LICENSE_ID")
    license_ids = list(listed.require_valid("the LICENSE_ID arguments").ids)
    # The others are still checked; the exit code says something was skipped.
    for entry in listed.skipped:
        if entry.duplicate:
            print_warning(entry.describe())
        else:
            print_error(f"skipped {entry.describe()}")
    policy = policy_of(args)
    base_url = resolve_base_url(args.base_url, sandbox=args.sandbox, env=os.environ)
    tokens, secret_id = _token_book(args)
    client = LeegalityClient(base_url)
    with ThreadPoolExecutor(max_workers=min(MAX_CHECK_WORKERS, len(license_ids))) as pool:
        results = list(pool.map(lambda lid: _check_one(client, lid, tokens, secret_id), license_ids))

    if args.json:
        print(json.dumps([result_json(result, policy) for result in results], indent=2))
    else:
        rows = [UsageRow(r.license_id, r.resources, r.error.describe() if r.error else None) for r in results]
        print(usage_table(rows, policy))
    for result in results:
        if result.error is not None:
            print_error(failure_line(result.license_id, result.error, base_url))

    if listed.invalid or any(not result.ok for result in results):
        return EXIT_ERROR
    over = any(policy.level_of(resource) is not None for result in results for resource in result.resources)
    return EXIT_OVER_THRESHOLD if over else EXIT_OK


def _token_book(args: argparse.Namespace) -> tuple[TokenBook, str | None]:
    """`LEEGALITY_TOKEN` for every license, else the tokens secret (and its ID, for messages)."""
    token = _env("LEEGALITY_TOKEN")
    if token:
        return TokenBook(default=token), None
    secret_id = args.secret_id or _env("TOKENS_SECRET_ID") or DEFAULT_SECRET_ID
    session = aws_session(args)
    with aws_errors(session.region_name, f"tokens secret {secret_id}"):
        response = session.client("secretsmanager", config=aws_config()).get_secret_value(SecretId=secret_id)
    text = response.get("SecretString")
    if not isinstance(text, str):
        raise CliError(f"tokens secret {secret_id} holds no SecretString; store the tokens as SecretString")
    return parse_secret(text, secret_id), secret_id


def _check_one(client: LeegalityClient, license_id: str, tokens: TokenBook, secret_id: str | None) -> CheckResult:
    token = tokens.token_for(license_id)
    if token is None:
        message = f"tokens secret {secret_id} has no entry for this license and no 'default'"
        return CheckResult(license_id, datetime.now(UTC), error=CheckError(FailureKind.NO_TOKEN, message))
    return client.check(license_id, token, redact=tokens.secrets)


def failure_line(license_id: str, error: CheckError, base_url: str) -> str:
    """What went wrong for one license, in words a person acts on."""
    codes = "/".join(code for code in (error.code, error.detail_code) if code)
    if codes:
        suffix = f" ({codes})"
    elif error.http_status is not None:
        suffix = f" (HTTP {error.http_status})"
    else:
        suffix = ""
    if error.kind == FailureKind.TOKEN_REJECTED:
        return f"token rejected for license {license_id}: {error.message}{suffix}"
    if error.kind == FailureKind.ACCESS_DENIED:
        return f"access denied for license {license_id}: {error.message}{suffix}"
    if error.http_status == 400 and error.detail_code == "LE_ERR_SS_008":
        return f"unknown license {license_id}: {error.message}{suffix}"
    if error.kind == FailureKind.NO_TOKEN:
        return f"no token for license {license_id}: {error.message}"
    if error.kind == FailureKind.UNREACHABLE:
        return f"cannot reach Leegality at {base_url} for license {license_id}: {error.message}"
    if error.kind == FailureKind.MALFORMED_RESPONSE:
        return f"unexpected response for license {license_id}: {error.message}"
    return f"check failed for license {license_id}: {error.message}{suffix}"


def result_json(result: CheckResult, policy: AlertPolicy) -> dict[str, Any]:
    error = None
    if result.error is not None:
        error = {
            "kind": result.error.kind.value,
            "message": result.error.message,
            "http_status": result.error.http_status,
            "code": result.error.code,
            "detail_code": result.error.detail_code,
        }
    return {
        "license_id": result.license_id,
        "status": "ok" if result.ok else "failed",
        "checked_at": iso(result.checked_at),
        "resources": {resource.name: _resource_json(resource, policy) for resource in result.resources},
        "problems": list(result.problems),
        "error": error,
    }


def _resource_json(resource: Resource, policy: AlertPolicy) -> dict[str, Any]:
    """`level`: ok, warning, critical, or not_evaluated; `threshold`: the highest level reached."""
    level = policy.level_of(resource)
    if not resource.evaluable:
        name = "not_evaluated"
    elif level is None:
        name = "ok"
    else:
        name = severity_of(level).value
    return {
        "current": resource.current,
        "limit": resource.limit,
        "percent": None if resource.percent is None else float(resource.percent),
        "level": name,
        "threshold": None if level is None else _number(level),
        "problems": list(resource.problems),
    }


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# --- history ---


def _add_history(commands: Any) -> None:
    parser = commands.add_parser(
        "history",
        parents=[aws_options()],
        help="chart a license's stored snapshots over time",
        description="Read one license's snapshots from the monitor's DynamoDB table and chart each resource\n"
        "(▁ is 0%, █ is 100% of the limit), with a forecast line when one is available.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("license_id", metavar="LICENSE_ID")
    parser.add_argument(
        "--days",
        type=_positive_int,
        default=DEFAULT_HISTORY_DAYS,
        help=f"how far back (default: {DEFAULT_HISTORY_DAYS})",
    )
    parser.add_argument("--table", help="snapshot table (default: SNAPSHOT_TABLE)")
    thresholds_option(parser)
    parser.add_argument("--csv", action="store_true", help="write CSV rows instead of the chart")
    parser.set_defaults(handler=run_history)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


@dataclass(frozen=True)
class Snapshot:
    captured_at: datetime
    status: str
    row: UsageRow


def run_history(args: argparse.Namespace) -> int:
    license_id = validate_license_id(args.license_id.strip(), "LICENSE_ID")
    table_name = args.table or _env("SNAPSHOT_TABLE")
    if not table_name:
        raise CliError("no snapshot table: pass --table NAME or set SNAPSHOT_TABLE")
    policy = policy_of(args)
    now = datetime.now(UTC).replace(microsecond=0)
    session = aws_session(args)
    items = query_snapshots(session, table_name, license_id, now - timedelta(days=args.days))
    snapshots = [_snapshot(item) for item in items]
    if args.csv:
        write_csv(snapshots, sys.stdout)
        if not snapshots:
            print_error(f"no snapshots of {license_id} in the last {args.days} days in table {table_name}")
        return EXIT_OK
    if not snapshots:
        print(f"No snapshots of {license_id} in the last {args.days} days in table {table_name}.")
        return EXIT_OK
    print(history_text(license_id, snapshots, policy, now, f"last {args.days} days, table {table_name}"))
    return EXIT_OK


def query_snapshots(session: Any, table_name: str, license_id: str, since: datetime) -> list[dict[str, Any]]:
    """Every snapshot of the license captured at or after `since`, oldest first, all pages."""
    from usage_monitor.dynamo import DynamoTable
    from usage_monitor.store import query_history

    with aws_errors(session.region_name, f"table {table_name}"):
        table = DynamoTable(session.client("dynamodb", config=aws_config()), table_name)
        items = query_history(table, license_id, since)
    # Alert state and idempotency records live in other partitions; this guards older layouts.
    return [item for item in items if item.get("record_type", "snapshot") == "snapshot"]


def _snapshot(item: Mapping[str, Any]) -> Snapshot:
    row = row_from_snapshot(item)
    status = str(item.get("status") or ("failed" if row.error else "ok"))
    return Snapshot(parse_iso(str(item["captured_at"])), status, row)


def write_csv(snapshots: Sequence[Snapshot], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["captured_at", "resource", "current", "limit", "percent", "status"])
    for snapshot in snapshots:
        at = iso(snapshot.captured_at)
        if not snapshot.row.resources:
            writer.writerow([at, "", "", "", "", snapshot.status])
        for resource in snapshot.row.resources:
            writer.writerow(
                [
                    at,
                    resource.name,
                    "" if resource.current is None else resource.current,
                    "" if resource.limit is None else resource.limit,
                    "" if resource.percent is None else f"{resource.percent:.1f}",
                    snapshot.status,
                ]
            )


def sparkline(percents: Sequence[Decimal]) -> str:
    """One character per value, on a fixed 0-100% scale (above 100% shows as full)."""
    top = len(SPARK_CHARS) - 1
    chars = []
    for percent in percents[-SPARK_POINTS:]:
        index = int(min(max(percent, Decimal(0)), Decimal(100)) * top / 100 + Decimal("0.5"))
        chars.append(SPARK_CHARS[index])
    return "".join(chars)


def history_text(license_id: str, snapshots: Sequence[Snapshot], policy: AlertPolicy, now: datetime, scope: str) -> str:
    first, last = snapshots[0].captured_at, snapshots[-1].captured_at
    lines = [
        f"{license_id}: {len(snapshots)} snapshot{'s' if len(snapshots) != 1 else ''} "
        f"from {iso(first)} to {iso(last)} ({scope})"
    ]
    series: dict[str, list[tuple[datetime, Resource]]] = {}
    for snapshot in snapshots:
        for resource in snapshot.row.resources:
            series.setdefault(resource.name, []).append((snapshot.captured_at, resource))
    charts = {
        name: sparkline([r.percent for _, r in points if r.percent is not None]) for name, points in series.items()
    }
    trend = (
        "TREND" if all(len(points) <= SPARK_POINTS for points in series.values()) else f"TREND (last {SPARK_POINTS})"
    )
    width = max([len(trend), *(len(chart) for chart in charts.values())])
    if series:
        lines.append(
            f"{'RESOURCE':<13} {trend:<{width}} {'FIRST':>7} {'LAST':>7} {'MIN':>7} {'MAX':>7} {'NOW':>13}  LEVEL"
        )
    forecaster = _forecast_module()
    for name, points in series.items():
        usable = [(at, r) for at, r in points if r.percent is not None]
        if not usable:
            lines.append(f"{name:<13} (no usable figures in {len(points)} snapshots)")
            continue
        percents = [r.percent for _, r in usable if r.percent is not None]
        latest = usable[-1][1]
        lines.append(
            f"{name:<13} {charts[name]:<{width}} {percent_text(percents[0]):>7} {percent_text(percents[-1]):>7} "
            f"{percent_text(min(percents)):>7} {percent_text(max(percents)):>7} "
            f"{f'{latest.current}/{latest.limit}':>13}  {level_label(latest, policy)}"
        )
        if forecaster is not None:
            lines.append(f"{'':<13} forecast: {_forecast(forecaster, usable, now)}")
    failed = [s for s in snapshots if s.row.error is not None or s.status == "failed"]
    if failed:
        latest_failure = failed[-1]
        lines.append(
            f"failed checks: {len(failed)} of {len(snapshots)}; latest at {iso(latest_failure.captured_at)}: "
            f"{latest_failure.row.error or 'no details stored'}"
        )
    return "\n".join(lines)


def _forecast_module() -> Any | None:
    """`usage_monitor.forecast` when it is installed; the history works without it."""
    try:
        return importlib.import_module("usage_monitor.forecast")
    except ImportError:
        return None


def _forecast(module: Any, points: Sequence[tuple[datetime, Resource]], now: datetime) -> str:
    usage = [module.UsagePoint(at, resource.current, resource.limit) for at, resource in points]
    try:
        return str(module.forecast(usage, now).describe(now))
    except (ValueError, ArithmeticError) as exc:
        return f"not available ({exc})"


# --- demo ---


def _add_demo(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="run the local end-to-end demo (as `make demo`; needs the repository checkout)",
        description="One scheduled run against the local Leegality simulator and moto, as `make demo`.",
    )
    parser.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    demo = _import_demo()
    if demo is None:
        raise CliError(
            "the demo needs the repository checkout: the 'local' package is not importable "
            "(installed without the repo?); clone the repository and run `make demo` in it"
        )
    try:
        return int(demo.main())
    except ModuleNotFoundError as exc:
        raise CliError(
            f"the demo needs the development dependencies ({exc.name} is missing): pip install -r requirements-dev.txt"
        ) from None


def _import_demo() -> Any | None:
    """`local.run`; from an editable install, found next to `src/` even when not on sys.path."""
    try:
        return importlib.import_module("local.run")
    except ModuleNotFoundError as exc:
        if exc.name not in ("local", "local.run"):
            raise
    root = Path(__file__).resolve().parents[2]
    if not (root / "local" / "run.py").is_file() or str(root) in sys.path:
        return None
    sys.path.append(str(root))
    try:
        return importlib.import_module("local.run")
    except ModuleNotFoundError:
        return None


# --- mute, unmute, mutes ---

DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """`30m`, `12h`, `7d`, `2w`: how long a mute lasts."""
    unit = text[-1:].lower()
    if unit not in DURATION_UNITS or not text[:-1].isdigit() or int(text[:-1]) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30m, 12h, 7d or 2w")
    return timedelta(seconds=int(text[:-1]) * DURATION_UNITS[unit])


def _table_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", help="the monitor's DynamoDB table (default: SNAPSHOT_TABLE)")


def _table(args: argparse.Namespace) -> tuple[Any, str]:
    name = args.table or _env("SNAPSHOT_TABLE")
    if not name:
        raise CliError("no table: pass --table NAME or set SNAPSHOT_TABLE (the stack output SnapshotTableName)")
    from usage_monitor.dynamo import DynamoTable

    session = aws_session(args)
    return DynamoTable(session.client("dynamodb", config=aws_config()), name), session.region_name


def _add_mute(commands: Any) -> None:
    parser = commands.add_parser(
        "mute",
        parents=[aws_options()],
        help="silence a license, or one resource of it, for a while",
        description="Silence alerts for a license (or one of its resources) until the mute expires. Usage is\n"
        "still checked and stored, so unmuting replays nothing and loses no active crossing.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("license_id", metavar="LICENSE_ID")
    parser.add_argument("resource", metavar="RESOURCE", nargs="?", help="e.g. signatures (default: all)")
    parser.add_argument("--for", dest="duration", type=parse_duration, required=True, help="e.g. 12h, 7d, 2w")
    _table_option(parser)
    parser.set_defaults(handler=run_mute)


def run_mute(args: argparse.Namespace) -> int:
    from usage_monitor.silences import mute

    license_id = validate_license_id(args.license_id, "LICENSE_ID")
    table, region = _table(args)
    until = (datetime.now(UTC) + args.duration).replace(microsecond=0)
    with aws_errors(region, f"table {table.name}"):
        done = mute(table, license_id, args.resource, until)
    what = f"{done.target} of {license_id}" if done.target != "*" else license_id
    print(f"Muted {what} until {iso(done.until)}.")
    return EXIT_OK


def _add_unmute(commands: Any) -> None:
    parser = commands.add_parser(
        "unmute", parents=[aws_options()], help="end a mute before it expires", epilog=EXIT_CODES
    )
    parser.add_argument("license_id", metavar="LICENSE_ID")
    parser.add_argument("resource", metavar="RESOURCE", nargs="?")
    _table_option(parser)
    parser.set_defaults(handler=run_unmute)


def run_unmute(args: argparse.Namespace) -> int:
    from usage_monitor.silences import unmute

    license_id = validate_license_id(args.license_id, "LICENSE_ID")
    table, region = _table(args)
    with aws_errors(region, f"table {table.name}"):
        removed = unmute(table, license_id, args.resource)
    what = f"{args.resource} of {license_id}" if args.resource else license_id
    if not removed:
        raise CliError(f"{what} was not muted")
    print(f"Unmuted {what}.")
    return EXIT_OK


def _add_mutes(commands: Any) -> None:
    parser = commands.add_parser("mutes", parents=[aws_options()], help="list the mutes in force", epilog=EXIT_CODES)
    _table_option(parser)
    parser.set_defaults(handler=run_mutes)


def run_mutes(args: argparse.Namespace) -> int:
    from usage_monitor.silences import list_mutes

    table, region = _table(args)
    now = datetime.now(UTC)
    with aws_errors(region, f"table {table.name}"):
        mutes = list_mutes(table, now)
    if not mutes:
        print("No mutes in force.")
        return EXIT_OK
    print(f"{'LICENSE':<40} {'RESOURCE':<14} UNTIL")
    for item in mutes:
        target = "(all)" if item.target == "*" else item.target
        print(f"{item.license_id:<40} {target:<14} {iso(item.until)}")
    return EXIT_OK


# --- test-alert ---


def _add_test_alert(commands: Any) -> None:
    parser = commands.add_parser(
        "test-alert",
        parents=[aws_options()],
        help="publish a clearly marked sample alert, to verify email and SMS subscriptions",
        description="Publish a sample alert through the real topic (severity critical, so SMS subscribers\n"
        "filtered to critical alerts get it too; event_type 'test').",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--topic-arn", help="the alert topic (default: ALERT_TOPIC_ARN; stack output AlertTopicArn)")
    parser.set_defaults(handler=run_test_alert)


def run_test_alert(args: argparse.Namespace) -> int:
    from usage_monitor.notify import PublishFailed, SnsNotifier
    from usage_monitor.render import render_test_alert

    topic_arn = args.topic_arn or _env("ALERT_TOPIC_ARN")
    if not topic_arn:
        raise CliError("no topic: pass --topic-arn ARN or set ALERT_TOPIC_ARN (the stack output AlertTopicArn)")
    session = aws_session(args)
    notifier = SnsNotifier(topic_arn, session.client("sns", config=aws_config()))
    with aws_errors(session.region_name, f"topic {topic_arn}"):
        try:
            message_id = notifier.publish(render_test_alert(datetime.now(UTC)).outgoing())
        except PublishFailed as exc:
            cause = exc.__cause__
            if cause is not None:
                raise cause from None
            raise CliError(str(exc)) from None
    print(f"Test alert published to {topic_arn} (message {message_id}); check the email inbox and phone.")
    return EXIT_OK


# --- helpers ---


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("leegality-usage-monitor")
    except PackageNotFoundError:
        return "unknown"


def _silence_stdout() -> None:
    with suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _add_report(commands: Any) -> None:
    # Imported here: report_cli uses this module's AWS helpers, so it cannot be imported at the top.
    from usage_monitor.report_cli import add_report

    add_report(commands)


COMMANDS: list[Callable[[Any], None]] = [
    _add_check,
    _add_history,
    _add_report,
    _add_mute,
    _add_unmute,
    _add_mutes,
    _add_test_alert,
    _add_demo,
]
"""Registrars, in `--help` order."""
