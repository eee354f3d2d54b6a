"""The few domain exceptions raised at adapter boundaries.

Each message is safe to log and to publish: it names settings, secrets and licenses, never a token.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base class for errors this package raises on purpose."""


class ConfigError(MonitorError):
    """A setting, the secret's shape or an event field is missing or invalid; names the culprit."""


class SecretUnavailable(MonitorError):
    """The tokens secret could not be read (missing, access denied, throttled)."""

    def __init__(self, secret_id: str, reason: str) -> None:
        super().__init__(f"cannot read tokens secret {secret_id!r}: {reason}")
        self.secret_id = secret_id
        self.reason = reason
