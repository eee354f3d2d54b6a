"""HTTP client for Leegality's usage-statistics endpoint: request, retry, parse into typed results.

Retries are urllib3's `Retry` (exponential backoff with jitter, honouring `Retry-After` up to a cap);
every failure comes back as a `CheckError` that names what went wrong without the token.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util.retry import Retry

from usage_monitor import __version__
from usage_monitor.core.models import CheckError, CheckResult, FailureKind
from usage_monitor.leegality.throttle import RequestThrottle
from usage_monitor.leegality.upstream import KnownSecrets, Redactor, as_known, cut
from usage_monitor.leegality.usage import MalformedUsage, nothing_to_evaluate, parse_usage_body

USAGE_PATH = "/api/v1/licenses/{license_id}/usage-statistics"
MAX_BODY_BYTES = 1024 * 1024
MAX_MESSAGE_CHARS = 300
MAX_CODE_CHARS = 60
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Names the caller and its release to an API operator reading SignStation's access logs.
USER_AGENT = f"leegality-usage-monitor/{__version__}"


class CappedRetry(Retry):
    """urllib3 `Retry` whose `Retry-After` wait is capped, so one slow-down cannot eat the whole run,
    and whose 429 waits pause the shared throttle, so every worker slows down, not just this one."""

    def __init__(
        self, *args: Any, retry_after_cap: float = 20.0, throttle: RequestThrottle | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after_cap = retry_after_cap
        self.throttle = throttle

    def new(self, **kwargs: Any) -> CappedRetry:
        kwargs.setdefault("retry_after_cap", self.retry_after_cap)
        kwargs.setdefault("throttle", self.throttle)
        retry = super().new(**kwargs)
        assert isinstance(retry, CappedRetry)
        return retry

    def sleep(self, response: urllib3.BaseHTTPResponse | None = None) -> None:
        if self.throttle is not None and response is not None and response.status == 429:
            wait = self.get_retry_after(response) if self.respect_retry_after_header else None
            self.throttle.pause(wait if wait is not None else self.get_backoff_time())
        super().sleep(response)

    def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self.retry_after_cap)


def default_retry(
    backoff_factor: float = 0.5, retry_after_cap: float = 20.0, throttle: RequestThrottle | None = None
) -> Retry:
    """Up to 3 retries of 429/502/503/504 and connection errors; exponential backoff with jitter."""
    return CappedRetry(
        retry_after_cap=retry_after_cap,
        throttle=throttle,
        total=4,
        connect=3,
        read=2,
        status=3,
        other=1,
        backoff_factor=backoff_factor,
        backoff_jitter=backoff_factor,
        backoff_max=8.0,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def auth_headers(style: str, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if style == "Authorization" else {"X-Auth-Token": token}


def usage_url(base_url: str, license_id: str) -> str:
    """The base already ends in `/api`; the documented path adds another `/api` (the doubling is real)."""
    return base_url.rstrip("/") + USAGE_PATH.format(license_id=quote(license_id, safe=""))


class LeegalityClient:
    """Thread-safe: one `PoolManager` shared by every worker."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        max_connections: int = 16,
        retry: Retry | None = None,
        http: urllib3.PoolManager | None = None,
        throttle: RequestThrottle | None = None,
        auth_header: str = "X-Auth-Token",
    ) -> None:
        self.base_url = base_url
        # Every SignStation endpoint page documents X-Auth-Token; the login page also mentions a Bearer
        # token in Authorization. Which one a given install accepts is unconfirmed, hence the setting.
        self.auth_header = auth_header
        self.throttle = throttle or RequestThrottle()
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        # A server that drips bytes never trips the per-read timeout; this bounds the whole body.
        self.max_body_seconds = connect_timeout + read_timeout
        self.retry = retry if retry is not None else default_retry(throttle=self.throttle)
        self.http = http or urllib3.PoolManager(maxsize=max_connections, block=False)

    def check(
        self,
        license_id: str,
        token: str,
        *,
        redact: KnownSecrets | Iterable[str] = (),
        base_url: str | None = None,
    ) -> CheckResult:
        """One GET for one license (at `base_url`, default the client's); never raises for anything the
        network or the API does. Every string of the answer is redacted (`redact` and `token`) on arrival."""
        self.throttle.acquire()
        try:
            response = self.http.request(
                "GET",
                usage_url(base_url or self.base_url, license_id),
                headers={
                    **auth_headers(self.auth_header, token),
                    "Accept": "application/json",
                    "User-Agent": USER_AGENT,
                },
                timeout=self.timeout,
                retries=self.retry,
                preload_content=False,
                redirect=False,
            )
        except MaxRetryError as exc:
            return _failed(license_id, CheckError(FailureKind.UNREACHABLE, describe_network(exc.reason)))
        except Urllib3Error as exc:
            return _failed(license_id, CheckError(FailureKind.UNREACHABLE, describe_network(exc)))
        except (ValueError, http.client.HTTPException) as exc:
            # http.client's message quotes the offending header value, which is the token: name the type only.
            return _failed(license_id, CheckError(FailureKind.HTTP_ERROR, f"request not sent ({type(exc).__name__})"))
        try:
            body = read_capped(response, self.max_body_seconds)
        except _TooSlow:
            return _failed(
                license_id,
                CheckError(
                    FailureKind.UNREACHABLE,
                    f"response body took longer than {self.max_body_seconds:g} s; cut off",
                    response.status,
                ),
            )
        except _BodyTooLarge:
            return _failed(
                license_id,
                CheckError(
                    FailureKind.MALFORMED_RESPONSE,
                    f"response body larger than {MAX_BODY_BYTES} bytes; cut off",
                    response.status,
                ),
            )
        except (ReadTimeoutError, ProtocolError, Urllib3Error) as exc:
            return _failed(license_id, CheckError(FailureKind.UNREACHABLE, describe_network(exc), response.status))
        finally:
            response.release_conn()
        redactor = Redactor(as_known(redact), token)
        if response.status == 200:
            return _parse_success(license_id, body, redactor.header(response, "Content-Type"), redactor)
        error = _parse_error(response.status, body, redactor)
        history = response.retries.history if response.retries is not None else ()
        if history:
            error = replace(error, retried_statuses=tuple(entry.status or 0 for entry in history))
        return _failed(license_id, error)


