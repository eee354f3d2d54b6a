"""Which licenses a run checks: the event, `LICENSE_IDS`, an S3 list (`LICENSE_LIST_S3_URI`), the secret.

A fleet can outgrow both Lambda's 4 KB environment (`LICENSE_IDS`) and the 64 KB secret, so the list may
live in an S3 object: license IDs one per line or comma-separated, `#` starting a comment. Precedence:

1. the event's `license_ids` (a manual run), alone;
2. else `LICENSE_IDS` followed by the S3 list, duplicates dropped, order kept (an ID in both is fine;
   an ID twice within one source is checked once and reported, see `entries`);
3. else, when both are empty, every license the tokens secret names.

Invalid entries are skipped and reported (`entries.SkippedEntry`); only a list without one valid entry fails.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from usage_monitor.core.errors import ConfigError
from usage_monitor.core.license_entries import LicenseList, parse_lines, parse_list_bytes

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SETTING = "LICENSE_LIST_S3_URI"
# 10 MiB holds about 250,000 UUID-style IDs; anything bigger is far more likely a wrong key than a fleet.
MAX_LIST_BYTES = 10 * 1024 * 1024


class LicenseListUnavailable(ConfigError):
    """The S3 license list could not be read (missing, access denied, too big, not text); names the URI."""

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(f"{SETTING}: cannot read license list {uri}: {reason}")
        self.uri = uri
        self.reason = reason


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` → (`bucket`, `some/key`); the shape is already checked by `Settings`."""
    match = re.fullmatch(r"s3://([^/]+)/(.+)", uri)
    if match is None:
        raise ConfigError(f"{SETTING}: {uri!r} is not an s3://bucket/key URI")
    return match.group(1), match.group(2)


def parse_license_list(text: str, uri: str) -> LicenseList:
    """The object's text → IDs, and the entries skipped with their line (`#` starts a comment)."""
    return parse_lines(text, f"{SETTING} {uri}")


def resolve_license_ids(
    override: LicenseList | None,
    configured: LicenseList,
    listed: LicenseList,
    named: Callable[[], LicenseList],
) -> LicenseList:
    """Event override > `LICENSE_IDS` + S3 list > the secret's named licenses (`named` is only called then).

    Raises `ConfigError` when every source is empty, or when entries were written and none is valid
    (falling back to the secret then would check licenses the operator did not list).
    """
    if override is not None and override.ids:
        return override  # with its skipped entries: the caller's report names them, whichever path runs
    ids = (configured + listed).require_valid("LICENSE_IDS and the LICENSE_LIST_S3_URI list")
    if not ids.ids:
        ids = named().require_valid("the tokens secret's license keys")
    if not ids.ids:
        raise ConfigError(
            "no license to check: LICENSE_IDS and the LICENSE_LIST_S3_URI list are empty and the tokens secret "
            "names no license (a bare token needs LICENSE_IDS or a license list)"
        )
    return ids


class LicenseListSource:
    """Reads the S3 license list (UTF-8, or UTF-16/32 with a byte-order mark), reusing it for
    `max_age_seconds` (like the secret) in a warm container.

    After that age the object is fetched again with `If-None-Match` on the last ETag, so an unchanged
    list costs a 304 and no parsing; a changed one is picked up by the next run after the age expires.
    Any read failure raises, naming the URI: a run never silently checks a stale or partial fleet. Bad
    entries are skipped and returned with their line, for the run to report.
    """

    def __init__(
        self,
        uri: str,
        client: S3Client,
        *,
        max_age_seconds: float = 300,
        max_bytes: int = MAX_LIST_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uri = uri
        self.bucket, self.key = split_s3_uri(uri)
        self._client = client
        self._max_age = max_age_seconds
        self._max_bytes = max_bytes
        self._clock = clock
        self._ids: LicenseList | None = None
        self._etag: str | None = None
        self._fetched_at = 0.0

    def load(self) -> LicenseList:
        now = self._clock()
        if self._ids is not None and now - self._fetched_at < self._max_age:
            return self._ids
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key}
        if self._ids is not None and self._etag:
            request["IfNoneMatch"] = self._etag
        try:
            response = self._client.get_object(**request)
        except Exception as exc:
            if self._ids is not None and _status(exc) == 304:
                self._fetched_at = now
                return self._ids
            raise LicenseListUnavailable(self.uri, _describe(exc)) from exc
        ids = self._parse(response)
        self._ids, self._etag, self._fetched_at = ids, response.get("ETag"), now
        return ids

    def _parse(self, response: Any) -> LicenseList:
        body = response["Body"]
        try:
            size = response.get("ContentLength")
            if size is not None and size > self._max_bytes:
                raise LicenseListUnavailable(self.uri, f"it is {size} bytes, more than {self._max_bytes}")
            data = body.read(self._max_bytes + 1)
        finally:
            body.close()
        if len(data) > self._max_bytes:
            raise LicenseListUnavailable(self.uri, f"it is more than {self._max_bytes} bytes")
        # Line by line: one undecodable byte costs its own entry, never the fleet (UTF-16/32 by their mark).
        return parse_list_bytes(data, f"{SETTING} {self.uri}")


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def _describe(exc: Exception) -> str:
    """The AWS error code and message (NoSuchKey, AccessDenied...), or the exception type."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = str(error.get("Code") or _status(exc) or "unknown error")
        message = error.get("Message", "")
        text = f"{code}: {message}" if message else code
        if code in {"AccessDenied", "403"}:
            # Without s3:ListBucket, S3 answers a missing key with 403, not 404.
            text += " (also what S3 returns for a missing key when the role may not list the bucket)"
        return text
    return f"{type(exc).__name__}: {exc}"
