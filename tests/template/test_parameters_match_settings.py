"""What the template accepts, the settings code accepts, and what the code rejects, the template rejects.

Each parameter that reaches the functions' environment is found by reading the transformed template (which
environment variable it feeds, through which intrinsic), values are generated from the parameter's own
constraints (AllowedValues, AllowedPattern, MinValue/MaxValue), and `Settings.from_env` is given exactly the
environment CloudFormation would deploy. So the two validations cannot drift apart again (issue 19 items 2-3).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.template.conftest import load_sam_template, sam_transform
from tests.template.intrinsics import accepts, parameter_values, resolve, rules_hold
from usage_monitor.core.errors import ConfigError
from usage_monitor.settings import Settings

pytestmark = pytest.mark.property

SAM_TEMPLATE = load_sam_template()
TRANSFORMED = sam_transform(SAM_TEMPLATE)
FUNCTIONS = ("UsageMonitorFunction", "UsageMonitorWorkerFunction")
# The conditions under which each function's environment is read: the worker exists only with FanOut.
FUNCTION_CONDITIONS = {"UsageMonitorFunction": {}, "UsageMonitorWorkerFunction": {"FanOut": "enabled"}}
# Parameters that only reach the code together with another one (the list key needs its bucket, and back).
CONTEXT = {"LicenseListKey": {"LicenseListBucket": "fleet-config"}, "LicenseListBucket": {"LicenseListKey": "a.txt"}}


def _referenced(value: Any) -> Iterator[str]:
    """Parameter names a value depends on (Ref and ${Name} in Fn::Sub), through any intrinsic."""
    if isinstance(value, list):
        for item in value:
            yield from _referenced(item)
    elif isinstance(value, dict):
        for key, args in value.items():
            if key == "Ref" and args in SAM_TEMPLATE["Parameters"]:
                yield args
            elif key == "Fn::Sub":
                text = args if isinstance(args, str) else args[0]
                yield from (n for n in re.findall(r"\$\{([^}!.]+)\}", text) if n in SAM_TEMPLATE["Parameters"])
                if not isinstance(args, str):
                    yield from _referenced(args[1])
            else:
                yield from _referenced(args)


def _environment(function: str) -> dict[str, Any]:
    variables: dict[str, Any] = TRANSFORMED["Resources"][function]["Properties"]["Environment"]["Variables"]
    return variables


# Parameter -> (function, environment variables it feeds), from the transformed template.
FEEDS: dict[str, tuple[str, frozenset[str]]] = {}
for _function in FUNCTIONS:
    for _variable, _value in _environment(_function).items():
        for _name in _referenced(_value):
            function, variables = FEEDS.get(_name, (_function, frozenset()))
            FEEDS[_name] = (function, variables | {_variable})
SETTINGS_PARAMETERS = sorted(FEEDS)


def _deployed_env(function: str, parameters: Mapping[str, str]) -> dict[str, str]:
    """The function's environment as CloudFormation would set it for these parameter values."""
    resolved = resolve(_environment(function), TRANSFORMED, parameters)
    return {name: str(value) for name, value in resolved.items() if value is not None}


def _code_error(name: str, value: str) -> str | None:
    """The settings code's error for a deployment with `name=value` (every other parameter at its default)."""
    function, _ = FEEDS[name]
    parameters = parameter_values(SAM_TEMPLATE, {**FUNCTION_CONDITIONS[function], **CONTEXT.get(name, {}), name: value})
    try:
        Settings.from_env(_deployed_env(function, parameters))
    except ConfigError as exc:
        return str(exc)
    return None


def _template_accepts(name: str, value: str) -> bool:
    """The parameter's own constraints, then the template's Rules over the whole deployment."""
    parameters = parameter_values(SAM_TEMPLATE, {**CONTEXT.get(name, {}), name: value})
    return accepts(SAM_TEMPLATE["Parameters"][name], value) and rules_hold(SAM_TEMPLATE, parameters)


