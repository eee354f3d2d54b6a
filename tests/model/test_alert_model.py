"""The model against the README's own examples, and its intended rules for the known divergences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.model.alert_model import KNOWN_DIVERGENCES, AlertModel, Observation

START = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)


def run(model: AlertModel, *usages: tuple[int, int] | str, step: timedelta = timedelta(minutes=15)) -> list[str]:
    """One observation per usage (users) or failure kind; the messages as `event_type/severity`, '-' for none."""
    seen = []
    for i, usage in enumerate(usages):
        at = START + i * step
        if isinstance(usage, str):
            obs = Observation("lic", at, None, usage)
        else:
            obs = Observation("lic", at, {"users": usage})
        seen.append(" ".join(f"{e.event_type}/{e.severity}" for e in model.observe(obs)) or "-")
    return seen


def test_the_readme_hysteresis_table() -> None:
    # Given the README's example: 80 % threshold, default margin of 5 points
    model = AlertModel({"ALERT_THRESHOLDS": "80,95"})

    # When users hover at the line, then fall to 60 %
    seen = run(model, (800, 1000), (799, 1000), (800, 1000), (799, 1000), (600, 1000))

    # Then one warning, silence inside the band, and one recovery
    assert seen == ["threshold_crossed/warning", "-", "-", "-", "recovered/warning"]


def test_without_hysteresis_every_crossing_is_a_message() -> None:
    model = AlertModel({"ALERT_THRESHOLDS": "80,95", "ALERT_HYSTERESIS_POINTS": "0", "ALERT_FLAP_CHANGES": "0"})

    seen = run(model, (800, 1000), (799, 1000), (800, 1000))

    assert seen == ["threshold_crossed/warning", "recovered/warning", "threshold_crossed/warning"]


def test_the_limit_is_critical_and_held_down_to_95_percent() -> None:
    model = AlertModel({"ALERT_THRESHOLDS": "80"})

    seen = run(model, (50, 50), (49, 50), (50, 50), (47, 50), (50, 50))

    assert seen == ["threshold_crossed/critical", "-", "-", "-", "threshold_crossed/critical"]


def test_failures_alert_at_once_for_tokens_and_after_three_runs_otherwise() -> None:
    model = AlertModel({})

    seen = run(model, "http_error", "http_error", "http_error", "http_error", (1, 10), "token_rejected")

    assert seen == ["-", "-", "check_failed/critical", "-", "recovered/warning", "check_failed/critical"]


def test_flapping_is_told_once_then_held_then_settles() -> None:
    model = AlertModel({"ALERT_THRESHOLDS": "80,95", "ALERT_HYSTERESIS_POINTS": "0"})
    hovering = [(800, 1000), (700, 1000)] * 4

    seen = run(model, *hovering, step=timedelta(minutes=15)) + run_later(model, (700, 1000), hours=8)

    assert seen[:4] == ["threshold_crossed/warning", "recovered/warning"] * 2
    assert seen[4] == "flapping/warning"
    assert seen[5:8] == ["-"] * 3
    assert seen[8] == "flapping/warning"  # settled


def run_later(model: AlertModel, usage: tuple[int, int], hours: int) -> list[str]:
    at = START + timedelta(hours=hours)
    return [" ".join(f"{e.event_type}/{e.severity}" for e in model.observe(Observation("lic", at, {"users": usage})))]


def test_a_resource_mute_holds_its_lines_until_it_expires() -> None:
    model = AlertModel({"ALERT_THRESHOLDS": "80,95"})
    model.mute("lic", "users", START + timedelta(minutes=20))

    seen = run(model, (900, 1000), (900, 1000), (100, 1000))

    assert seen == ["-", "-", "recovered/warning"]


@pytest.mark.parametrize(
    ("rule", "env", "usages", "expected"),
    [
        # A threshold at or below the margin clears below the threshold itself (issue 18 item 6).
        ("clearable", {"ALERT_THRESHOLD_OVERRIDES": "users=5,50"}, [(60, 100), (0, 100)], "recovered/warning"),
        # The highest configured threshold is critical (issue 19 item 17) ...
        ("highest", {"ALERT_THRESHOLDS": "80,95"}, [(96, 100)], "threshold_crossed/critical"),
        # ... unless only the limit is asked to be.
        (
            "at-limit-only",
            {"ALERT_THRESHOLDS": "80,95", "CRITICAL_AT_LIMIT_ONLY": "true"},
            [(96, 100)],
            "threshold_crossed/warning",
        ),
    ],
)
def test_the_rules_fixed_in_this_round(
    rule: str, env: dict[str, str], usages: list[tuple[int, int]], expected: str
) -> None:
    assert run(AlertModel(env), *usages)[-1] == expected


def test_a_gap_in_checking_starts_a_new_streak() -> None:
    # Given two failures (below the 3-run rule), then four months unchecked
    model = AlertModel({})
    seen = run(model, "http_error", "http_error")
    later = START + timedelta(days=120)

    # When the license is checked again and fails once
    again = model.observe(Observation("lic", later, None, "http_error"))

    # Then nothing is sent: one failure of a new streak, not the third of an old one
    assert seen == ["-", "-"]
    assert again == []
    assert not KNOWN_DIVERGENCES
