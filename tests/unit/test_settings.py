"""Settings.from_env: required variables, defaults, and every validation naming the culprit."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from usage_monitor.core.errors import ConfigError
from usage_monitor.settings import PRODUCTION_BASE_URL, SANDBOX_BASE_URL, Settings

TOPIC_ARN = "arn:aws:sns:ap-south-1:123456789012:leegality-usage-alerts"
REQUIRED = {
    "TOKENS_SECRET_ID": "leegality/usage-monitor/tokens",
    "SNAPSHOT_TABLE": "leegality-usage",
    "ALERT_TOPIC_ARN": TOPIC_ARN,
}


def settings(**overrides: str) -> Settings:
    return Settings.from_env({**REQUIRED, **overrides})


def config_error(**overrides: str) -> str:
    with pytest.raises(ConfigError) as caught:
        settings(**overrides)
    return str(caught.value)


def test_defaults_with_only_the_required_variables() -> None:
    s = settings()

    assert s.tokens_secret_id == "leegality/usage-monitor/tokens"
    assert s.snapshot_table == "leegality-usage"
    assert s.alert_topic_arn == TOPIC_ARN
    assert s.alert_thresholds == (Decimal(80),)
    assert s.base_url == PRODUCTION_BASE_URL == "https://app1.leegality.com/api"
    assert s.snapshot_retention_days == 400
    assert s.license_ids == ()
    assert s.remind_after_hours == 24
    assert s.failure_alert_after_runs == 3
    assert s.max_concurrency == 16
    assert (s.connect_timeout_seconds, s.read_timeout_seconds) == (5.0, 15.0)
    assert s.secret_cache_seconds == 300


def test_empty_optional_variables_mean_the_default() -> None:
    optional = (
        "LICENSE_IDS",
        "ALERT_THRESHOLDS",
        "LEEGALITY_BASE_URL",
        "SNAPSHOT_RETENTION_DAYS",
        "MAX_CONCURRENCY",
        "HTTP_READ_TIMEOUT_SECONDS",
    )
    blank = dict.fromkeys(optional, "")

    assert settings(**blank) == settings()


def test_required_values_are_stripped() -> None:
    assert settings(SNAPSHOT_TABLE="  leegality-usage \n").snapshot_table == "leegality-usage"


@pytest.mark.parametrize("name", sorted(REQUIRED))
@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_required_variable_is_named(name: str, value: str | None) -> None:
    env = dict(REQUIRED)
    if value is None:
        del env[name]
    else:
        env[name] = value

    with pytest.raises(ConfigError, match=f"^{name} is required but not set$"):
        Settings.from_env(env)


# --- ALERT_THRESHOLDS -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "thresholds"),
    [
        ("80", ("80",)),
        ("95, 80", ("80", "95")),
        ("95,80,50", ("50", "80", "95")),
        (" 80% , 95 % ", ("80", "95")),
        ("99.5", ("99.5",)),
        ("0.1", ("0.1",)),
        ("1000", ("1000",)),
        ("120,80", ("80", "120")),
        # One number in two spellings is one threshold (the template can only compare the text).
        ("80,80", ("80",)),
        ("80, 80.0", ("80",)),
        ("80,95,095", ("80", "95")),
        ("80%,80.00", ("80",)),
    ],
)
def test_thresholds_are_parsed_and_sorted(raw: str, thresholds: tuple[str, ...]) -> None:
    assert settings(ALERT_THRESHOLDS=raw).alert_thresholds == tuple(Decimal(t) for t in thresholds)


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("abc", "'abc' is not a number"),
        ("80,abc", "'abc' is not a number"),
        ("0", "'0' is outside (0, 1000]"),
        ("-5", "'-5' is outside (0, 1000]"),
        ("1001", "'1001' is outside (0, 1000]"),
        ("NaN", "'NaN' is outside (0, 1000]"),
        ("Infinity", "'Infinity' is outside (0, 1000]"),
        ("80,,", "empty entry in '80,,'"),
        ("80,", "empty entry in '80,'"),
        ("%", "empty entry"),
    ],
)
def test_bad_thresholds_are_rejected_naming_the_entry(raw: str, named: str) -> None:
    message = config_error(ALERT_THRESHOLDS=raw)

    assert message.startswith("ALERT_THRESHOLDS: ")
    assert named in message


# --- LICENSE_IDS --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "ids"),
    [
        ("bd82845c-897b-4022-b5f7-679905c1979b", ("bd82845c-897b-4022-b5f7-679905c1979b",)),
        (" lic-a , lic_b,123456765RESAXCVBN54323456 ", ("lic-a", "lic_b", "123456765RESAXCVBN54323456")),
        ("a,,b,", ("a", "b")),
        ("v1.2", ("v1.2",)),
        ("x" * 128, ("x" * 128,)),
    ],
)
def test_license_ids_are_split_and_stripped(raw: str, ids: tuple[str, ...]) -> None:
    assert settings(LICENSE_IDS=raw).license_ids == ids


@pytest.mark.parametrize(
    ("raw", "position", "escaped"),
    [
        ("ok,a/b", "position 2", "a/b"),
        ("ok,a b", "position 2", "a b"),
        ("alert-state#x,ok", "position 1", "alert-state#x"),  # '#' separates the alert-state partition key
        ("ok, lic?x=1", "position 2", "lic?x=1"),
        ("ok,ü", "position 2", "\\xfc"),
        ("ok," + "x" * 129, "position 2", "x" * 60),
    ],
)
def test_bad_license_ids_are_skipped_naming_the_position_and_the_entry(raw: str, position: str, escaped: str) -> None:
    # Given one valid and one invalid entry, the valid one is kept and the other reported, not fatal.
    parsed = settings(LICENSE_IDS=raw)

    assert parsed.license_ids == ("ok",)
    (skipped,) = parsed.license_ids_skipped
    assert (skipped.source, skipped.where, skipped.escaped) == ("LICENSE_IDS", position, escaped)
    assert not skipped.duplicate


def test_a_repeated_license_id_is_kept_once_and_reported_as_a_repeat() -> None:
    parsed = settings(LICENSE_IDS="lic-a, lic-b, lic-a")

    assert parsed.license_ids == ("lic-a", "lic-b")
    (repeat,) = parsed.license_ids_skipped
    assert repeat.duplicate
    assert repeat.describe() == "LICENSE_IDS position 3: 'lic-a' is listed twice (first at position 1); checked once"


# --- LEEGALITY_BASE_URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        (SANDBOX_BASE_URL, "https://sandbox.leegality.com/api"),
        ("https://sandbox.leegality.com/api/", "https://sandbox.leegality.com/api"),
        ("  https://app1.leegality.com/api//  ", "https://app1.leegality.com/api"),
        ("http://127.0.0.1:8080/api", "http://127.0.0.1:8080/api"),
        ("http://localhost", "http://localhost"),
        ("http://localhost:9000/", "http://localhost:9000"),
        ("http://[::1]:9000/api", "http://[::1]:9000/api"),
        ("http://127.0.0.2", "http://127.0.0.2"),
    ],
)
def test_base_url_accepted(raw: str, url: str) -> None:
    assert settings(LEEGALITY_BASE_URL=raw).base_url == url


@pytest.mark.parametrize(
    "raw",
    [
        "http://example.com",
        "http://app1.leegality.com/api",
        "http://localhost.example.com",
        "http://10.0.0.1:8080",
        "http://0.0.0.0:8080",
        "ftp://localhost/api",
        "app1.leegality.com/api",
        "https://",
        "https:///api",
    ],
)
def test_base_url_rejected(raw: str) -> None:
    message = config_error(LEEGALITY_BASE_URL=raw)

    assert message.startswith("LEEGALITY_BASE_URL: ")
    assert repr(raw) in message


# --- ALERT_TOPIC_ARN ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        "leegality-usage-alerts",
        "arn:aws:sqs:ap-south-1:123456789012:leegality-usage-alerts",
        "arn:aws:sns:ap-south-1:12345:leegality-usage-alerts",
        "arn:aws:sns:ap-south-1:123456789012:",
        "arn:aws:sns:ap-south-1:123456789012:bad name",
        "arn:aws:sns::123456789012:topic",
        TOPIC_ARN + ":subscription-id",
    ],
)
def test_bad_topic_arn_is_rejected(arn: str) -> None:
    message = config_error(ALERT_TOPIC_ARN=arn)

    assert message == f"ALERT_TOPIC_ARN: {arn!r} is not an SNS topic ARN"


@pytest.mark.parametrize(
    "arn", [TOPIC_ARN, "arn:aws-cn:sns:cn-north-1:123456789012:t", "arn:aws-us-gov:sns:us-gov-west-1:123456789012:a_b"]
)
def test_topic_arn_in_any_partition_is_accepted(arn: str) -> None:
    assert settings(ALERT_TOPIC_ARN=arn).alert_topic_arn == arn


# --- numbers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "named"),
    [
        ("MAX_CONCURRENCY", "0", "MAX_CONCURRENCY: 0 must be between 1 and 256"),
        ("MAX_CONCURRENCY", "257", "MAX_CONCURRENCY: 257 must be between 1 and 256"),
        ("MAX_CONCURRENCY", "-1", "MAX_CONCURRENCY: -1 must be between 1 and 256"),
        ("MAX_CONCURRENCY", "x", "MAX_CONCURRENCY: 'x' is not a whole number"),
        ("MAX_CONCURRENCY", "4.5", "MAX_CONCURRENCY: '4.5' is not a whole number"),
        ("SNAPSHOT_RETENTION_DAYS", "0", "SNAPSHOT_RETENTION_DAYS: 0 must be between 1 and 36500"),
        ("SNAPSHOT_RETENTION_DAYS", "36501", "SNAPSHOT_RETENTION_DAYS: 36501 must be between 1 and 36500"),
        ("ALERT_REMIND_AFTER_HOURS", "8761", "ALERT_REMIND_AFTER_HOURS: 8761 must be between 0 and 8760"),
        ("SNAPSHOT_RETENTION_DAYS", "a year", "SNAPSHOT_RETENTION_DAYS: 'a year' is not a whole number"),
        ("FAILURE_ALERT_AFTER_RUNS", "0", "FAILURE_ALERT_AFTER_RUNS: 0 must be at least 1"),
        ("ALERT_REMIND_AFTER_HOURS", "-1", "ALERT_REMIND_AFTER_HOURS: -1 must be between 0 and 8760"),
        ("SECRET_CACHE_SECONDS", "-1", "SECRET_CACHE_SECONDS: -1 must be at least 0"),
        ("HTTP_CONNECT_TIMEOUT_SECONDS", "0", "HTTP_CONNECT_TIMEOUT_SECONDS: '0' must be between 0 and 300 seconds"),
        ("HTTP_READ_TIMEOUT_SECONDS", "301", "HTTP_READ_TIMEOUT_SECONDS: '301' must be between 0 and 300 seconds"),
        ("HTTP_READ_TIMEOUT_SECONDS", "nan", "HTTP_READ_TIMEOUT_SECONDS: 'nan' must be between 0 and 300 seconds"),
        ("HTTP_READ_TIMEOUT_SECONDS", "soon", "HTTP_READ_TIMEOUT_SECONDS: 'soon' is not a number"),
    ],
)
def test_bad_numbers_are_rejected_naming_the_variable(name: str, raw: str, named: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(named)}$"):
        settings(**{name: raw})


def test_numbers_within_bounds_are_read() -> None:
    s = settings(
        MAX_CONCURRENCY=" 256 ",
        SNAPSHOT_RETENTION_DAYS="1",
        FAILURE_ALERT_AFTER_RUNS="1",
        ALERT_REMIND_AFTER_HOURS="0",
        SECRET_CACHE_SECONDS="0",
        HTTP_CONNECT_TIMEOUT_SECONDS="2.5",
        HTTP_READ_TIMEOUT_SECONDS="300",
    )

    assert s.max_concurrency == 256
    assert s.snapshot_retention_days == 1
    assert s.failure_alert_after_runs == 1
    assert s.remind_after_hours == 0
    assert s.secret_cache_seconds == 0
    assert s.connect_timeout_seconds == 2.5
    assert s.read_timeout_seconds == 300.0