@functools.cache
def _from_constraints(name: str) -> st.SearchStrategy[str]:
    """Values CloudFormation accepts for the parameter, generated from its own constraints (built once)."""
    parameter = SAM_TEMPLATE["Parameters"][name]
    if "AllowedValues" in parameter:
        return st.sampled_from([str(v) for v in parameter["AllowedValues"]])
    if parameter["Type"] == "Number":
        low, high = parameter.get("MinValue", -(10**9)), parameter.get("MaxValue", 10**9)
        decimals = st.decimals(min_value=low, max_value=high, places=2, allow_nan=False, allow_infinity=False)
        return st.one_of(st.integers(low, high).map(str), decimals.map(str))
    if "AllowedPattern" in parameter:
        values = st.from_regex(parameter["AllowedPattern"], fullmatch=True)
        return values.filter(lambda v: accepts(parameter, v))
    return st.text(max_size=parameter.get("MaxLength", 200))


def test_every_setting_parameter_is_found_and_constrained() -> None:
    # The map comes from the template, so a new setting is covered the day it is added; these must be in it.
    assert {"AlertThresholds", "MaxConcurrency", "TokenMaxAgeSeconds", "FanOutChunkSize"} <= set(FEEDS)
    assert FEEDS["MaxConcurrency"] == ("UsageMonitorFunction", frozenset({"MAX_CONCURRENCY"}))
    assert FEEDS["LicenseListKey"] == ("UsageMonitorFunction", frozenset({"LICENSE_LIST_S3_URI"}))
    # CloudFormation's Number accepts fractions and AllowedPattern applies to strings only, so every setting
    # is a String whose pattern (or list of values) is what the code reads.
    parameters = {name: SAM_TEMPLATE["Parameters"][name] for name in SETTINGS_PARAMETERS}
    assert [name for name, p in parameters.items() if p["Type"] != "String"] == []
    assert [name for name, p in parameters.items() if not {"AllowedValues", "AllowedPattern"} & p.keys()] == []


@pytest.mark.parametrize("name", SETTINGS_PARAMETERS)
@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_every_value_the_template_accepts_the_settings_code_accepts(name: str, data: st.DataObject) -> None:
    # Given a value CloudFormation accepts for the parameter (generated from its own constraints)
    value = data.draw(_from_constraints(name), label=name)
    assume(rules_hold(SAM_TEMPLATE, parameter_values(SAM_TEMPLATE, {**CONTEXT.get(name, {}), name: value})))
    # When the functions read the environment CloudFormation deploys from it, then the settings are valid
    assert _code_error(name, value) is None


def _number_like() -> st.SearchStrategy[str]:
    """Near misses for a number: fractions, signs, blanks, leading zeros, exponents, huge values."""
    digits = st.integers(min_value=0, max_value=10**30).map(str)
    return st.one_of(
        st.integers(min_value=-(10**6), max_value=10**25).map(str),
        st.builds(lambda d, f: f"{d}.{f}", digits, st.text("0123456789", min_size=1, max_size=4)),
        st.builds(lambda z, d: "0" * z + d, st.integers(1, 3), digits),
        st.builds(lambda sign, d: sign + d, st.sampled_from(["+", "-", " ", "\t"]), digits),
        st.builds(lambda d, pad: d + pad, digits, st.sampled_from([" ", "%", ".", ".0", "e2", "_0", "\n"])),
        st.sampled_from(["", " ", "0", "-0", "NaN", "inf", "1e3", "0x10", "1_000", "١٢", "16.0", "0.5", "٣"]),
    )


def _near_misses() -> st.SearchStrategy[str]:
    numbers = _number_like()
    listed = st.lists(numbers, min_size=1, max_size=4).map(",".join)
    return st.one_of(numbers, listed, st.builds(lambda n: f"signatures={n}", listed))


