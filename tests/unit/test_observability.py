"""The log serializer every log line goes through: bounded whatever a caller puts in `extra`."""

from __future__ import annotations

import json

from usage_monitor.core.aws_limits import LOG_KEYS_MAX, LOG_LINE_MAX_BYTES, LOG_LIST_MAX, LOG_TEXT_MAX
from usage_monitor.observability import bounded_json


def test_lists_keep_their_first_entries_and_say_how_many_there_were() -> None:
    line = bounded_json({"message": "m", "skipped": [f"entry {n}" for n in range(9_000)], "few": [1, 2]})

    record = json.loads(line)
    assert record["skipped"][:2] == ["entry 0", "entry 1"]
    assert record["skipped"][LOG_LIST_MAX] == f"... and {9_000 - LOG_LIST_MAX} more (9000 in all)"
    assert len(record["skipped"]) == LOG_LIST_MAX + 1
    assert record["few"] == [1, 2]


def test_long_strings_and_wide_mappings_are_cut_at_any_depth() -> None:
    record = json.loads(
        bounded_json({"message": "m", "nested": {"error": "é" * 100_000, "map": {str(n): n for n in range(5_000)}}})
    )

    assert record["nested"]["error"] == "é" * LOG_TEXT_MAX + "... (100,000 characters)"
    assert len(record["nested"]["map"]) == LOG_KEYS_MAX + 1
    assert record["nested"]["map"]["..."] == f"and {5_000 - LOG_KEYS_MAX} more keys (5000 in all)"


def test_a_line_still_too_long_once_bounded_keeps_only_its_identifying_keys() -> None:
    # Given a record whose bounded form is still far over the limit (5 lists of 100 strings of 8 KB)
    wide = {f"key{n}": ["x" * LOG_TEXT_MAX] * LOG_LIST_MAX for n in range(5)}
    record = {"level": "WARNING", "message": "huge", "license_id": "lic-1", "timestamp": "t", **wide}

    line = bounded_json(record)

    assert len(line.encode("utf-8")) <= LOG_LINE_MAX_BYTES
    kept = json.loads(line)
    assert {k: kept[k] for k in ("level", "message", "license_id", "timestamp")} == {
        "level": "WARNING",
        "message": "huge",
        "license_id": "lic-1",
        "timestamp": "t",
    }
    assert kept["keys_left_out"] == list(wide)
    assert kept["log_line_cut"].endswith(f"more than {LOG_LINE_MAX_BYTES:,}: only these keys were kept")
