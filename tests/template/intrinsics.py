"""CloudFormation as the template tests need it: parameter values, conditions, intrinsics and constraints.

Evaluates the intrinsics template.yaml uses (Ref, Fn::If, Fn::Sub, Fn::Select, Fn::Split, Fn::Join,
Fn::FindInMap, Fn::Equals/And/Or/Not, Condition) for given parameter values, so a test can read what a
deployed resource's property would be, and decides whether CloudFormation would accept a parameter value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

# What a Ref to a resource or a pseudo parameter resolves to in these tests (names, not real ARNs).
RESOURCE_REFS = {
    "SnapshotTable": "leegality-usage-monitor-SnapshotTable-1",
    "AlertTopic": "arn:aws:sns:ap-south-1:123456789012:leegality-usage-monitor-AlertTopic-1",
    "WorkQueue": "https://sqs.ap-south-1.amazonaws.com/123456789012/leegality-usage-monitor-WorkQueue-1",
    "UsageMonitorLogGroup": "/aws/lambda/leegality-usage-monitor-usage-monitor",
    "UsageMonitorFunction": "leegality-usage-monitor-UsageMonitorFunction-1",
    "UsageMonitorWorkerFunction": "leegality-usage-monitor-UsageMonitorWorkerFunction-1",
    "AWS::Region": "ap-south-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "leegality-usage-monitor",
}


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every parameter's value as CloudFormation passes it: the default unless overridden, as text."""
    values = {name: _text(p.get("Default", "")) for name, p in template["Parameters"].items()}
    values.update(overrides or {})
    return values


def resolve(value: Any, template: Mapping[str, Any], parameters: Mapping[str, str]) -> Any:
    """`value` with every intrinsic evaluated for `parameters` (AWS::NoValue becomes None)."""
    if isinstance(value, list):
        return [_resolve_one(item, template, parameters) for item in value]
    return _resolve_one(value, template, parameters)


def _resolve_one(value: Any, template: Mapping[str, Any], parameters: Mapping[str, str]) -> Any:
    if isinstance(value, list):
        return [_resolve_one(item, template, parameters) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref", "Condition")):
        return {k: _resolve_one(v, template, parameters) for k, v in value.items()}
    ((name, args),) = value.items()
    if name == "Ref":
        if args == "AWS::NoValue":
            return None
        return parameters[args] if args in parameters else RESOURCE_REFS[args]
    if name == "Condition":
        return condition(args, template, parameters)
    if name == "Fn::If":
        chosen = args[1] if condition(args[0], template, parameters) else args[2]
        return _resolve_one(chosen, template, parameters)
    if name == "Fn::Sub":
        text, names = (args, {}) if isinstance(args, str) else (args[0], args[1])
        local = {k: _resolve_one(v, template, parameters) for k, v in names.items()}
        return re.sub(r"\$\{([^}!]+)\}", lambda m: _text(local.get(m.group(1), _ref(m.group(1), parameters))), text)
    resolved = _resolve_one(args, template, parameters)
    if name == "Fn::Equals":
        return _text(resolved[0]) == _text(resolved[1])
    if name == "Fn::And":
        return all(resolved)
    if name == "Fn::Or":
        return any(resolved)
    if name == "Fn::Not":
        return not resolved[0]
    if name == "Fn::Select":
        return resolved[1][int(resolved[0])]
    if name == "Fn::Split":
        return _text(resolved[1]).split(resolved[0])
    if name == "Fn::Join":
        return resolved[0].join(_text(v) for v in resolved[1])
    if name == "Fn::FindInMap":
        return template["Mappings"][resolved[0]][_text(resolved[1])][_text(resolved[2])]
    if name == "Fn::GetAtt":
        return f"{resolved[0]}.{resolved[1]}"
    raise AssertionError(f"intrinsic {name} is not evaluated by these tests")


def condition(name: str, template: Mapping[str, Any], parameters: Mapping[str, str]) -> bool:
    return bool(_resolve_one(template["Conditions"][name], template, parameters))


def rules_hold(template: Mapping[str, Any], parameters: Mapping[str, str]) -> bool:
    """The template's Rules: CloudFormation refuses a stack whose assertions fail where their condition holds."""
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not _resolve_one(rule["RuleCondition"], template, parameters):
            continue
        if not all(_resolve_one(a["Assert"], template, parameters) for a in rule["Assertions"]):
            return False
    return True


def accepts(parameter: Mapping[str, Any], value: str) -> bool:
    """Whether CloudFormation accepts `value` for the parameter: AllowedValues, AllowedPattern (whole value),
    MinLength/MaxLength; a Number must be a number within MinValue/MaxValue (fractions included)."""
    if "AllowedValues" in parameter and value not in [_text(v) for v in parameter["AllowedValues"]]:
        return False
    if parameter["Type"] == "Number":
        try:
            number = Decimal(value)
        except InvalidOperation:
            return False
        low, high = parameter.get("MinValue"), parameter.get("MaxValue")
        return number.is_finite() and (low is None or number >= low) and (high is None or number <= high)
    if "AllowedPattern" in parameter and not re.fullmatch(parameter["AllowedPattern"], value):
        return False
    return bool(parameter.get("MinLength", 0) <= len(value) <= parameter.get("MaxLength", len(value)))


def _ref(name: str, parameters: Mapping[str, str]) -> Any:
    return parameters[name] if name in parameters else RESOURCE_REFS[name]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
