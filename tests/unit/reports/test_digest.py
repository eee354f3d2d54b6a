"""The weekly digest: per-license figures, change, forecast, alerts and mutes; the SNS message's forms and size."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from usage_monitor.alerting.forecast import Forecast, ForecastStatus
from usage_monitor.alerting.types import AlertPolicy, AlertState, FailureStreak, NotifiedLevel, Severity
from usage_monitor.core.models import CheckError, CheckResult, FailureKind, Resource
from usage_monitor.reports.digest import (
    EMAIL_BUDGET_BYTES,
    LISTED_LICENSES,
    LicenseDigest,
    ResourceOutlook,
    license_digest,
    render_digest,
)
from usage_monitor.storage.store import snapshot_item

NOW = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
POLICY = AlertPolicy((Decimal(80), Decimal(95)))
LONG_ID = "L" * 64 + "-" + "9" * 63  # 128 characters, the longest allowed


def history(license_id: str, days: int, **growth: tuple[int, int, int]) -> list[dict[str, Any]]:
    """Daily snapshots, oldest first: resource=(start, per day, limit)."""
    items = []
    for day in range(days, -1, -1):
        at = NOW - timedelta(days=day, minutes=15)
        resources = tuple(
            Resource(name, start + per_day * (days - day), limit) for name, (start, per_day, limit) in growth.items()
        )
        items.append(snapshot_item(CheckResult(license_id, at, resources), at, 400))
    return items


def failed(license_id: str, at: datetime) -> dict[str, Any]:
    error = CheckError(FailureKind.TOKEN_REJECTED, "Invalid or expired token", 401, "LE_ERR_SS_401")
    return snapshot_item(CheckResult(license_id, at, error=error), at, 400)


def test_growing_resource_shows_its_week_and_its_limit_date() -> None:
    # Given 10 days of signatures growing by 100 a day towards 10,000, and flat users
    items = history("lic-1", 10, signatures=(7000, 100, 10000), users=(40, 0, 100))

    digest = license_digest("lic-1", items, None, POLICY, NOW)

    signatures, users = digest.resources
    assert signatures.resource == Resource("signatures", 8000, 10000)
    assert (signatures.change, signatures.change_points, signatures.change_days) == (700, Decimal("7.0"), 7)
    assert signatures.forecast.status is ForecastStatus.RISING
    assert signatures.forecast.days_to_limit == Decimal("19.9")  # 2000 left at 100 a day, from 15 minutes ago
    assert signatures.level == Decimal(80)
    assert users.forecast.status is ForecastStatus.FLAT_OR_FALLING
    assert (digest.fullest, digest.severity, digest.failing) == (Decimal("80.0"), "warning", None)


def test_forecast_uses_only_the_forecast_window() -> None:
    # Given fast growth long ago and none in the last 14 days
    old = history("lic-1", 30, users=(0, 10, 1000))
    recent = [i for i in old if i["captured_at"] >= "2026-11-09"]
    flat = [{**i, "users": {**i["users"], "current": 300}} for i in recent]
    items = [i for i in old if i["captured_at"] < "2026-11-09"] + flat

    digest = license_digest("lic-1", items, None, POLICY, NOW, forecast_window=timedelta(days=14))

    assert digest.resources[0].forecast.status is ForecastStatus.FLAT_OR_FALLING


def test_a_failing_license_keeps_its_last_known_figures_and_says_why() -> None:
    items = [*history("lic-1", 3, users=(10, 1, 100)), failed("lic-1", NOW - timedelta(minutes=5))]

    digest = license_digest("lic-1", items, None, POLICY, NOW)

    assert digest.failing == "Invalid or expired token · HTTP 401 · LE_ERR_SS_401"
    assert digest.resources[0].resource == Resource("users", 13, 100)
    assert digest.as_of == NOW - timedelta(minutes=15)


def test_a_license_without_snapshots_is_reported_not_dropped() -> None:
    digest = license_digest("lic-1", [], None, POLICY, NOW)

    assert digest.resources == ()
    assert digest.failing is not None
    assert "no snapshot stored" in digest.failing


def test_open_alerts_and_live_mutes_come_from_the_alert_state() -> None:
    state = AlertState(
        resources={"users": NotifiedLevel(Decimal(100), NOW - timedelta(days=2))},
        failures=FailureStreak(4, NOW - timedelta(hours=1), NOW - timedelta(minutes=30), "HTTP 500"),
        silences={"signatures": NOW + timedelta(days=1), "*": NOW - timedelta(seconds=1)},
    )

    digest = license_digest("lic-1", history("lic-1", 2, users=(100, 0, 100)), state, POLICY, NOW)

    assert digest.open_alerts == (
        "users raised at the limit (critical), last notified 21 Nov 03:30 UTC",
        "check failing since 23 Nov 02:30 UTC (4 runs)",
    )
    assert digest.mutes == (("signatures", NOW + timedelta(days=1)),)  # the expired whole-license mute is gone
    assert digest.severity == "critical"


def outlook(
    name: str, current: int, limit: int, status: ForecastStatus = ForecastStatus.FLAT_OR_FALLING
) -> ResourceOutlook:
    resource = Resource(name, current, limit)
    level = POLICY.level_of(resource)
    critical = level is not None and POLICY.severity_for(level, None, name) is Severity.CRITICAL
    return ResourceOutlook(resource, level, Forecast(status), 5, Decimal("0.5"), 7, critical)


def test_email_lists_fullest_first_with_a_header_of_counts() -> None:
    fleet = [
        LicenseDigest("half", NOW, (outlook("users", 50, 100),)),
        LicenseDigest("full", NOW, (outlook("users", 100, 100, ForecastStatus.AT_LIMIT),)),
        LicenseDigest("broken", None, (), failing="HTTP 500", mutes=(("*", NOW + timedelta(hours=3)),)),
        LicenseDigest("warm", NOW, (outlook("signatures", 85, 100),)),
    ]

    rendered = render_digest(fleet, NOW)

    email = rendered.email
    assert "4 licenses, 1 critical, 1 warning, 1 failing, 1 muted" in email
    assert email.index("1. full: CRITICAL") < email.index("2. warm: WARNING") < email.index("3. half: OK")
    assert "4. broken: NO FIGURES, check failing" in email
    assert "- users: 100/100 (100.0%); +5, +0.5 pts in 7 days; at the limit" in email
    assert "- users: 50/100 (50.0%); +5, +0.5 pts in 7 days; not growing" in email
    assert "Muted: everything until 23 Nov 06:30 UTC" in email
    assert rendered.subject == "Leegality usage digest: 4 licenses, 1 critical, 1 warning, 1 failing, 1 muted"
    assert rendered.attributes == {"event_type": "digest", "severity": "info", "license_id": "*"}
    bodies = json.loads(rendered.outgoing().message_json)
    assert json.loads(bodies.pop("https"))["content"]["title"].endswith(rendered.subject)
    assert bodies == {"default": email, "email": email, "sms": rendered.sms}
    assert rendered.sms == ("Leegality digest: 4 lic, 1 crit, 1 warn, 1 failing, 1 muted. Fullest: full users 100.0%")


def test_sms_stays_one_ascii_segment_with_the_longest_license_id() -> None:
    fleet = [LicenseDigest(LONG_ID + "é", NOW, (outlook("certificates", 999, 1000),))]

    sms = render_digest(fleet * 3, NOW).sms

    assert len(sms) <= 160
    assert sms.isascii()
    assert sms.startswith("Leegality digest: 3 lic, 3 crit, 0 warn")  # 99.9 % is past the highest threshold
    assert sms.endswith("certificates 99.9%")


def test_large_fleet_lists_the_50_fullest_and_summarises_the_rest_far_below_256_kb() -> None:
    # Given 1,000 licenses with the longest IDs, 4 resources each, open alerts and a few failing
    state = AlertState(resources={f"r{i}": NotifiedLevel(Decimal(80), NOW) for i in range(4)})
    fleet = []
    for n in range(1000):
        resources = tuple(outlook(f"resource{i}", 900 - n % 900, 1000, ForecastStatus.RISING) for i in range(4))
        resources = tuple(
            ResourceOutlook(
                o.resource,
                o.level,
                Forecast(ForecastStatus.RISING, Decimal("3.2"), NOW + timedelta(days=3), Decimal("12.5")),
                40,
                Decimal("4.0"),
                7,
            )
            for o in resources
        )
        alerts = license_digest("x", [], state, POLICY, NOW).open_alerts
        failing = "HTTP 503" if n % 100 == 99 else None
        fleet.append(LicenseDigest(f"{n:04d}" + LONG_ID[4:], NOW, resources, failing, alerts))

    rendered = render_digest(fleet, NOW)

    size = len(rendered.outgoing().message_json.encode())
    assert size < 110_000  # both the email and the default body, under half of SNS's 256 KB
    assert len(rendered.email.encode()) <= EMAIL_BUDGET_BYTES
    listed = [line for line in rendered.email.splitlines() if line[:1].isdigit() and ". " in line[:5]]
    assert 0 < len(listed) <= LISTED_LICENSES
    assert listed[0].startswith("1. 0000")
    summary = next(line for line in rendered.email.splitlines() if line.startswith("Not listed:"))
    assert f"Not listed: {1000 - len(listed)} more licenses" in summary
    assert "failing checks among them: 0099" in summary


def test_fifty_small_licenses_are_all_listed_and_the_51st_is_summarised() -> None:
    fleet = [LicenseDigest(f"lic-{n:03d}", NOW, (outlook("users", 100 - n, 100),)) for n in range(51)]

    email = render_digest(fleet, NOW).email

    assert "50. lic-049: OK" in email
    assert "51. " not in email
    assert "Not listed: 1 more license, none above 50.0%: 0 critical, 0 warning, 0 failing, 0 muted." in email


def test_empty_fleet_still_renders() -> None:
    rendered = render_digest([], NOW)

    assert "No license to report." in rendered.email
    assert rendered.sms == "Leegality digest: 0 lic, 0 crit, 0 warn, 0 failing, 0 muted"


@pytest.mark.parametrize(
    ("forecast", "words"),
    [
        (
            Forecast(ForecastStatus.RISING, Decimal("0.4"), NOW + timedelta(hours=9), Decimal(5)),
            "limit within a day (around 23 Nov 12:30 UTC)",
        ),
        (
            Forecast(ForecastStatus.RISING, Decimal("42.8"), datetime(2027, 1, 5, tzinfo=UTC), Decimal(5)),
            "limit in about 43 days (around 5 Jan 2027)",
        ),
        (Forecast(ForecastStatus.FLAT_OR_FALLING), "not growing"),
        (Forecast(ForecastStatus.TOO_FEW_POINTS), "too little history to forecast"),
        (Forecast(ForecastStatus.NO_LIMIT), "no limit"),
    ],
)
def test_forecast_words(forecast: Forecast, words: str) -> None:
    from usage_monitor.reports.digest import forecast_text

    assert forecast_text(forecast, NOW) == words


def test_change_runs_from_the_value_a_week_ago_not_the_first_point_after_it() -> None:
    # Given daily points at 03:15 and the latest at 03:15 today: a week ago falls exactly on a point,
    # and with a point 15 minutes earlier than a week, that one is the baseline
    items = history("lic-1", 10, users=(100, 10, 1000))
    items.insert(
        -7,
        snapshot_item(
            CheckResult("lic-1", NOW - timedelta(days=7, minutes=30), (Resource("users", 165, 1000),)),
            NOW - timedelta(days=7, minutes=30),
            400,
        ),
    )
    shifted = [i for i in items if i["captured_at"] != "2026-11-16T03:15:00Z"]

    digest = license_digest("lic-1", shifted, None, POLICY, NOW)

    (users,) = digest.resources
    assert (users.change, users.change_days) == (200 - 165, 7)


def test_no_change_is_claimed_from_a_single_point() -> None:
    items = history("lic-1", 0, users=(100, 10, 1000))

    (users,) = license_digest("lic-1", items, None, POLICY, NOW).resources

    assert (users.change, users.change_points) == (None, None)
