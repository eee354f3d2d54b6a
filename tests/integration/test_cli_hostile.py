"""The `usage-monitor` command line against hostile upstream text, absurd figures and options, odd terminals.

Issue 18 items 9, 12, 13 and issue 19 items 12, 13: the real CLI, the simulator on 127.0.0.1 and moto.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.simulator import LeegalitySimulator, Reply, usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from usage_monitor import cli
from usage_monitor.cli import check as cli_check
from usage_monitor.messages.figures import iso

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-cli-hostile-SECRET"
# A window title (OSC 0, BEL-terminated), a screen clear (CSI), a clipboard write (OSC 52), the 8-bit CSI
# (C1), a carriage return that would overwrite the line, and a bidi override that would reorder it.
HOSTILE = "denied \x1b]0;pwn\x07 \x1b[2J \x1b]52;c;aGFja2Vk\x07 \x9b31m red\rfake \u202eevil\b done"


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Any:
    def invoke(*argv: str) -> Run:
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return invoke


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LEEGALITY_TOKEN", "LEEGALITY_BASE_URL", "ALERT_THRESHOLDS", "LICENSE_IDS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def controls(text: str) -> list[str]:
    """Characters a terminal would act on: C0 but new line, DEL, C1, and the format (bidi) controls."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf")]


def hostile_reply() -> Reply:
    return Reply(403, {"code": "LE_ERR_SS_403", "errors": [{"message": HOSTILE, "code": "LE_ERR_SS_007"}]})


# --- 18.9: no terminal control code from upstream reaches the terminal -----------------------------


def test_check_escapes_control_codes_from_the_api(simulator: LeegalitySimulator, run: Any, monkeypatch):
    # Given an API whose error message carries escape sequences
    simulator.add_license("lic-1", TOKEN, HEALTHY)
    simulator.script("lic-1", hostile_reply())
    monkeypatch.setenv("LEEGALITY_TOKEN", TOKEN)

    result = run("check", "lic-1", "--base-url", simulator.base_url)

    # Then neither stream holds one, and the person still sees what was sent, escaped
    assert result.code == 2
    assert controls(result.out) == []
    assert controls(result.err) == []
    # (the error line's blanks are collapsed: the carriage return is one of them)
    escaped = r"denied \x1b]0;pwn\x07 \x1b[2J \x1b]52;c;aGFja2Vk\x07 \x9b31m red fake \u202eevil\x08 done"
    assert escaped in result.err
    assert "CHECK FAILED: denied \\x1b]0;pwn\\x07 \\x1b[2J" in result.out
    assert "red\\rfake" in result.out


def test_history_escapes_control_codes_stored_from_the_api(harness: Harness, run: Any):
    # Given a scheduled run that stored the hostile message in a failed snapshot
    add_licenses(harness, {"lic-1": HEALTHY})
    harness.simulator.script("lic-1", hostile_reply())
    harness.invoke(time=iso(datetime.now(UTC) - timedelta(hours=1)))
    assert "\x1b" in str(harness.snapshots("lic-1")[0]["error"]["message"])  # stored as the API sent it

    chart = run("history", "lic-1")
    csv = run("history", "lic-1", "--csv")

    assert chart.code == csv.code == 0
    for printed in (chart.out, chart.err, csv.out, csv.err):
        assert controls(printed) == []
    assert "\\x1b[2J" in chart.out


def test_argparse_messages_pass_the_same_way(run: Any):
    # An argument argparse echoes back as written
    result = run("mutes", "\x1b]0;pwn\x07\x1b[2J")

    assert result.code == 2
    assert controls(result.err) == []
    assert result.err.splitlines()[-1] == r"usage-monitor: error: unrecognized arguments: \x1b]0;pwn\x07\x1b[2J"


# --- 18.13: absurd option values are one error line and exit 2 -------------------------------------


@pytest.mark.parametrize("value", [f"{10**30}d", "99999999999w", "-1d", "nan", "1e30d", "367d", "0m", "٣d", ""])
def test_absurd_mute_durations_are_refused_with_the_range(harness: Harness, run: Any, value: str):
    result = run("mute", "lic-1", f"--for={value}")  # `=`: argparse would take `-1d` for an option

    assert result.code == 2
    assert "Traceback" not in result.err
    [error] = [line for line in result.err.splitlines() if "error:" in line]
    assert error.endswith(
        f"argument --for: {value!r} is not a duration from 1m to 366d (a whole number and m, h, d or w: 30m, "
        "12h, 7d, 2w)"
    )
    assert harness.dynamo_table.scan() == []  # nothing muted


def test_the_longest_mute_is_accepted(harness: Harness, run: Any):
    result = run("mute", "lic-1", "--for", "366d")

    assert result.code == 0, result.err
    until = datetime.fromisoformat(result.out.split(" until ")[1].rstrip(".\n").replace("Z", "+00:00"))
    assert abs(until - (datetime.now(UTC) + timedelta(days=366))) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (str(10**30), repr(str(10**30))),
        ("-1", "'-1'"),
        ("nan", "'nan'"),
        ("3651", "'3651'"),
        ("1e3", "'1e3'"),
        ("1" + "0" * 5000, "'1" + "0" * 39 + "'... (5001 characters)"),
    ],
)
def test_absurd_history_days_are_refused_with_the_range(harness: Harness, run: Any, value: str, shown: str):
    result = run("history", "lic-1", f"--days={value}")

    assert result.code == 2
    assert "Traceback" not in result.err
    [error] = [line for line in result.err.splitlines() if "error:" in line]
    assert error.endswith(f"argument --days: {shown} is not a whole number of days from 1 to 3650")


