"""Plain-text usage tables for people: the local run and the CLI print the same thing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from usage_monitor.alerts import LIMIT_LEVEL, AlertPolicy
from usage_monitor.models import Resource
from usage_monitor.render import percent_text

BAR_WIDTH = 20


@dataclass(frozen=True)
class UsageRow:
    license_id: str
    resources: tuple[Resource, ...]
    error: str | None = None


def row_from_snapshot(item: Mapping[str, Any]) -> UsageRow:
    """A snapshot item as read back from DynamoDB (maps per resource)."""
    from usage_monitor.usage import RESERVED_NAMES

    resources = tuple(
        Resource(
            name,
            int(value["current"]) if "current" in value else None,
            int(value["limit"]) if "limit" in value else None,
            tuple(value.get("problems", ())),
        )
        for name, value in item.items()
        if name not in RESERVED_NAMES and isinstance(value, Mapping)
    )
    error = item.get("error")
    message = None
    if isinstance(error, Mapping):
        parts = [str(error.get("message", "failed"))]
        if error.get("http_status") is not None:
            parts.append(f"HTTP {int(error['http_status'])}")
        codes = "/".join(str(error[k]) for k in ("code", "detail_code") if error.get(k))
        if codes:
            parts.append(codes)
        message = " · ".join(parts)
    return UsageRow(str(item["license_id"]), resources, message)


def bar(resource: Resource) -> str:
    percent = resource.percent
    if percent is None:
        return " " * BAR_WIDTH
    filled = min(BAR_WIDTH, int(percent * BAR_WIDTH / 100))
    return "█" * filled + "·" * (BAR_WIDTH - filled)


def level_label(resource: Resource, policy: AlertPolicy) -> str:
    if not resource.evaluable:
        return "not evaluated: " + "; ".join(resource.problems) if resource.problems else "not evaluated"
    level = policy.level_of(resource)
    if level is None:
        return "ok"
    # The band says when the alert will clear, so a reader knows why 77% can still show as an 80% warning.
    band = f", clears below {policy.clears_below(level).normalize():f}%" if policy.hysteresis else ""
    if level >= LIMIT_LEVEL:
        if level == LIMIT_LEVEL:
            return f"LIMIT REACHED (critical{band})"
        return f">= {level.normalize():f}% (critical{band})"
    return f">= {level.normalize():f}% (warning{band})"


def usage_table(rows: Iterable[UsageRow], policy: AlertPolicy) -> str:
    lines = [f"{'LICENSE':<38} {'RESOURCE':<13} {'USAGE':>13} {'':<{BAR_WIDTH}} {'PERCENT':>7}  LEVEL"]
    for row in rows:
        license_id = row.license_id
        if row.error is not None:
            lines.append(f"{license_id:<38} CHECK FAILED: {row.error}")
            continue
        if not row.resources:
            lines.append(f"{license_id:<38} (no resources reported)")
        for resource in row.resources:
            current = "?" if resource.current is None else str(resource.current)
            limit = "?" if resource.limit is None else str(resource.limit)
            lines.append(
                f"{license_id:<38} {resource.name:<13} {current + '/' + limit:>13} {bar(resource)} "
                f"{percent_text(resource.percent):>7}  {level_label(resource, policy)}"
            )
            license_id = ""
    return "\n".join(lines)
