"""Counts as text for messages, whatever their size.

`str()` of an int over 4,300 digits raises ValueError (Python's guard against quadratic conversion),
and a 4,000-digit count would swamp any message, so long counts are shown by their ends and length.
"""

from __future__ import annotations

from decimal import Decimal

MAX_SHOWN_DIGITS = 40


def number_text(value: int | Decimal) -> str:
    """`1234`, or `123456789012...789012 (4300 digits)` for counts longer than 40 digits."""
    sign, digits, exponent = Decimal(value).as_tuple()
    if not isinstance(value, int) or len(digits) <= MAX_SHOWN_DIGITS:
        if isinstance(value, int) and len(digits) <= MAX_SHOWN_DIGITS:
            return str(value)
        text = str(value)
        return text if len(text) <= MAX_SHOWN_DIGITS + 10 else f"{value:.12E}"
    head = "".join(map(str, digits[:12]))
    tail = "".join(map(str, digits[-6:]))
    return f"{'-' if sign else ''}{head}...{tail} ({len(digits)} digits)"
