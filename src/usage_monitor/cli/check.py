"""`usage-monitor check`: call the Leegality API now for one or more licenses and print the usage table.

The token comes from `LEEGALITY_TOKEN`, else the deployed tokens secret (the only reason this command may
touch AWS). No output ever contains a token: the HTTP client redacts upstream messages, and errors name
secrets and licenses, never values.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from usage_monitor.alerting.types import AlertPolicy
from usage_monitor.cli import common
from usage_monitor.cli.common import CliError, add_command, env
from usage_monitor.core.errors import ConfigError
from usage_monitor.core.license_entries import parse_entries
from usage_monitor.core.models import CheckError, CheckResult, FailureKind, Resource
from usage_monitor.leegality.client import LeegalityClient
from usage_monitor.leegality.credentials import RunCredentials, check_license
from usage_monitor.leegality.minting import TokenMinter
from usage_monitor.leegality.tokens import TokenBook, parse_secret
from usage_monitor.messages.figures import iso
from usage_monitor.reports.history import UsageRow, usage_table
from usage_monitor.settings import (
    PRODUCTION_BASE_URL,
    SANDBOX_BASE_URL,
    Settings,
    validate_base_url,
)

DEFAULT_SECRET_ID = "leegality-usage-monitor/tokens"
MAX_CHECK_WORKERS = 8
JSON_EXACT_DIGITS = 15  # a double holds any decimal of up to 15 significant digits exactly as written


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "check",
        "call the Leegality API now for one or more licenses",
        "Call the Leegality usage-statistics API once per license and print the usage table.\n"
        "Token: LEEGALITY_TOKEN (one token for every license) or, when it is unset, the deployed\n"
        "tokens secret (a bare token, an OAuth2 client object {clientId, clientSecret, baseUrl?}, or a JSON\n"
        "object of license ID -> token or client object, with an optional 'default').",
        aws="used only to read the tokens secret, when LEEGALITY_TOKEN is unset",
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
    common.thresholds_option(parser)
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
        return validate_base_url(url, source)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def run_check(args: argparse.Namespace) -> int:
    listed = parse_entries(((f"argument {n}", raw) for n, raw in enumerate(args.license_ids, start=1)), "LICENSE_ID")
    license_ids = list(listed.require_valid("the LICENSE_ID arguments").ids)
    common.name_skipped(listed)  # the others are still checked; the exit code says something was skipped
    policy = common.policy_of(args)
    base_url = resolve_base_url(args.base_url, sandbox=args.sandbox, env=os.environ)
    tokens, secret_id = _token_book(args)
    try:
        auth_header = Settings.auth_header_from(os.environ)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    client = LeegalityClient(base_url, auth_header=auth_header)
    # OAuth2 clients in the secret mint one token each, shared by their licenses, as in the Lambda.
    minter = TokenMinter.sharing(client, base_url)
    credentials = RunCredentials(tokens, secret_id, minter)
    with ThreadPoolExecutor(max_workers=min(MAX_CHECK_WORKERS, len(license_ids))) as pool:
        results = list(pool.map(lambda lid: check_license(client, credentials, lid), license_ids))

    if args.json:
        print(json.dumps([result_json(result, policy) for result in results], indent=2))
    else:
        rows = [UsageRow(r.license_id, r.resources, r.error.describe() if r.error else None) for r in results]
        print(usage_table(rows, policy))
    for result in results:
        if result.error is not None:
            common.print_error(failure_line(result.license_id, result.error, base_url))

    if listed.invalid or any(not result.ok for result in results):
        return common.EXIT_ERROR
    over = any(policy.level_of(resource) is not None for result in results for resource in result.resources)
    return common.EXIT_OVER_THRESHOLD if over else common.EXIT_OK


def _token_book(args: argparse.Namespace) -> tuple[TokenBook, str | None]:
    """`LEEGALITY_TOKEN` for every license, else the tokens secret (and its ID, for messages)."""
    token = env("LEEGALITY_TOKEN")
    if token:
        return TokenBook(default=token), None
    secret_id = args.secret_id or env("TOKENS_SECRET_ID") or DEFAULT_SECRET_ID
    session = common.aws_session(args)
    with common.aws_errors(session.region_name, f"tokens secret {secret_id}"):
        response = session.client("secretsmanager", config=common.aws_config()).get_secret_value(SecretId=secret_id)
    text = response.get("SecretString")
    if not isinstance(text, str):
        raise CliError(f"tokens secret {secret_id} holds no SecretString; store the tokens as SecretString")
    return parse_secret(text, secret_id), secret_id


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
    if error.kind == FailureKind.CREDENTIALS_REJECTED:
        return f"OAuth2 client refused for license {license_id}: {error.message}"
    if error.kind == FailureKind.NO_TOKEN:
        return error.message  # names the license and the secret
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
        name = policy.severity_for(level, None, resource.name).value
    return {
        "current": json_number(resource.current),
        "limit": json_number(resource.limit),
        "percent": json_number(resource.percent),
        "level": name,
        "threshold": None if level is None else _number(level),
        "problems": list(resource.problems),
    }


def _number(value: Decimal) -> int | float:
    """A threshold (at most 1000, one decimal): `80`, or `92.5`."""
    return int(value) if value == value.to_integral_value() else float(value)


def json_number(value: int | Decimal | None) -> int | float | str | None:
    """A count as a JSON integer, a percent as a JSON number, when every parser reads it back exactly;
    else the exact decimal as a string.

    `float()` of an absurd count's percent is `inf`, which `json.dumps` writes as `Infinity` (no JSON at
    all), and past 15 significant digits a float, or an integer past 2**53 in JavaScript, no longer says
    the figure the API sent. `Decimal` writes any size exactly (`str()` of an int refuses over 4,300 digits).
    """
    if value is None:
        return None
    exact = Decimal(value)
    if len(exact.as_tuple().digits) > JSON_EXACT_DIGITS:
        return format(exact, "f")
    return value if isinstance(value, int) else float(exact)
