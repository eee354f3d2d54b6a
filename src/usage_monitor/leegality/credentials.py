"""One run's credentials: the token each license sends, minted through the container's `TokenMinter`.

A client the token endpoint refuses costs one token request (plus one after a forced re-read of the
secret, in case its clientSecret was rotated) per run, however many licenses share it: the failure is
remembered for the rest of the run and every license of that client fails with the same message.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from usage_monitor.core.errors import MonitorError
from usage_monitor.core.models import CheckError, CheckResult, FailureKind
from usage_monitor.leegality.client import redact_then_cut
from usage_monitor.leegality.minting import TokenEndpointError, TokenMinter, logger
from usage_monitor.leegality.tokens import ClientCredentials, TokenBook
from usage_monitor.leegality.upstream import KnownSecrets


class UsageClient(Protocol):
    def check(
        self,
        license_id: str,
        token: str,
        *,
        redact: KnownSecrets | Iterable[str] = (),
        base_url: str | None = None,
    ) -> CheckResult: ...


class Redaction:
    """Every secret of the run (tokens and client secrets of the secret, minted tokens) as one index: the
    secret's, rebuilt only when the secret is re-read (rebuilding it per check would cost a large fleet the
    square of its size), over the minter's own index of the tokens it minted, which grows as it mints."""

    def __init__(self, credentials: RunCredentials) -> None:
        self._credentials = credentials
        self._built: tuple[object, object, KnownSecrets] | None = None
        self._lock = threading.Lock()

    def current(self) -> KnownSecrets:
        book, minter = self._credentials.book, self._credentials.minter
        with self._lock:
            built = self._built
            if built is None or built[0] is not book or built[1] is not minter:
                minted = minter.known_index if minter is not None else None
                built = (book, minter, KnownSecrets(book.secrets, also=minted))
                self._built = built
            return built[2]

    def __iter__(self) -> Iterator[str]:
        yield from self._credentials.book.secrets
        if self._credentials.minter is not None:
            yield from self._credentials.minter.known_tokens


class RunCredentials:
    """Thread-safe; one per run (or CLI call), sharing the container's minter and its cached tokens."""

    def __init__(
        self,
        book: TokenBook,
        secret_id: str | None,
        minter: TokenMinter | None,
        refresh: Callable[[], TokenBook] | None = None,
    ) -> None:
        self.book = book
        self.secret_id = secret_id
        self.minter = minter
        self._refresh = refresh
        self._failed: dict[tuple[str, str], CheckError] = {}
        self._reread: set[tuple[str, str]] = set()
        self._reread_lock = threading.Lock()
        self._reread_done = False
        self._fresh: TokenBook | None = None
        # The static token each license's request sent: after a re-read, a license is retried when its
        # own token changed, whichever path re-read the secret first.
        self._sent: dict[str, str] = {}
        self._rotated: dict[tuple[str, str], ClientCredentials] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self.redaction = Redaction(self)
        self.tokens_minted = 0
        self.endpoint_failures = 0

    def uses_client(self, license_id: str) -> bool:
        return isinstance(self.book.credential_for(license_id), ClientCredentials)

    def token_for(self, license_id: str, *, stale: str | None = None) -> tuple[str, str | None] | CheckError:
        """(token, base URL or None for the default), or why this license has none."""
        problem = self.book.problem_for(license_id)
        if problem is not None:
            return CheckError(FailureKind.NO_TOKEN, f"no usable credential for license {license_id}: {problem}")
        credential = self.book.credential_for(license_id)
        if credential is None:
            return CheckError(
                FailureKind.NO_TOKEN,
                f"no token for license {license_id} in tokens secret {self.secret_id!r} "
                '(add an entry for it or a "default")',
            )
        if isinstance(credential, str):
            self._sent[license_id] = credential
            return credential, None
        if self.minter is None:
            return CheckError(FailureKind.NO_TOKEN, "an OAuth2 client needs a token endpoint; none is configured")
        return self._minted(credential, self.minter, stale)

    def _minted(
        self, client: ClientCredentials, minter: TokenMinter, stale: str | None
    ) -> tuple[str, str | None] | CheckError:
        key = minter.key_of(client)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._failed:
                return self._failed[key]
            client = self._rotated.get(key, client)
            try:
                token, minted = minter.token(client, stale=stale)
            except TokenEndpointError as exc:
                rotated = self._reread_after(exc, key, client)
                if rotated is None:
                    return self._fail(key, exc)
                try:
                    token, minted = minter.token(rotated, stale=stale)
                except TokenEndpointError as again:
                    return self._fail(key, again)
            if minted:
                with self._guard:  # `+=` on a shared int is not atomic across worker threads
                    self.tokens_minted += 1
            return token, minter.base_url_of(client)

    def _reread_after(
        self, exc: TokenEndpointError, key: tuple[str, str], client: ClientCredentials
    ) -> ClientCredentials | None:
        """Once per client per run, when the endpoint refused it: the secret may hold a rotated one."""
        if not exc.rejected or key in self._reread:
            return None
        self._reread.add(key)
        fresh = self.reread()
        if fresh is None:
            return None
        for credential in (*fresh.by_license.values(), fresh.default):
            if not isinstance(credential, ClientCredentials) or credential == client or self.minter is None:
                continue
            if self.minter.key_of(credential) == key:
                logger.info("OAuth2 client secret rotated; minting again", extra={"client_id": client.client_id})
                self._rotated[key] = credential
                return credential
        return None

    def _fail(self, key: tuple[str, str], exc: TokenEndpointError) -> CheckError:
        with self._guard:
            self.endpoint_failures += 1
        self._failed[key] = exc.error
        logger.warning("token endpoint failed", extra={"failure": exc.error.kind.value, "error": exc.error.message})
        return exc.error

    def reload(self, fresh: TokenBook) -> None:
        self.book = fresh

    def reread(self) -> TokenBook | None:
        """The secret read again, once per run, shared by the static-token and the OAuth2 paths (None when
        it cannot be re-read: the first answers stand, and the run keeps its other results)."""
        with self._reread_lock:
            if not self._reread_done and self._refresh is not None:
                self._reread_done = True
                try:
                    self._fresh = self._refresh()
                except MonitorError as error:
                    logger.error("re-reading the tokens secret after a 401 failed", extra={"error": str(error)})
                else:
                    self.book = self._fresh
            return self._fresh

    def sent(self, license_id: str) -> str | None:
        """The static token this license's last request sent."""
        return self._sent.get(license_id)


