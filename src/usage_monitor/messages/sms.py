"""Pure: text that fits one SMS segment, counted the way carriers count it.

An SMS segment holds 160 GSM-7 septets. Nine characters (`^ { } \\ [ ~ ] |` and `€`) take two septets
(an escape plus the character), and a single character outside the GSM-7 alphabet (a backtick, a curly
quote, an emoji) switches the whole message to UCS-2, where a segment holds 70 characters. Text that came
from outside (an API error message) can carry any of these, and control characters besides.
"""

from __future__ import annotations

import re
import unicodedata

SEGMENT_SEPTETS = 160
GSM7_EXTENSION = frozenset("^{}\\[~]|€")
# Printable ASCII minus the backtick is all in the GSM-7 basic set (or its extension above).
_GSM7_ASCII = frozenset(chr(c) for c in range(0x20, 0x7F)) - {"`"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Typographic characters an upstream message may contain, mapped to what they look like.
_LOOKALIKES = str.maketrans(
    {
        "`": "'",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u20b9": "Rs",
    }
)


def septets(text: str) -> int:
    """GSM-7 septets `text` takes, assuming every character is in the GSM-7 alphabet."""
    return sum(2 if char in GSM7_EXTENSION else 1 for char in text)


def gsm7(text: str) -> str:
    """`text` in GSM-7-safe ASCII: control characters (line breaks, tabs) become one space, look-alikes are
    mapped, accents dropped, and anything else becomes `?`."""
    text = _CONTROL.sub(" ", text).translate(_LOOKALIKES)
    text = unicodedata.normalize("NFKD", text)
    return "".join(char if char in _GSM7_ASCII else "?" for char in text if not unicodedata.combining(char))


def one_segment(text: str, limit: int = SEGMENT_SEPTETS) -> str:
    """`text` made GSM-7-safe and cut (with `...`) to at most `limit` septets: always one SMS segment."""
    text = gsm7(text)
    if septets(text) <= limit:
        return text
    kept: list[str] = []
    used = 3  # the "..."
    for char in text:
        cost = 2 if char in GSM7_EXTENSION else 1
        if used + cost > limit:
            break
        kept.append(char)
        used += cost
    return "".join(kept) + "..."
