"""A count far above its limit (10^30 of 1,000) through the digest and the HTML report (issue 18 item 10):
every number goes through the same bounded formatting as the alerts, and one bad license is one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from local.aws import REGION, load_event
from local.simulator import usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from usage_monitor.cli import main

HUGE = 10**30


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def checked_twice(harness: Harness, first: str = "2026-11-17T09:15:00Z", second: str = "2026-11-24T09:15:00Z") -> None:
    """Two runs a week apart (the digest measures a 7-day change), the huge license growing between them."""
    add_licenses(harness, {"lic-huge": usage_of(users=(HUGE, 1000)), "lic-fine": HEALTHY})
    harness.invoke(time=first)
    harness.simulator.licenses["lic-huge"].usage = usage_of(users=(HUGE * 7 + 3, 1000))
    harness.invoke(time=second)


def test_the_digest_lists_a_huge_count_and_every_other_license(harness: Harness) -> None:
    checked_twice(harness)
    before = len(harness.alerts())

    harness.invoke({**load_event("digest.json"), "time": "2026-11-24T09:45:00Z"})

    (digest,) = harness.alerts()[before:]
    assert "2 licenses, 1 critical, 0 warning, 0 failing, 0 muted" in digest.email
    assert "1. lic-huge: CRITICAL, fullest 700000000000000000000000000000.3%" in digest.email
    assert "- users: 7000000000000000000000000000003/1000 (700000000000000000000000000000.3%); " in digest.email
    assert "+6000000000000000000000000000003, +600000000000000000000000000000.3 pts in 7 days" in digest.email
    assert "2. lic-fine: OK, fullest 23.3%" in digest.email
    assert len(digest.sms) <= 160


def test_the_html_report_renders_a_huge_count(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)  # the report reads back from the real clock
    checked_twice(harness, iso(now - timedelta(days=7, hours=1)), iso(now - timedelta(hours=1)))
    monkeypatch.setenv("AWS_REGION", REGION)
    out = tmp_path / "report.html"

    code = main(["report", "--days", "30", "--out", str(out)])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    html = out.read_text(encoding="utf-8")
    assert "lic-huge" in html
    assert "lic-fine" in html
    assert "700000000000000000000000000000.3%" in html
