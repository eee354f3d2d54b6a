"""Typed values that flow between modules: what was measured, what failed, what a run returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

# The resources Leegality's API documents, in its order; an answer may carry others (kept, evaluated).
KNOWN_RESOURCES = ("users", "departments", "signatures", "certificates")


@dataclass(frozen=True)
class Resource:
    """One capped resource of a license as the API reported it.

    `current` or `limit` is None when the API left it out or sent something that is not a
    non-negative integer; `problems` says which and why, so nothing is dropped silently.
    """

    name: str
    current: int | None
    limit: int | None
    problems: tuple[str, ...] = ()

    @property
    def evaluable(self) -> bool:
        """Whether a percentage (and so a level) can be computed."""
        return self.current is not None and self.limit is not None and self.limit > 0

    @property
    def percent(self) -> Decimal | None:
        """`current / limit * 100`, rounded down to one decimal so 99.96% never shows as 100.0%.

        Integer arithmetic and an exact Decimal (no `str()`, which refuses ints over 4,300 digits), so no
        count is rounded by Decimal's 28-digit context.
        """
        if self.current is None or self.limit is None or self.limit <= 0:
            return None
        sign, digits, exponent = Decimal(self.current * 1000 // self.limit).as_tuple()
        assert isinstance(exponent, int)
        return Decimal((sign, digits, exponent - 1))

    @property
    def at_limit(self) -> bool:
        return self.evaluable and self.current >= self.limit  # type: ignore[operator]


class FailureKind(StrEnum):
    """Why a license's check produced no usable usage figures."""

    HTTP_ERROR = "http_error"
    TOKEN_REJECTED = "token_rejected"
    ACCESS_DENIED = "access_denied"
    MALFORMED_RESPONSE = "malformed_response"
    UNREACHABLE = "unreachable"
    NO_TOKEN = "no_token"
    CREDENTIALS_REJECTED = "credentials_rejected"
    DEADLINE = "deadline"
    RUN_FAILED = "run_failed"
    # The answer holds a value AWS cannot store exactly (a 39-digit count, an item over 400 KB).
    INVALID_VALUE = "invalid_value"
    # A 200 with nothing to evaluate: no resource has both a count and a positive limit.
    NO_USAGE_DATA = "no_usage_data"


# The alert-state key for failures of the whole run (secret unreadable, no license to check).
# `*` cannot occur in a license ID.
RUN_SCOPE = "*"


@dataclass(frozen=True)
class CheckError:
    """A failed check, described without secrets: safe for logs, snapshots and alerts."""

    kind: FailureKind
    message: str
    http_status: int | None = None
    code: str | None = None
    detail_code: str | None = None
    # What urllib3 retried before this answer (HTTP statuses; 0 for a connection error): a 401 at the end
    # of a long chain may only say that the token expired while the API was down.
    retried_statuses: tuple[int, ...] = ()

    @property
    def needs_attention_now(self) -> bool:
        """401/403 will not fix themselves: alert at once instead of waiting for repeated failures."""
        return self.kind in (
            FailureKind.TOKEN_REJECTED,
            FailureKind.ACCESS_DENIED,
            FailureKind.NO_TOKEN,
            FailureKind.CREDENTIALS_REJECTED,
            FailureKind.RUN_FAILED,
        )

    def describe(self) -> str:
        parts = [self.message]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        codes = "/".join(c for c in (self.code, self.detail_code) if c)
        if codes:
            parts.append(codes)
        return " · ".join(parts)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one license once: either resources or an error."""

    license_id: str
    checked_at: datetime
    resources: tuple[Resource, ...] = ()
    error: CheckError | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.error is None