def check_license(client: UsageClient, credentials: RunCredentials, license_id: str) -> CheckResult:
    """Token, GET, and for a minted token refused with 401: mint again once (bypassing the cache) and
    retry once. A static token refused is left to the caller's re-read of the secret."""
    got = credentials.token_for(license_id)
    if isinstance(got, CheckError):
        return CheckResult(license_id, datetime.now(UTC), error=got)
    token, base_url = got
    result = client.check(license_id, token, redact=credentials.redaction.current(), base_url=base_url)
    if not _rejected(result) or not credentials.uses_client(license_id):
        return result
    again = credentials.token_for(license_id, stale=token)
    if isinstance(again, CheckError):
        return CheckResult(license_id, datetime.now(UTC), error=again)
    logger.info("minted token refused; retrying once with a new one", extra={"license_id": license_id})
    retried = client.check(license_id, again[0], redact=credentials.redaction.current(), base_url=again[1])
    return _outage_if_expired_while_retrying(retried, credentials, again[0])


def _outage_if_expired_while_retrying(result: CheckResult, credentials: RunCredentials, token: str) -> CheckResult:
    """A 401 that ends a chain of retried 5xx/429/connection errors, on a minted token our clock says has
    expired, says only that the token outlived its life while the API was down: the failure is the outage
    (alerted under the failure-streak rules), not credentials to check now. The token was minted again
    once already; a fresh token refused without a chain stays a rejected token."""
    error = result.error
    if (
        error is None
        or error.kind is not FailureKind.TOKEN_REJECTED
        or not error.retried_statuses
        or credentials.minter is None
        or not credentials.minter.expired(token)
    ):
        return result
    last = error.retried_statuses[-1]
    kind = FailureKind.HTTP_ERROR if last else FailureKind.UNREACHABLE
    what = f"HTTP {last}" if last else "connection errors"
    message = (
        f"{what} retried {len(error.retried_statuses)} time(s) until the token expired; "
        "the final 401 refused the expired token, not the credentials"
    )
    return replace(result, error=CheckError(kind, message, last or None, retried_statuses=error.retried_statuses))


def _rejected(result: CheckResult) -> bool:
    return result.error is not None and result.error.kind is FailureKind.TOKEN_REJECTED


def redacted_traceback(exc: BaseException, secrets: Iterable[str]) -> str:
    """A traceback safe to log: an exception raised while sending may quote a header (the token)."""
    return redact_then_cut("".join(traceback.format_exception(exc)), set(secrets), 8000)
