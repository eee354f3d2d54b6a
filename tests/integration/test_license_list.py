"""LICENSE_LIST_S3_URI through the real handler: the fleet list in an S3 object (moto)."""

from __future__ import annotations

import codecs

import pytest

from local.aws import put_license_list
from local.simulator import usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses
from usage_monitor.core.errors import ConfigError

T1, T2 = "2026-11-24T09:15:00Z", "2026-11-24T09:30:00Z"


def _fleet(harness: Harness, *license_ids: str) -> None:
    """Licenses known to the simulator, all using the secret's `default` token (the secret names none)."""
    for license_id in license_ids:
        harness.simulator.add_license(license_id, "shared-SECRET", HEALTHY)
    harness.set_secret({"default": "shared-SECRET"})


def test_licenses_listed_in_the_s3_object_are_all_checked(harness: Harness) -> None:
    # Given three licenses in the S3 list (one per line, a comment, a comma-separated pair) and no LICENSE_IDS
    _fleet(harness, "lic-1", "lic-2", "lic-3")
    uri = put_license_list(harness.session, "# production fleet\nlic-1\nlic-2, lic-3\n")
    harness.configure(LICENSE_LIST_S3_URI=uri, LICENSE_IDS="")

    summary = harness.invoke(time=T1)

    assert summary == {"captured_at": T1, "checked": 3, "failed": [], "alerts": 0}
    assert sorted(r.license_id for r in harness.simulator.requests) == ["lic-1", "lic-2", "lic-3"]
    assert all(harness.snapshot(i, T1)["status"] == "ok" for i in ("lic-1", "lic-2", "lic-3"))


def test_license_ids_and_the_list_are_combined_and_take_precedence_over_the_secret(harness: Harness) -> None:
    # The secret names "secret-only": it is not checked once LICENSE_IDS or the list name licenses.
    for license_id in ("env-1", "both", "listed-1", "secret-only"):
        harness.simulator.add_license(license_id, "shared-SECRET", HEALTHY)
    harness.set_secret({"default": "shared-SECRET", "secret-only": "shared-SECRET"})
    uri = put_license_list(harness.session, "both\nlisted-1\n")
    harness.configure(LICENSE_LIST_S3_URI=uri, LICENSE_IDS="env-1,both")

    summary = harness.invoke(time=T1)

    assert summary["checked"] == 3
    assert sorted(r.license_id for r in harness.simulator.requests) == ["both", "env-1", "listed-1"]


def test_an_empty_list_falls_back_to_the_secrets_licenses(harness: Harness) -> None:
    add_licenses(harness, {"named": HEALTHY})
    uri = put_license_list(harness.session, "# nothing here yet\n")
    harness.configure(LICENSE_LIST_S3_URI=uri)

    assert harness.invoke(time=T1)["checked"] == 1
    assert [r.license_id for r in harness.simulator.requests] == ["named"]


def test_a_bad_id_in_the_object_is_skipped_naming_the_uri_and_the_line(harness: Harness) -> None:
    _fleet(harness, "lic-1")
    uri = put_license_list(harness.session, "lic-1\nlic 2\n")
    harness.configure(LICENSE_LIST_S3_URI=uri)

    summary = harness.invoke(time=T1)

    assert (summary["checked"], summary["skipped"]) == (1, ["lic 2"])
    assert [r.license_id for r in harness.simulator.requests] == ["lic-1"]
    (alert,) = harness.alerts()
    assert alert.attributes == {"event_type": "config_problem", "severity": "critical", "license_id": "*"}
    assert f"LICENSE_LIST_S3_URI {uri} line 2: 'lic 2'" in alert.email


def test_a_windows_1252_list_costs_only_its_undecodable_line(harness: Harness) -> None:
    # Given a Windows export: a comment and one ID line with Latin-1 bytes (0xE9, "é"), two good IDs
    _fleet(harness, "lic-1", "lic-2")
    uri = put_license_list(harness.session, b"# Soci\xe9t\xe9 G\xe9n\xe9rale\r\nlic-1\r\nlic-\xe92\r\nlic-2\r\n")
    harness.configure(LICENSE_LIST_S3_URI=uri)

    summary = harness.invoke(time=T1)

    # Then the comment is ignored, the good IDs are checked, the bad line is one skipped entry
    assert (summary["checked"], summary["skipped"]) == (2, ["lic-\\xe92"])
    assert sorted(r.license_id for r in harness.simulator.requests) == ["lic-1", "lic-2"]
    (alert,) = harness.alerts()
    assert alert.attributes["event_type"] == "config_problem"
    assert f"LICENSE_LIST_S3_URI {uri} line 3: 'lic-\\xe92' is not valid UTF-8 text" in alert.email


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig", "utf-32"])
def test_a_list_with_a_byte_order_mark_is_read_in_its_encoding(harness: Harness, encoding: str) -> None:
    _fleet(harness, "lic-1", "lic-2")
    text = "# Société Générale\r\nlic-1\r\nlic-2 # ∑ ünïcode\r\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data  # Python's "utf-16" writes the machine's order; this is the other one
    harness.configure(LICENSE_LIST_S3_URI=put_license_list(harness.session, data))

    summary = harness.invoke(time=T1)

    assert summary == {"captured_at": T1, "checked": 2, "failed": [], "alerts": 0}
    assert harness.alerts() == []


