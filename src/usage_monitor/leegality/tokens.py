"""The Leegality credentials secret: its accepted shapes, and reading it through Powertools' cache.

A credential is a static token (a string) or an OAuth2 client (`ClientCredentials`) that mints tokens.
Error messages name the secret and an entry's position or field, never a value, and never a key that
could be a token pasted in the wrong place (only `default` and license IDs the settings list are named).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from usage_monitor.core.errors import ConfigError, SecretUnavailable
from usage_monitor.core.license_entries import INVALID_REASON, LICENSE_ID_PATTERN, LicenseList, SkippedEntry
from usage_monitor.settings import validate_base_url

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

DEFAULT_KEY = "default"
CLIENT_FIELDS = ("clientId", "clientSecret", "baseUrl")
# Visible ASCII only: a value goes into an HTTP header, where a line break or a space would either be
# refused by http.client (whose error quotes the value) or split the header.
_CREDENTIAL_VALUE = re.compile(r"[\x21-\x7e]{1,4096}")
_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_UUID_SHAPE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True, repr=False)
class ClientCredentials:
    """A SignStation OAuth2 client; `base_url` None means `LEEGALITY_BASE_URL`. `repr` hides the secret."""

    client_id: str
    client_secret: str
    base_url: str | None = None

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self.client_id!r}, base_url={self.base_url!r})"


Credential = str | ClientCredentials
"""A static token, or a client that mints tokens."""


@dataclass(frozen=True, repr=False)
class TokenBook:
    """Which credential to use for which license. `repr` is hidden so a secret never lands in a log.

    `invalid` maps a license ID (or `default`) whose entry is malformed to why: that license's check
    fails with the reason, and every other license is still checked.
    """

    default: Credential | None = None
    by_license: Mapping[str, Credential] = field(default_factory=dict)
    invalid: Mapping[str, str] = field(default_factory=dict)
    # Keys that are not license IDs: skipped and reported as a config_problem, never fatal for the others.
    skipped: tuple[SkippedEntry, ...] = ()

    def credential_for(self, license_id: str) -> Credential | None:
        return self.by_license.get(license_id, self.default)

    def token_for(self, license_id: str) -> str | None:
        """The static token for a license; None when it has none or uses an OAuth2 client."""
        credential = self.credential_for(license_id)
        return credential if isinstance(credential, str) else None

    def problem_for(self, license_id: str) -> str | None:
        """Why this license has no usable credential, when its entry (or the default it falls to) is malformed."""
        if license_id in self.invalid:
            return self.invalid[license_id]
        if license_id not in self.by_license and self.default is None:
            return self.invalid.get(DEFAULT_KEY)
        return None

    @property
    def named_licenses(self) -> tuple[str, ...]:
        """License IDs the secret names (the `default` key is not a license), malformed entries included."""
        return tuple(dict.fromkeys([*self.by_license, *(k for k in self.invalid if k != DEFAULT_KEY)]))

    @property
    def license_list(self) -> LicenseList:
        return LicenseList(self.named_licenses, self.skipped)

    @cached_property
    def secrets(self) -> frozenset[str]:
        """Every token and client secret, for redaction of text that came from outside."""
        values: set[str] = set()
        for credential in (*self.by_license.values(), self.default):
            if isinstance(credential, str):
                values.add(credential)
            elif isinstance(credential, ClientCredentials):
                values.add(credential.client_secret)
        return frozenset(values)

    def __repr__(self) -> str:
        return f"TokenBook(default={'set' if self.default else 'unset'}, licenses={len(self.by_license)})"


def parse_secret(secret_string: str, secret_id: str, known_licenses: Collection[str] = ()) -> TokenBook:
    """A bare token, one client object for every license, or a JSON object of license ID (or
    `default`) → token or client object.

    `known_licenses` (LICENSE_IDS) are the keys an error message may name; other keys are named by
    position, since a key may be a token pasted where a license ID belongs.
    """
    where = f"tokens secret {secret_id!r}"
    text = secret_string.strip()
    if not text:
        raise ConfigError(f"{where} is empty")
    if not text.startswith("{"):
        if not _CREDENTIAL_VALUE.fullmatch(text) or text.startswith(("[", '"')):
            raise ConfigError(
                f"{where} is neither a bare token (visible characters, no spaces) nor a JSON object "
                "of license ID → token or client"
            )
        return TokenBook(default=text)
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        # exc.msg and positions only: the document itself would contain secrets.
        detail = f"{exc.msg} at char {exc.pos}" if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise ConfigError(f"{where} starts like JSON but does not parse ({detail})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{where} must be a JSON object of license ID → token or client")
    if not document:
        raise ConfigError(f"{where} is an empty JSON object")
    if any(name in document for name in CLIENT_FIELDS[:2]):
        # One client object for every license: malformed, it leaves no license a credential.
        credential, problem = _credential(document, "the client object")
        if credential is None:
            raise ConfigError(f"{where}: {problem}")
        return TokenBook(default=credential)
    return _parse_map(document, where, set(known_licenses))


def _parse_map(document: dict[str, Any], where: str, known: set[str]) -> TokenBook:
    default: Credential | None = None
    by_license: dict[str, Credential] = {}
    invalid: dict[str, str] = {}
    skipped: list[SkippedEntry] = []
    swapped = [_looks_swapped(key, value, known) for key, value in document.items()]
    entries = sum(1 for key in document if key != DEFAULT_KEY)
    if entries and 2 * sum(swapped) > entries:
        # The secret as a whole maps tokens to license IDs: checking those "licenses" would put tokens
        # in URLs, table keys and alerts, so nothing is checked.
        first = swapped.index(True) + 1
        raise ConfigError(
            f"{where}: entry #{first} looks swapped (its key looks like a token and its value like a license "
            f"ID), and so do {sum(swapped) - 1} more of its {entries} entries; the secret maps license ID → token"
        )
    for position, ((key, value), looks_swapped) in enumerate(zip(document.items(), swapped, strict=True), start=1):
        named = key == DEFAULT_KEY or key in known
        label = f"the entry for {key!r}" if named else f"entry #{position}"
        if looks_swapped:
            # One odd entry (a typo'd key over a short token) costs that entry, not the whole secret.
            skipped.append(SkippedEntry(where, f"key {position}", "", SWAPPED_REASON, shown=False))
            continue
        if key != DEFAULT_KEY and not LICENSE_ID_PATTERN.fullmatch(key):
            # Never shown: a key that is no license ID may be a token pasted in the wrong place.
            skipped.append(SkippedEntry(where, f"key {position}", "", INVALID_REASON, shown=False))
            continue
        credential, problem = _credential(value, label)
        if credential is None:
            invalid[key] = f"{where}: {problem}"
        elif key == DEFAULT_KEY:
            default = credential
        else:
            by_license[key] = credential
    return TokenBook(default=default, by_license=by_license, invalid=invalid, skipped=tuple(skipped))


SWAPPED_REASON = "looks swapped (its key like a token or no license ID, its value like a license ID); skipped"


def _looks_swapped(key: str, value: object, known: set[str]) -> bool:
    """A key that looks like a token with a value that looks like a license ID."""
    if not isinstance(value, str) or key == DEFAULT_KEY:
        return False
    value = value.strip()
    # License IDs are short (a UUID is 36 characters); tokens are long (a JWT is hundreds).
    short_id = len(value) <= 40 and bool(LICENSE_ID_PATTERN.fullmatch(value))
    looks_like_id = short_id or bool(_UUID_SHAPE.fullmatch(value))
    key_looks_like_token = len(key) > 40 and not _UUID_SHAPE.fullmatch(key)
    # A key that is no license ID with a value that is one is swapped too (the key may be a base64 token).
    key_is_no_id = not LICENSE_ID_PATTERN.fullmatch(key)
    key_is_jwt = bool(_JWT_SHAPE.fullmatch(key))
    return (looks_like_id and (key_looks_like_token or key_is_no_id)) or value in known or key_is_jwt


def _credential(value: object, label: str) -> tuple[Credential | None, str]:
    """(credential, "") or (None, what is wrong with it): names fields, never values."""
    if isinstance(value, str):
        token = value.strip()
        if not token:
            return None, f"the value of {label} is an empty string"
        if not _CREDENTIAL_VALUE.fullmatch(token):
            return None, f"the token of {label} has spaces, control or non-ASCII characters (or is too long)"
        return token, ""
    if not isinstance(value, dict):
        kind = "null" if value is None else type(value).__name__
        return None, f"the value of {label} is a {kind}, not a token string or a client object"
    unknown = [name for name in value if name not in CLIENT_FIELDS]
    if unknown:
        return None, f"{label} has {len(unknown)} unknown field(s); a client object has {', '.join(CLIENT_FIELDS)}"
    values: dict[str, str] = {}
    for name in CLIENT_FIELDS:
        raw = value.get(name)
        if raw is None and name == "baseUrl":
            continue
        if not isinstance(raw, str) or not raw.strip():
            return None, f"{label}: {name} is missing or not a non-empty string"
        if name != "baseUrl" and not _CREDENTIAL_VALUE.fullmatch(raw.strip()):
            return None, f"{label}: {name} has spaces, control or non-ASCII characters (or is too long)"
        values[name] = raw.strip()
    base_url = values.get("baseUrl")
    if base_url is not None:
        try:
            base_url = validate_base_url(base_url, f"{label}: baseUrl", show_value=False)
        except ConfigError as exc:
            return None, str(exc)
    return ClientCredentials(values["clientId"], values["clientSecret"], base_url), ""


SecretFetcher = Callable[[str, bool], str]
"""(secret_id, force_fetch) → SecretString; raises `SecretUnavailable`."""


class TokenSource:
    """Reads and parses the secret; `refresh()` bypasses the cache when a credential may have rotated."""

    def __init__(self, secret_id: str, fetch: SecretFetcher, known_licenses: Collection[str] = ()) -> None:
        self.secret_id = secret_id
        self._fetch = fetch
        self.known_licenses = tuple(known_licenses)

    def load(self) -> TokenBook:
        return parse_secret(self._fetch(self.secret_id, False), self.secret_id, self.known_licenses)

    def refresh(self) -> TokenBook:
        return parse_secret(self._fetch(self.secret_id, True), self.secret_id, self.known_licenses)


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
