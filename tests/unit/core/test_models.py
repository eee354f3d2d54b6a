"""Resource.percent / evaluable / at_limit and CheckError's helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from usage_monitor.core.models import CheckError, CheckResult, FailureKind, Resource


@pytest.mark.parametrize(
    ("current", "limit", "percent"),
    [
        (233, 1000, "23.3"),
        (999, 1000, "99.9"),
        (9999, 10000, "99.9"),  # 99.99 rounds DOWN: never shows 100.0 below the limit
        (99999, 100000, "99.9"),
        (7996, 10000, "79.9"),
        (1, 3, "33.3"),
        (2, 3, "66.6"),  # down, not half-up
        (0, 1000, "0.0"),
        (1000, 1000, "100.0"),
        (1200, 1000, "120.0"),
        (1, 1, "100.0"),
    ],
)
def test_percent_rounds_down_to_one_decimal(current: int, limit: int, percent: str) -> None:
    value = Resource("users", current, limit).percent

    assert value == Decimal(percent)
    assert str(value) == percent  # exactly one decimal place


@pytest.mark.parametrize(
    ("current", "limit"),
    [(None, 1000), (5, None), (None, None), (5, 0), (0, 0)],
)
def test_percent_is_none_without_a_positive_limit_and_a_current(current: int | None, limit: int | None) -> None:
    resource = Resource("users", current, limit)

    assert resource.percent is None
    assert not resource.evaluable
    assert not resource.at_limit


@pytest.mark.parametrize(
    ("current", "limit", "at_limit"),
    [(999, 1000, False), (1000, 1000, True), (1001, 1000, True)],
)
def test_at_limit(current: int, limit: int, at_limit: bool) -> None:
    assert Resource("users", current, limit).at_limit is at_limit


def test_percent_of_a_huge_count_does_not_raise() -> None:
    resource = Resource("signatures", 10**30, 1)

    assert resource.percent == Decimal(10**32)


def test_percent_of_huge_counts_just_under_the_limit_stays_below_100() -> None:
    resource = Resource("signatures", 10**30 - 1, 10**30)

    assert resource.percent == Decimal("99.9")


@pytest.mark.parametrize(
    ("kind", "now"),
    [
        (FailureKind.TOKEN_REJECTED, True),
        (FailureKind.ACCESS_DENIED, True),
        (FailureKind.NO_TOKEN, True),
        (FailureKind.HTTP_ERROR, False),
        (FailureKind.UNREACHABLE, False),
        (FailureKind.MALFORMED_RESPONSE, False),
        (FailureKind.DEADLINE, False),
    ],
)
def test_only_token_and_access_failures_need_attention_at_once(kind: FailureKind, now: bool) -> None:
    assert CheckError(kind, "x").needs_attention_now is now


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (CheckError(FailureKind.HTTP_ERROR, "Internal Server Error"), "Internal Server Error"),
        (CheckError(FailureKind.HTTP_ERROR, "Internal Server Error", 500), "Internal Server Error · HTTP 500"),
        (
            CheckError(FailureKind.TOKEN_REJECTED, "Invalid or expired token", 401, "LE_ERR_SS_401", "LE_ERR_SS_303"),
            "Invalid or expired token · HTTP 401 · LE_ERR_SS_401/LE_ERR_SS_303",
        ),
        (
            CheckError(FailureKind.HTTP_ERROR, "Internal Server Error", 500, "LE_ERR_SS_500", None),
            "Internal Server Error · HTTP 500 · LE_ERR_SS_500",
        ),
    ],
)
def test_check_error_describe(error: CheckError, text: str) -> None:
    assert error.describe() == text


def test_check_result_ok_iff_no_error() -> None:
    at = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)

    assert CheckResult("lic", at, (Resource("users", 1, 2),)).ok
    assert not CheckResult("lic", at, error=CheckError(FailureKind.UNREACHABLE, "reset")).ok
