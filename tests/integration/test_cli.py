"""The `usage-monitor` command line, end to end: the local Leegality simulator and moto, in-process."""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import subprocess
import sys
import types
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local.simulator import LeegalitySimulator, Reply, error_body, usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from usage_monitor import cli
from usage_monitor.cli import check as cli_check
from usage_monitor.cli import common as cli_common
from usage_monitor.core.models import CheckResult, Resource
from usage_monitor.leegality.client import LeegalityClient
from usage_monitor.messages.figures import iso
from usage_monitor.reports import history as report
from usage_monitor.settings import PRODUCTION_BASE_URL, SANDBOX_BASE_URL
from usage_monitor.storage.store import snapshot_item

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-cli-SECRET-value"
BUSY = usage_of(users=(850, 1000), signatures=(10, 1000))
FULL = usage_of(users=(50, 50), signatures=(1000, 1000))


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the caller's shell decides a test (fixtures set what they need afterwards)."""
    for name in (
        "LEEGALITY_TOKEN",
        "LEEGALITY_BASE_URL",
        "TOKENS_SECRET_ID",
        "SNAPSHOT_TABLE",
        "ALERT_THRESHOLDS",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Any:
    def invoke(*argv: str) -> Run:
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def token_for_all(simulator: LeegalitySimulator, monkeypatch: pytest.MonkeyPatch) -> LeegalitySimulator:
    """Licenses on the simulator that all accept one token, passed as LEEGALITY_TOKEN."""
    for license_id, usage in {"healthy": HEALTHY, "busy": BUSY, "full": FULL}.items():
        simulator.add_license(license_id, TOKEN, usage)
    monkeypatch.setenv("LEEGALITY_TOKEN", TOKEN)
    return simulator


def recent(days_ago: float) -> str:
    return iso(datetime.now(UTC) - timedelta(days=days_ago))


# --- check ---------------------------------------------------------------------------------------


def test_check_prints_a_bar_per_resource_and_exits_0_when_all_below(token_for_all: LeegalitySimulator, run: Any):
    result = run("check", "healthy", "--base-url", token_for_all.base_url)

    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split()[:2] == ["LICENSE", "RESOURCE"]
    users = next(line for line in lines if "users" in line)
    assert users.startswith("healthy")
    assert "233/1000" in users
    assert "████" in users
    assert "23.3%" in users
    assert users.rstrip().endswith("ok")
    assert sum(1 for line in lines[1:] if line.rstrip().endswith("ok")) == 4
    assert result.err == ""


def test_check_exits_1_when_a_license_is_at_or_over_a_threshold(token_for_all: LeegalitySimulator, run: Any):
    result = run("check", "healthy", "busy", "full", "--base-url", token_for_all.base_url)

    assert result.code == 1
    assert ">= 80% (warning, clears below 75%)" in result.out
    assert "LIMIT REACHED (critical, clears below 95%)" in result.out
    assert "████████████████████" in result.out  # a full bar for the resource at its limit
    # One table, licenses in the order asked for
    starts = [line.split()[0] for line in result.out.splitlines()[1:] if not line.startswith(" ")]
    assert starts == ["healthy", "busy", "full"]


def test_thresholds_option_and_env_decide_the_level(
    token_for_all: LeegalitySimulator, run: Any, monkeypatch: pytest.MonkeyPatch
):
    assert run("check", "busy", "--base-url", token_for_all.base_url, "--thresholds", "90").code == 0

    monkeypatch.setenv("ALERT_THRESHOLDS", "50")
    result = run("check", "busy", "--base-url", token_for_all.base_url)
    assert result.code == 1
    assert ">= 50% (critical, clears below 45%)" in result.out  # the only threshold is the highest

    monkeypatch.setenv("CRITICAL_AT_LIMIT_ONLY", "true")
    result = run("check", "busy", "--base-url", token_for_all.base_url)
    assert ">= 50% (warning, clears below 45%)" in result.out

    bad = run("check", "busy", "--base-url", token_for_all.base_url, "--thresholds", "80,abc")
    assert bad.code == 2
    assert bad.err == "usage-monitor: error: --thresholds: 'abc' is not a number\n"


def test_check_json_is_machine_readable(token_for_all: LeegalitySimulator, run: Any):
    result = run("check", "healthy", "busy", "full", "--base-url", token_for_all.base_url, "--json")

    assert result.code == 1
    document = json.loads(result.out)
    assert [entry["license_id"] for entry in document] == ["healthy", "busy", "full"]
    healthy, busy, full = document
    assert healthy["status"] == "ok"
    assert healthy["error"] is None
    assert healthy["resources"]["users"] == {
        "current": 233,
        "limit": 1000,
        "percent": 23.3,
        "level": "ok",
        "threshold": None,
        "problems": [],
    }
    assert busy["resources"]["users"]["level"] == "warning"
    assert busy["resources"]["users"]["threshold"] == 80
    assert full["resources"]["users"]["level"] == "critical"
    assert full["resources"]["users"]["threshold"] == 100
    assert set(full["resources"]) == {"users", "signatures"}


def test_check_json_reports_a_failed_license(token_for_all: LeegalitySimulator, run: Any):
    result = run("check", "healthy", "nope", "--base-url", token_for_all.base_url, "--json")

    assert result.code == 2
    healthy, nope = json.loads(result.out)
    assert healthy["status"] == "ok"
    assert nope["status"] == "failed"
    assert nope["resources"] == {}
    assert nope["error"]["http_status"] == 400
    assert nope["error"]["detail_code"] == "LE_ERR_SS_008"


@pytest.mark.parametrize(
    ("flag", "sandbox", "env", "expected"),
    [
        (None, True, {}, SANDBOX_BASE_URL),
        (None, True, {"LEEGALITY_BASE_URL": "https://other.example/api"}, SANDBOX_BASE_URL),
        (
            "https://flag.example/api/",
            False,
            {"LEEGALITY_BASE_URL": "https://env.example/api"},
            "https://flag.example/api",
        ),
        (None, False, {"LEEGALITY_BASE_URL": "https://env.example/api"}, "https://env.example/api"),
        (None, False, {"LEEGALITY_BASE_URL": "  "}, PRODUCTION_BASE_URL),
        (None, False, {}, PRODUCTION_BASE_URL),
    ],
)
def test_base_url_resolution(flag: str | None, sandbox: bool, env: dict[str, str], expected: str):
    assert cli_check.resolve_base_url(flag, sandbox=sandbox, env=env) == expected


def test_sandbox_flag_reaches_the_resolution(monkeypatch: pytest.MonkeyPatch):
    args = cli.build_parser().parse_args(["check", "lic-1", "--sandbox"])
    assert cli_check.resolve_base_url(args.base_url, sandbox=args.sandbox, env=os.environ) == SANDBOX_BASE_URL


def test_base_url_errors_are_usage_errors(run: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LEEGALITY_TOKEN", TOKEN)

    both = run("check", "lic-1", "--sandbox", "--base-url", "https://x.example/api")
    assert both.code == 2
    assert "not allowed with argument" in both.err

    plain_http = run("check", "lic-1", "--base-url", "http://leegality.example/api")
    assert plain_http.code == 2
    assert plain_http.err.splitlines() == [
        "usage-monitor: error: --base-url: 'http://leegality.example/api' must be an https:// URL "
        "(http:// only for loopback) without user, password, query or fragment "
        "(it is http:// to a host that is not loopback)"
    ]


def test_rejected_token_is_one_line_without_the_token(simulator: LeegalitySimulator, run: Any, monkeypatch):
    simulator.add_license("lic-1", "the-right-token", HEALTHY)
    monkeypatch.setenv("LEEGALITY_TOKEN", TOKEN)

    result = run("check", "lic-1", "--base-url", simulator.base_url)

    assert result.code == 2
    assert result.err.splitlines() == [
        "usage-monitor: error: token rejected for license lic-1: Invalid or expired token (LE_ERR_SS_401/LE_ERR_SS_303)"
    ]
    assert "CHECK FAILED" in result.out
    assert "Traceback" not in result.err
    assert TOKEN not in result.out + result.err


def test_rejected_token_message_never_echoes_the_token(simulator: LeegalitySimulator, run: Any, monkeypatch):
    # Given an upstream that puts the token it got into its error message
    body = {"code": "LE_ERR_SS_401", "errors": [{"message": f"token {TOKEN} is expired", "code": "LE_ERR_SS_303"}]}
    simulator.add_license("lic-1", "the-right-token", HEALTHY)
    simulator.script("lic-1", Reply(401, body))
    monkeypatch.setenv("LEEGALITY_TOKEN", TOKEN)

    result = run("check", "lic-1", "--base-url", simulator.base_url, "--json")

    assert result.code == 2
    assert TOKEN not in result.out + result.err
    assert "token [redacted] is expired" in result.err


def test_unknown_license_exits_2(token_for_all: LeegalitySimulator, run: Any):
    result = run("check", "no-such-license", "--base-url", token_for_all.base_url)

    assert result.code == 2
    assert result.err.splitlines() == [
        "usage-monitor: error: unknown license no-such-license: License validation failed for the request. "
        "(LE_ERR_SS_400/LE_ERR_SS_008)"
    ]


def test_one_failed_license_among_healthy_ones_wins_over_thresholds(token_for_all: LeegalitySimulator, run: Any):
    token_for_all.script("healthy", Reply(500, error_body(500, "/x")))

    result = run("check", "busy", "healthy", "--base-url", token_for_all.base_url)

    assert result.code == 2
    assert ">= 80% (warning, clears below 75%)" in result.out
    assert "healthy" in result.out
    assert "CHECK FAILED" in result.out
    assert result.err.splitlines() == [
        "usage-monitor: error: check failed for license healthy: Internal Server Error (LE_ERR_SS_500)"
    ]


def test_unreachable_api_is_one_line(simulator: LeegalitySimulator, run: Any, monkeypatch):
    # A slow-drip body is cut off at once by a short client deadline: network failure, no retry wait.
    simulator.add_license("lic-1", TOKEN, HEALTHY)
    simulator.script("lic-1", Reply(200, {"data": {}}, action="drip", delay=0.2))
    monkeypatch.setenv("LEEGALITY_TOKEN", TOKEN)
    monkeypatch.setattr(
        cli_check,
        "LeegalityClient",
        lambda base_url, **options: LeegalityClient(base_url, connect_timeout=0.1, read_timeout=0.1, **options),
    )

    result = run("check", "lic-1", "--base-url", simulator.base_url)

    assert result.code == 2
    [line] = result.err.splitlines()
    assert line.startswith(f"usage-monitor: error: cannot reach Leegality at {simulator.base_url} for license lic-1: ")


def test_invalid_license_id_is_a_usage_error(run: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LEEGALITY_TOKEN", TOKEN)

    result = run("check", "bad id!")

    assert result.code == 2
    assert result.err.startswith(
        "usage-monitor: error: no valid license ID in the LICENSE_ID arguments: LICENSE_ID argument 1: 'bad id!' "
        "is not 1-128 characters"
    )


def test_check_skips_an_invalid_license_id_checks_the_rest_and_exits_2(token_for_all: LeegalitySimulator, run: Any):
    # Given one bad argument between two good ones, and a repeat
    result = run("check", "healthy", "bad id!", "healthy", "busy", "--base-url", token_for_all.base_url)

    # The others are checked (the table shows them), the bad one is named, and the exit code says so.
    assert result.code == 2
    assert sorted(r.license_id for r in token_for_all.requests) == ["busy", "healthy"]
    assert "233/1000" in result.out
    assert result.err.splitlines() == [
        "usage-monitor: error: skipped LICENSE_ID argument 2: 'bad id!' is not 1-128 characters of A-Z, a-z, 0-9, "
        "'.', '_', '-'",
        "usage-monitor: warning: LICENSE_ID argument 3: 'healthy' is listed twice (first at argument 1); checked once",
    ]


def test_check_reads_the_tokens_secret_when_no_token_is_set(harness: Harness, run: Any):
    # Given the deployed-like secret, table and environment (TOKENS_SECRET_ID, LEEGALITY_BASE_URL)
    tokens = add_licenses(harness, {"healthy": HEALTHY, "busy": BUSY})

    result = run("check", "healthy", "busy")

    assert result.code == 1
    assert "233/1000" in result.out
    assert ">= 80% (warning, clears below 75%)" in result.out
    for token in tokens.values():
        assert token not in result.out + result.err


def test_secret_without_a_token_for_the_license(harness: Harness, run: Any):
    add_licenses(harness, {"healthy": HEALTHY})

    result = run("check", "healthy", "other")

    assert result.code == 2
    assert result.err.splitlines() == [
        "usage-monitor: error: no token for license other in tokens secret 'leegality-usage-monitor/tokens' "
        '(add an entry for it or a "default")'
    ]


def test_missing_secret_is_a_clear_error(harness: Harness, run: Any):
    result = run("check", "healthy", "--secret-id", "no/such/secret")

    assert result.code == 2
    assert result.err == ("usage-monitor: error: tokens secret no/such/secret not found in region ap-south-1\n")


def test_malformed_secret_is_a_clear_error_without_its_value(harness: Harness, run: Any):
    harness.set_secret('{"lic-1": "tok-SECRET-1", ')

    result = run("check", "lic-1")

    assert result.code == 2
    assert result.err.startswith(
        "usage-monitor: error: tokens secret 'leegality-usage-monitor/tokens' starts like JSON"
    )
    assert "tok-SECRET-1" not in result.err


def test_check_with_a_token_in_the_environment_needs_no_aws(token_for_all: LeegalitySimulator):
    # A fresh interpreter without any AWS setting: boto3 must not even be imported.
    code = (
        "import sys; from usage_monitor import cli; code = cli.main(sys.argv[1:]); "
        "print('modules', 'boto3' in sys.modules, 'botocore' in sys.modules, 'aws_lambda_powertools' in sys.modules);"
        "sys.exit(code)"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env["LEEGALITY_TOKEN"] = TOKEN

    done = subprocess.run(
        [sys.executable, "-c", code, "check", "healthy", "--base-url", token_for_all.base_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "modules False False False"
    assert "233/1000" in done.stdout


# --- history -------------------------------------------------------------------------------------


def put_snapshot(harness: Harness, license_id: str, captured_at: str, **resources: tuple[int, int]) -> None:
    result = CheckResult(
        license_id,
        datetime.now(UTC),
        resources=tuple(Resource(name, current, limit) for name, (current, limit) in resources.items()),
    )
    moment = datetime.fromisoformat(captured_at.replace("Z", "+00:00"))
    harness.table.put_item(Item=snapshot_item(result, moment, 400))


@pytest.fixture
def busy_history(harness: Harness) -> list[str]:
    """Four scheduled runs over three days (users rising to the limit), one failed, one too old to show."""
    add_licenses(harness, {"busy": usage_of(users=(100, 1000), signatures=(500, 1000))})
    times = [recent(3), recent(2), recent(1.5), recent(0.9), recent(0.01)]
    for moment, users in zip(times, (100, 500, None, 850, 1000), strict=True):
        if users is None:
            harness.simulator.script("busy", Reply(500, error_body(500, "/x")))
        else:
            harness.simulator.licenses["busy"].usage = usage_of(users=(users, 1000), signatures=(500, 1000))
        harness.invoke(time=moment)
    put_snapshot(harness, "busy", recent(30), users=(1, 1000), signatures=(1, 1000))
    put_snapshot(harness, "other", recent(1), users=(999, 1000))
    return times


def test_history_prints_a_chart_line_per_resource(busy_history: list[str], run: Any, monkeypatch):
    monkeypatch.setitem(sys.modules, "usage_monitor.alerting.forecast", None)  # as before forecast.py lands

    result = run("history", "busy")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == (
        f"busy: 5 snapshots from {busy_history[0]} to {busy_history[-1]} (last 14 days, table usage-snapshots)"
    )
    assert lines[1].split() == ["RESOURCE", "TREND", "FIRST", "LAST", "MIN", "MAX", "NOW", "LEVEL"]
    users = next(line for line in lines if line.startswith("users"))
    signatures = next(line for line in lines if line.startswith("signatures"))
    # 10%, 50%, 85%, 100% on a fixed 0-100% scale; the failed run leaves no point
    assert users.split()[1:] == [
        "▂▅▇█",
        "10.0%",
        "100.0%",
        "10.0%",
        "100.0%",
        "1000/1000",
        "LIMIT",
        "REACHED",
        "(critical,",
        "clears",
        "below",
        "95%)",
    ]
    assert signatures.split()[1:] == ["▅▅▅▅", "50.0%", "50.0%", "50.0%", "50.0%", "500/1000", "ok"]
    assert lines[-1] == (
        f"failed checks: 1 of 5; latest at {busy_history[2]}: Internal Server Error · HTTP 500 · LE_ERR_SS_500"
    )
    assert not any("forecast" in line for line in lines)


def test_history_days_limits_the_window(busy_history: list[str], run: Any):
    result = run("history", "busy", "--days", "1")

    assert result.code == 0
    assert result.out.startswith(f"busy: 2 snapshots from {busy_history[3]} to {busy_history[4]} (last 1 days")


def test_history_adds_a_forecast_line_when_the_forecast_module_exists(
    busy_history: list[str], run: Any, monkeypatch: pytest.MonkeyPatch
):
    seen: list[tuple[list[Any], datetime]] = []

    @dataclass(frozen=True)
    class UsagePoint:
        at: datetime
        current: int
        limit: int

    @dataclass(frozen=True)
    class Forecast:
        points: int

        def describe(self, now: datetime) -> str:
            return f"{self.points} points, fake"

    def forecast(points: list[UsagePoint], now: datetime) -> Forecast:
        seen.append((list(points), now))
        return Forecast(len(points))

    module = types.ModuleType("usage_monitor.alerting.forecast")
    module.UsagePoint = UsagePoint  # type: ignore[attr-defined]
    module.forecast = forecast  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "usage_monitor.alerting.forecast", module)

    result = run("history", "busy")

    assert result.code == 0
    lines = result.out.splitlines()
    users = next(i for i, line in enumerate(lines) if line.startswith("users"))
    assert lines[users + 1].split() == ["forecast:", "4", "points,", "fake"]
    assert len([line for line in lines if "forecast:" in line]) == 2
    users_points, now = seen[0]
    assert [(p.current, p.limit) for p in users_points] == [(100, 1000), (500, 1000), (850, 1000), (1000, 1000)]
    assert users_points[0].at == datetime.fromisoformat(busy_history[0].replace("Z", "+00:00"))
    assert now.tzinfo is not None


def test_history_forecasts_with_the_real_forecast_module(busy_history: list[str], run: Any):
    pytest.importorskip("usage_monitor.alerting.forecast")

    result = run("history", "busy")

    lines = result.out.splitlines()
    users = next(i for i, line in enumerate(lines) if line.startswith("users"))
    signatures = next(i for i, line in enumerate(lines) if line.startswith("signatures"))
    assert lines[users + 1].strip() == "forecast: the limit is already reached"
    assert lines[signatures + 1].strip() == "forecast: usage is flat or falling, so no limit date is forecast"


def test_history_csv(busy_history: list[str], run: Any):
    result = run("history", "busy", "--csv")

    assert result.code == 0
    assert result.out.splitlines()[0] == "captured_at,resource,current,limit,percent,status"
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert len(rows) == 4 * 2 + 1
    assert rows[0] == {
        "captured_at": busy_history[0],
        "resource": "users",
        "current": "100",
        "limit": "1000",
        "percent": "10.0",
        "status": "ok",
    }
    failed = [row for row in rows if row["status"] == "failed"]
    assert failed == [
        {"captured_at": busy_history[2], "resource": "", "current": "", "limit": "", "percent": "", "status": "failed"}
    ]
    assert [row["captured_at"] for row in rows] == sorted(row["captured_at"] for row in rows)


def test_history_reads_every_page(harness: Harness, run: Any, monkeypatch: pytest.MonkeyPatch):
    for hour in range(30):
        put_snapshot(harness, "lic-1", recent(hour / 24 + 0.001), users=(hour, 100))
    queries: list[dict[str, Any]] = []

    def seven_per_page(params: dict[str, Any], **_: Any) -> None:
        params["Limit"] = 7
        queries.append(dict(params))

    # Clients made from the harness session from now on see the hook.
    harness.session.events.register("before-parameter-build.dynamodb.Query", seven_per_page)
    monkeypatch.setattr(cli_common, "aws_session", lambda _args: harness.session)

    result = run("history", "lic-1", "--csv")

    assert result.code == 0
    assert len(queries) == 5
    assert "ExclusiveStartKey" in queries[-1]
    assert len(result.out.splitlines()) == 1 + 30


def test_history_without_snapshots(harness: Harness, run: Any):
    result = run("history", "never-seen")

    assert result.code == 0
    assert result.out == "No snapshots of never-seen in the last 14 days in table usage-snapshots.\n"


def test_history_of_a_missing_table(harness: Harness, run: Any):
    result = run("history", "lic-1", "--table", "no-such-table")

    assert result.code == 2
    assert result.err == "usage-monitor: error: table no-such-table not found in region ap-south-1\n"


def test_history_needs_a_table_name(run: Any):
    result = run("history", "lic-1")

    assert result.code == 2
    assert result.err == "usage-monitor: error: no snapshot table: pass --table NAME or set SNAPSHOT_TABLE\n"


def test_history_days_must_be_positive(run: Any):
    result = run("history", "lic-1", "--table", "t", "--days", "0")

    assert result.code == 2
    assert "argument --days: '0' is not a whole number of days from 1 to 3650" in result.err


@pytest.mark.parametrize(
    "argv",
    [
        ["history", "lic-1", "--table", "usage-snapshots", "--region", "ap-south-1"],
        ["check", "lic-1", "--region", "ap-south-1"],
    ],
)
def test_no_aws_credentials(argv: list[str], run: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    # Outside mock_aws, with no credential source at all (and no instance metadata to ask)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    result = run(*argv)

    assert result.code == 2
    assert result.err.splitlines() == [f"usage-monitor: error: {cli_common.NO_CREDENTIALS}"]
    assert result.err.startswith("usage-monitor: error: no AWS credentials: set AWS_PROFILE")


def test_no_aws_region(run: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))

    result = run("history", "lic-1", "--table", "t")

    assert result.code == 2
    assert result.err == "usage-monitor: error: no AWS region: pass --region or set AWS_REGION or AWS_DEFAULT_REGION\n"


def test_unknown_aws_profile(run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))

    result = run("history", "lic-1", "--table", "t", "--profile", "nope")

    assert result.code == 2
    assert "AWS profile 'nope' not found" in result.err


# --- no demo in the package, help, python -m -----------------------------------------------------


def test_demo_is_not_a_command_of_the_installed_tool(run: Any):
    # The demo needs moto and the simulator (development code): it is `make demo` / `python -m local.run`.
    result = run("demo")

    assert result.code == 2
    assert "invalid choice: 'demo'" in result.err


def test_the_shipped_package_never_imports_development_code():
    package = ROOT / "src" / "usage_monitor"
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value] if node.value.startswith("local.") else []  # importlib strings
            else:
                continue
            assert not [name for name in names if name == "local" or name.startswith(("local.", "tests"))], path


def test_demo_runs_from_the_checkout():
    done = subprocess.run(
        [sys.executable, "-m", "local.run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "Snapshots stored in DynamoDB" in done.stdout
    assert "LIMIT REACHED (critical, clears below 95%)" in done.stdout


def test_python_dash_m_help_documents_commands_and_exit_codes():
    done = subprocess.run(
        [sys.executable, "-m", "usage_monitor", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0
    assert done.stdout.startswith("usage: usage-monitor ")
    for command in ("check", "history", "mute", "unmute", "mutes", "test-alert"):
        assert f"    {command}" in done.stdout
    assert "exit codes:" in done.stdout
    assert "  1  check: a resource of some license is at or above a threshold" in done.stdout


def test_no_command_is_a_usage_error(run: Any):
    result = run()

    assert result.code == 2
    assert "the following arguments are required: COMMAND" in result.err


def test_help_returns_0(run: Any):
    result = run("check", "--help")

    assert result.code == 0
    assert "exit codes:" in result.out
    assert "LEEGALITY_TOKEN" in result.out


def test_sparkline_scale():
    percents = [Decimal(p) for p in ("0", "14.3", "50", "92.9", "100", "140")]
    assert report.sparkline(percents) == "▁▂▅███"
    assert report.sparkline([Decimal(50)] * 100) == "▅" * report.SPARK_POINTS
    assert report.sparkline([]) == ""