def test_an_undecodable_utf_16_line_is_one_skipped_entry(harness: Harness) -> None:
    # A lone UTF-16 surrogate (0xD800) on line 2: that line alone is undecodable
    _fleet(harness, "lic-1", "lic-3")
    data = codecs.BOM_UTF16_LE + "lic-1\n".encode("utf-16-le") + b"\x00\xd8\n\x00" + "lic-3\n".encode("utf-16-le")
    harness.configure(LICENSE_LIST_S3_URI=put_license_list(harness.session, data))

    summary = harness.invoke(time=T1)

    assert (summary["checked"], summary["skipped"]) == (2, ["\\x00\\xd8"])
    assert "line 2: '\\x00\\xd8' is not valid UTF-16 text" in harness.alerts()[0].email


def test_a_missing_object_fails_the_run_naming_the_uri_then_recovers(harness: Harness) -> None:
    _fleet(harness, "lic-1")
    uri = put_license_list(harness.session, "lic-1\n", key="present.txt").replace("present.txt", "absent.txt")
    harness.configure(LICENSE_LIST_S3_URI=uri)

    with pytest.raises(ConfigError) as raised:
        harness.invoke(time=T1)
    assert str(raised.value).startswith(f"LICENSE_LIST_S3_URI: cannot read license list {uri}: NoSuchKey")
    assert harness.simulator.requests == []

    # The operator uploads the list: the next run checks it and says the run works again.
    put_license_list(harness.session, "lic-1\n", key="absent.txt")
    assert harness.invoke(time=T2)["checked"] == 1
    assert [(a.attributes["event_type"], a.attributes["license_id"]) for a in harness.alerts()] == [
        ("check_failed", "*"),
        ("recovered", "*"),
    ]


def test_a_missing_bucket_names_the_uri(harness: Harness) -> None:
    _fleet(harness, "lic-1")
    harness.configure(LICENSE_LIST_S3_URI="s3://no-such-bucket-here/licenses.txt")

    with pytest.raises(ConfigError, match=r"s3://no-such-bucket-here/licenses.txt: NoSuchBucket"):
        harness.invoke(time=T1)


def test_a_manual_run_with_license_ids_does_not_read_the_list(harness: Harness) -> None:
    _fleet(harness, "lic-1", "lic-2")
    harness.configure(LICENSE_LIST_S3_URI="s3://no-such-bucket-here/licenses.txt")

    summary = harness.invoke({"license_ids": ["lic-2"]})

    assert summary["checked"] == 1
    assert [r.license_id for r in harness.simulator.requests] == ["lic-2"]


def test_a_changed_list_is_picked_up_once_the_cache_expires(harness: Harness) -> None:
    _fleet(harness, "lic-1", "lic-2")
    uri = put_license_list(harness.session, "lic-1\n")
    harness.configure(LICENSE_LIST_S3_URI=uri, SECRET_CACHE_SECONDS="0")
    harness.invoke(time=T1)

    put_license_list(harness.session, "lic-1\nlic-2\n")
    summary = harness.invoke(time=T2)

    assert summary["checked"] == 2
    assert harness.snapshot("lic-2", T2)["status"] == "ok"


def test_list_entries_over_the_threshold_alert_as_usual(harness: Harness) -> None:
    harness.simulator.add_license("busy", "shared-SECRET", usage_of(users=(900, 1000)))
    harness.simulator.add_license("calm", "shared-SECRET", HEALTHY)
    harness.set_secret({"default": "shared-SECRET"})
    harness.configure(LICENSE_LIST_S3_URI=put_license_list(harness.session, "busy,calm"))

    assert harness.invoke(time=T1)["alerts"] == 1
    assert [a.attributes["license_id"] for a in harness.alerts()] == ["busy"]
