"""licenses: parsing the S3 list, combining the sources, and the cached S3 reader (with a fake client)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from usage_monitor.core.errors import ConfigError
from usage_monitor.core.license_entries import LicenseList
from usage_monitor.fleet.licenses import (
    LicenseListSource,
    LicenseListUnavailable,
    parse_license_list,
    resolve_license_ids,
    split_s3_uri,
)

URI = "s3://fleet-config/leegality/licenses.txt"

# ----------------------------------------------------------------------------------------- parse_license_list


def ids(text: str) -> tuple[str, ...]:
    return parse_license_list(text, URI).ids


def test_one_per_line_comma_separated_and_mixed_lists_parse_in_order():
    text = "lic-1\nlic-2, lic-3\n\n  lic-4  ,\r\nlic-5"
    assert ids(text) == ("lic-1", "lic-2", "lic-3", "lic-4", "lic-5")


def test_comment_lines_and_trailing_comments_are_ignored():
    text = "# production fleet\nlic-1  # Mumbai office\n   # lic-2 retired\nlic-3,lic-4 # two more\n"
    assert parse_license_list(text, URI) == LicenseList(("lic-1", "lic-3", "lic-4"))


def test_an_empty_or_comment_only_list_is_empty():
    assert parse_license_list("", URI) == LicenseList()
    assert parse_license_list("# nothing yet\n\n", URI) == LicenseList()


def test_a_bad_id_is_skipped_naming_the_setting_the_uri_the_line_and_the_entry():
    listed = parse_license_list("lic-1\nlic 2\nlic-3\n", URI)

    assert listed.ids == ("lic-1", "lic-3")
    (skipped,) = listed.skipped
    assert skipped.describe().startswith(f"LICENSE_LIST_S3_URI {URI} line 2: 'lic 2' is not 1-128 characters")
    assert not skipped.duplicate


def test_a_duplicate_across_lines_is_checked_once_and_names_both_lines():
    listed = parse_license_list("lic-1\nlic-2\nlic-1\n", URI)

    assert listed.ids == ("lic-1", "lic-2")
    (repeat,) = listed.skipped
    assert repeat.duplicate
    assert repeat.describe().endswith("line 3: 'lic-1' is listed twice (first at line 1); checked once")


def test_a_duplicate_within_a_line_is_checked_once():
    listed = parse_license_list("a, b, a", URI)
    assert listed.ids == ("a", "b")
    assert [s.where for s in listed.skipped] == ["line 1"]


def test_an_id_over_128_characters_and_control_characters_are_skipped_escaped():
    listed = parse_license_list("x" * 129 + "\nok\nbad\x1b[31m\n", URI)

    assert listed.ids == ("ok",)
    assert [s.where for s in listed.invalid] == ["line 1", "line 3"]
    assert len(listed.invalid[0].raw) == 60  # cut: enough to recognise it
    assert listed.invalid[1].escaped == "bad\\x1b[31m"


def test_split_s3_uri_keeps_slashes_in_the_key():
    assert split_s3_uri(URI) == ("fleet-config", "leegality/licenses.txt")
    with pytest.raises(ConfigError, match="LICENSE_LIST_S3_URI"):
        split_s3_uri("s3://bucket-only")


# ----------------------------------------------------------------------------------- combining the sources


def listed(*license_ids: str) -> LicenseList:
    return LicenseList(license_ids)


def test_sources_combine_in_order_an_id_in_both_once_and_not_reported():
    combined = listed("a", "b") + listed("b", "c", "a", "d")
    assert combined == LicenseList(("a", "b", "c", "d"))


def test_event_override_wins_and_nothing_else_is_read():
    def named() -> LicenseList:
        raise AssertionError("the secret must not be read")

    assert resolve_license_ids(listed("x"), listed("a"), listed("b"), named).ids == ("x",)


def test_license_ids_and_the_s3_list_are_combined():
    secret = lambda: listed("secret-only")  # noqa: E731
    assert resolve_license_ids(None, listed("a", "b"), listed("b", "c"), secret).ids == ("a", "b", "c")
    assert resolve_license_ids(None, listed(), listed("c"), secret).ids == ("c",)
    assert resolve_license_ids(None, listed("a"), listed(), secret).ids == ("a",)


def test_the_secrets_licenses_are_the_fallback():
    assert resolve_license_ids(None, listed(), listed(), lambda: listed("s1", "s2")).ids == ("s1", "s2")


def test_no_source_at_all_is_a_config_error():
    with pytest.raises(ConfigError, match="no license to check"):
        resolve_license_ids(None, listed(), listed(), lambda: listed())


def test_a_list_with_entries_but_none_valid_fails_instead_of_falling_back_to_the_secret():
    only_bad = parse_license_list("lic 1\nlic/2\n", URI)

    with pytest.raises(ConfigError, match=r"no valid license ID in .*line 1: 'lic 1'.*line 2: 'lic/2'"):
        resolve_license_ids(None, listed(), only_bad, lambda: listed("secret-only"))


# ------------------------------------------------------------------------------------- LicenseListSource


class FakeS3:
    """get_object like boto3's: honours IfNoneMatch with a 304 ClientError; counts calls."""

    def __init__(self, body: bytes = b"", etag: str = '"v1"') -> None:
        self.body = body
        self.etag = etag
        self.error: Exception | None = None
        self.calls: list[dict[str, Any]] = []

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        if kwargs.get("IfNoneMatch") == self.etag:
            raise _client_error("304", "Not Modified", 304)
        return {"Body": io.BytesIO(self.body), "ETag": self.etag, "ContentLength": len(self.body)}


