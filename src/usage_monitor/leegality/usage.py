"""Parse a usage-statistics body into `Resource`s, keeping what is valid and saying what is not.

Every field of the API is optional, so a resource may come with only part of its figures. What is a
non-negative integer is kept; anything else (null, negative, float, numeric string, boolean) is
recorded as a problem and leaves that field empty, which makes the resource unevaluable instead of
producing a wrong percentage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from usage_monitor.core.models import KNOWN_RESOURCES, Resource
from usage_monitor.core.numbers import number_text

# Resource names become DynamoDB attribute names in snapshots, so they must not collide with ours.
RESERVED_NAMES = frozenset(
    {"license_id", "captured_at", "record_type", "status", "error", "expires_at", "problems", "checked_at"}
)
RESOURCE_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# Four are documented (KNOWN_RESOURCES). The cap keeps a license's snapshot, alert state and alert within what DynamoDB
# and SNS take (400 KB items, 256 KB messages) however many the API lists.
MAX_RESOURCES = 100
MAX_NAMES_LISTED = 5


class MalformedUsage(ValueError):
    """A 200 response whose body cannot be read as usage statistics at all."""


@dataclass(frozen=True)
class ParsedUsage:
    resources: tuple[Resource, ...]
    problems: tuple[str, ...]


def parse_usage_body(body: object) -> ParsedUsage:
    """Read the decoded JSON of a 200 response."""
    if not isinstance(body, dict):
        raise MalformedUsage(f"body is a JSON {_json_type(body)}, not an object")
    if "data" not in body:
        raise MalformedUsage("body has no 'data'")
    data = body["data"]
    if not isinstance(data, dict):
        raise MalformedUsage(f"'data' is {_json_type(data)}, not an object")
    resources: list[Resource] = []
    problems: list[str] = []
    unusable: list[str] = []
    # The documented resources first, so a flood of odd ones cannot push them past the cap.
    names = sorted(data, key=lambda n: KNOWN_RESOURCES.index(n) if n in KNOWN_RESOURCES else len(KNOWN_RESOURCES))
    for name in names:
        if not isinstance(name, str) or not RESOURCE_NAME_PATTERN.fullmatch(name) or name in RESERVED_NAMES:
            unusable.append(name)
        elif len(resources) < MAX_RESOURCES:
            resources.append(parse_resource(name, data[name]))
    kept = {r.name for r in resources}
    dropped = [n for n in names if n not in kept and n not in unusable]
    problems += [
        f"resource name {str(n)[:70]!r} is not usable as a field name; skipped" for n in unusable[:MAX_NAMES_LISTED]
    ]
    if len(unusable) > MAX_NAMES_LISTED:
        problems.append(f"{len(unusable) - MAX_NAMES_LISTED} more resource names not usable as field names; skipped")
    if dropped:
        problems.append(
            f"'data' lists {len(kept) + len(dropped)} resources; the first {MAX_RESOURCES} are kept, "
            f"{len(dropped)} skipped (from {dropped[0]!r})"
        )
    if not resources:
        problems.append("'data' lists no resources")
    return ParsedUsage(tuple(resources), tuple(problems))


def nothing_to_evaluate(parsed: ParsedUsage) -> str | None:
    """Why a 200 yields no usage figures (no resource has a count and a positive limit), or None."""
    if any(r.evaluable for r in parsed.resources):
        return None
    reasons = [p for r in parsed.resources for p in r.problems] + list(parsed.problems)
    shown = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
    return f"200 response has no resource with a count and a positive limit ({shown or 'nothing listed'})"


def parse_resource(name: str, value: object) -> Resource:
    if not isinstance(value, dict):
        return Resource(name, None, None, (f"{name}: expected an object, got {_json_type(value)}",))
    problems: list[str] = []
    current = _count(name, "current", value, problems)
    limit = _count(name, "limit", value, problems)
    if limit == 0:
        problems.append(f"{name}: limit is 0, so no percentage")
    return Resource(name, current, limit, tuple(problems))


def _count(resource: str, field: str, obj: dict[str, object], problems: list[str]) -> int | None:
    if field not in obj:
        problems.append(f"{resource}.{field}: missing")
        return None
    value = obj[field]
    # bool is a subclass of int in Python: True must not count as 1.
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{resource}.{field}: expected a non-negative integer, got {_json_type(value)} {_short(value)}")
        return None
    if value < 0:
        problems.append(f"{resource}.{field}: negative ({number_text(value)})")
        return None
    return value


def _json_type(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "boolean"
        case int():
            return "integer"
        case float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
    return type(value).__name__


def _short(value: object) -> str:
    """A glimpse of a wrong value. Containers by size only: `repr` of deep nesting raises RecursionError."""
    if isinstance(value, list | dict):
        return f"of {len(value)} {'items' if isinstance(value, list) else 'keys'}"
    if isinstance(value, int) and not isinstance(value, bool):
        return number_text(value)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
