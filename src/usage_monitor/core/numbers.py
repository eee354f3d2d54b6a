"""Numbers as text for messages, whatever their size.

`str()` of an int over 4,300 digits raises ValueError (Python's guard against quadratic conversion),
and a 4,000-digit count would swamp any message, so long numbers are shown by their ends and length.
"""

from __future__ import annotations

from decimal import Decimal

MAX_SHOWN_DIGITS = 40


def tenths(count: int) -> Decimal:
    """`count` tenths as an exact Decimal (`scaleb` would round it to Decimal's 28-digit context)."""
    sign, digits, exponent = Decimal(count).as_tuple()
    assert isinstance(exponent, int)
    return Decimal((sign, digits, exponent - 1))


def signed_number_text(value: int | Decimal) -> str:
    """`number_text` with an explicit sign: `+12`, `-3`, `+0`."""
    text = number_text(value)
    return text if text.startswith("-") else "+" + text


def decimal_text(value: Decimal, places: int = 1, *, sign: bool = False) -> str:
    """`value` to `places` decimals (`85.3`, `+0.5`), exact whatever its size, and bounded like `number_text`.

    Formatting, never `quantize`: quantize works in Decimal's 28-digit context and raises
    `InvalidOperation` for a 30-digit percent.
    """
    if value.is_finite() and value.adjusted() < MAX_SHOWN_DIGITS:
        return format(value, f"{'+' if sign else ''}.{places}f")
    return signed_number_text(value) if sign else number_text(value)


def number_text(value: int | Decimal) -> str:
    """`1234`, or `123456789012...789012 (4300 digits)` for numbers longer than 40 digits."""
    sign, digits, _ = Decimal(value).as_tuple()
    if len(digits) <= MAX_SHOWN_DIGITS:
        return str(value)
    head = "".join(map(str, digits[:12]))
    tail = "".join(map(str, digits[-6:]))
    scale = "" if isinstance(value, int) else f" x 10^{Decimal(value).adjusted() - len(digits) + 1}"
    return f"{'-' if sign else ''}{head}...{tail}{scale} ({len(digits)} digits)"
