"""What every `usage-monitor` command shares: exit codes, the one-line error, options, AWS access.

boto3 and botocore are imported only inside the AWS helpers, so a command that needs no AWS (`check`
with `LEEGALITY_TOKEN` set) never loads them. AWS error messages name ARNs and actions, never secret
values, so they are safe to show.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from usage_monitor.alerting.types import AlertPolicy
from usage_monitor.core.license_entries import LicenseList
from usage_monitor.settings import parse_flag, parse_hysteresis, parse_thresholds

PROG = "usage-monitor"
EXIT_OK = 0
EXIT_OVER_THRESHOLD = 1
EXIT_ERROR = 2

DEFAULT_THRESHOLDS = "80,95"
NO_CREDENTIALS = (
    "no AWS credentials: set AWS_PROFILE (or pass --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)

EXIT_CODES = """\
exit codes:
  0  done; for check: every license is below all thresholds
  1  check: a resource of some license is at or above a threshold (or at its limit)
  2  a check failed (token rejected, unknown license, network, bad response), a LICENSE_ID was
     skipped as invalid (the others are still checked), or a usage, configuration or AWS error
     (no credentials, table or secret not found), or an unexpected failure (after its traceback);
     wins over 1
"""


class CliError(Exception):
    """A failure to report as one line on stderr with exit code 2."""


Handler = Callable[[argparse.Namespace], int]
"""A command: takes the parsed arguments, returns the exit code."""


def print_error(message: str) -> None:
    """One line, whatever the message held."""
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)


def print_warning(message: str) -> None:
    """One line, like `print_error`, for what is reported but does not fail the command on its own."""
    print(f"{PROG}: warning: {' '.join(message.split())}", file=sys.stderr)


def name_skipped(listed: LicenseList) -> None:
    """Every entry a license list skipped, one stderr line each: a repeat (used once) is a warning, an
    invalid entry an error (the command still does the rest and exits 2)."""
    for entry in listed.skipped:
        if entry.duplicate:
            print_warning(entry.describe())
        else:
            print_error(f"skipped {entry.describe()}")


def quoted(text: str, limit: int = 40) -> str:
    """An argument echoed in a message: quoted, and cut when long (a 5,000-digit `--days` stays one short line)."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def env(name: str) -> str:
    return os.environ.get(name, "").strip()


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
        "itself is always critical, and so is the highest threshold unless CRITICAL_AT_LIMIT_ONLY is true",
    )


def policy_of(args: argparse.Namespace) -> AlertPolicy:
    raw = args.thresholds if args.thresholds is not None else env("ALERT_THRESHOLDS") or DEFAULT_THRESHOLDS
    source = "--thresholds" if args.thresholds is not None else "ALERT_THRESHOLDS"
    return AlertPolicy(
        parse_thresholds(raw, source),
        hysteresis=parse_hysteresis(env("ALERT_HYSTERESIS_POINTS")),
        critical_at_limit_only=parse_flag(env("CRITICAL_AT_LIMIT_ONLY"), "CRITICAL_AT_LIMIT_ONLY"),
    )


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
    """Turn botocore failures into one-line `CliError`s; `resource` names what was asked for."""
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


def add_command(
    commands: Any, name: str, summary: str, description: str | None = None, aws: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand's parser: `summary` in the command list, `--region`/`--profile` (`aws` says what for), and
    the exit codes under its `--help`, laid out as written."""
    return commands.add_parser(  # type: ignore[no-any-return]
        name,
        parents=[aws_options(aws)],
        help=summary,
        description=description,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
