"""Hypothesis strategies for hostile usage-statistics answers: any JSON, and the shapes that break parsers."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

KNOWN = ("users", "departments", "signatures", "certificates")

# Counts as an upstream bug could send them: small, at the 38-digit edge, huge, negative, float, string.
numbers = st.one_of(
    st.integers(min_value=0, max_value=10_000),
    st.integers(),
    st.integers(min_value=10**36, max_value=10**41),
    st.integers(min_value=1, max_value=4200).map(lambda digits: 10**digits - 1),
    st.integers(min_value=1, max_value=4200).map(lambda digits: -(10**digits)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.booleans(),
    st.none(),
)
keys = st.one_of(st.sampled_from(KNOWN), st.text(max_size=80), st.sampled_from(["status", "license_id", "error"]))
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=200))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(keys, inner, max_size=6)),
    max_leaves=40,
)
resource = st.one_of(
    st.fixed_dictionaries({}, optional={"current": numbers, "limit": numbers}),
    st.fixed_dictionaries({"current": numbers, "limit": numbers}, optional={"extra": json_values}),
    json_values,
)
data = st.one_of(st.dictionaries(keys, resource, max_size=12), json_values)
bodies = st.one_of(
    st.fixed_dictionaries({"data": data}, optional={"code": json_values, "message": json_values}),
    json_values,
)


def _many_resources(count: int, value: Any) -> dict[str, Any]:
    return {"data": {f"r{i}": {"current": value, "limit": value} for i in range(count)}}


def _text(body: Any) -> str:
    try:
        return json.dumps(body)
    except ValueError:  # an int over 4,300 digits: written out by hand, as a server could
        return '{"data": {"users": {"current": 1' + "0" * 4400 + ', "limit": 5}}}'


# The texts that go over the wire: JSON of the above, plus shapes only raw text can carry.
raw_bodies = st.one_of(
    bodies.map(_text),
    st.integers(min_value=1, max_value=20_000).map(lambda depth: '{"data": ' + "[" * depth + "]" * depth + "}"),
    st.integers(min_value=4000, max_value=6000).map(
        lambda digits: '{"data": {"users": {"current": 9' + "9" * digits + ', "limit": 10}}}'
    ),
    st.builds(_many_resources, st.integers(min_value=90, max_value=20_000), st.sampled_from([1, 10**37, -1])).map(
        json.dumps
    ),
    st.integers(min_value=1, max_value=900_000).map(lambda n: json.dumps({"data": {"users": {"current": "x" * n}}})),
    st.sampled_from(['{"data": {"users": {"current": NaN, "limit": Infinity}}}', '{"data": {"u": "\\ud800"}}']),
)
