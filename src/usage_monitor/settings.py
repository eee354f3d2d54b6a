"""Environment variables → one frozen, validated `Settings`, built once per cold start."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import overload
from urllib.parse import urlsplit

from usage_monitor.core.errors import ConfigError
from usage_monitor.core.license_entries import LICENSE_ID_PATTERN, SkippedEntry, parse_separated
from usage_monitor.core.schedule import interval_minutes

PRODUCTION_BASE_URL = "https://app1.leegality.com/api"
SANDBOX_BASE_URL = "https://sandbox.leegality.com/api"

MAX_THRESHOLD = Decimal(1000)


@dataclass(frozen=True)
class Settings:
    tokens_secret_id: str
    snapshot_table: str
    alert_topic_arn: str
    license_ids: tuple[str, ...] = ()
    alert_thresholds: tuple[Decimal, ...] = (Decimal(80),)
    base_url: str = PRODUCTION_BASE_URL
    snapshot_retention_days: int = 400
    remind_after_hours: int = 24
    failure_alert_after_runs: int = 3
    max_concurrency: int = 16
    max_requests_per_second: float | None = None
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 15.0
    secret_cache_seconds: int = 300
    retry_backoff_seconds: float = 0.5
    retry_after_cap_seconds: float = 20.0
    deadline_margin_seconds: float = 20.0
    threshold_overrides: tuple[ThresholdOverride, ...] = ()
    forecast_alert_days: int = 14
    forecast_history_days: int = 14
    forecast_interval_hours: int = 24
    schedule_minutes: int = 15
    license_list_s3_uri: str | None = None
    fanout_queue_url: str | None = None
    fanout_chunk_size: int = 500
    metrics_top_licenses: int = 3
    # LICENSE_IDS entries not checked (invalid) or checked once (repeated): reported, never fatal.
    license_ids_skipped: tuple[SkippedEntry, ...] = ()
    # Above this share of invalid list entries, the config_problem alert is critical, not a warning.
    config_problem_critical_percent: float = 10.0
    token_max_age_seconds: int = 900
    ca_bundle_parameter: str | None = None
    auth_header: str = "X-Auth-Token"
    hysteresis_points: Decimal = Decimal(5)
    flap_max_changes: int = 4
    flap_window_hours: int = 6
    # True: only reaching the limit is critical (SMS only then, with the default SMS filter); False: each
    # resource's highest threshold is critical too, as the template's AlertThresholds promises.
    critical_at_limit_only: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read and validate every setting; the first bad one raises `ConfigError` naming it."""
        license_ids = parse_separated(env.get("LICENSE_IDS", ""), "LICENSE_IDS")
        return cls(
            tokens_secret_id=_required(env, "TOKENS_SECRET_ID"),
            snapshot_table=_required(env, "SNAPSHOT_TABLE"),
            alert_topic_arn=_topic_arn(_required(env, "ALERT_TOPIC_ARN")),
            license_ids=license_ids.ids,
            license_ids_skipped=license_ids.skipped,
            alert_thresholds=parse_thresholds(env.get("ALERT_THRESHOLDS", "").strip() or "80", "ALERT_THRESHOLDS"),
            base_url=validate_base_url(env.get("LEEGALITY_BASE_URL", "").strip() or PRODUCTION_BASE_URL),
            # Bounded so the expiry and reminder times stay dates Python can hold (the template has the same bounds).
            snapshot_retention_days=_int(env, "SNAPSHOT_RETENTION_DAYS", 400, minimum=1, maximum=36500),
            remind_after_hours=_int(env, "ALERT_REMIND_AFTER_HOURS", 24, minimum=0, maximum=8760),
            failure_alert_after_runs=_int(env, "FAILURE_ALERT_AFTER_RUNS", 3, minimum=1),
            max_concurrency=_int(env, "MAX_CONCURRENCY", 16, minimum=1, maximum=256),
            max_requests_per_second=_float(
                env, "MAX_REQUESTS_PER_SECOND", None, maximum=1000, unit=" requests a second"
            ),
            connect_timeout_seconds=_float(env, "HTTP_CONNECT_TIMEOUT_SECONDS", 5.0),
            read_timeout_seconds=_float(env, "HTTP_READ_TIMEOUT_SECONDS", 15.0),
            secret_cache_seconds=_int(env, "SECRET_CACHE_SECONDS", 300, minimum=0),
            retry_backoff_seconds=_float(env, "HTTP_RETRY_BACKOFF_SECONDS", 0.5),
            retry_after_cap_seconds=_float(env, "HTTP_RETRY_AFTER_CAP_SECONDS", 20.0),
            deadline_margin_seconds=_float(env, "DEADLINE_MARGIN_SECONDS", 20.0),
            threshold_overrides=parse_threshold_overrides(env.get("ALERT_THRESHOLD_OVERRIDES", "")),
            forecast_alert_days=_int(env, "FORECAST_ALERT_DAYS", 14, minimum=0, maximum=365),
            forecast_history_days=_int(env, "FORECAST_HISTORY_DAYS", 14, minimum=1, maximum=400),
            forecast_interval_hours=_int(env, "FORECAST_INTERVAL_HOURS", 24, minimum=1, maximum=168),
            schedule_minutes=parse_schedule_minutes(env.get("SCHEDULE_RATE", "")),
            license_list_s3_uri=_s3_uri(env.get("LICENSE_LIST_S3_URI", "").strip()),
            fanout_queue_url=env.get("FANOUT_QUEUE_URL", "").strip() or None,
            fanout_chunk_size=_int(env, "FANOUT_CHUNK_SIZE", 500, minimum=1, maximum=5000),
            metrics_top_licenses=_int(env, "METRICS_TOP_LICENSES", 3, minimum=0, maximum=50),
            config_problem_critical_percent=_float(
                env, "CONFIG_PROBLEM_CRITICAL_PERCENT", 10.0, maximum=100, unit=" percent"
            ),
            token_max_age_seconds=_int(env, "TOKEN_MAX_AGE_SECONDS", 900, minimum=30, maximum=86400),
            ca_bundle_parameter=_ssm_name(env.get("CA_BUNDLE_PARAMETER", "").strip()),
            auth_header=cls.auth_header_from(env),
            hysteresis_points=parse_hysteresis(env.get("ALERT_HYSTERESIS_POINTS", "")),
            flap_max_changes=_int(env, "ALERT_FLAP_CHANGES", 4, minimum=0, maximum=100),
            flap_window_hours=_int(env, "ALERT_FLAP_WINDOW_HOURS", 6, minimum=1, maximum=168),
            critical_at_limit_only=parse_flag(env.get("CRITICAL_AT_LIMIT_ONLY", ""), "CRITICAL_AT_LIMIT_ONLY"),
        )

    @staticmethod
    def auth_header_from(env: Mapping[str, str]) -> str:
        """`LEEGALITY_AUTH_HEADER`: `X-Auth-Token` (the default, as SignStation documents) or
        `Authorization` (a Bearer token)."""
        return _choice(env, "LEEGALITY_AUTH_HEADER", ("X-Auth-Token", "Authorization"))


