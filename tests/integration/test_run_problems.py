"""Run-level problems through the real handler: bad list entries, settings errors, a fleet too big for a run.

Each is one `config_problem` or `capacity` alert under the run-level key (`license_id` `*`), sent once per
change, with a `recovered` notice when it is gone; never a storm of per-license alerts.
"""

from __future__ import annotations

import pytest

from local.aws import put_license_list
from local.simulator import Reply
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from usage_monitor.core.errors import ConfigError

T1, T2, T3, T4 = "2026-11-24T09:15:00Z", "2026-11-24T09:30:00Z", "2026-11-24T09:45:00Z", "2026-11-24T10:00:00Z"
RUN_LEVEL = "*"


def _shared_token_fleet(harness: Harness, license_ids: list[str]) -> None:
    for license_id in license_ids:
        harness.simulator.add_license(license_id, "shared-SECRET", HEALTHY)
    harness.set_secret({"default": "shared-SECRET"})


def _events(harness: Harness) -> list[tuple[str, str, str]]:
    return [
        (a.attributes["event_type"], a.attributes["severity"], a.attributes["license_id"]) for a in harness.alerts()
    ]


def test_a_1000_entry_list_with_3_bad_lines_2_repeats_and_a_comment_checks_995_and_alerts_once(
    harness: Harness,
) -> None:
    # Given 995 licenses, listed with a comment, 3 invalid lines and 2 repeats: 1,000 entries
    good = [f"lic-{n:04d}" for n in range(995)]
    _shared_token_fleet(harness, good)
    lines = ["# fleet exported by the CRM", *good[:500], "lic 0500", *good[500:900], "lic-0001", "lic/0900"]
    lines += [*good[900:], "lic-0002", "lic-\u00e9"]
    text = "\n".join(lines) + "\n"
    uri = put_license_list(harness.session, text)
    harness.configure(LICENSE_LIST_S3_URI=uri, LICENSE_IDS="", MAX_CONCURRENCY="32")

    summary = harness.invoke(time=T1)

    # Then the 995 are checked, the bad entries are named in the summary and in one warning alert
    assert summary["checked"] == 995
    assert summary["failed"] == []
    assert summary["skipped"] == ["lic 0500", "lic/0900", "lic-\\xe9"]
    assert summary["repeated"] == ["lic-0001", "lic-0002"]
    assert len({r.license_id for r in harness.simulator.requests}) == 995
    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "config_problem", "severity": "warning", "license_id": RUN_LEVEL}
    for line, entry in ((502, "'lic 0500'"), (904, "'lic/0900'"), (1001, "'lic-\\xe9'")):
        assert f"LICENSE_LIST_S3_URI {uri} line {line}: {entry} is not 1-128 characters" in alert.email
    assert "line 903: 'lic-0001' is listed twice (first at line 3); checked once" in alert.email
    assert "The 995 valid IDs were checked." in alert.email
    assert alert.sms.startswith("Leegality monitor WARNING: 3 invalid and 2 repeated license list entries: line 502")
    assert len(alert.sms) <= 160

    # A repeat run with the same list is silent; the fixed list brings a recovered notice.
    assert harness.invoke(time=T2)["alerts"] == 0
    put_license_list(harness.session, "\n".join(good) + "\n")
    harness.configure(LICENSE_LIST_S3_URI=uri, LICENSE_IDS="", MAX_CONCURRENCY="32", SECRET_CACHE_SECONDS="0")
    fixed = harness.invoke(time=T3)

    assert "skipped" not in fixed
    assert fixed["checked"] == 995
    assert _events(harness) == [("config_problem", "warning", RUN_LEVEL), ("recovered", "warning", RUN_LEVEL)]
    assert "every license list entry and setting is valid" in harness.alerts()[-1].email


def test_license_ids_with_a_bad_entry_checks_the_others_and_names_the_position(harness: Harness) -> None:
    add_licenses(harness, {"lic-1": HEALTHY, "lic-3": HEALTHY})
    harness.configure(LICENSE_IDS="lic-1, lic 2, lic-3")

    summary = harness.invoke(time=T1)

    assert (summary["checked"], summary["skipped"]) == (2, ["lic 2"])
    assert sorted(r.license_id for r in harness.simulator.requests) == ["lic-1", "lic-3"]
    # One entry in three is invalid: more than the 10 % default, so critical (SMS goes out by default).
    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "config_problem", "severity": "critical", "license_id": RUN_LEVEL}
    assert "LICENSE_IDS position 2: 'lic 2' is not 1-128 characters" in alert.email


def test_the_critical_share_is_configurable(harness: Harness) -> None:
    add_licenses(harness, {"lic-1": HEALTHY, "lic-3": HEALTHY})
    harness.configure(LICENSE_IDS="lic-1, lic 2, lic-3", CONFIG_PROBLEM_CRITICAL_PERCENT="50")

    harness.invoke(time=T1)

    assert _events(harness) == [("config_problem", "warning", RUN_LEVEL)]


