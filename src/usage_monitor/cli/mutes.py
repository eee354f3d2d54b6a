"""`usage-monitor mute`, `unmute`, `mutes`: silence alerts for a while, end a mute, list those in force.

A mute is a row in the alert state (`usage_monitor.storage.silences`); usage is still checked and stored meanwhile.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from usage_monitor.cli import common
from usage_monitor.cli.common import CliError, add_command, env
from usage_monitor.messages.render import iso
from usage_monitor.settings import validate_license_id


def register(commands: Any) -> None:
    _add_mute(commands)
    _add_unmute(commands)
    _add_mutes(commands)


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
    name = args.table or env("SNAPSHOT_TABLE")
    if not name:
        raise CliError("no table: pass --table NAME or set SNAPSHOT_TABLE (the stack output SnapshotTableName)")
    from usage_monitor.storage.dynamo import DynamoTable

    session = common.aws_session(args)
    return DynamoTable(session.client("dynamodb", config=common.aws_config()), name), session.region_name


def _add_mute(commands: Any) -> None:
    parser = add_command(
        commands,
        "mute",
        "silence a license, or one resource of it, for a while",
        "Silence alerts for a license (or one of its resources) until the mute expires. Usage is\n"
        "still checked and stored, so unmuting replays nothing and loses no active crossing.",
    )
    parser.add_argument("license_id", metavar="LICENSE_ID")
    parser.add_argument("resource", metavar="RESOURCE", nargs="?", help="e.g. signatures (default: all)")
    parser.add_argument("--for", dest="duration", type=parse_duration, required=True, help="e.g. 12h, 7d, 2w")
    _table_option(parser)
    parser.set_defaults(handler=run_mute)


def run_mute(args: argparse.Namespace) -> int:
    from usage_monitor.storage.silences import mute

    license_id = validate_license_id(args.license_id, "LICENSE_ID")
    table, region = _table(args)
    until = (datetime.now(UTC) + args.duration).replace(microsecond=0)
    with common.aws_errors(region, f"table {table.name}"):
        done = mute(table, license_id, args.resource, until)
    what = f"{done.target} of {license_id}" if done.target != "*" else license_id
    print(f"Muted {what} until {iso(done.until)}.")
    return common.EXIT_OK


def _add_unmute(commands: Any) -> None:
    parser = add_command(commands, "unmute", "end a mute before it expires")
    parser.add_argument("license_id", metavar="LICENSE_ID")
    parser.add_argument("resource", metavar="RESOURCE", nargs="?")
    _table_option(parser)
    parser.set_defaults(handler=run_unmute)


def run_unmute(args: argparse.Namespace) -> int:
    from usage_monitor.storage.silences import unmute

    license_id = validate_license_id(args.license_id, "LICENSE_ID")
    table, region = _table(args)
    with common.aws_errors(region, f"table {table.name}"):
        removed = unmute(table, license_id, args.resource)
    what = f"{args.resource} of {license_id}" if args.resource else license_id
    if not removed:
        raise CliError(f"{what} was not muted")
    print(f"Unmuted {what}.")
    return common.EXIT_OK


def _add_mutes(commands: Any) -> None:
    parser = add_command(commands, "mutes", "list the mutes in force")
    _table_option(parser)
    parser.set_defaults(handler=run_mutes)


def run_mutes(args: argparse.Namespace) -> int:
    from usage_monitor.storage.silences import list_mutes

    table, region = _table(args)
    now = datetime.now(UTC)
    with common.aws_errors(region, f"table {table.name}"):
        mutes = list_mutes(table, now)
    if not mutes:
        print("No mutes in force.")
        return common.EXIT_OK
    print(f"{'LICENSE':<40} {'RESOURCE':<14} UNTIL")
    for item in mutes:
        target = "(all)" if item.target == "*" else item.target
        print(f"{item.license_id:<40} {target:<14} {iso(item.until)}")
    return common.EXIT_OK