def parse_hysteresis(raw: str, setting: str = "ALERT_HYSTERESIS_POINTS") -> Decimal:
    """Percentage points in [0, 50]; empty = 5. Above 50 a 80 % warning would last down to 30 %."""
    text = raw.strip()
    if not text:
        return Decimal(5)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ConfigError(f"{setting}: {text!r} is not a number of percentage points") from None
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(50):
        raise ConfigError(f"{setting}: {text!r} must be between 0 and 50 percentage points")
    return value


def parse_flag(raw: str, setting: str) -> bool:
    """`true` or `false` (any case; empty = false), as the template's AllowedValues give them."""
    text = raw.strip().lower()
    if text in ("", "false"):
        return False
    if text == "true":
        return True
    raise ConfigError(f"{setting}: {raw.strip()!r} is not true or false")


@dataclass(frozen=True)
class ThresholdOverride:
    """Thresholds for one resource everywhere, one license, or one resource of one license.

    `license_id` or `resource` is None for "any"; the most specific override wins.
    """

    license_id: str | None
    resource: str | None
    thresholds: tuple[Decimal, ...]

    @property
    def specificity(self) -> int:
        return (2 if self.license_id else 0) + (1 if self.resource else 0)


def parse_threshold_overrides(raw: str, setting: str = "ALERT_THRESHOLD_OVERRIDES") -> tuple[ThresholdOverride, ...]:
    """`signatures=70,90; lic-123/users=95; lic-9/*=50` → overrides, validated at start."""
    overrides: list[ThresholdOverride] = []
    seen: set[tuple[str | None, str | None]] = set()
    for entry in raw.split(";"):
        text = entry.strip()
        if not text:
            continue
        target, sep, values = text.partition("=")
        if not sep or not target.strip():
            raise ConfigError(f"{setting}: {text!r} is not of the form resource=80,95 or license/resource=80,95")
        license_part, slash, resource_part = target.strip().rpartition("/")
        license_id = validate_license_id(license_part.strip(), setting) if slash else None
        resource = resource_part.strip()
        if resource == "*":
            if license_id is None:
                raise ConfigError(f"{setting}: {text!r}: '*' needs a license, e.g. lic-1/*=90")
            resource_name = None
        elif not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", resource):
            raise ConfigError(f"{setting}: {resource!r} in {text!r} is not a resource name")
        else:
            resource_name = resource
        key = (license_id, resource_name)
        if key in seen:
            raise ConfigError(f"{setting}: {target.strip()!r} is given twice")
        seen.add(key)
        overrides.append(
            ThresholdOverride(license_id, resource_name, parse_thresholds(values, f"{setting} {target.strip()}"))
        )
    return tuple(overrides)