MUTATIONS = (" ", "\n", ".0", ".5", "0", "%", "?x=1", "#", "@", "/", ",", ";", "=", "-", "\t", "*", "\x7f")


def _mutated(name: str) -> st.SearchStrategy[str]:
    """A value the template accepts with a character or two added before, inside or after it."""

    def mutate(value: str, extra: str, where: int) -> str:
        at = where % (len(value) + 1)
        return value[:at] + extra + value[at:]

    return st.builds(mutate, _from_constraints(name), st.sampled_from(MUTATIONS), st.integers(0, 10**6))


@pytest.mark.parametrize("name", SETTINGS_PARAMETERS)
@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_every_value_the_settings_code_rejects_the_template_rejects(name: str, data: st.DataObject) -> None:
    # Given a near miss (a number's, or one of the parameter's own values changed) the settings code refuses
    value = data.draw(st.one_of(_near_misses(), _mutated(name)), label=name)
    error = _code_error(name, value)
    # Then CloudFormation refuses it at deploy too, instead of every run failing with a config_problem
    if error is not None:
        assert not _template_accepts(name, value), error


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AlertThresholds", "80,80.0"),
        ("AlertThresholds", "80,95,095"),
        ("AlertThresholdOverrides", "signatures=70,70.0"),
        ("AlertRemindAfterHours", "8760"),
        ("SnapshotRetentionDays", "36500"),
    ],
)
def test_equal_spellings_and_range_ends_deploy_and_run(name: str, value: str) -> None:
    assert _template_accepts(name, value)
    assert _code_error(name, value) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AlertRemindAfterHours", "0.5"),
        ("AlertFlapWindowHours", "1.5"),
        ("ForecastAlertDays", "14.0"),
        ("SnapshotRetentionDays", "400.5"),
        ("MaxConcurrency", "16.0"),
        ("FanOutChunkSize", "250.0"),
        ("TokenMaxAgeSeconds", "900.0"),
        ("MetricsTopLicenses", "3.0"),
        ("AlertThresholds", "80,5000"),
        ("AlertThresholdOverrides", "users=80; users =90"),
        ("AlertThresholdOverrides", "lic-1/users=80; lic-1 / users=90"),
        ("MaxRequestsPerSecond", "1001"),
        ("LeegalityBaseUrl", "https://app1.leegality.com/api?x=1"),
        ("LeegalityBaseUrl", "https://app1.leegality.com:0/api"),
        ("LicenseListKey", "licenses\n.txt"),
    ],
)
def test_values_that_deployed_and_then_failed_every_run_are_refused_at_deploy(name: str, value: str) -> None:
    # Each of these passed the template before and then failed every run with a config_problem.
    assert _code_error(name, value) is not None
    assert not _template_accepts(name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AlertThresholds", ", ".join(["000.840951650846358843995%"] * 40) + "x"),
        ("AlertThresholds", ",".join(["0000001000.000000", "0.06632446%  "] * 20) + ",,"),
        ("AlertThresholdOverrides", "; ".join(["lic-1/users = 0000.5 , 7.25"] * 40) + ";="),
        ("AlertThresholdOverrides", ";  ;  ".join(f"users{i}=0.0015" for i in range(40)) + ";  ;  x"),
        ("MaxRequestsPerSecond", "0" * 300 + ".0000001"),
        ("LicenseIds", ", ".join(["bd82845c-897b-4022-b5f7-679905c1979b"] * 40) + ",,"),
    ],
)
def test_a_long_value_that_fails_is_refused_at_once(name: str, value: str) -> None:
    # Each number or entry matches one way only: a pattern that can split the same text several ways
    # backtracks exponentially on a long value that fails (a 300-character one took minutes).
    started = time.perf_counter()
    assert not re.fullmatch(SAM_TEMPLATE["Parameters"][name]["AllowedPattern"], value)
    assert time.perf_counter() - started < 0.5
