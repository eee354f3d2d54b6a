"""What AWS accepts, checked in plain Python before a call: one license's odd data must fail alone.

DynamoDB items are checked as the Python values handed to the serializer (boto3's resource layer or
`TypeSerializer`), so the checks hold whichever layer writes them. A value DynamoDB cannot hold exactly
is reported, never rounded. Pure: no AWS imports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

from usage_monitor.core.numbers import number_text

# DynamoDB (developer guide, "Service, account, and table quotas": data types and items).
ITEM_MAX_BYTES = 400 * 1024
NUMBER_MAX_DIGITS = 38
NUMBER_MAX_EXPONENT = 125  # magnitudes below 1E+126
NUMBER_MIN_EXPONENT = -130  # magnitudes from 1E-130
NESTING_MAX_DEPTH = 32
ATTRIBUTE_NAME_MAX_BYTES = 65535
# SNS Publish: the whole message (body, subject, attributes) at most 256 KiB; at most 10 attributes.
SNS_MESSAGE_MAX_BYTES = 256 * 1024
SNS_SUBJECT_MAX_CHARS = 100
SNS_MAX_ATTRIBUTES = 10
# CloudWatch rejects values outside ±2^360 (and NaN, ±Infinity); dimension values are 1-1024 ASCII characters.
METRIC_MAX_MAGNITUDE = 2.0**360
DIMENSION_MAX_CHARS = 1024
MAX_PROBLEMS_LISTED = 3
# CloudWatch Logs takes events up to 1 MB (256 KB until 2025) and cuts longer ones, which then no longer parse
# as JSON: every structured log line is kept within the older, safer 256 KB, Lambda's own prefix included.
LOG_LINE_MAX_BYTES = 256 * 1024
LOG_LIST_MAX = 100  # entries of one list kept in a log line; a last entry says how many more there were
LOG_TEXT_MAX = 8 * 1024  # characters of one string kept in a log line (a traceback, an upstream message)
# Entries of a list in a run's summary, the Lambda response and the idempotency record (a DynamoDB item of
# at most 400 KB); below LOG_LIST_MAX, so "run finished" logs the summary's lists as they are.
SUMMARY_LIST_MAX = 50
LOG_KEYS_MAX = 200  # keys of one mapping kept in a log line
# The keys a log line keeps when even the bounded line is too long: who logged what, where and when.
LOG_ESSENTIAL_KEYS = (
    "level",
    "location",
    "message",
    "timestamp",
    "service",
    "cold_start",
    "function_name",
    "function_request_id",
    "correlation_id",
    "xray_trace_id",
    "run_id",
    "chunk",
    "license_id",
    "exception_name",
)


def item_problems(item: Mapping[str, object]) -> list[str]:
    """Why DynamoDB would refuse `item`, one line per culprit naming its path; empty when it fits."""
    problems: list[str] = []
    size = 0
    for name, value in item.items():
        size += _name_bytes(name, name, problems) + _value_bytes(value, name, 1, problems)
    if size > ITEM_MAX_BYTES:
        problems.append(f"the item is about {size:,} bytes; DynamoDB items hold at most {ITEM_MAX_BYTES:,}")
    return problems


def summarize(problems: list[str]) -> str:
    """The first few problems in one line, and how many more there were."""
    shown = "; ".join(problems[:MAX_PROBLEMS_LISTED])
    more = len(problems) - MAX_PROBLEMS_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def number_problem(value: int | Decimal, path: str) -> str | None:
    """Why DynamoDB cannot store this number exactly, or None."""
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return f"{path}: {value!r} is not a number"
    if not number.is_finite():
        return f"{path}: {number} is not a finite number"
    if number.is_zero():
        return None
    # Digits as written: boto3's serializer refuses to round any of them away, even trailing zeros.
    digits = len(number.as_tuple().digits)
    shown = number_text(value)
    if digits > NUMBER_MAX_DIGITS:
        return (
            f"{path}: {shown} has {digits} digits; DynamoDB numbers hold at most {NUMBER_MAX_DIGITS} "
            "(not stored rather than rounded)"
        )
    exponent = number.adjusted()
    if exponent > NUMBER_MAX_EXPONENT or exponent < NUMBER_MIN_EXPONENT:
        return f"{path}: {shown} is outside DynamoDB's number range (1E{NUMBER_MIN_EXPONENT} to below 1E+126)"
    return None


def sns_message_problems(subject: str, message: str, attributes: Mapping[str, str]) -> list[str]:
    """Why SNS Publish would refuse this message; empty when it fits."""
    problems: list[str] = []
    if not subject or len(subject) > SNS_SUBJECT_MAX_CHARS or not subject.isascii():
        problems.append(f"subject must be 1-{SNS_SUBJECT_MAX_CHARS} ASCII characters")
    elif any(not c.isprintable() for c in subject) or (not subject[0].isalnum() and not _is_punct(subject[0])):
        problems.append("subject must start with a letter, digit or punctuation and hold no control characters")
    size = _utf8_len(message, "message", problems) + len(subject)
    if len(attributes) > SNS_MAX_ATTRIBUTES:
        problems.append(f"{len(attributes)} message attributes; SNS takes at most {SNS_MAX_ATTRIBUTES}")
    for name, value in attributes.items():
        if not name or len(name) > 256 or not all(c.isascii() and (c.isalnum() or c in "_-.") for c in name):
            problems.append(f"attribute name {name[:60]!r} is not 1-256 of A-Z, a-z, 0-9, '_', '-', '.'")
        if not value:
            problems.append(f"attribute {name[:60]!r} is empty; SNS rejects empty values")
        size += len(name) + len("String") + _utf8_len(value, f"attribute {name[:60]!r}", problems)
    if size > SNS_MESSAGE_MAX_BYTES:
        problems.append(f"the message is {size:,} bytes; SNS takes at most {SNS_MESSAGE_MAX_BYTES:,}")
    return problems


def bounded_for_log(value: object) -> object:
    """`value` with every list cut to its first `LOG_LIST_MAX` entries plus one saying how many more,
    every string to `LOG_TEXT_MAX` characters and every mapping to `LOG_KEYS_MAX` keys, at any depth."""
    if isinstance(value, str):
        return value if len(value) <= LOG_TEXT_MAX else f"{value[:LOG_TEXT_MAX]}... ({len(value):,} characters)"
    if isinstance(value, Mapping):
        items = list(value.items())
        kept: dict[object, object] = {key: bounded_for_log(inner) for key, inner in items[:LOG_KEYS_MAX]}
        if len(items) > LOG_KEYS_MAX:
            kept["..."] = f"and {len(items) - LOG_KEYS_MAX} more keys ({len(items)} in all)"
        return kept
    if isinstance(value, list | tuple | set | frozenset):
        return first_entries([bounded_for_log(inner) for inner in list(value)[:LOG_LIST_MAX]], LOG_LIST_MAX, len(value))
    return value


def first_entries(entries: Sequence[object], limit: int, total: int | None = None) -> list[object]:
    """The first `limit` entries, then one saying how many more of `total` (default: all) there were."""
    total = len(entries) if total is None else total
    if total <= limit:
        return list(entries)
    return [*entries[:limit], f"... and {total - limit} more ({total} in all)"]


def essential_log_keys(record: Mapping[str, object], size: int) -> dict[str, object]:
    """What is left of a log line still over `LOG_LINE_MAX_BYTES` once bounded: its identifying keys
    (strings cut to 1,000 characters), the names of the keys left out and the size it had."""
    kept = {key: _cut(record[key], 1000) for key in LOG_ESSENTIAL_KEYS if key in record}
    left_out = [key for key in record if key not in kept]
    return {
        **kept,
        "log_line_cut": f"{size:,} bytes, more than {LOG_LINE_MAX_BYTES:,}: only these keys were kept",
        "keys_left_out": [_cut(key, 100) for key in left_out[:LOG_LIST_MAX]],
    }


def _cut(value: object, limit: int) -> object:
    return value[:limit] if isinstance(value, str) else value


def metric_value_ok(value: float) -> bool:
    return math.isfinite(value) and abs(value) < METRIC_MAX_MAGNITUDE


def dimension_value_ok(value: str) -> bool:
    return (
        0 < len(value) <= DIMENSION_MAX_CHARS
        and value.isascii()
        and value.isprintable()
        and not value.isspace()
        and not value.startswith(":")
    )


def _name_bytes(name: object, path: str, problems: list[str]) -> int:
    if not isinstance(name, str):
        problems.append(f"{path}: attribute name is a {type(name).__name__}, not a string")
        return 0
    size = _utf8_len(name, f"{path} (name)", problems)
    if size == 0 or size > ATTRIBUTE_NAME_MAX_BYTES:
        problems.append(f"{path}: attribute names are 1-{ATTRIBUTE_NAME_MAX_BYTES} bytes")
    return size


def _value_bytes(value: object, path: str, depth: int, problems: list[str]) -> int:
    """Approximate stored size (DynamoDB's own accounting), noting what cannot be stored."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, int | Decimal):
        problem = number_problem(value, path)
        if problem:
            problems.append(problem)
            return 21
        digits = len(Decimal(value).as_tuple().digits)
        return (digits + 1) // 2 + 1
    if isinstance(value, float):
        problems.append(f"{path}: {value!r} is a float; DynamoDB numbers are written from int or Decimal")
        return 21
    if isinstance(value, str):
        return _utf8_len(value, path, problems)
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        if depth > NESTING_MAX_DEPTH:
            problems.append(f"{path}: nested deeper than DynamoDB's {NESTING_MAX_DEPTH} levels")
            return 0
        size = 3
        if isinstance(value, Mapping):
            for key, inner in value.items():
                child = f"{path}.{key}" if isinstance(key, str) else f"{path}[{key!r}]"
                size += 1 + _name_bytes(key, child, problems) + _value_bytes(inner, child, depth + 1, problems)
        else:
            for index, inner in enumerate(value):
                size += 1 + _value_bytes(inner, f"{path}[{index}]", depth + 1, problems)
        return size
    problems.append(f"{path}: a {type(value).__name__} has no DynamoDB type")
    return 0


def _utf8_len(text: str, path: str, problems: list[str]) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        problems.append(f"{path}: not valid Unicode (a lone surrogate)")
        return len(text.encode("utf-8", "replace"))


def _is_punct(char: str) -> bool:
    return char.isascii() and not char.isalnum() and char.isprintable() and not char.isspace()
