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
    model = AlertModel({"ALERT_THRESHOLDS": "80"})

    # When users hover at the line, then fall to 60 %
    seen = run(model, (800, 1000), (799, 1000), (800, 1000), (799, 1000), (600, 1000))

    # Then one warning, silence inside the band, and one recovery
    assert seen == ["threshold_crossed/warning", "-", "-", "-", "recovered/warning"]


def test_without_hysteresis_every_crossing_is_a_message() -> None:
    model = AlertModel({"ALERT_THRESHOLDS": "80", "ALERT_HYSTERESIS_POINTS": "0", "ALERT_FLAP_CHANGES": "0"})

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
    model = AlertModel({"ALERT_THRESHOLDS": "80", "ALERT_HYSTERESIS_POINTS": "0"})
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
    model = AlertModel({"ALERT_THRESHOLDS": "80"})
    model.mute("lic", "users", START + timedelta(minutes=20))

    seen = run(model, (900, 1000), (900, 1000), (100, 1000))

    assert seen == ["-", "-", "recovered/warning"]


@pytest.mark.parametrize(
    ("entry", "env", "usages", "intended"),
    [
        ("18.6", {"ALERT_THRESHOLD_OVERRIDES": "users=5,50"}, [(60, 100), (0, 100)], "recovered/warning"),
        ("19.17", {"ALERT_THRESHOLDS": "80,95"}, [(96, 100)], "threshold_crossed/critical"),
    ],
)
def test_each_known_divergence_changes_what_the_model_expects(
    entry: str, env: dict[str, str], usages: list[tuple[int, int]], intended: str
) -> None:
    # Given the same runs under today's behaviour and under the intended rule
    today = run(AlertModel(env), *usages)[-1]
    fixed = run(AlertModel(env, legacy=set(KNOWN_DIVERGENCES) - {entry}), *usages)[-1]

    # Then only the intended model expects the README's message
    assert fixed == intended
    assert today != intended