def parse_schedule_minutes(expression: str) -> int:
    """Minutes between runs from the schedule, rate() or cron() (see `schedule.interval_minutes`)."""
    return interval_minutes(expression)


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    """One of `allowed` (the first is the default when unset)."""
    value = env.get(name, "").strip() or allowed[0]
    if value not in allowed:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _ssm_name(value: str) -> str | None:
    if not value:
        return None
    if not re.fullmatch(r"/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*", value) or len(value) > 1011:
        raise ConfigError(f"CA_BUNDLE_PARAMETER: {safe_quote(value)} is not an SSM parameter name")
    return value


def _s3_uri(value: str) -> str | None:
    if not value:
        return None
    if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+", value):
        raise ConfigError(f"LICENSE_LIST_S3_URI: {safe_quote(value)} is not an s3://bucket/key URI")
    return value


def validate_license_id(license_id: str, source: str) -> str:
    if not LICENSE_ID_PATTERN.fullmatch(license_id):
        raise ConfigError(
            f"{source}: license ID {license_id[:140]!r} is not 1-128 characters of A-Z, a-z, 0-9, '.', '_', '-'"
        )
    return license_id


def parse_thresholds(raw: str, setting: str) -> tuple[Decimal, ...]:
    """Percentages such as `80,95`; each in (0, 1000], sorted. One number written twice, in any spelling
    (`80,80.0`, `95,095`), is one threshold: the template cannot compare spellings as numbers."""
    thresholds: list[Decimal] = []
    for entry in raw.split(","):
        text = entry.strip().removesuffix("%").strip()
        if not text:
            raise ConfigError(f"{setting}: empty entry in {raw!r}")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ConfigError(f"{setting}: {entry.strip()!r} is not a number") from None
        if not value.is_finite() or not (0 < value <= MAX_THRESHOLD):
            raise ConfigError(f"{setting}: {entry.strip()!r} is outside (0, 1000]")
        if value not in thresholds:
            thresholds.append(value)
    return tuple(sorted(thresholds))


def validate_base_url(url: str, source: str = "LEEGALITY_BASE_URL", *, show_value: bool = True) -> str:
    """`https://` always; plain `http://` only for loopback (the local simulator). No user, password,
    query or fragment: the base is joined with API paths, and a password has no place in a URL.

    The error names what is wrong and quotes the URL only without its user, password, query and fragment
    (a refused setting is published as a config_problem); `show_value` False (a URL from the secret)
    quotes nothing of it.
    """
    problems = url_problems(url)
    if not problems:
        return url.rstrip("/")
    shown = f"{safe_quote(url)} " if show_value else ""
    raise ConfigError(
        f"{source}: {shown}must be an https:// URL (http:// only for loopback) without user, password, "
        f"query or fragment ({'; '.join(problems)})"
    )


def url_problems(url: str) -> list[str]:
    """What makes `url` unusable as an API base, each in words that quote nothing of it."""
    parts = urlsplit(url)
    problems = []
    if parts.username or parts.password or "@" in parts.netloc:
        problems.append("it holds a user name or password")
    if parts.query:
        problems.append("it has a query string")
    if parts.fragment:
        problems.append("it has a fragment")
    try:
        if parts.port is not None and parts.port <= 0:
            problems.append("its port is 0")
    except ValueError:
        problems.append("its port is not a number from 1 to 65535")
    if not parts.hostname:
        problems.append("it has no host")
    elif not (parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname))):
        plain = parts.scheme == "http"
        problems.append("it is http:// to a host that is not loopback" if plain else "it is not https://")
    return problems


def safe_quote(value: str) -> str:
    """`value` quoted for an error message, unless it is a URL carrying a user, password, query or
    fragment: then only its scheme and host, since any of those may hold a credential."""
    parts = urlsplit(value)
    try:
        credentials = bool(parts.username or parts.password or "@" in parts.netloc or parts.query or parts.fragment)
    except ValueError:
        credentials = True
    if not credentials:
        return repr(value)
    host = parts.hostname or "?"
    return f"'{parts.scheme}://{host}/...' (user, password, query and fragment not shown)"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required but not set")
    return value


def _topic_arn(value: str) -> str:
    if not re.fullmatch(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}", value):
        raise ConfigError(f"ALERT_TOPIC_ARN: {value!r} is not an SNS topic ARN")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a whole number") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ConfigError(f"{name}: {value} must be {bound}")
    return value


@overload
def _float(
    env: Mapping[str, str], name: str, default: float, *, maximum: float = 300, unit: str = " seconds"
) -> float: ...
@overload
def _float(
    env: Mapping[str, str], name: str, default: None, *, maximum: float = 300, unit: str = " seconds"
) -> float | None: ...
def _float(
    env: Mapping[str, str], name: str, default: float | None, *, maximum: float = 300, unit: str = " seconds"
) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a number") from None
    if not (0 < value <= maximum):
        raise ConfigError(f"{name}: {raw!r} must be between 0 and {maximum:g}{unit}")
    return value