def test_a_list_whose_every_entry_is_invalid_fails_the_run_with_the_run_level_alert(harness: Harness) -> None:
    _shared_token_fleet(harness, ["lic-1"])
    uri = put_license_list(harness.session, "lic 1\nlic/2\n")
    harness.configure(LICENSE_LIST_S3_URI=uri)

    with pytest.raises(ConfigError, match=rf"no valid license ID in .*{uri} line 1: 'lic 1'"):
        harness.invoke(time=T1)

    assert harness.simulator.requests == []
    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "check_failed", "severity": "critical", "license_id": RUN_LEVEL}
    assert "no license is being checked" in alert.email


def test_license_ids_whose_every_entry_is_invalid_fails_rather_than_checking_the_secrets_licenses(
    harness: Harness,
) -> None:
    add_licenses(harness, {"named-in-secret": HEALTHY})
    harness.configure(LICENSE_IDS="lic 1")

    with pytest.raises(ConfigError, match=r"no valid license ID in LICENSE_IDS .*position 1: 'lic 1'"):
        harness.invoke(time=T1)

    assert harness.simulator.requests == []
    assert _events(harness) == [("check_failed", "critical", RUN_LEVEL)]


def test_a_bad_key_in_the_secret_is_reported_and_its_other_licenses_checked(harness: Harness) -> None:
    add_licenses(harness, {"lic-1": HEALTHY}, overrides={"not a license id": "tok-PASTED-SECRET-" + "x" * 40})

    summary = harness.invoke(time=T1)

    assert (summary["checked"], summary["skipped"]) == (1, ["(not shown)"])
    (alert,) = harness.alerts()
    assert alert.attributes["event_type"] == "config_problem"
    assert "key 2: an entry (not shown: it may be a token)" in alert.email
    assert "not a license id" not in alert.email + alert.sms
    assert "PASTED" not in alert.email + alert.sms


# --- Issue 15 item 10: a setting the code rejects reaches the topic ---------------------------------------


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("ALERT_THRESHOLDS", "80,1001"),
        ("ALERT_THRESHOLDS", "0"),
        ("MAX_REQUESTS_PER_SECOND", "0"),
        ("ALERT_THRESHOLD_OVERRIDES", "signatures=70;users"),
    ],
)
def test_a_setting_the_code_rejects_publishes_one_config_problem_then_recovers(
    harness: Harness, setting: str, value: str
) -> None:
    add_licenses(harness, {"lic-1": HEALTHY})
    harness.configure(**{setting: value})

    for time in (T1, T2):
        with pytest.raises(ConfigError, match=setting):
            harness.invoke(time=time)

    # Once per distinct error, critical (no license is checked), naming the setting.
    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "config_problem", "severity": "critical", "license_id": RUN_LEVEL}
    assert setting in alert.email
    assert setting in alert.sms

    harness.configure(**{setting: ""})  # back to the default
    harness.invoke(time=T3)
    assert _events(harness)[1:] == [("recovered", "warning", RUN_LEVEL)]


def test_a_different_settings_error_is_a_new_alert(harness: Harness) -> None:
    harness.configure(ALERT_THRESHOLDS="80,1001")
    with pytest.raises(ConfigError):
        harness.invoke(time=T1)
    harness.configure(ALERT_THRESHOLDS="80", MAX_REQUESTS_PER_SECOND="0")
    with pytest.raises(ConfigError):
        harness.invoke(time=T2)

    assert [a.attributes["event_type"] for a in harness.alerts()] == ["config_problem", "config_problem"]
    assert "MAX_REQUESTS_PER_SECOND" in harness.alerts()[1].email


# --- Issue 15 item 5: licenses not reached before the deadline are one capacity problem --------------------


def test_licenses_not_reached_before_the_deadline_are_one_capacity_alert_not_a_storm(harness: Harness) -> None:
    # Given three licenses checked one at a time, the first hanging past the run's deadline on three runs
    add_licenses(harness, {"slow": HEALTHY, "b": HEALTHY, "c": HEALTHY})
    harness.configure(HTTP_READ_TIMEOUT_SECONDS="10", DEADLINE_MARGIN_SECONDS="1", MAX_CONCURRENCY="1")
    # Enough hangs for every run: a run's abandoned request goes on (and retries) in the background, and
    # each retry takes a scripted reply too.
    harness.simulator.script("slow", *[Reply(action="hang", delay=3)] * 9)

    summaries = [harness.invoke(time=t, timeout_seconds=2.0) for t in (T1, T2, T3)]

    # Then no license counts as failed and no per-license check_failed goes out (the failure-streak rule
    # alerted every unreached license on the third run): one critical capacity alert with the fix.
    assert [(s["failed"], s["unchecked"]) for s in summaries] == [([], 3)] * 3
    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "capacity", "severity": "critical", "license_id": RUN_LEVEL}
    assert "3 of 3 licenses not checked before the run's deadline" in alert.subject + alert.email
    assert "Raise MaxConcurrency (now 1) or the function's Timeout, or turn on FanOut" in alert.email
    assert harness.snapshot("slow", T1)["error"]["kind"] == "deadline"  # the history says why there is no figure

    # When every license is reached again, the problem recovers.
    harness.simulator.scripts.clear()
    assert "unchecked" not in harness.invoke(time=T4, timeout_seconds=30.0)
    assert _events(harness) == [("capacity", "critical", RUN_LEVEL), ("recovered", "warning", RUN_LEVEL)]
