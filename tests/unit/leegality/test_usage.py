"""parse_usage_body: keep what is a non-negative integer, record everything else as a problem."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from usage_monitor.core.models import Resource
from usage_monitor.leegality.usage import RESERVED_NAMES, MalformedUsage, parse_usage_body

# The 200 example from the API reference (/work/shared/leegality-usage-api.md).
DOCUMENTED_200: dict[str, Any] = {
    "code": "LE_SS_200",
    "message": "License usage statistics retrieved successfully.",
    "data": {
        "users": {"current": 233, "limit": 1000},
        "departments": {"current": 23, "limit": 1000},
        "signatures": {"current": 23, "limit": 1000},
        "certificates": {"current": 23, "limit": 1000},
    },
}

MISSING = object()  # marker: leave the field out of the resource object


def _users(**fields: object) -> dict[str, Any]:
    return {"data": {"users": {k: v for k, v in fields.items() if v is not MISSING}}}


def test_documented_example_gives_every_resource_and_no_problems() -> None:
    parsed = parse_usage_body(DOCUMENTED_200)

    assert parsed.resources == (
        Resource("users", 233, 1000),
        Resource("departments", 23, 1000),
        Resource("signatures", 23, 1000),
        Resource("certificates", 23, 1000),
    )
    assert parsed.problems == ()
    assert [r.percent for r in parsed.resources] == [Decimal("23.3"), Decimal("2.3"), Decimal("2.3"), Decimal("2.3")]


def test_code_and_message_are_optional() -> None:
    parsed = parse_usage_body({"data": {"users": {"current": 1, "limit": 2}}})

    assert parsed.resources == (Resource("users", 1, 2),)
    assert parsed.problems == ()


@pytest.mark.parametrize(
    ("body", "json_type"),
    [
        ([DOCUMENTED_200], "array"),
        ("LE_SS_200", "string"),
        (None, "null"),
        (200, "integer"),
        (True, "boolean"),
    ],
)
def test_body_that_is_not_an_object_is_malformed(body: object, json_type: str) -> None:
    with pytest.raises(MalformedUsage, match=f"body is a JSON {json_type}, not an object"):
        parse_usage_body(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"code": "LE_SS_200", "message": "ok"}, "body has no 'data'"),
        ({"data": None}, "'data' is null, not an object"),
        ({"data": [{"current": 1, "limit": 2}]}, "'data' is array, not an object"),
        ({"data": "users"}, "'data' is string, not an object"),
    ],
)
def test_data_missing_or_not_an_object_is_malformed(body: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedUsage) as caught:
        parse_usage_body(body)

    assert str(caught.value) == message


def test_empty_data_gives_no_resources_and_says_so() -> None:
    parsed = parse_usage_body({"data": {}})

    assert parsed.resources == ()
    assert parsed.problems == ("'data' lists no resources",)


@pytest.mark.parametrize(
    ("value", "json_type"),
    [(None, "null"), ([233, 1000], "array"), ("233/1000", "string"), (233, "integer")],
)
def test_resource_that_is_not_an_object_is_kept_empty_with_a_problem(value: object, json_type: str) -> None:
    parsed = parse_usage_body({"data": {"users": value, "signatures": {"current": 5, "limit": 10}}})

    users, signatures = parsed.resources
    assert users == Resource("users", None, None, (f"users: expected an object, got {json_type}",))
    assert not users.evaluable
    # The other resource is unaffected.
    assert signatures == Resource("signatures", 5, 10)


BAD_COUNTS = [
    pytest.param(MISSING, "missing", id="missing"),
    pytest.param(None, "got null", id="null"),
    pytest.param(-1, "negative (-1)", id="negative"),
    pytest.param(1000.0, "got number 1000.0", id="float"),
    pytest.param("1000", "got string '1000'", id="numeric-string"),
    pytest.param(True, "got boolean True", id="true-is-not-1"),
    pytest.param(False, "got boolean False", id="false-is-not-0"),
    pytest.param({"value": 1}, "got object", id="object"),
    pytest.param([1], "got array", id="array"),
]


@pytest.mark.parametrize("field", ["current", "limit"])
@pytest.mark.parametrize(("bad", "detail"), BAD_COUNTS)
def test_bad_count_leaves_only_that_field_empty_and_names_it(field: str, bad: object, detail: str) -> None:
    figures: dict[str, object] = {"current": 500, "limit": 1000}
    figures[field] = bad
    other = "limit" if field == "current" else "current"

    (resource,) = parse_usage_body(_users(**figures)).resources

    assert getattr(resource, field) is None
    assert getattr(resource, other) == figures[other]
    assert not resource.evaluable
    assert resource.percent is None
    assert len(resource.problems) == 1
    problem = resource.problems[0]
    assert problem.startswith(f"users.{field}: ")
    assert detail in problem


def test_both_fields_missing_records_two_problems() -> None:
    (resource,) = parse_usage_body({"data": {"users": {}}}).resources

    assert resource == Resource("users", None, None, ("users.current: missing", "users.limit: missing"))


def test_problem_text_for_a_huge_bad_value_is_short() -> None:
    (resource,) = parse_usage_body(_users(current="9" * 5000, limit=1000)).resources

    assert resource.current is None
    assert len(resource.problems[0]) < 120
    assert resource.problems[0].endswith("...")


def test_zero_is_a_valid_current() -> None:
    (resource,) = parse_usage_body(_users(current=0, limit=1000)).resources

    assert resource == Resource("users", 0, 1000)
    assert resource.percent == Decimal("0.0")


def test_limit_zero_is_kept_but_gives_no_percent_and_a_problem() -> None:
    (resource,) = parse_usage_body(_users(current=5, limit=0)).resources

    assert (resource.current, resource.limit) == (5, 0)
    assert resource.percent is None
    assert not resource.evaluable
    assert resource.problems == ("users: limit is 0, so no percentage",)


def test_current_over_limit_gives_percent_over_100() -> None:
    (resource,) = parse_usage_body(_users(current=1200, limit=1000)).resources

    assert resource.problems == ()
    assert resource.percent == Decimal("120.0")
    assert resource.at_limit


def test_resource_the_api_adds_later_is_kept() -> None:
    body = {"data": {**DOCUMENTED_200["data"], "templates": {"current": 3, "limit": 10}}}

    parsed = parse_usage_body(body)

    assert Resource("templates", 3, 10) in parsed.resources
    assert len(parsed.resources) == 5
    assert parsed.problems == ()


@pytest.mark.parametrize("name", sorted(RESERVED_NAMES))
def test_resource_named_like_a_snapshot_field_is_skipped(name: str) -> None:
    body = {"data": {name: {"current": 1, "limit": 2}, "users": {"current": 3, "limit": 4}}}

    parsed = parse_usage_body(body)

    assert [r.name for r in parsed.resources] == ["users"]
    assert parsed.problems == (f"resource name {name!r} is not usable as a field name; skipped",)


def test_status_and_license_id_are_reserved() -> None:
    # The two collisions that would corrupt a snapshot row if they were ever dropped from the list.
    assert {"status", "license_id"} <= RESERVED_NAMES


@pytest.mark.parametrize("name", ["", "1users", "user-count", "user count", "users.total", "ü", "a" * 65])
def test_resource_name_unusable_as_attribute_is_skipped(name: str) -> None:
    parsed = parse_usage_body({"data": {name: {"current": 1, "limit": 2}}})

    assert parsed.resources == ()
    assert parsed.problems[0].endswith("is not usable as a field name; skipped")
    # Nothing usable is left, which is reported too.
    assert parsed.problems[-1] == "'data' lists no resources"


def test_longest_allowed_resource_name_is_kept() -> None:
    name = "a" + "b_9" * 21  # 64 characters

    parsed = parse_usage_body({"data": {name: {"current": 1, "limit": 2}}})

    assert [r.name for r in parsed.resources] == [name]
