"""`usage-monitor report`: rendered from a moto table seeded with history, then opened in headless Chromium.

Chromium comes from Debian's `chromium` package (`apt-get install -y chromium`; `.ci/run` installs it when
it can). Where it is missing, the browser test skips and says so; the other tests here still run.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.aws import REGION, ROOT, provision
from tests.integration.chromium import Chromium, find_chromium
from usage_monitor.cli import main
from usage_monitor.core.models import CheckError, CheckResult, FailureKind, Resource
from usage_monitor.storage.store import snapshot_item

ARTIFACTS = ROOT / "build" / "test-artifacts"
LICENSES = {
    "lic-growing": {
        "users": (200, 8, 500),
        "signatures": (3000, 150, 10000),
        "departments": (5, 0, 50),
        "certificates": (10, 1, 100),
    },
    "lic-steady": {"users": (40, 0, 100), "signatures": (100, 2, 1000)},
}


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto table with 30 days of 6-hourly snapshots per license, one failed check, up to now."""
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        stack = provision(session, '{"lic-growing": "tok-1-SECRET", "lic-steady": "tok-2-SECRET"}')
        table = session.resource("dynamodb", region_name=REGION).Table(stack.table_name)
        now = datetime.now(UTC).replace(microsecond=0)
        with table.batch_writer() as batch:
            for license_id, resources in LICENSES.items():
                for step in range(120, -1, -1):
                    at = now - timedelta(hours=6 * step)
                    days = (120 - step) / 4
                    if license_id == "lic-steady" and step == 40:
                        error = CheckError(FailureKind.HTTP_ERROR, "Service Unavailable", 503)
                        result = CheckResult(license_id, at, error=error)
                    else:
                        figures = tuple(Resource(n, int(a + b * days), c) for n, (a, b, c) in resources.items())
                        result = CheckResult(license_id, at, figures)
                    batch.put_item(Item=snapshot_item(result, at, 400))
        monkeypatch.setenv("SNAPSHOT_TABLE", stack.table_name)
        monkeypatch.setenv("TOKENS_SECRET_ID", stack.secret_id)
        monkeypatch.setenv("AWS_REGION", REGION)
        monkeypatch.delenv("LICENSE_IDS", raising=False)
        yield table


def run_report(out: Path, *extra: str) -> int:
    return main(["report", "--days", "30", "--out", str(out), *extra])


def test_report_is_one_self_contained_file_with_a_chart_per_resource(table: Any, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "report.html"

    # When the report is written for the licenses the tokens secret names
    assert run_report(out) == 0

    html = out.read_text(encoding="utf-8")
    assert f"Wrote {out}" in capsys.readouterr().out
    assert html.count('<svg class="chart"') == 6
    # Self-contained: no script, no external stylesheet, image or font
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)
    assert "@import" not in html
    assert "url(" not in html
    # Fullest first in the summary table; the growing license is forecast to its limit
    assert html.index(">lic-growing</a>") < html.index(">lic-steady</a>")
    assert "limit in about " in html  # the alert's words (issue 18 item 16)
    assert "SECRET" not in html


def test_report_of_named_licenses_only(table: Any, tmp_path: Path) -> None:
    out = tmp_path / "one.html"

    assert run_report(out, "--license", "lic-steady") == 0

    html = out.read_text(encoding="utf-8")
    assert html.count('<svg class="chart"') == 2
    assert "lic-growing" not in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "0"], "is not a number of days from 1 to 400"),
        (["--license", "bad id!"], "--license"),
        (["--table", ""], "no table"),
    ],
)
def test_report_refuses_bad_input_with_one_line(
    table: Any, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.delenv("SNAPSHOT_TABLE")
    base = ["--table", table.name] if "--table" not in args else []
    assert run_report(tmp_path / "r.html", *base, *args) == 2
    assert message in capsys.readouterr().err


def test_report_of_a_missing_table_fails_clearly(table: Any, tmp_path: Path, capsys: Any) -> None:
    assert run_report(tmp_path / "r.html", "--table", "no-such-table") == 2
    assert "table no-such-table not found in region ap-south-1" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_report_into_a_missing_directory_fails_clearly(table: Any, tmp_path: Path, capsys: Any) -> None:
    assert run_report(tmp_path / "missing" / "r.html") == 2
    assert "cannot write" in capsys.readouterr().err


def test_report_opens_in_headless_chromium_without_errors(table: Any, tmp_path: Path) -> None:
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium); the browser check is skipped")
    out = tmp_path / "report.html"
    assert run_report(out) == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with Chromium(binary) as browser:
        load = browser.load(out.as_uri())
        charts = browser.evaluate(
            "Array.from(document.querySelectorAll('section.license')).map("
            "s => [s.querySelectorAll('figure.resource').length, s.querySelectorAll('svg.chart').length])"
        )
        widths = browser.evaluate(
            "Array.from(document.querySelectorAll('svg.chart')).map(s => s.getBoundingClientRect().width)"
        )
        desktop, phone = ARTIFACTS / "report-desktop.png", ARTIFACTS / "report-phone.png"
        browser.screenshot(desktop, 1200)
        browser.screenshot(phone, 390, mobile=True)
        phone_overflow = browser.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        printed = browser.pdf()

    # The page loaded without errors and requested nothing but itself
    assert load.errors == []
    assert load.requests == [out.as_uri()]
    # One chart per resource: 4 for the growing license, 2 for the steady one, each actually laid out
    assert charts == [[4, 4], [2, 2]]
    assert all(width > 200 for width in widths)
    # Readable on a phone: nothing wider than the screen; and it prints
    assert phone_overflow is False
    assert printed.startswith(b"%PDF")
    for shot in (desktop, phone):
        assert shot.read_bytes().startswith(b"\x89PNG")
    shutil.copy(out, ARTIFACTS / "report.html")
