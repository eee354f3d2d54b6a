"""The one way out of the CLI: every character written to stdout or stderr passes through `SafeStream`.

Part of what the CLI prints comes from outside: the API's error messages and resource names, and what
`history` reads back from the table (stored from the API). A terminal acts on control codes in that text:
ESC sequences (CSI `ESC [2J` clears the screen, OSC 0 retitles the window, OSC 52 writes the clipboard),
their 8-bit C1 forms, BEL, backspace and carriage return (which overwrite what was printed), and Unicode
bidi overrides (which reorder it). `main` wraps both streams once (`safe_output`), so no command, argparse
message or traceback can print around it; each such character is written as its visible escape (`\\x1b`),
text the terminal only shows. New line and tab pass: the tables and tracebacks need them.

The same stream keeps output printable whatever its encoding (a Latin-1 locale, a Windows pipe in cp1252):
when the bar and sparkline glyphs cannot be encoded, all of them become ASCII (one rule for a whole
table, so a bar is never half glyphs, half ASCII), and any other unencodable character its escape.
"""

from __future__ import annotations

import codecs
import io
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

# C0 except tab and new line, DEL, C1 (incl. the 8-bit CSI/OSC introducers), bidi controls, line separators.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")

BAR_GLYPHS = {"█": "#", "·": ".", "▁": "_", "▂": ".", "▃": ":", "▄": "-", "▅": "=", "▆": "+", "▇": "*"}
"""Usage bars (`█` used, `·` free) and sparkline levels, lowest to highest, as ASCII."""

OTHER_GLYPHS = {
    "→": "->",
    "≥": ">=",
    "≤": "<=",
    "…": "...",
    "\u2014": "-",
    "\u2013": "-",
    "±": "+/-",
    "≈": "~",
    "€": "EUR",
}
"""Other characters the CLI's own words use, as ASCII; anything else unencodable is shown as its escape."""


def escape_controls(text: str) -> str:
    """`text` with every control character written as its escape, so a terminal shows it instead of acting."""
    return CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


class SafeStream(io.TextIOBase):
    """A text stream that escapes control characters and replaces what its encoding cannot carry."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._encoding = _codec_name(getattr(stream, "encoding", None))
        # All bar glyphs or none: cp1252 has `·` but not `█`, and a half-translated bar misleads.
        ascii_bars = not _encodes("".join(BAR_GLYPHS), self._encoding)
        self._bars = str.maketrans(BAR_GLYPHS) if ascii_bars else {}
        self._others = str.maketrans(OTHER_GLYPHS)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding

    def write(self, text: str) -> int:
        safe = escape_controls(text).translate(self._bars)
        if not _encodes(safe, self._encoding):
            safe = safe.translate(self._others).encode(self._encoding, "backslashreplace").decode(self._encoding)
        self._stream.write(safe)
        return len(text)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        # Also called when the wrapper is collected, possibly after the stream it wraps was closed.
        if not self._stream.closed:
            self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()


@contextmanager
def safe_output() -> Iterator[None]:
    """`sys.stdout` and `sys.stderr` wrapped in `SafeStream` for the duration; the originals restored after."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeStream(sys.stdout), SafeStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def _codec_name(encoding: str | None) -> str:
    try:
        return codecs.lookup(encoding or "utf-8").name
    except LookupError:
        return "ascii"


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True