def _client_error(code: str, message: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "GetObject")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _source(s3: FakeS3, clock: Clock | None = None, **kwargs: Any) -> LicenseListSource:
    return LicenseListSource(URI, s3, max_age_seconds=300, clock=clock or Clock(), **kwargs)  # type: ignore[arg-type]


def test_reads_the_object_named_by_the_uri():
    s3 = FakeS3(b"a\nb\n")
    assert _source(s3).load().ids == ("a", "b")
    assert s3.calls == [{"Bucket": "fleet-config", "Key": "leegality/licenses.txt"}]


def test_the_list_is_reused_within_max_age_then_revalidated_by_etag():
    s3, clock = FakeS3(b"a\nb\n"), Clock()
    source = _source(s3, clock)
    source.load()
    clock.now += 299
    assert source.load().ids == ("a", "b")
    assert len(s3.calls) == 1

    clock.now += 2  # expired: a conditional GET, answered 304
    assert source.load().ids == ("a", "b")
    assert s3.calls[-1]["IfNoneMatch"] == '"v1"'

    s3.body, s3.etag = b"a\nb\nc\n", '"v2"'
    clock.now += 301  # expired again, and the object changed
    assert source.load().ids == ("a", "b", "c")
    assert len(s3.calls) == 3


def test_a_byte_order_mark_is_tolerated():
    assert _source(FakeS3("\ufeffa\nb\n".encode())).load().ids == ("a", "b")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_client_error("NoSuchKey", "The specified key does not exist.", 404), "NoSuchKey"),
        (_client_error("NoSuchBucket", "The specified bucket does not exist", 404), "NoSuchBucket"),
        (_client_error("AccessDenied", "Access Denied", 403), "missing key when the role may not list"),
        (EndpointConnectionError(endpoint_url="https://s3.example"), "EndpointConnectionError"),
    ],
)
def test_read_failures_name_the_setting_and_the_uri(error: Exception, expected: str):
    s3 = FakeS3()
    s3.error = error
    with pytest.raises(LicenseListUnavailable) as raised:
        _source(s3).load()
    assert isinstance(raised.value, ConfigError)
    assert str(raised.value).startswith(f"LICENSE_LIST_S3_URI: cannot read license list {URI}: ")
    assert expected in str(raised.value)


def test_a_deleted_object_fails_even_with_a_cached_list():
    s3, clock = FakeS3(b"a\n"), Clock()
    source = _source(s3, clock)
    source.load()
    s3.error = _client_error("NoSuchKey", "The specified key does not exist.", 404)
    clock.now += 301
    with pytest.raises(LicenseListUnavailable, match="NoSuchKey"):
        source.load()


def test_a_changed_object_with_a_bad_line_is_used_with_the_line_reported_not_the_old_list():
    s3, clock = FakeS3(b"a\n"), Clock()
    source = _source(s3, clock)
    source.load()
    s3.body, s3.etag = b"a\nnot valid!\nb\n", '"v2"'
    clock.now += 301

    listed = source.load()

    assert listed.ids == ("a", "b")
    assert [s.where for s in listed.skipped] == ["line 2"]


def test_a_too_large_object_is_refused():
    with pytest.raises(LicenseListUnavailable, match="more than 16"):
        _source(FakeS3(b"a\n" * 20), max_bytes=16).load()


def test_a_binary_object_is_undecodable_entries_so_a_list_with_no_valid_one():
    listed = _source(FakeS3(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xc8")).load()

    assert listed.ids == ()
    assert listed.skipped[0].describe() == f"LICENSE_LIST_S3_URI {URI} line 1: '\\x89PNG' is not valid UTF-8 text"
