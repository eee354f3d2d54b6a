"""The model against the README's own examples, and its intended rules for the known divergences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.model.alert_model import KNOWN_DIVERGENCES, AlertModel, Observation
from usage_monitor.fleet.monitor import forecast_slot

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


# Every run is a forecast slot: one slot per interval when the schedule runs once per interval.
EVERY_RUN = {"ALERT_THRESHOLDS": "80,95", "SCHEDULE_RATE": "rate(1 hour)", "FORECAST_INTERVAL_HOURS": "1"}
HOUR = timedelta(hours=1)


def test_a_steady_climb_below_every_threshold_is_forecast_once() -> None:
    # Given users climbing 10 an hour (240 a day) from 100 of 1000: the limit in about 3.7 days
    model = AlertModel(EVERY_RUN)

    # When it keeps climbing at the same rate for a week
    seen = run(model, *[(100 + 10 * i, 1000) for i in range(60)], step=HOUR)

    # Then one forecast once 3 points span an hour, and the date (which does not move) is never told again
    assert seen[:3] == ["-", "-", "forecast/warning"]
    assert set(seen[3:]) <= {"-", "threshold_crossed/warning", "threshold_crossed/critical"}
    assert seen.count("forecast/warning") == 1


def test_the_forecast_names_the_least_squares_date() -> None:
    model = AlertModel(EVERY_RUN)
    run(model, (100, 1000), (110, 1000), step=HOUR)

    (told,) = model.observe(Observation("lic", START + 2 * HOUR, {"users": (120, 1000)}))

    # 880 to go at 240 a day: 3 days 16 hours after the latest point
    assert told.changes[0].limit_at == START + 2 * HOUR + timedelta(days=3, hours=16)


@pytest.mark.parametrize(
    ("limit", "fourth", "expected"),
    [
        (3000, 135, "-"),  # the date moves 1.6 days earlier: less than a quarter of the 12 days left
        (3000, 150, "forecast/warning"),  # 4.5 days earlier: more than a quarter
        (1000, 141, "-"),  # 22.4 hours earlier: over a quarter of the 3.6 days left, under the 1-day floor
        (1000, 143, "forecast/warning"),  # 25.4 hours earlier
    ],
)
def test_a_forecast_repeats_only_when_the_date_moves_earlier_enough(limit: int, fourth: int, expected: str) -> None:
    model = AlertModel(EVERY_RUN)

    seen = run(model, (100, limit), (110, limit), (120, limit), (fourth, limit), step=HOUR)

    assert seen == ["-", "-", "forecast/warning", expected]


def test_no_forecast_for_a_level_held_in_the_band_or_beyond_the_horizon() -> None:
    # Given users notified at 80 %, then climbing again inside the band (held at 80 %)
    held = run(AlertModel(EVERY_RUN), (810, 1000), (760, 1000), (770, 1000), (780, 1000), (790, 1000), step=HOUR)
    # And a climb whose limit is 29 days away, with the default 14-day horizon
    far = run(AlertModel(EVERY_RUN), (100, 10000), (110, 10000), (120, 10000), (130, 10000), step=timedelta(days=1))
    # And forecast alerts turned off
    off = run(AlertModel({**EVERY_RUN, "FORECAST_ALERT_DAYS": "0"}), *[(100 + 10 * i, 1000) for i in range(5)])

    assert held == ["threshold_crossed/warning", "-", "-", "-", "-"]
    assert far == ["-"] * 4
    assert off == ["-"] * 5


def test_a_reset_starts_the_history_again() -> None:
    # Given a forecast, then a drop (users removed) and a limit increase: each starts a new segment
    model = AlertModel(EVERY_RUN)

    seen = run(model, (100, 1000), (110, 1000), (120, 1000), (50, 1000), (60, 1000), (70, 2000), step=HOUR)

    assert seen == ["-", "-", "forecast/warning", "-", "-", "-"]


def test_an_alert_about_to_go_out_gets_a_fresh_forecast_outside_the_slot() -> None:
    # Given a daily forecast slot that none of these runs is, and signatures climbing toward the limit
    model = AlertModel({"ALERT_THRESHOLDS": "80,95"})
    runs = [START + i * timedelta(minutes=15) for i in range(5)]
    assert not any(forecast_slot("lic", at, timedelta(hours=24), 15) for at in runs)
    for i, at in enumerate(runs[:-1]):
        assert model.observe(Observation("lic", at, {"users": (100, 1000), "signatures": (100 + 10 * i, 1000)})) == []

    # When users cross 80 % in the next run
    (told,) = model.observe(Observation("lic", runs[-1], {"users": (800, 1000), "signatures": (140, 1000)}))

    # Then the threshold alert also carries the signatures forecast
    assert (told.event_type, [c.kind for c in told.changes]) == ("threshold_crossed", ["crossed", "forecast"])


def test_a_forecast_alert_sns_refused_is_decided_again_at_the_next_run() -> None:
    # Given hourly runs, a daily forecast slot, and users climbing 10 an hour toward the limit
    model = AlertModel({"ALERT_THRESHOLDS": "80,95", "SCHEDULE_RATE": "rate(1 hour)"})
    runs = [START + i * HOUR for i in range(30)]
    slot = next(i for i, at in enumerate(runs) if i >= 3 and forecast_slot("lic", at, timedelta(hours=24), 60))
    for i in range(slot):
        assert model.observe(Observation("lic", runs[i], {"users": (100 + 10 * i, 1000)})) == []
    (refused,) = model.observe(Observation("lic", runs[slot], {"users": (100 + 10 * slot, 1000)}))
    assert refused.event_type == "forecast"

    # When SNS refused it
    model.rollback("lic")

    # Then the next run, not the next day's slot, decides it again; after that it is told once
    assert not forecast_slot("lic", runs[slot + 1], timedelta(hours=24), 60)
    (told,) = model.observe(Observation("lic", runs[slot + 1], {"users": (100 + 10 * (slot + 1), 1000)}))
    assert told.event_type == "forecast"
    assert model.observe(Observation("lic", runs[slot + 2], {"users": (100 + 10 * (slot + 2), 1000)})) == []


def test_a_muted_resource_forecast_is_not_told_and_not_replayed() -> None:
    model = AlertModel(EVERY_RUN)
    model.mute("lic", "users", START + 150 * timedelta(minutes=1))

    seen = run(model, *[(100 + 10 * i, 1000) for i in range(6)], step=HOUR)

    assert seen == ["-"] * 6


def test_a_vanished_critical_level_outranks_a_forecast() -> None:
    # Given users notified at 95 % (critical) while signatures climb toward the limit
    model = AlertModel(EVERY_RUN)
    for i in range(2):
        model.observe(Observation("lic", START + i * HOUR, {"users": (960, 1000), "signatures": (100 + 10 * i, 1000)}))

    # When users lose their limit in the run that forecasts signatures
    (told,) = model.observe(Observation("lic", START + 2 * HOUR, {"users": (960, 0), "signatures": (120, 1000)}))

    # Then the message is as urgent as the alert left unresolved
    assert (told.event_type, told.severity) == ("resource_vanished", "critical")
    assert sorted(c.kind for c in told.changes) == ["forecast", "vanished"]


def test_a_failed_run_at_the_same_time_replaces_that_runs_point() -> None:
    # Given two points, then a second run at the second one's time that fails (its snapshot replaces the first)
    model = AlertModel(EVERY_RUN)
    run(model, (100, 1000), (110, 1000), step=HOUR)
    assert model.observe(Observation("lic", START + HOUR, None, "token_rejected"))

    # When the next run would be the third point
    seen = run_at(model, START + 2 * HOUR, (120, 1000))

    # Then the check's recovery, and no forecast: two points since the last reset are too few
    assert seen == ["recovered/warning"]


def run_at(model: AlertModel, at: datetime, usage: tuple[int, int]) -> list[str]:
    return [f"{e.event_type}/{e.severity}" for e in model.observe(Observation("lic", at, {"users": usage}))]


@pytest.mark.parametrize(("limit", "expected"), [(995, "forecast/warning"), (996, "-")])
def test_within_the_horizon_is_by_the_date(limit: int, expected: str) -> None:
    # Given 100 a day and a 7-day horizon: the limit in exactly 7 days (995), or 7 days and 14 minutes (996)
    model = AlertModel({**EVERY_RUN, "FORECAST_ALERT_DAYS": "7"})

    seen = run(model, (95, limit), (195, limit), (295, limit), step=timedelta(days=1))

    assert seen == ["-", "-", expected]


def test_flapping_subjects_stay_while_changes_continue() -> None:
    # Given damping after 2 changes in 2 hours, and signatures muted
    model = AlertModel({"ALERT_THRESHOLDS": "80", "ALERT_FLAP_CHANGES": "2", "ALERT_FLAP_WINDOW_HOURS": "2"})
    model.mute("lic", "signatures", START + timedelta(days=1))
    low, high = (100, 1000), (900, 1000)

    # When users change once, then signatures three times: users' change has left the window by the third
    seen = [
        model.observe(Observation("lic", START + timedelta(minutes=m), {"users": u, "signatures": s}))
        for m, u, s in ((0, high, low), (90, high, high), (135, high, low), (150, high, high))
    ]

    # Then the flapping notice is sent: its subjects still include users, which no mute covers
    assert [e.event_type for e in seen[0]] == ["threshold_crossed"]
    assert seen[1] == seen[2] == []  # signatures muted
    assert [(e.event_type, e.settled) for e in seen[3]] == [("flapping", False)]
