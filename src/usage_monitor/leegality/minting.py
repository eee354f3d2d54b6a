"""OAuth2 client credentials → SignStation access tokens, minted once per (base URL, client ID) and cached.

`POST {base}/api/v1/auth/token` with `{"clientId", "clientSecret"}` answers a JWT in SignStation's
`{code, message, data}` envelope. The stored documentation stops before the 200 field list, so the token
is read from `data.token`, `data.accessToken`, `data.access_token`, then the same names at the top level.
Its expiry is the JWT's own `exp` (payload decoded, signature not verified: we are its bearer, not its
audience) moved onto our clock by the skew its `iat` (or the answer's `Date`) shows, or an explicit
`expiresIn`/`expires_in` when earlier, or `TOKEN_MAX_AGE_SECONDS`. A token due by its own figures the moment
it arrives is used until the API refuses it (`JUST_MINTED_USE_SECONDS` at most).

Thread-safe and single-flight: workers asking for the same client wait for one token request.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from usage_monitor.core.models import CheckError, FailureKind
from usage_monitor.leegality.client import USER_AGENT, LeegalityClient, describe_network, read_capped
from usage_monitor.leegality.throttle import RequestThrottle
from usage_monitor.leegality.tokens import ClientCredentials
from usage_monitor.leegality.upstream import KnownSecrets, Redactor, cut

TOKEN_PATH = "/api/v1/auth/token"
TOKEN_FIELDS = ("token", "accessToken", "access_token")
LIFETIME_FIELDS = ("expiresIn", "expires_in")
REFRESH_MARGIN_SECONDS = 60.0
REFRESH_MARGIN_SHARE = 0.10
# Lambda's longest run: a token whose own figures say it is due the moment it is issued is used this long
# (or until the API refuses it), so a skewed issuer costs one token request per run, not one per license.
JUST_MINTED_USE_SECONDS = 900.0
_TOKEN_VALUE = re.compile(r"[\x21-\x7e]{1,8192}")

# The stdlib logger Powertools' Logger configures under the service name: records are the Lambda's JSON
# log lines, and `usage-monitor check` (which never imports Powertools, to start fast) can use this module.
logger = logging.getLogger(os.environ.get("POWERTOOLS_SERVICE_NAME", "leegality-usage-monitor"))


class TokenEndpointError(Exception):
    """The token endpoint did not give a usable token; the message names client ID and host, no secret."""

    def __init__(self, error: CheckError) -> None:
        super().__init__(error.message)
        self.error = error

    @property
    def rejected(self) -> bool:
        """The credentials themselves were refused (400/401/403): a re-read secret may fix it."""
        return self.error.kind is FailureKind.CREDENTIALS_REJECTED


@dataclass(frozen=True, repr=False)
class MintedToken:
    value: str
    expires_at: float
    refresh_at: float

    def __repr__(self) -> str:
        return f"MintedToken(expires_at={self.expires_at:.0f})"


class TokenMinter:
    """Container-wide cache of minted tokens, keyed by (base URL, client ID); never persisted anywhere."""

    def __init__(
        self,
        default_base_url: str,
        http: urllib3.PoolManager,
        retry: Retry,
        timeout: urllib3.Timeout,
        *,
        max_age_seconds: float = 900.0,
        throttle: RequestThrottle | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.default_base_url = default_base_url
        self.http = http
        # The usage calls' retry policy, allowed to repeat this POST: minting twice is harmless.
        self.retry = retry.new(allowed_methods=frozenset({"POST"}))
        self.timeout = timeout
        self.max_age_seconds = max_age_seconds
        self.throttle = throttle
        self.clock = clock
        self._cache: dict[tuple[str, str], MintedToken] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self._known: set[str] = set()
        # Grown by one entry a mint, never rebuilt: an index rebuilt over every token a warm container had
        # minted made each run slower with the container's age (the soak's year: a third of a run by day 220).
        self._index = KnownSecrets()
        self._expiry: dict[str, float] = {}

    @classmethod
    def sharing(cls, client: LeegalityClient, default_base_url: str, *, max_age_seconds: float = 900.0) -> TokenMinter:
        """A minter on the usage client's connection pool, timeouts, retry policy and throttle."""
        return cls(
            default_base_url,
            client.http,
            client.retry,
            client.timeout,
            max_age_seconds=max_age_seconds,
            throttle=client.throttle,
        )

    def base_url_of(self, client: ClientCredentials) -> str:
        return client.base_url or self.default_base_url

    def key_of(self, client: ClientCredentials) -> tuple[str, str]:
        return (self.base_url_of(client), client.client_id)

    def lock_for(self, key: tuple[str, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    @property
    def known_index(self) -> KnownSecrets:
        """Every token minted in this container, indexed for redaction (it grows as tokens are minted)."""
        return self._index

    @property
    def known_tokens(self) -> frozenset[str]:
        """Every token minted in this container, for redaction."""
        with self._guard:
            return frozenset(self._known)

    def token(self, client: ClientCredentials, *, stale: str | None = None) -> tuple[str, bool]:
        """(token, whether it was minted now). `stale`: a token the API just refused; a cached token
        equal to it is minted again, a different one (another worker already renewed it) is reused."""
        key = self.key_of(client)
        with self.lock_for(key):
            cached = self._cache.get(key)
            if cached is not None and cached.value != stale and self.clock() < cached.refresh_at:
                return cached.value, False
            minted = self._mint(client)
            self._cache[key] = minted
            with self._guard:
                if minted.value not in self._known:
                    self._index.add(minted.value)
                self._known.add(minted.value)
                self._expiry[minted.value] = minted.expires_at
            return minted.value, True

    def expired(self, token: str) -> bool:
        """Whether a token minted here is past its expiry by our clock (False for one not minted here)."""
        with self._guard:
            expires_at = self._expiry.get(token)
        return expires_at is not None and self.clock() >= expires_at

    def _mint(self, client: ClientCredentials) -> MintedToken:
        base_url = self.base_url_of(client)
        host = urlsplit(base_url).netloc
        secrets = Redactor(self._index, client.client_secret)
        if self.throttle is not None:
            self.throttle.acquire()
        body = json.dumps({"clientId": client.client_id, "clientSecret": client.client_secret}).encode()
        try:
            response = self.http.request(
                "POST",
                base_url.rstrip("/") + TOKEN_PATH,
                body=body,
                headers={"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT},
                timeout=self.timeout,
                retries=self.retry,
                preload_content=False,
                redirect=False,
            )
        except MaxRetryError as exc:
            raise _error(FailureKind.UNREACHABLE, client, host, describe_network(exc.reason)) from None
        except (Urllib3Error, ValueError) as exc:
            raise _error(FailureKind.UNREACHABLE, client, host, describe_network(exc)) from None
        try:
            payload = read_capped(response, self.timeout.read_timeout or 15.0)
        except Exception as exc:
            raise _error(FailureKind.UNREACHABLE, client, host, describe_network(exc), response.status) from None
        finally:
            response.release_conn()
        if response.status != 200:
            raise _refused(response.status, payload, client, host, secrets)
        return self._parse(payload, client, host, secrets, _epoch(secrets.header(response, "Date")))

    def _parse(
        self, payload: bytes, client: ClientCredentials, host: str, secrets: Redactor, issuer_now: float | None = None
    ) -> MintedToken:
        try:
            # Not redacted on arrival: the answer's token is the new secret itself (and may equal one
            # minted before). Only the field names quoted from it go through `secrets`.
            document = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise _error(
                FailureKind.MALFORMED_RESPONSE, client, host, f"200 answer is not JSON ({len(payload)} bytes)", 200
            ) from None
        found = _find_token(document)
        if found is None:
            raise _error(
                FailureKind.MALFORMED_RESPONSE,
                client,
                host,
                f"200 answer has no token in {_fields_present(document, secrets)}; expected data."
                + "/".join(TOKEN_FIELDS),
                200,
            )
        name, value, where = found
        if not _TOKEN_VALUE.fullmatch(value):
            raise _error(
                FailureKind.MALFORMED_RESPONSE, client, host, f"200 answer's {name} is not a usable header value", 200
            )
        logger.debug("token minted", extra={"client_id": client.client_id, "host": host, "token_field": name})
        now = self.clock()
        exp, iat = _jwt_claim(value, "exp"), _jwt_claim(value, "iat")
        lifetime = _lifetime(where)
        # `exp` is on the issuer's clock: move it onto ours by the skew its `iat` (or else the answer's
        # Date header) shows, so an issuer a minute behind does not hand out tokens "already expired".
        issued_at = iat if iat is not None else issuer_now
        if exp is not None and issued_at is not None:
            exp += now - issued_at
        candidates = [t for t in (exp, None if lifetime is None else now + lifetime) if t is not None]
        expires_at = min(candidates) if candidates else now + self.max_age_seconds
        margin = min(REFRESH_MARGIN_SECONDS, max(expires_at - now, 0) * REFRESH_MARGIN_SHARE)
        refresh_at = expires_at - margin
        if refresh_at <= now:
            # Just issued yet due already by its own figures: believe the issuer that it works and use it
            # until the API refuses it (then it is minted again once), not mint again for every license.
            refresh_at = now + JUST_MINTED_USE_SECONDS
        return MintedToken(value, expires_at, refresh_at)


def _find_token(document: Any) -> tuple[str, str, dict[str, Any]] | None:
    """(field name, token, the object holding it): `data` first, then the top level."""
    if not isinstance(document, dict):
        return None
    data = document.get("data")
    for holder, prefix in ((data, "data."), (document, "")):
        if not isinstance(holder, dict):
            continue
        for name in TOKEN_FIELDS:
            value = holder.get(name)
            if isinstance(value, str) and value.strip():
                return prefix + name, value.strip(), holder
    return None


def _lifetime(holder: dict[str, Any]) -> float | None:
    for name in LIFETIME_FIELDS:
        value = holder.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 10**9:
            return float(value)
    return None


def _epoch(http_date: str) -> float | None:
    """An HTTP `Date` header as seconds since the epoch; None when absent or unreadable."""
    try:
        return parsedate_to_datetime(http_date).timestamp() if http_date else None
    except (TypeError, ValueError, OverflowError):
        return None


def _jwt_claim(token: str, claim: str) -> float | None:
    """A numeric time claim (`exp`, `iat`) of a JWT's payload; None for anything else."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        return None
    value = payload.get(claim) if isinstance(payload, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 10**11:
        return float(value)
    return None


def _fields_present(document: Any, secrets: Redactor) -> str:
    if not isinstance(document, dict):
        return f"a JSON {type(document).__name__}"
    names = [str(name) for name in list(document)[:10]]
    data = document.get("data")
    if isinstance(data, dict):
        names += [f"data.{name}" for name in list(data)[:10]]
    listed = ", ".join(names) if names else "no field"
    return "fields " + cut(secrets.text(listed), 300)


def _refused(
    status: int, payload: bytes, client: ClientCredentials, host: str, secrets: Redactor
) -> TokenEndpointError:
    detail = ""
    try:
        document = secrets.json(payload) if payload.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        document = None
    code = detail_code = None
    if isinstance(document, dict):
        errors = document.get("errors")
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        code = cut(document.get("code"), 60) or None
        detail_code = cut(first.get("code"), 60) or None
        text = cut(first.get("message"), 300) or cut(document.get("message"), 300)
        detail = f" ({text})" if text else ""
    if status in (400, 401, 403):
        return _error(
            FailureKind.CREDENTIALS_REJECTED,
            client,
            host,
            f"refused the credentials with HTTP {status}{detail}. Check in SignStation (Settings → API "
            "Credentials) that this client exists and is ACTIVE, and that the tokens secret holds its current "
            "clientSecret",
            status,
            code,
            detail_code,
        )
    return _error(FailureKind.HTTP_ERROR, client, host, f"answered HTTP {status}{detail} after retries", status, code)


def _error(
    kind: FailureKind,
    client: ClientCredentials,
    host: str,
    what: str,
    status: int | None = None,
    code: str | None = None,
    detail_code: str | None = None,
) -> TokenEndpointError:
    message = f"token endpoint at {host} for OAuth2 client {client.client_id!r}: {what}"
    return TokenEndpointError(CheckError(kind, message, status, code, detail_code))
