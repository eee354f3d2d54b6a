"""SMS text counted in GSM-7 septets: one segment always, never switched to UCS-2."""

from __future__ import annotations

import pytest

from usage_monitor.messages.sms import GSM7_EXTENSION, gsm7, one_segment, septets


def test_extension_characters_take_two_septets():
    assert septets("abc") == 3
    assert septets("[x]") == 5
    assert septets("^{}\\[~]|€") == 18


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("line\r\nbreak\ttab", "line break tab"),
        ("`quoted`", "'quoted'"),
        ("\u201csmart\u201d \u2018quotes\u2019 \u2013 dash\u2026", "\"smart\" 'quotes' - dash..."),
        ("caf\u00e9 \u20b9500", "cafe Rs500"),
        ("emoji \U0001f600 here", "emoji ? here"),
        ("nul\x00 and del\x7f", "nul  and del "),
    ],
)
def test_gsm7_maps_or_drops_what_would_switch_to_ucs2(raw, safe):
    assert gsm7(raw) == safe


def test_one_segment_cuts_by_septets_not_characters():
    text = "[" * 100  # 100 characters, 200 septets

    cut = one_segment(text)

    assert septets(cut) <= 160
    assert cut.endswith("...")
    assert cut == "[" * 78 + "..."


def test_one_segment_keeps_text_that_fits():
    assert one_segment("x" * 160) == "x" * 160
    assert one_segment("x" * 161) == "x" * 157 + "..."


def test_every_output_character_is_gsm7_printable():
    nasty = "".join(chr(c) for c in range(0, 0x3000, 7))

    out = one_segment(nasty)

    assert septets(out) <= 160
    assert all(0x20 <= ord(c) < 0x7F and c != "`" for c in out)
    assert any(c in GSM7_EXTENSION for c in one_segment("~ok"))