class _BodyTooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


def read_capped(response: urllib3.BaseHTTPResponse, max_seconds: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    started = time.monotonic()
    # read1: at most one socket read per call, so the clock is checked even while bytes trickle in.
    while chunk := response.read1(64 * 1024):
        size += len(chunk)
        if time.monotonic() - started > max_seconds:
            response.close()
            raise _TooSlow
        if size > MAX_BODY_BYTES:
            # Close rather than drain: reading the rest of a huge body is the cost being avoided.
            response.close()
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_success(license_id: str, body: bytes, content_type: str, redactor: Redactor) -> CheckResult:
    try:
        document = redactor.json(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        kind = content_type.split(";")[0].strip() or "no content type"
        return _failed(
            license_id,
            CheckError(FailureKind.MALFORMED_RESPONSE, f"200 response is not JSON ({kind}, {len(body)} bytes)", 200),
        )
    except ValueError:  # Python refuses to read an integer of more than 4,300 digits
        return _failed(
            license_id,
            CheckError(FailureKind.MALFORMED_RESPONSE, "200 response holds an integer of more than 4300 digits", 200),
        )
    except RecursionError:
        return _failed(
            license_id,
            CheckError(FailureKind.MALFORMED_RESPONSE, "200 response nests arrays or objects too deeply", 200),
        )
    try:
        parsed = parse_usage_body(document)
    except MalformedUsage as exc:
        return _failed(license_id, CheckError(FailureKind.MALFORMED_RESPONSE, cut(f"200 response: {exc}", 1000), 200))
    # The document was redacted on arrival, so the problems quoting its values hold no secret.
    resources = tuple(replace(r, problems=tuple(cut(p, 1000) for p in r.problems)) for r in parsed.resources)
    problems = tuple(cut(p, 1000) for p in parsed.problems)
    # Nothing to evaluate is a problem of its own, alerted like a failing check; what came is still stored.
    empty = nothing_to_evaluate(replace(parsed, resources=resources, problems=problems))
    error = CheckError(FailureKind.NO_USAGE_DATA, empty, 200) if empty else None
    return CheckResult(license_id, _now(), resources=resources, problems=problems, error=error)


def _parse_error(status: int, body: bytes, redactor: Redactor) -> CheckError:
    """Read Leegality's `{code, errors: [{message, path, code}]}` shape as far as it is there."""
    kind = {401: FailureKind.TOKEN_REJECTED, 403: FailureKind.ACCESS_DENIED}.get(status, FailureKind.HTTP_ERROR)
    document: Any = None
    try:
        document = redactor.json(body) if body.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        document = None
    code = detail_code = None
    message = f"HTTP {status} with {'an empty' if not body.strip() else 'a non-JSON'} body"
    if isinstance(document, dict):
        code = cut(document.get("code"), MAX_CODE_CHARS) or None
        errors = document.get("errors")
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        detail_code = cut(first.get("code"), MAX_CODE_CHARS) or None
        message = (
            cut(first.get("message"), MAX_MESSAGE_CHARS)
            or cut(document.get("message"), MAX_MESSAGE_CHARS)
            or f"HTTP {status}"
        )
    elif document is not None:
        message = f"HTTP {status} with an unexpected JSON {type(document).__name__}"
    return CheckError(kind, message, status, code, detail_code)


def redact_then_cut(value: object, secrets: KnownSecrets | Iterable[str], limit: int = MAX_MESSAGE_CHARS) -> str:
    """Text that did not come through a decoded body (a traceback), redacted, then cut ("" if not text)."""
    return cut(Redactor(as_known(secrets)).text(value), limit) if isinstance(value, str) else ""


def describe_network(exc: BaseException | None) -> str:
    if exc is None:
        return "request failed"
    name = type(exc).__name__
    labels = {
        "ConnectTimeoutError": "connect timed out",
        "ReadTimeoutError": "read timed out",
        "NewConnectionError": "connection refused or host unreachable",
        "ProtocolError": "connection reset or closed mid-response",
        "NameResolutionError": "host name did not resolve",
        "SSLError": "TLS handshake or certificate verification failed",
        "ResponseError": "too many retryable responses",
    }
    return f"{labels.get(name, 'request failed')} ({name}) after retries"


def _failed(license_id: str, error: CheckError) -> CheckResult:
    return CheckResult(license_id, _now(), error=error)


def _now() -> datetime:
    return datetime.now(UTC)
