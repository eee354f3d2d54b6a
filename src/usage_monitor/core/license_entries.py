"""License lists parsed entry by entry: one bad line never costs the rest of the fleet its checks.

Every source (`LICENSE_IDS`, the S3 list, the event's override, the secret's license keys) yields a
`LicenseList`: the valid IDs in order, plus the entries it skipped, each naming its source and its
line or position. An invalid entry (bad characters, too long) is skipped; a repeated ID is checked
once and its repeat reported as a warning. Only a list with entries but no valid one fails the run.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass

from usage_monitor.core.errors import ConfigError

LICENSE_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")

INVALID_REASON = "is not 1-128 characters of A-Z, a-z, 0-9, '.', '_', '-'"
RAW_MAX = 60  # characters of a skipped entry kept for messages: enough to recognise, never a whole line

# An S3 list is UTF-8 unless a byte-order mark says otherwise (Windows and spreadsheet exports write one).
# UTF-32 first: its little-endian mark begins with UTF-16's.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
# Undecodable bytes become U+DC00 + byte (Python's `surrogateescape` for every byte, ASCII included, which
# UTF-16 needs): no decoder yields such a lone surrogate, so an entry holding one is an undecodable entry.
# Environment variables arrive the same way: Python decodes `os.environ` with `surrogateescape`.
BYTES_ERRORS = "usage-monitor-escape-bytes"
_ESCAPED_BYTES = range(0xDC00, 0xDD00)


def _escape_bytes(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), error.end


codecs.register_error(BYTES_ERRORS, _escape_bytes)


@dataclass(frozen=True)
class SkippedEntry:
    """One entry not checked (or checked once only, when `duplicate`), and where it was found."""

    source: str  # e.g. "LICENSE_IDS", "LICENSE_LIST_S3_URI s3://bucket/key"
    where: str  # e.g. "position 3", "line 17"
    raw: str  # the entry as written, cut to RAW_MAX; `escaped` is what messages show
    reason: str
    duplicate: bool = False
    # False for the secret's keys: a key that is not a license ID may be a token pasted in the wrong place.
    shown: bool = True

    @property
    def escaped(self) -> str:
        """The raw entry with control and non-ASCII characters escaped: safe for logs, SMS and email."""
        return self.raw.encode("unicode_escape").decode("ascii") if self.shown else "(not shown)"

    def describe(self) -> str:
        entry = f"'{self.escaped}'" if self.shown else "an entry (not shown: it may be a token)"
        return f"{self.source} {self.where}: {entry} {self.reason}"


@dataclass(frozen=True)
class LicenseList:
    ids: tuple[str, ...] = ()
    skipped: tuple[SkippedEntry, ...] = ()

    @property
    def invalid(self) -> tuple[SkippedEntry, ...]:
        return tuple(s for s in self.skipped if not s.duplicate)

    @property
    def entries(self) -> int:
        """Entries written in the sources (valid, repeated and invalid)."""
        return len(self.ids) + len(self.skipped)

    def __add__(self, other: LicenseList) -> LicenseList:
        """Both lists, an ID in both checked once; a repeat across sources is no mistake, so not reported."""
        return LicenseList(tuple(dict.fromkeys((*self.ids, *other.ids))), (*self.skipped, *other.skipped))

    def require_valid(self, what: str) -> LicenseList:
        """Fails, naming the first bad entries, when entries were written but none is a valid ID."""
        if self.ids or not self.skipped:
            return self
        named = "; ".join(s.describe() for s in self.skipped[:3])
        more = f" (+{len(self.skipped) - 3} more)" if len(self.skipped) > 3 else ""
        raise ConfigError(f"no valid license ID in {what}: {named}{more}")


def parse_entries(entries: Iterable[tuple[str, str]], source: str, encoding: str = "UTF-8") -> LicenseList:
    """(where, raw entry) pairs → valid IDs and skipped entries; blank entries are ignored.

    An entry with bytes its source's `encoding` could not decode is skipped with that reason, its bytes
    shown as `\\xNN`.
    """
    ids: dict[str, str] = {}
    skipped: list[SkippedEntry] = []
    for where, entry in entries:
        license_id = entry.strip()
        if not license_id:
            continue
        if any(ord(c) in _ESCAPED_BYTES for c in license_id):
            raw = "".join(chr(ord(c) - 0xDC00) if ord(c) in _ESCAPED_BYTES else c for c in license_id)
            skipped.append(SkippedEntry(source, where, raw[:RAW_MAX], f"is not valid {encoding} text"))
        elif not LICENSE_ID_PATTERN.fullmatch(license_id):
            skipped.append(SkippedEntry(source, where, license_id[:RAW_MAX], INVALID_REASON))
        elif license_id in ids:
            reason = f"is listed twice (first at {ids[license_id]}); checked once"
            skipped.append(SkippedEntry(source, where, license_id[:RAW_MAX], reason, duplicate=True))
        else:
            ids[license_id] = where
    return LicenseList(tuple(ids), tuple(skipped))


def parse_separated(raw: str, source: str) -> LicenseList:
    """`LICENSE_IDS` or the event's override: commas or new lines; entries numbered from 1."""
    parts = [p for p in raw.replace("\n", ",").split(",") if p.strip()]
    return parse_entries(((f"position {n}", p) for n, p in enumerate(parts, start=1)), source)


def parse_lines(text: str, source: str, encoding: str = "UTF-8") -> LicenseList:
    """An S3 list: IDs one per line or comma-separated, `#` to the end of a line a comment."""
    return parse_entries(
        (
            (f"line {number}", part)
            for number, line in enumerate(text.splitlines(), start=1)
            for part in line.split("#", 1)[0].split(",")
        ),
        source,
        encoding,
    )


def parse_list_bytes(data: bytes, source: str) -> LicenseList:
    """An S3 list's bytes: UTF-8, or what its byte-order mark says, decoded whatever they hold.

    A comment is ignored whatever its bytes; an ID line with bytes the encoding cannot decode is one
    skipped entry; line numbers are those of the text as an editor shows it.
    """
    for mark, codec, name in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return parse_lines(data.decode(codec, BYTES_ERRORS), source, name)
    return parse_lines(data.decode("utf-8", BYTES_ERRORS), source)
