"""`usage-monitor mute`, `unmute`, `mutes`: silence alerts for a while, end a mute, list those in force.

A mute is a row in the alert state (`usage_monitor.storage.silences`); usage is still checked and stored meanwhile.
"""

from __future__ import annotations

import argparse
import difflib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from usage_monitor.cli import common
from usage_monitor.cli.common import CliError, add_command, env
from usage_monitor.core.license_entries import LICENSE_ID_PATTERN
from usage_monitor.leegality.usage import RESOURCE_NAME_PATTERN
from usage_monitor.messages.figures import iso
from usage_monitor.reports.history import row_from_snapshot
from usage_monitor.settings import validate_license_id


def register(commands: Any) -> None:
    _add_mute(commands)
    _add_unmute(commands)
    _add_mutes(commands)


DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_MUTE = timedelta(days=366)  # a mute ends; a license to ignore for longer belongs out of the list
RECENT_SNAPSHOTS = 24  # a day of hourly runs: resource names the license reports now
DURATION_RANGE = "from 1m to 366d (a whole number and m, h, d or w: 30m, 12h, 7d, 2w)"


def parse_duration(text: str) -> timedelta:
    """`30m`, `12h`, `7d`, `2w`: how long a mute lasts, at most `MAX_MUTE`."""
    match = re.fullmatch(r"([0-9]{1,9})([mhdw])", text.strip().lower())
    duration = timedelta(seconds=int(match[1]) * DURATION_UNITS[match[2]]) if match else None
    if duration is None or not timedelta(0) < duration <= MAX_MUTE:
        raise argparse.ArgumentTypeError(f"{common.quoted(text)} is not a duration {DURATION_RANGE}")
    return duration


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
    parser.add_argument(
        "--for", dest="duration", type=parse_duration, required=True, help="e.g. 12h, 7d, 2w; at most 366d"
    )
    _table_option(parser)
    parser.set_defaults(handler=run_mute)


def run_mute(args: argparse.Namespace) -> int:
    from usage_monitor.storage.silences import mute

    license_id = validate_license_id(args.license_id.strip(), "LICENSE_ID")
    table, region = _table(args)
    until = (datetime.now(UTC) + args.duration).replace(microsecond=0)
    with common.aws_errors(region, f"table {table.name}"):
        snapshots = _newest_snapshots(table, license_id)
        if not snapshots:
            common.print_warning(_never_checked(table, license_id))
        target = mute_target(args.resource, license_id, snapshots)
        done = mute(table, license_id, target, until)
    what = f"{done.target} of {license_id}" if done.target != "*" else license_id
    print(f"Muted {what} until {iso(done.until)}.")
    return common.EXIT_OK


def mute_target(resource: str | None, license_id: str, snapshots: list[dict[str, Any]]) -> str | None:
    """The resource as the license reports it (`Signatures ` mutes `signatures`), None for the whole license.

    The run matches a mute to a resource by its exact name, so a name the license has not reported would
    confirm a mute that silences nothing: it is refused, with the names it has reported.
    """
    if resource is None or resource.strip() == "*":
        return None
    wanted = "".join(resource.split()).casefold()
    reported = {r.name.casefold(): r.name for item in snapshots for r in row_from_snapshot(item).resources}
    if wanted in reported:
        return reported[wanted]
    if not reported:
        # Nothing to check against yet (never checked, or every recent check failed): the documented
        # names are lower case, and the name must be one the API could report.
        if not RESOURCE_NAME_PATTERN.fullmatch(wanted):
            raise CliError(f"RESOURCE {resource!r} is not a resource name such as users or signatures")
        if snapshots:  # with none at all, the caller has warned already
            common.print_warning(
                f"no resource figures in the last {len(snapshots)} snapshots of {license_id} (failed checks): "
                f"{wanted!r} is muted unchecked"
            )
        return wanted
    closest = difflib.get_close_matches(wanted, reported, n=1)
    hint = f" (did you mean {reported[closest[0]]!r}?)" if closest else ""
    known = ", ".join(sorted(reported.values()))
    raise CliError(f"license {license_id} has reported no resource {resource!r}{hint}; its resources: {known}")


def _newest_snapshots(table: Any, license_id: str) -> list[dict[str, Any]]:
    """The license's newest snapshots (one Query page): the resource names it reports now."""
    from usage_monitor.storage.dynamo import from_dynamo, to_dynamo

    page = table.client.query(
        TableName=table.name,
        KeyConditionExpression="license_id = :license_id",
        ExpressionAttributeValues=to_dynamo({":license_id": license_id}),
        ScanIndexForward=False,
        Limit=RECENT_SNAPSHOTS,
    )
    return [from_dynamo(item) for item in page.get("Items", [])]


def _never_checked(table: Any, license_id: str) -> str:
    """The warning for a license the table has no snapshot of, naming the closest license it has.

    Listing the licenses takes a Scan of the table (as `mutes` does); only this rare path pays for it.
    """
    from usage_monitor.storage.store import STATE_PREFIX

    items = table.scan(ProjectionExpression="license_id")
    keys = {str(item["license_id"]).removeprefix(STATE_PREFIX) for item in items}
    known = [key for key in keys if LICENSE_ID_PATTERN.fullmatch(key)]  # not the run's own state (`*`)
    closest = difflib.get_close_matches(license_id, known, n=1, cutoff=0.6)
    hint = f"; the closest license it has is {closest[0]}" if closest else ""
    return (
        f"table {table.name} has no snapshot of license {license_id}: the monitor has not checked it{hint}. "
        "Muted anyway, in case it is about to be added."
    )


def _add_unmute(commands: Any) -> None:
    parser = add_command(commands, "unmute", "end a mute before it expires")
    parser.add_argument("license_id", metavar="LICENSE_ID")
    parser.add_argument("resource", metavar="RESOURCE", nargs="?")
    _table_option(parser)
    parser.set_defaults(handler=run_unmute)


def run_unmute(args: argparse.Namespace) -> int:
    from usage_monitor.storage.silences import unmute

    license_id = validate_license_id(args.license_id.strip(), "LICENSE_ID")
    table, region = _table(args)
    with common.aws_errors(region, f"table {table.name}"):
        target = _muted_target(table, license_id, args.resource)
        removed = unmute(table, license_id, target)
    what = f"{target} of {license_id}" if target else license_id
    if not removed:
        raise CliError(f"{what} was not muted")
    print(f"Unmuted {what}.")
    return common.EXIT_OK


def _muted_target(table: Any, license_id: str, resource: str | None) -> str | None:
    """The mute `resource` names, spelled as stored (`unmute lic Signatures` ends the mute of `signatures`)."""
    from usage_monitor.storage.store import STATE_PREFIX, STATE_SORT_KEY

    if resource is None or resource.strip() == "*":
        return None
    wanted = "".join(resource.split()).casefold()
    state = table.get_item({"license_id": STATE_PREFIX + license_id, "captured_at": STATE_SORT_KEY}) or {}
    muted = {str(target).casefold(): str(target) for target in state.get("silences") or {}}
    return muted.get(wanted, wanted)


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
