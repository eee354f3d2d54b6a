"""Properties of the pure path from an answer to AWS calls: parse, evaluate, render, and the AWS rules.

Whatever JSON the API sends, nothing raises but our own typed errors, every snapshot is storable as
such or as its `invalid_value` stand-in, and every alert fits SNS.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.json_strategies import bodies, numbers, raw_bodies
from usage_monitor.alerting.rules import evaluate
from usage_monitor.alerting.types import AlertPolicy, AlertState, NotifiedLevel
from usage_monitor.core.aws_limits import item_problems, number_problem, sns_message_problems, summarize
from usage_monitor.core.models import CheckResult, FailureKind, Resource
from usage_monitor.leegality.client import _parse_success
from usage_monitor.leegality.upstream import KnownSecrets, Redactor
from usage_monitor.leegality.usage import MalformedUsage, parse_usage_body
from usage_monitor.messages.render import render
from usage_monitor.storage.store import snapshot_item, state_to_item, unstorable

NOW = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
POLICY = AlertPolicy((Decimal(80), Decimal(95)))
pytestmark = pytest.mark.property


def _through_the_boundaries(result: CheckResult, before: AlertState) -> None:
    """What the run does with one result, minus AWS: store check, evaluate, render, state check."""
    item = snapshot_item(result, NOW, 90)
    problems = item_problems(item)
    if problems:
        result = unstorable(result, summarize(problems))
        item = snapshot_item(result, NOW, 90)
        assert result.error is not None
        assert result.error.kind is FailureKind.INVALID_VALUE
        assert item_problems(item) == []
    evaluation = evaluate(result, before, POLICY, NOW)
    pending = render(evaluation.alert).outgoing() if evaluation.alert else None
    if pending is not None:
        assert sns_message_problems(pending.subject, pending.message_json, pending.attributes) == []
    assert item_problems(state_to_item(result.license_id, evaluation.state, pending)) == []


@given(bodies)
def test_any_decoded_body_parses_or_raises_malformed_usage_and_flows_to_aws_safely(body: object) -> None:
    try:
        parsed = parse_usage_body(body)
    except MalformedUsage:
        return
    result = CheckResult("lic-1", NOW, resources=parsed.resources, problems=parsed.problems)
    marks = {r.name: NotifiedLevel(Decimal(100), NOW - timedelta(days=2)) for r in parsed.resources[:3]}
    _through_the_boundaries(result, AlertState(resources=marks))


@given(raw_bodies)
def test_any_200_text_becomes_a_result_never_an_exception(text: str) -> None:
    body = text.encode("utf-8", "surrogatepass")
    result = _parse_success("lic-1", body, "application/json", Redactor(KnownSecrets(), "tok-1"))

    assert result.ok or (
        result.error is not None and result.error.kind in (FailureKind.MALFORMED_RESPONSE, FailureKind.NO_USAGE_DATA)
    )
    _through_the_boundaries(result, AlertState())


@given(st.integers(min_value=0), st.integers(min_value=1), st.sampled_from(["80", "87.5", "99.99", "100"]))
def test_levels_compare_exactly_however_large_the_counts(current: int, limit: int, threshold: str) -> None:
    policy = AlertPolicy((Decimal(threshold),))

    level = policy.level_of(Resource("users", current, limit))

    reached = Fraction(current, limit) * 100 >= Fraction(Decimal(threshold))
    assert (level is not None) == (reached or current >= limit)


@given(numbers)
def test_number_check_agrees_with_boto3s_serializer(value: object) -> None:
    from boto3.dynamodb.types import TypeSerializer

    if not isinstance(value, int) or isinstance(value, bool):
        return
    problem = number_problem(value, "n")
    try:
        TypeSerializer().serialize(value)
    except ArithmeticError:
        assert problem is not None
    else:
        assert problem is None, problem


def test_a_39_digit_count_is_named_with_its_path_and_digit_count() -> None:
    result = CheckResult("lic-1", NOW, resources=(Resource("users", 10**38, 10**39),))

    problems = item_problems(snapshot_item(result, NOW, 90))

    assert problems[0].startswith("users.current: 100000000000000000000000000000000000000 has 39 digits")


def test_a_message_over_256_kib_or_with_an_empty_attribute_is_refused_before_sns() -> None:
    big = json.dumps({"default": "x" * 300_000})

    assert any("SNS takes at most 262,144" in p for p in sns_message_problems("ok", big, {"license_id": "a"}))
    assert any("empty" in p for p in sns_message_problems("ok", "{}", {"license_id": ""}))
    assert any("subject" in p for p in sns_message_problems("line\nbreak", "{}", {}))
    assert sns_message_problems("[CRITICAL] ok", "{}", {"license_id": "a"}) == []