def test_the_longest_history_window_is_accepted(harness: Harness, run: Any):
    result = run("history", "lic-1", "--days", "3650")

    assert result.code == 0, result.err
    assert "in the last 3650 days" in result.out


# --- 18.12: report reads LICENSE_IDS as the run does -----------------------------------------------


def test_report_takes_a_license_list_with_a_repeat(harness: Harness, run: Any, tmp_path: Path, monkeypatch):
    # Given two checked licenses and a LICENSE_IDS the Lambda accepts (one repeat, one bad entry)
    add_licenses(harness, {"lic-a": HEALTHY, "lic-b": usage_of(users=(90, 100))})
    harness.invoke(time=iso(datetime.now(UTC) - timedelta(hours=1)))
    out = tmp_path / "r.html"

    monkeypatch.setenv("LICENSE_IDS", "lic-a, lic-b, lic-a")
    repeated = run("report", "--out", str(out))

    assert repeated.code == 0, repeated.err
    assert "(2 licenses," in repeated.out
    assert repeated.err.splitlines() == [
        "usage-monitor: warning: LICENSE_IDS position 3: 'lic-a' is listed twice (first at position 1); checked once"
    ]
    html = out.read_text(encoding="utf-8")
    assert ">lic-a</a>" in html
    assert ">lic-b</a>" in html

    # A bad entry is named and skipped; the report still covers the rest, and the exit code says so
    monkeypatch.setenv("LICENSE_IDS", "lic-a,bad id!")
    skipped = run("report", "--out", str(out))
    assert skipped.code == 2
    assert "(1 licenses," in skipped.out
    assert skipped.err.splitlines() == [
        "usage-monitor: error: skipped LICENSE_IDS position 2: 'bad id!' is not 1-128 characters of A-Z, a-z, "
        "0-9, '.', '_', '-'"
    ]

    # --license (which wins over LICENSE_IDS) reads the same way
    options = run("report", "--out", str(out), "--license", "lic-b", "lic-b")
    assert options.code == 0
    assert "(1 licenses," in options.out
    assert options.err.splitlines() == [
        "usage-monitor: warning: --license option 2: 'lic-b' is listed twice (first at option 1); checked once"
    ]


# --- 19.12: a terminal that is not UTF-8 ------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "ascii"])
def test_check_on_a_stream_that_is_not_utf8_prints_ascii_bars(simulator: LeegalitySimulator, encoding: str):
    simulator.add_license("busy", TOKEN, usage_of(users=(850, 1000), signatures=(10, 1000)))
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(LEEGALITY_TOKEN=TOKEN, PYTHONIOENCODING=encoding)

    done = subprocess.run(
        [sys.executable, "-m", "usage_monitor", "check", "busy", "--base-url", simulator.base_url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )

    # Exit 1 is "over threshold" (users at 85%), the finding, not a crash
    assert done.returncode == 1, done.stderr.decode(encoding)
    assert done.stderr == b""
    out = done.stdout.decode(encoding)
    users = next(line for line in out.splitlines() if "users" in line)
    assert "#################..." in users  # 17 of 20 cells used, 3 free
    assert ">= 80% (warning, clears below 75%)" in users
    assert "█" not in out
    assert "·" not in out


def test_an_unexpected_failure_exits_2_not_1(simulator: LeegalitySimulator, run: Any, monkeypatch):
    simulator.add_license("lic-1", TOKEN, HEALTHY)
    monkeypatch.setenv("LEEGALITY_TOKEN", TOKEN)

    def broken(*_: Any) -> str:
        raise UnicodeEncodeError("latin-1", "█", 0, 1, "ordinal not in range(256)")

    monkeypatch.setattr(cli_check, "usage_table", broken)

    result = run("check", "lic-1", "--base-url", simulator.base_url)

    assert result.code == 2
    assert result.err.splitlines()[-1].startswith("usage-monitor: error: unexpected UnicodeEncodeError: ")


# --- 19.13: check --json is strict JSON whatever the figures ----------------------------------------


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse, parse_float=lambda number: float(number))


def test_check_json_carries_absurd_counts_exactly(simulator: LeegalitySimulator, run: Any, monkeypatch):
    # Given counts no float holds: 10^400 of 1,000, and 10^30 of 1
    simulator.add_license("huge", TOKEN, usage_of(users=(10**400, 1000), signatures=(5, 10)))
    simulator.add_license("big", TOKEN, usage_of(users=(10**30, 1)))
    monkeypatch.setenv("LEEGALITY_TOKEN", TOKEN)

    result = run("check", "huge", "big", "--base-url", simulator.base_url, "--json")

    assert result.code == 1
    huge, big = strict_json(result.out)
    users = huge["resources"]["users"]
    assert users["current"] == "1" + "0" * 400
    assert users["percent"] == "1" + "0" * 399 + ".0"  # 10^400 / 1000 * 100
    assert users["limit"] == 1000
    assert users["level"] == "critical"
    assert big["resources"]["users"]["current"] == str(10**30)
    assert big["resources"]["users"]["percent"] == str(10**32) + ".0"
    # Figures a double holds exactly stay JSON numbers
    signatures = huge["resources"]["signatures"]
    assert (signatures["current"], signatures["limit"], signatures["percent"]) == (5, 10, 50.0)
    assert isinstance(signatures["percent"], float)
