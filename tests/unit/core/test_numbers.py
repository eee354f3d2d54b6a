"""Bounded, exact number text for every message, digest and report (issue 18 item 10)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from usage_monitor.core.numbers import decimal_text, signed_number_text, tenths


@pytest.mark.parametrize(
    ("value", "sign", "text"),
    [
        (Decimal("85.3"), False, "85.3"),
        (Decimal("0.5"), True, "+0.5"),
        (Decimal("-2"), True, "-2.0"),
        (tenths(6 * 10**30 + 3), True, "+600000000000000000000000000000.3"),  # 31 digits: no 28-digit context
    ],
)
def test_decimal_text_is_exact_and_bounded(value: Decimal, sign: bool, text: str) -> None:
    assert decimal_text(value, sign=sign) == text


def test_decimal_text_of_a_percent_too_long_to_show_is_cut_with_its_length() -> None:
    text = decimal_text(tenths(10**50))

    assert text.startswith("100000000000...")
    assert text.endswith("(51 digits)")


def test_tenths_keeps_every_digit() -> None:
    assert str(tenths(7 * 10**30 + 3)) == "700000000000000000000000000000.3"
    assert tenths(-15) == Decimal("-1.5")


def test_signed_number_text() -> None:
    assert (signed_number_text(12), signed_number_text(-3), signed_number_text(0)) == ("+12", "-3", "+0")
    assert signed_number_text(10**50).startswith("+100000000000...")
