"""Numbers as text for messages, whatever their size.

`str()` of an int over 4,300 digits raises ValueError (Python's guard against quadratic conversion),
and a 4,000-digit count would swamp any message, so long numbers are shown by their ends and length.
"""

from __future__ import annotations

from decimal import Decimal

MAX_SHOWN_DIGITS = 40


def number_text(value: int | Decimal) -> str:
    """`1234`, or `123456789012...789012 (4300 digits)` for numbers longer than 40 digits."""
    sign, digits, _ = Decimal(value).as_tuple()
    if len(digits) <= MAX_SHOWN_DIGITS:
        return str(value)
    head = "".join(map(str, digits[:12]))
    tail = "".join(map(str, digits[-6:]))
    scale = "" if isinstance(value, int) else f" x 10^{Decimal(value).adjusted() - len(digits) + 1}"
    return f"{'-' if sign else ''}{head}...{tail}{scale} ({len(digits)} digits)"
