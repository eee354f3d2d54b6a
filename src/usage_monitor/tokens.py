"""The Leegality tokens: the secret's two accepted shapes, and reading it through Powertools' cache."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from usage_monitor.entries import INVALID_REASON, LICENSE_ID_PATTERN, LicenseList, SkippedEntry
from usage_monitor.errors import ConfigError, SecretUnavailable

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

DEFAULT_KEY = "default"


@dataclass(frozen=True, repr=False)
class TokenBook:
    """Which token to send for which license. `repr` is hidden so a token never lands in a log."""

    default: str | None = None
    by_license: Mapping[str, str] = field(default_factory=dict)
    # Keys that are not license IDs: skipped and reported, never fatal for the other licenses.
    skipped: tuple[SkippedEntry, ...] = ()

    def token_for(self, license_id: str) -> str | None:
        return self.by_license.get(license_id, self.default)

    @property
    def named_licenses(self) -> tuple[str, ...]:
        """License IDs the secret names (the `default` key is not a license)."""
        return tuple(self.by_license)

    @property
    def license_list(self) -> LicenseList:
        return LicenseList(self.named_licenses, self.skipped)

    @cached_property
    def secrets(self) -> frozenset[str]:
        """Every token value, for redaction of text that came from outside."""
        values = set(self.by_license.values())
        if self.default:
            values.add(self.default)
        return frozenset(values)

    def __repr__(self) -> str:
        return f"TokenBook(default={'set' if self.default else 'unset'}, licenses={len(self.by_license)})"


def parse_secret(secret_string: str, secret_id: str) -> TokenBook:
    """A bare token for every license, or a JSON object of license ID → token (+ optional `default`).

    Error messages name the secret and the offending key, never a value.
    """
    text = secret_string.strip()
    if not text:
        raise ConfigError(f"tokens secret {secret_id!r} is empty")
    if not text.startswith("{"):
        if text.startswith(("[", '"')) or any(c.isspace() for c in text):
            raise ConfigError(
                f"tokens secret {secret_id!r} is neither a bare token nor a JSON object of license ID → token"
            )
        return TokenBook(default=text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # exc.msg and positions only: the document itself would contain tokens.
        raise ConfigError(
            f"tokens secret {secret_id!r} starts like JSON but does not parse ({exc.msg} at char {exc.pos})"
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(f"tokens secret {secret_id!r} must be a JSON object of license ID → token")
    default: str | None = None
    by_license: dict[str, str] = {}
    skipped: list[SkippedEntry] = []
    for position, (key, value) in enumerate(document.items(), start=1):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"tokens secret {secret_id!r}: the value for {key!r} is not a non-empty string")
        if key == DEFAULT_KEY:
            default = value.strip()
            continue
        if not LICENSE_ID_PATTERN.fullmatch(key):
            where = f"key {position}"
            skipped.append(SkippedEntry(f"tokens secret {secret_id!r}", where, "", INVALID_REASON, shown=False))
            continue
        by_license[key] = value.strip()
    if default is None and not by_license and not skipped:
        raise ConfigError(f"tokens secret {secret_id!r} is an empty JSON object")
    return TokenBook(default=default, by_license=by_license, skipped=tuple(skipped))


SecretFetcher = Callable[[str, bool], str]
"""(secret_id, force_fetch) → SecretString; raises `SecretUnavailable`."""


class TokenSource:
    """Reads and parses the secret; `refresh()` bypasses the cache when a token may have rotated."""

    def __init__(self, secret_id: str, fetch: SecretFetcher) -> None:
        self.secret_id = secret_id
        self._fetch = fetch

    def load(self) -> TokenBook:
        return parse_secret(self._fetch(self.secret_id, False), self.secret_id)

    def refresh(self) -> TokenBook:
        return parse_secret(self._fetch(self.secret_id, True), self.secret_id)


def powertools_secret_fetcher(max_age_seconds: int, client: SecretsManagerClient) -> SecretFetcher:
    """A fetcher on Powertools Parameters; its cache lives as long as the provider (a warm container)."""
    from aws_lambda_powertools.utilities import parameters

    provider = parameters.SecretsProvider(boto3_client=client)

    def fetch(secret_id: str, force_fetch: bool) -> str:
        try:
            value = provider.get(secret_id, max_age=max_age_seconds, force_fetch=force_fetch)
        except parameters.exceptions.GetParameterError as exc:
            raise SecretUnavailable(secret_id, _describe_secret_error(exc)) from exc
        if isinstance(value, bytes):
            raise SecretUnavailable(secret_id, "it holds SecretBinary; store the tokens as SecretString")
        if not isinstance(value, str):
            raise SecretUnavailable(secret_id, "it holds no SecretString")
        return value

    return fetch


def _describe_secret_error(exc: Exception) -> str:
    """Name the AWS error code (ResourceNotFound, AccessDenied...) without echoing any payload."""
    cause = exc.__cause__ or exc.__context__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = error.get("Code", "unknown error")
        message = error.get("Message", "")
        return f"{code}: {message}" if message else str(code)
    return type(cause).__name__ if cause else "unknown error"
