"""template.yaml: offline SAM transform, cfn-lint, least-privilege IAM, a moto deployment, events/*.json.

moto's CloudFormation (5.2.5) cannot check everything: it skips AWS::Scheduler::Schedule,
AWS::SNS::Subscription and AWS::Lambda::EventInvokeConfig, and ignores the table's TimeToLiveSpecification,
PointInTimeRecoverySpecification and SSESpecification and the function's Architectures, TracingConfig and
LoggingConfig. Those are asserted on the transformed template instead.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import tomllib
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint  # type: ignore[import-untyped, unused-ignore]
from cfnlint.config import ManualArgs  # type: ignore[import-untyped, unused-ignore]

from tests.template.conftest import (
    ACCOUNT_ID,
    ARTIFACT_BUCKET,
    ARTIFACT_KEY,
    LICENSE_LIST_BUCKET,
    LICENSE_LIST_KEY,
    NO_RESERVATION_PARAMETERS,
    NO_RESERVATION_STACK,
    REGION,
    ROOT,
    STACK_NAME,
    TEMPLATE_PATH,
)

# moto re-parses stack templates on later calls and warns again about the types it skips; the fixture
# records those warnings once and test_moto_skips_only_the_known_unsupported_types asserts on them.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse .* not supported by moto's CloudFormation")

FUNCTION = "UsageMonitorFunction"
FUNCTION_ROLE = "UsageMonitorFunctionRole"
SCHEDULE = "UsageMonitorFunctionSchedule"
SCHEDULE_ROLE = "UsageMonitorFunctionScheduleRole"
SCHEDULE_QUEUE = "UsageMonitorFunctionScheduleQueue"
DIGEST_SCHEDULE = "UsageMonitorFunctionDigest"
DIGEST_SCHEDULE_ROLE = "UsageMonitorFunctionDigestRole"
WORKER = "UsageMonitorWorkerFunction"
WORKER_ROLE = "UsageMonitorWorkerRole"
WORKER_EVENT_SOURCE = "UsageMonitorWorkerFunctionWorkQueue"
WORK_QUEUE = "WorkQueue"
WORK_DLQ = "WorkDeadLetterQueue"

# Every resource the deployed stack has, after the SAM transform. A new resource must be added here on purpose.
EXPECTED_RESOURCES = {
    FUNCTION: "AWS::Lambda::Function",
    FUNCTION_ROLE: "AWS::IAM::Role",
    "UsageMonitorFunctionEventInvokeConfig": "AWS::Lambda::EventInvokeConfig",
    SCHEDULE: "AWS::Scheduler::Schedule",
    SCHEDULE_ROLE: "AWS::IAM::Role",
    SCHEDULE_QUEUE: "AWS::SQS::Queue",
    DIGEST_SCHEDULE: "AWS::Scheduler::Schedule",
    DIGEST_SCHEDULE_ROLE: "AWS::IAM::Role",
    "UsageMonitorLogGroup": "AWS::Logs::LogGroup",
    "FunctionErrorsAlarm": "AWS::CloudWatch::Alarm",
    "ChecksFailedAlarm": "AWS::CloudWatch::Alarm",
    "NoRunsAlarm": "AWS::CloudWatch::Alarm",
    "ScheduleDeadLetterAlarm": "AWS::CloudWatch::Alarm",
    "UsageDashboard": "AWS::CloudWatch::Dashboard",
    "SnapshotTable": "AWS::DynamoDB::Table",
    "AlertTopic": "AWS::SNS::Topic",
    "AlertEmailSubscription": "AWS::SNS::Subscription",
    "AlertSmsSubscription": "AWS::SNS::Subscription",
    # FanOut=enabled only:
    WORKER: "AWS::Lambda::Function",
    WORKER_ROLE: "AWS::IAM::Role",
    WORKER_EVENT_SOURCE: "AWS::Lambda::EventSourceMapping",
    WORK_QUEUE: "AWS::SQS::Queue",
    WORK_DLQ: "AWS::SQS::Queue",
    "WorkDeadLetterAlarm": "AWS::CloudWatch::Alarm",
    "WorkerErrorsAlarm": "AWS::CloudWatch::Alarm",
    "WorkChunksFailedAlarm": "AWS::CloudWatch::Alarm",
}
FAN_OUT_RESOURCES = {
    WORKER,
    WORKER_ROLE,
    WORKER_EVENT_SOURCE,
    WORK_QUEUE,
    WORK_DLQ,
    "WorkDeadLetterAlarm",
    "WorkerErrorsAlarm",
    "WorkChunksFailedAlarm",
}

# Globals: what checking needs, shared by the scheduled function and the fan-out worker.
SHARED_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "leegality-usage-monitor",
    "POWERTOOLS_METRICS_NAMESPACE": "LeegalityUsageMonitor",
    "POWERTOOLS_LOG_LEVEL": {"Ref": "LogLevel"},
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    "TOKENS_SECRET_ID": {"Ref": "TokensSecretName"},
    "SNAPSHOT_TABLE": {"Ref": "SnapshotTable"},
    "ALERT_TOPIC_ARN": {"Ref": "AlertTopic"},
    "ALERT_THRESHOLDS": {"Ref": "AlertThresholds"},
    "LEEGALITY_BASE_URL": {"Ref": "LeegalityBaseUrl"},
    "SNAPSHOT_RETENTION_DAYS": {"Ref": "SnapshotRetentionDays"},
    "ALERT_REMIND_AFTER_HOURS": {"Ref": "AlertRemindAfterHours"},
    "ALERT_HYSTERESIS_POINTS": {"Ref": "AlertHysteresisPoints"},
    "ALERT_FLAP_CHANGES": {"Ref": "AlertFlapChanges"},
    "ALERT_FLAP_WINDOW_HOURS": {"Ref": "AlertFlapWindowHours"},
    "CRITICAL_AT_LIMIT_ONLY": {"Ref": "CriticalAtLimitOnly"},
    "MAX_CONCURRENCY": {"Ref": "MaxConcurrency"},
    "MAX_REQUESTS_PER_SECOND": {"Ref": "MaxRequestsPerSecond"},
    "ALERT_THRESHOLD_OVERRIDES": {"Ref": "AlertThresholdOverrides"},
    "FORECAST_ALERT_DAYS": {"Ref": "ForecastAlertDays"},
    "METRICS_TOP_LICENSES": {"Ref": "MetricsTopLicenses"},
    "SCHEDULE_RATE": {"Ref": "ScheduleRate"},
    "TOKEN_MAX_AGE_SECONDS": {"Ref": "TokenMaxAgeSeconds"},
    "LEEGALITY_AUTH_HEADER": {"Ref": "AuthHeader"},
    "CA_BUNDLE_PARAMETER": {"Ref": "CaBundleParameter"},
}
LICENSE_LIST_URI = {"Fn::Sub": "s3://${LicenseListBucket}/${LicenseListKey}"}
EXPECTED_ENVIRONMENT = {
    **SHARED_ENVIRONMENT,
    "LICENSE_IDS": {"Ref": "LicenseIds"},
    "LICENSE_LIST_S3_URI": {"Fn::If": ["HasLicenseList", LICENSE_LIST_URI, ""]},
    "FANOUT_QUEUE_URL": {"Fn::If": ["FanOutEnabled", {"Ref": WORK_QUEUE}, ""]},
    "FANOUT_CHUNK_SIZE": {"Ref": "FanOutChunkSize"},
}

EXPECTED_PARAMETER_DEFAULTS = {
    "ScheduleRate": "rate(15 minutes)",
    "ScheduleTimezone": "UTC",
    "TokensSecretName": "leegality-usage-monitor/tokens",
    "LicenseIds": "",
    "AlertThresholds": "80,95",
    "LeegalityBaseUrl": "https://app1.leegality.com/api",
    "AuthHeader": "X-Auth-Token",
    "TokenMaxAgeSeconds": "900",
    "VpcSubnetIds": "",
    "VpcSecurityGroupIds": "",
    "CaBundleParameter": "",
    "SnapshotRetentionDays": "400",
    "AlertRemindAfterHours": "24",
    "AlertHysteresisPoints": "5",
    "AlertFlapChanges": "4",
    "AlertFlapWindowHours": "6",
    "CriticalAtLimitOnly": "false",
    "MaxConcurrency": "16",
    "AlertEmail": "",
    "AlertSmsNumber": "",
    "SmsMinimumSeverity": "critical",
    "LogRetentionDays": 90,
    "LogLevel": "INFO",
    "ReservedConcurrency": 1,
    "MaxRequestsPerSecond": "",
    "AlertThresholdOverrides": "",
    "ForecastAlertDays": "14",
    "MetricsTopLicenses": "3",
    "OperationsTopicArn": "",
    "ChecksFailedAlarmPeriods": "3",
    "LicenseListBucket": "",
    "LicenseListKey": "",
    "FanOut": "disabled",
    "FanOutChunkSize": "500",
    "FanOutMaxWorkers": 4,
    "DigestSchedule": "cron(0 9 ? * MON *)",
    "DigestTimezone": "Asia/Kolkata",
    "Digest": "enabled",
    "SmsDigest": "disabled",
    "PowertoolsLayerVersion": 25,
    "PowertoolsLayerArn": "",
}

SECRET_ARN_PATTERN = (
    "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${TokensSecretName}-??????"
)

# Actions with no resource-level permissions: "*" is the only valid Resource for them.
ACTIONS_ALLOWED_ON_ANY_RESOURCE = frozenset(
    {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "ec2:DescribeNetworkInterfaces"}
)

TABLE_ACTIONS = frozenset(
    {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
    }
)
FORBIDDEN_ACTIONS = frozenset(
    {"dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:CreateTable", "sns:Subscribe"}
)

# cfn-lint informational findings on the SAM-generated DLQ, which the template cannot configure
# (SAM creates the queue with no properties): I3011 = no explicit DeletionPolicy, I3013 = default
# 4-day MessageRetentionPeriod. Anything else, at any level, fails the test.
ACCEPTED_TRANSFORMED_LINT = frozenset({("I3011", SCHEDULE_QUEUE), ("I3013", SCHEDULE_QUEUE)})


# ---------------------------------------------------------------------------------------------------- helpers


def _resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policies(role: dict[str, Any], enabled: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The role's inline policies as deployed when exactly the conditions in `enabled` are true.

    A policy may be `Fn::If [condition, policy, AWS::NoValue]`; nothing else is conditional in a role.
    """
    policies = []
    for policy in role["Properties"].get("Policies", []):
        if "Fn::If" in policy:
            condition, when_true, when_false = policy["Fn::If"]
            assert when_false == {"Ref": "AWS::NoValue"}, policy
            if condition not in enabled:
                continue
            policy = when_true
        policies.append(policy)
    return policies


def _statements(role: dict[str, Any], enabled: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in _policies(role, enabled):
        statements.extend(_as_list(policy["PolicyDocument"]["Statement"]))
    return statements


ALL_CONDITIONS = frozenset({"HasLicenseList", "FanOutEnabled", "InVpc", "HasCaBundle"})


def _allowed(statements: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Action -> every Resource it is allowed on (NotAction/NotResource are rejected outright)."""
    grants: dict[str, list[Any]] = {}
    for statement in statements:
        assert "NotAction" not in statement, statement
        assert "NotResource" not in statement, statement
        assert statement["Effect"] == "Allow", statement
        for action in _as_list(statement["Action"]):
            grants.setdefault(action, []).extend(_as_list(statement["Resource"]))
    return grants


def _lint_findings(text: str) -> list[tuple[str, str, str]]:
    """(rule id, resource logical id or "", message) for every finding, informational ones included."""
    matches = lint(text, config=ManualArgs(regions=[REGION], include_checks=["I"]))
    findings = []
    for match in matches:
        path = list(match.path or [])
        resource = path[1] if len(path) > 1 and path[0] == "Resources" else ""
        findings.append((match.rule.id, resource, match.message))
    return findings


def _inline_policy(iam: Any, role_name: str, policy_name: str) -> dict[str, Any]:
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    if isinstance(document, str):
        # moto returns inline policies created by its CloudFormation as str(dict), not as JSON.
        document = ast.literal_eval(document)
    assert isinstance(document, dict)
    return document


def _role_grants(iam: Any, role_name: str) -> dict[str, list[Any]]:
    statements: list[dict[str, Any]] = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        statements.extend(_as_list(_inline_policy(iam, role_name, name)["Statement"]))
    return _allowed(statements)


def _event(name: str) -> Any:
    return json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))


def _parse_override(item: str) -> tuple[str, str]:
    """One samconfig parameter_overrides entry, `Key=value` or `Key="value with spaces"` (SAM CLI syntax)."""
    key, _, value = item.partition("=")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return key, value


# ------------------------------------------------------------------------------------------ transform + lint


def test_offline_transform_yields_exactly_the_expected_resources(transformed):
    assert "Transform" not in transformed
    assert {k: v["Type"] for k, v in transformed["Resources"].items()} == EXPECTED_RESOURCES
    fan_out = {k for k, v in transformed["Resources"].items() if v.get("Condition") == "FanOutEnabled"}
    assert fan_out == FAN_OUT_RESOURCES


def test_cfn_lint_reports_nothing_on_the_sam_template():
    assert _lint_findings(TEMPLATE_PATH.read_text(encoding="utf-8")) == []


def test_cfn_lint_reports_only_accepted_info_on_the_transformed_template(transformed):
    findings = _lint_findings(json.dumps(transformed, indent=1))
    assert [f for f in findings if (f[0], f[1]) not in ACCEPTED_TRANSFORMED_LINT] == []


def test_parameters_keep_their_contract_defaults(sam_template):
    parameters = sam_template["Parameters"]
    assert {name: p.get("Default") for name, p in parameters.items()} == EXPECTED_PARAMETER_DEFAULTS
    assert parameters["SmsMinimumSeverity"]["AllowedValues"] == ["warning", "critical"]
    assert "https://sandbox.leegality.com/api" in parameters["LeegalityBaseUrl"]["Description"]


@pytest.mark.parametrize(
    ("parameter", "accepted", "rejected"),
    [
        ("AlertSmsNumber", ["", "+919812345678", "+14155550100"], ["9812345678", "+0123456789", "+91 98123 45678"]),
        ("AlertEmail", ["", "ops@example.com"], ["ops", "ops@example", "a b@example.com"]),
        ("LicenseIds", ["", "bd82845c-897b-4022-b5f7-679905c1979b", "a, b.c,d_e"], ["a,,b", "a;b", ","]),
        (
            "AlertThresholds",
            ["80,95", "80, 95", "50%,90.5", "8,80", "0.5"],
            ["", "80,", "eighty", "0", "80,80", "0,50"],
        ),
        ("MaxRequestsPerSecond", ["", "5", "0.5"], ["0", "0.0", "-1", "five"]),
        (
            "AlertThresholdOverrides",
            ["", "signatures=70,90", "signatures=70,90; lic-123/users=95; lic-9/*=50", "users = 80 , 95;"],
            ["signatures", "signatures=0", "*=50", "users=80;oops", "lic/users=abc", "a b/users=50"],
        ),
        ("TokensSecretName", ["leegality-usage-monitor/tokens"], ["", "has space", "arn:aws:x"]),
        (
            "ScheduleRate",
            ["rate(15 minutes)", "rate(1 minute)", "rate(90 minutes)", "rate(24 hours)", "cron(0/15 * * * ? *)"],
            # Forms the health alarms cannot be sized from (issue 19 item 1): beyond CloudWatch's look-back,
            # a count with a sign or zero, a cron() without its six fields.
            [
                *("15 minutes", "every 15m", "rate(181 minutes)", "rate(25 hours)", "rate(8 days)"),
                *("rate(0 minutes)", "rate(15  minutes)", "cron(0 9 * *)"),
            ],
        ),
    ],
)
def test_parameter_patterns_accept_valid_and_reject_invalid_values(sam_template, parameter, accepted, rejected):
    # CloudFormation matches AllowedPattern against the whole value (Java regex; these use only what Java and
    # Python share: lookaheads and a back-reference, no possessive quantifiers).
    pattern = re.compile(sam_template["Parameters"][parameter]["AllowedPattern"])
    assert [v for v in accepted if not pattern.fullmatch(v)] == []
    assert [v for v in rejected if pattern.fullmatch(v)] == []


# ------------------------------------------------------------------------------------------- function + role


def test_function_configuration(transformed):
    function = transformed["Resources"][FUNCTION]["Properties"]
    assert function["Handler"] == "usage_monitor.app.lambda_handler"
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["MemorySize"] == 256
    assert function["Timeout"] == 300
    assert function["Code"] == {"S3Bucket": ARTIFACT_BUCKET, "S3Key": ARTIFACT_KEY}
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "UsageMonitorLogGroup"}}
    assert function["Role"] == {"Fn::GetAtt": [FUNCTION_ROLE, "Arn"]}
    assert function["Environment"]["Variables"] == EXPECTED_ENVIRONMENT


def test_reserved_concurrency_is_omitted_when_zero(sam_template, transformed):
    function = transformed["Resources"][FUNCTION]["Properties"]
    assert function["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReserveConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert sam_template["Conditions"]["ReserveConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, 0]}]
    }


def test_async_invocations_are_dropped_once_the_next_run_is_due(transformed):
    config = transformed["Resources"]["UsageMonitorFunctionEventInvokeConfig"]["Properties"]
    assert config["FunctionName"] == {"Ref": FUNCTION}
    assert config["MaximumEventAgeInSeconds"] == 900
    assert config["MaximumRetryAttempts"] == 2


def test_log_group_has_retention_and_the_function_writes_only_there(transformed):
    log_group = transformed["Resources"]["UsageMonitorLogGroup"]
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    log_group_arn = {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${UsageMonitorLogGroup}:*"
    }
    # The fan-out worker logs to the same group.
    for role in (FUNCTION_ROLE, WORKER_ROLE):
        grants = _allowed(_statements(transformed["Resources"][role], ALL_CONDITIONS))
        logs_grants = {a: r for a, r in grants.items() if a.startswith("logs:")}
        assert logs_grants == {"logs:CreateLogStream": [log_group_arn], "logs:PutLogEvents": [log_group_arn]}, role


def test_function_role_is_least_privilege(transformed):
    role = transformed["Resources"][FUNCTION_ROLE]["Properties"]
    # Managed policies would grant what this test cannot see (AWSLambdaBasicExecutionRole: logs on "*").
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    grants = _allowed(_statements(transformed["Resources"][FUNCTION_ROLE]))

    assert not [a for a in grants if "*" in a], "wildcard actions"
    on_any_resource = {a for a, resources in grants.items() if "*" in resources}
    assert on_any_resource <= ACTIONS_ALLOWED_ON_ANY_RESOURCE
    assert not FORBIDDEN_ACTIONS & grants.keys()
    assert {a.split(":")[0] for a in grants} == {"logs", "xray", "dynamodb", "sns", "secretsmanager"}

    table_arn = {"Fn::GetAtt": ["SnapshotTable", "Arn"]}
    assert {a for a in grants if a.startswith("dynamodb:")} == TABLE_ACTIONS
    assert all(grants[a] == [table_arn] for a in TABLE_ACTIONS)

    assert {a for a in grants if a.startswith("sns:")} == {"sns:Publish"}
    assert grants["sns:Publish"] == [{"Ref": "AlertTopic"}]

    assert {a for a in grants if a.startswith("secretsmanager:")} == {"secretsmanager:GetSecretValue"}
    assert grants["secretsmanager:GetSecretValue"] == [{"Fn::Sub": SECRET_ARN_PATTERN}]


def test_no_iam_role_in_the_stack_has_managed_policies_or_wildcard_resources(transformed):
    for name, role in _resources_of_type(transformed, "AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], name
        star = {a for a, r in _allowed(_statements(role, ALL_CONDITIONS)).items() if "*" in r}
        assert star <= ACTIONS_ALLOWED_ON_ANY_RESOURCE, name


# ------------------------------------------------------------------------------------------------- schedule


def test_schedule_runs_the_function_with_scheduler_context(transformed):
    schedule = transformed["Resources"][SCHEDULE]["Properties"]
    assert schedule["ScheduleExpression"] == {"Ref": "ScheduleRate"}
    assert schedule["ScheduleExpressionTimezone"] == {"Ref": "ScheduleTimezone"}
    assert schedule["State"] == "ENABLED"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    # CloudFormation names it: unique per stack (default and prod can share an account and region).
    assert "Name" not in schedule

    target = schedule["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    assert target["RoleArn"] == {"Fn::GetAtt": [SCHEDULE_ROLE, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 900}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [SCHEDULE_QUEUE, "Arn"]}}
    assert "<aws.scheduler.scheduled-time>" in target["Input"]
    assert "<aws.scheduler.execution-id>" in target["Input"]
    assert json.loads(target["Input"]) == {
        "source": "aws.scheduler",
        "detail-type": "Scheduled Event",
        "id": "<aws.scheduler.execution-id>",
        "time": "<aws.scheduler.scheduled-time>",
        "detail": {},
    }


def test_digest_schedule_asks_the_same_function_for_a_digest(sam_template, transformed):
    schedule = transformed["Resources"][DIGEST_SCHEDULE]["Properties"]
    assert schedule["ScheduleExpression"] == {"Ref": "DigestSchedule"}
    assert schedule["ScheduleExpressionTimezone"] == {"Ref": "DigestTimezone"}
    # Digest=disabled switches the schedule off rather than deleting it.
    assert schedule["State"] == {"Fn::If": ["DigestEnabled", "ENABLED", "DISABLED"]}
    assert sam_template["Conditions"]["DigestEnabled"] == {"Fn::Equals": [{"Ref": "Digest"}, "enabled"]}
    assert sam_template["Parameters"]["Digest"]["AllowedValues"] == ["enabled", "disabled"]
    assert "Name" not in schedule
    target = schedule["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 21600}
    assert json.loads(target["Input"]) == {
        "source": "aws.scheduler",
        "detail-type": "Usage Digest",
        "id": "<aws.scheduler.execution-id>",
        "time": "<aws.scheduler.scheduled-time>",
        "action": "digest",
        "detail": {},
    }
    assert _allowed(_statements(transformed["Resources"][DIGEST_SCHEDULE_ROLE])) == {
        "lambda:InvokeFunction": [{"Fn::GetAtt": [FUNCTION, "Arn"]}],
    }


def _names_for_stack(value: Any, stack_name: str) -> Iterator[str]:
    """Every name a resource property would get, for `Fn::Sub` over the stack name (other forms skipped)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        yield value["Fn::Sub"].replace("${AWS::StackName}", stack_name)


# Names with a length limit under CloudFormation's 128-character stack name, and that limit.
NAME_LIMITS = {
    ("AWS::Scheduler::Schedule", "Name"): 64,
    ("AWS::Scheduler::ScheduleGroup", "Name"): 64,
    ("AWS::Lambda::Function", "FunctionName"): 64,
    ("AWS::SQS::Queue", "QueueName"): 80,
    ("AWS::SNS::Topic", "TopicName"): 256,
    ("AWS::CloudWatch::Dashboard", "DashboardName"): 255,
    ("AWS::IAM::Role", "RoleName"): 64,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
}


@pytest.mark.parametrize("stack_name", ["s", "a" * 53, "a" * 128])
def test_every_name_built_from_the_stack_name_fits_its_limit(transformed, stack_name):
    too_long = [
        (logical_id, prop, name)
        for logical_id, resource in transformed["Resources"].items()
        for (resource_type, prop), limit in NAME_LIMITS.items()
        if resource["Type"] == resource_type
        for name in _names_for_stack(resource.get("Properties", {}).get(prop), stack_name)
        if len(name) > limit
    ]
    assert too_long == []


def test_digest_event_matches_the_digest_schedule_input(transformed):
    event = _event("digest.json")
    template_input = json.loads(transformed["Resources"][DIGEST_SCHEDULE]["Properties"]["Target"]["Input"])
    assert event.keys() == template_input.keys()
    assert {k: v for k, v in event.items() if k not in {"id", "time"}} == {
        k: v for k, v in template_input.items() if k not in {"id", "time"}
    }
    assert uuid.UUID(event["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])


def test_scheduler_role_can_only_invoke_the_function_and_feed_its_dlq(transformed):
    role = transformed["Resources"][SCHEDULE_ROLE]["Properties"]
    principals = [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == [{"Service": ["scheduler.amazonaws.com"]}]
    assert _allowed(_statements(transformed["Resources"][SCHEDULE_ROLE])) == {
        "lambda:InvokeFunction": [{"Fn::GetAtt": [FUNCTION, "Arn"]}],
        "sqs:SendMessage": [{"Fn::GetAtt": [SCHEDULE_QUEUE, "Arn"]}],
    }


# -------------------------------------------------------------------------------------------- table + topic


def test_snapshot_table_definition(transformed):
    table = transformed["Resources"]["SnapshotTable"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    properties = table["Properties"]
    assert properties["KeySchema"] == [
        {"AttributeName": "license_id", "KeyType": "HASH"},
        {"AttributeName": "captured_at", "KeyType": "RANGE"},
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}


def test_alert_subscriptions_are_optional_and_sms_is_filtered_by_severity(sam_template, transformed):
    conditions = sam_template["Conditions"]
    assert conditions["HasAlertEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]}
    assert conditions["HasAlertSms"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertSmsNumber"}, ""]}]}
    assert conditions["SmsCriticalOnly"] == {"Fn::Equals": [{"Ref": "SmsMinimumSeverity"}, "critical"]}

    resources = transformed["Resources"]
    assert resources["AlertTopic"]["Properties"]["DisplayName"] == "Leegality usage"
    email = resources["AlertEmailSubscription"]
    assert email["Condition"] == "HasAlertEmail"
    assert email["Properties"] == {
        "TopicArn": {"Ref": "AlertTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlertEmail"},
    }
    sms = resources["AlertSmsSubscription"]
    assert sms["Condition"] == "HasAlertSms"
    assert sms["Properties"]["Protocol"] == "sms"
    assert sms["Properties"]["Endpoint"] == {"Ref": "AlertSmsNumber"}
    # The digest (severity info, event_type digest) stays out of SMS unless SmsDigest=enabled; with
    # SmsMinimumSeverity=warning, messages without an event_type (CloudWatch alarms) still pass as before.
    assert sms["Properties"]["FilterPolicy"] == {
        "Fn::If": [
            "SmsCriticalOnly",
            {"severity": {"Fn::If": ["SmsGetsDigest", ["critical", "info"], ["critical"]]}},
            {
                "Fn::If": [
                    "SmsGetsDigest",
                    {"Ref": "AWS::NoValue"},
                    {"$or": [{"event_type": [{"anything-but": ["digest"]}]}, {"event_type": [{"exists": False}]}]},
                ]
            },
        ]
    }
    assert sam_template["Conditions"]["SmsGetsDigest"] == {"Fn::Equals": [{"Ref": "SmsDigest"}, "enabled"]}


def test_outputs(transformed):
    outputs = {k: v["Value"] for k, v in transformed["Outputs"].items()}
    assert outputs == {
        "FunctionName": {"Ref": FUNCTION},
        "SnapshotTableName": {"Ref": "SnapshotTable"},
        "AlertTopicArn": {"Ref": "AlertTopic"},
        "TokensSecretArnPattern": {"Fn::Sub": SECRET_ARN_PATTERN},
        "ScheduleName": {"Ref": SCHEDULE},
        "ScheduleDeadLetterQueueUrl": {"Ref": SCHEDULE_QUEUE},
        "WorkerFunctionName": {"Ref": WORKER},
        "WorkQueueUrl": {"Ref": WORK_QUEUE},
        "WorkDeadLetterQueueUrl": {"Ref": WORK_DLQ},
        "DashboardUrl": {
            "Fn::Sub": "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home"
            "?region=${AWS::Region}#dashboards:name=${UsageDashboard}"
        },
    }
    conditional = {k for k, v in transformed["Outputs"].items() if v.get("Condition") == "FanOutEnabled"}
    assert conditional == {"WorkerFunctionName", "WorkQueueUrl", "WorkDeadLetterQueueUrl"}


# ------------------------------------------------------------------------------------------ moto deployment


def test_moto_skips_only_the_known_unsupported_types(deployed):
    assert deployed.unsupported_types == {
        "AWS::Scheduler::Schedule",
        "AWS::SNS::Subscription",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::CloudWatch::Alarm",
    }


def test_deployed_table(deployed):
    name = deployed.outputs(STACK_NAME)["SnapshotTableName"]
    table = deployed.dynamodb.describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": "license_id", "KeyType": "HASH"},
        {"AttributeName": "captured_at", "KeyType": "RANGE"},
    ]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "captured_at", "AttributeType": "S"},
        {"AttributeName": "license_id", "AttributeType": "S"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table.get("GlobalSecondaryIndexes", []) == []


def test_deployed_topic(deployed):
    arn = deployed.outputs(STACK_NAME)["AlertTopicArn"]
    attributes = deployed.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["DisplayName"] == "Leegality usage"


def test_deployed_function(deployed):
    outputs = deployed.outputs(STACK_NAME)
    config = deployed.lambda_.get_function_configuration(FunctionName=outputs["FunctionName"])
    assert config["Handler"] == "usage_monitor.app.lambda_handler"
    assert config["Runtime"] == "python3.13"
    assert config["MemorySize"] == 256
    assert config["Timeout"] == 300
    # moto keeps numbers as numbers; Lambda stores every variable as a string.
    variables = {k: str(v) for k, v in config["Environment"]["Variables"].items()}
    assert variables == {
        "POWERTOOLS_SERVICE_NAME": "leegality-usage-monitor",
        "POWERTOOLS_METRICS_NAMESPACE": "LeegalityUsageMonitor",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        "TOKENS_SECRET_ID": "leegality-usage-monitor/tokens",
        "LICENSE_IDS": "",
        "SNAPSHOT_TABLE": outputs["SnapshotTableName"],
        "ALERT_TOPIC_ARN": outputs["AlertTopicArn"],
        "ALERT_THRESHOLDS": "80,95",
        "LEEGALITY_BASE_URL": "https://app1.leegality.com/api",
        "SNAPSHOT_RETENTION_DAYS": "400",
        "ALERT_REMIND_AFTER_HOURS": "24",
        "ALERT_HYSTERESIS_POINTS": "5",
        "ALERT_FLAP_CHANGES": "4",
        "ALERT_FLAP_WINDOW_HOURS": "6",
        "CRITICAL_AT_LIMIT_ONLY": "false",
        "MAX_CONCURRENCY": "16",
        "MAX_REQUESTS_PER_SECOND": "",
        "ALERT_THRESHOLD_OVERRIDES": "",
        "FORECAST_ALERT_DAYS": "14",
        "METRICS_TOP_LICENSES": "3",
        "SCHEDULE_RATE": "rate(15 minutes)",
        "TOKEN_MAX_AGE_SECONDS": "900",
        "LEEGALITY_AUTH_HEADER": "X-Auth-Token",
        "CA_BUNDLE_PARAMETER": "",
        # Off by default: no license list, no fan-out.
        "LICENSE_LIST_S3_URI": "",
        "FANOUT_QUEUE_URL": "",
        "FANOUT_CHUNK_SIZE": "500",
    }
    role_name = config["Role"].rsplit("/", 1)[-1]
    assert role_name == deployed.physical_ids(STACK_NAME)[FUNCTION_ROLE]


def test_deployed_reserved_concurrency_follows_the_parameter(deployed):
    default_fn = deployed.outputs(STACK_NAME)["FunctionName"]
    assert deployed.lambda_.get_function_concurrency(FunctionName=default_fn)["ReservedConcurrentExecutions"] == 1
    unreserved_fn = deployed.outputs(NO_RESERVATION_STACK)["FunctionName"]
    assert "ReservedConcurrentExecutions" not in deployed.lambda_.get_function_concurrency(FunctionName=unreserved_fn)


def test_deployed_function_role_policies_resolve_to_this_stacks_resources(deployed):
    outputs = deployed.outputs(STACK_NAME)
    ids = deployed.physical_ids(STACK_NAME)
    role_name = ids[FUNCTION_ROLE]
    assert deployed.iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
    grants = _role_grants(deployed.iam, role_name)

    table_arn = deployed.dynamodb.describe_table(TableName=outputs["SnapshotTableName"])["Table"]["TableArn"]
    log_streams = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{ids['UsageMonitorLogGroup']}:*"
    assert grants == {
        **{action: [table_arn] for action in TABLE_ACTIONS},
        "sns:Publish": [outputs["AlertTopicArn"]],
        "secretsmanager:GetSecretValue": [
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:leegality-usage-monitor/tokens-??????"
        ],
        "logs:CreateLogStream": [log_streams],
        "logs:PutLogEvents": [log_streams],
        "xray:PutTraceSegments": ["*"],
        "xray:PutTelemetryRecords": ["*"],
    }
    assert outputs["TokensSecretArnPattern"] == grants["secretsmanager:GetSecretValue"][0]


def test_deployed_log_group_retention_follows_the_parameter(deployed):
    for stack, days in ((STACK_NAME, 90), (NO_RESERVATION_STACK, 14)):
        name = deployed.physical_ids(stack)["UsageMonitorLogGroup"]
        assert name == f"/aws/lambda/{stack}-usage-monitor"
        [group] = deployed.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        assert group["retentionInDays"] == days


def test_deployed_scheduler_role_and_dlq(deployed):
    ids = deployed.physical_ids(STACK_NAME)
    queue_url = deployed.outputs(STACK_NAME)["ScheduleDeadLetterQueueUrl"]
    assert queue_url == ids[SCHEDULE_QUEUE]
    queue_arn = deployed.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    function_arn = deployed.lambda_.get_function_configuration(FunctionName=ids[FUNCTION])["FunctionArn"]
    assert deployed.iam.list_attached_role_policies(RoleName=ids[SCHEDULE_ROLE])["AttachedPolicies"] == []
    assert _role_grants(deployed.iam, ids[SCHEDULE_ROLE]) == {
        "lambda:InvokeFunction": [function_arn],
        "sqs:SendMessage": [queue_arn],
    }


# --------------------------------------------------------------------------------------------------- events


def test_scheduled_event_matches_the_schedule_input(transformed):
    event = _event("scheduled.json")
    template_input = json.loads(transformed["Resources"][SCHEDULE]["Properties"]["Target"]["Input"])
    # Same keys and constants as what Scheduler delivers; only the placeholders are filled in.
    assert event.keys() == template_input.keys()
    assert {k: v for k, v in event.items() if k not in {"id", "time"}} == {
        k: v for k, v in template_input.items() if k not in {"id", "time"}
    }
    assert uuid.UUID(event["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    assert datetime.fromisoformat(event["time"]).utcoffset() is not None


def test_classic_scheduled_event_shape():
    event = _event("scheduled-classic.json")
    assert event.keys() == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["detail"] == {}
    assert uuid.UUID(event["id"])
    assert datetime.fromisoformat(event["time"]).utcoffset() is not None
    assert all(r.startswith("arn:aws:events:") for r in event["resources"])


def test_manual_run_event_shape():
    event = _event("manual-run.json")
    assert event == {"license_ids": ["bd82845c-897b-4022-b5f7-679905c1979b"]}


# ------------------------------------------------------------------------------------------------ samconfig


@pytest.mark.parametrize(("env", "stack_name"), [("default", STACK_NAME), ("prod", "leegality-usage-monitor-prod")])
def test_samconfig_deploy_defaults(sam_template, env, stack_name):
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    deploy = config[env]["deploy"]["parameters"]
    assert deploy["stack_name"] == stack_name
    assert deploy["resolve_s3"] is True
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["confirm_changeset"] is True
    assert deploy["region"] == REGION
    parameters = sam_template["Parameters"]
    overrides = dict(_parse_override(item) for item in deploy["parameter_overrides"])
    assert overrides, "no parameter_overrides"
    for key, value in overrides.items():
        assert key in parameters, f"{env}: unknown parameter {key}"
        spec = parameters[key]
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], (key, value)
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), (key, value)


def test_samconfig_and_template_hold_no_credentials(sam_template):
    text = (ROOT / "samconfig.toml").read_text(encoding="utf-8")
    assert not re.search(r"(?i)aws_secret_access_key|aws_access_key_id|bearer|x-auth-token", text)
    # Leegality tokens are long opaque strings; nothing of that shape belongs in either file.
    assert not re.search(r"[A-Za-z0-9]{24,}", text)
    assert not [n for n, p in sam_template["Parameters"].items() if re.search(r"(?i)token$|password|apikey", n)]


# ------------------------------------------------------------------------------------------------ alarms


@pytest.mark.parametrize(
    ("alarm", "namespace", "metric", "comparison", "missing"),
    [
        ("FunctionErrorsAlarm", "AWS/Lambda", "Errors", "GreaterThanOrEqualToThreshold", "notBreaching"),
        # Missing data breaches: a period without a run counts against the fleet (see test_alarm_sizing.py).
        ("ChecksFailedAlarm", "LeegalityUsageMonitor", "ChecksFailed", "GreaterThanOrEqualToThreshold", "breaching"),
        # No invocation at all must alarm: missing data is the failure.
        ("NoRunsAlarm", "AWS/Lambda", "Invocations", "LessThanThreshold", "breaching"),
        (
            "ScheduleDeadLetterAlarm",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "GreaterThanOrEqualToThreshold",
            "notBreaching",
        ),
    ],
)
def test_health_alarms_notify_the_alert_or_operations_topic(transformed, alarm, namespace, metric, comparison, missing):
    properties = transformed["Resources"][alarm]["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == (namespace, metric)
    assert properties["ComparisonOperator"] == comparison
    assert properties["TreatMissingData"] == missing
    assert properties["AlarmActions"] == [
        {"Fn::If": ["HasOperationsTopic", {"Ref": "OperationsTopicArn"}, {"Ref": "AlertTopic"}]}
    ]


def test_checks_failed_alarm_watches_the_metric_the_code_emits(transformed):
    from usage_monitor.observability import NAMESPACE, SERVICE

    properties = transformed["Resources"]["ChecksFailedAlarm"]["Properties"]
    assert properties["Namespace"] == NAMESPACE
    assert properties["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
    monitor_source = (Path(__file__).parents[2] / "src/usage_monitor/fleet/monitor.py").read_text()
    assert 'name="ChecksFailed"' in monitor_source


# ---------------------------------------------------------------------------------------- S3 license list


def test_license_list_is_optional_and_read_only_on_exactly_its_object(sam_template, transformed):
    assert sam_template["Conditions"]["HasLicenseList"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "LicenseListBucket"}, ""]}]
    }
    role = transformed["Resources"][FUNCTION_ROLE]
    # Default (no bucket): no S3 permission at all.
    assert not [a for a in _allowed(_statements(role)) if a.startswith("s3:")]
    with_list = _allowed(_statements(role, frozenset({"HasLicenseList"})))
    assert {a: r for a, r in with_list.items() if a.startswith("s3:")} == {
        "s3:GetObject": [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${LicenseListBucket}/${LicenseListKey}"}]
    }
    # The worker never reads the list.
    worker_grants = _allowed(_statements(transformed["Resources"][WORKER_ROLE], ALL_CONDITIONS))
    assert not [a for a in worker_grants if a.startswith("s3:")]


def test_a_license_list_bucket_without_a_key_is_refused_at_deploy(sam_template):
    rule = sam_template["Rules"]["LicenseListNeedsAKey"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "LicenseListBucket"}, ""]}]}
    assert [a["Assert"] for a in rule["Assertions"]] == [{"Fn::Not": [{"Fn::Equals": [{"Ref": "LicenseListKey"}, ""]}]}]


@pytest.mark.parametrize(
    ("parameter", "accepted", "rejected"),
    [
        ("LicenseListBucket", ["", "fleet-config", "my.bucket-01"], ["Fleet", "a", "bucket/key", "-bucket"]),
        ("LicenseListKey", ["", "licenses.txt", "leegality/prod licenses.csv"], ["*", "lists/*.txt", "a?b"]),
    ],
)
def test_license_list_parameter_patterns(sam_template, parameter, accepted, rejected):
    pattern = re.compile(sam_template["Parameters"][parameter]["AllowedPattern"])
    assert [v for v in accepted if not pattern.fullmatch(v)] == []
    assert [v for v in rejected if pattern.fullmatch(v)] == []


def test_the_bucket_pattern_matches_what_the_code_accepts(sam_template):
    from usage_monitor.core.errors import ConfigError
    from usage_monitor.settings import Settings

    pattern = re.compile(sam_template["Parameters"]["LicenseListBucket"]["AllowedPattern"])
    base = {"TOKENS_SECRET_ID": "s", "SNAPSHOT_TABLE": "t", "ALERT_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:x"}
    for bucket in ("fleet-config", "my.bucket-01", "Fleet", "ab", "-bucket"):
        try:
            Settings.from_env({**base, "LICENSE_LIST_S3_URI": f"s3://{bucket}/licenses.txt"})
            code_accepts = True
        except ConfigError:
            code_accepts = False
        assert bool(pattern.fullmatch(bucket)) == code_accepts, bucket


# ------------------------------------------------------------------------------------------------ fan-out


def test_fan_out_parameters(sam_template):
    parameters = sam_template["Parameters"]
    assert parameters["FanOut"]["AllowedValues"] == ["disabled", "enabled"]
    assert sam_template["Conditions"]["FanOutEnabled"] == {"Fn::Equals": [{"Ref": "FanOut"}, "enabled"]}
    # Lambda's SQS MaximumConcurrency accepts 2-1000.
    assert (parameters["FanOutMaxWorkers"]["MinValue"], parameters["FanOutMaxWorkers"]["MaxValue"]) == (2, 1000)
    # The code accepts 1-5000; the template stops where a chunk of 128-character IDs still fits one message.
    chunk_size = re.compile(parameters["FanOutChunkSize"]["AllowedPattern"])
    assert [v for v in ("1", "500", "1000") if not chunk_size.fullmatch(v)] == []
    assert [v for v in ("0", "1001", "250.0", "0500") if chunk_size.fullmatch(v)] == []


def test_work_queue_is_encrypted_with_a_dead_letter_queue(transformed):
    resources = transformed["Resources"]
    queue = resources[WORK_QUEUE]["Properties"]
    worker_timeout = resources[WORKER]["Properties"]["Timeout"]
    assert queue["SqsManagedSseEnabled"] is True
    # AWS: the visibility timeout of an event source queue should be at least 6 x the function timeout.
    assert queue["VisibilityTimeout"] >= 6 * worker_timeout
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [WORK_DLQ, "Arn"]}, "maxReceiveCount": 3}
    # A chunk must be able to fail 3 times before it expires, or it would vanish instead of reaching the DLQ.
    assert queue["MessageRetentionPeriod"] > 3 * queue["VisibilityTimeout"]
    dlq = resources[WORK_DLQ]["Properties"]
    assert dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dlq["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]


def test_worker_function_configuration(transformed):
    worker = transformed["Resources"][WORKER]["Properties"]
    function = transformed["Resources"][FUNCTION]["Properties"]
    assert worker["Handler"] == "usage_monitor.app.worker_handler"
    assert worker["Code"] == function["Code"]
    for same in ("Runtime", "Architectures", "TracingConfig", "MemorySize", "LoggingConfig"):
        assert worker[same] == function[same], same
    assert worker["Role"] == {"Fn::GetAtt": [WORKER_ROLE, "Arn"]}
    # Workers run in parallel (capped by the event source), unlike the scheduled function.
    assert "ReservedConcurrentExecutions" not in worker
    assert worker["Environment"]["Variables"] == SHARED_ENVIRONMENT
    from usage_monitor import app

    assert callable(app.worker_handler)


def test_worker_event_source_reports_failed_chunks_one_at_a_time(transformed):
    mapping = transformed["Resources"][WORKER_EVENT_SOURCE]["Properties"]
    assert mapping == {
        "EventSourceArn": {"Fn::GetAtt": [WORK_QUEUE, "Arn"]},
        "FunctionName": {"Ref": WORKER},
        "BatchSize": 1,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": {"Ref": "FanOutMaxWorkers"}},
    }


def test_dispatcher_may_only_send_and_worker_only_receive(transformed):
    queue_arn = {"Fn::GetAtt": [WORK_QUEUE, "Arn"]}
    dispatcher = _allowed(_statements(transformed["Resources"][FUNCTION_ROLE], frozenset({"FanOutEnabled"})))
    assert {a: r for a, r in dispatcher.items() if a.startswith("sqs:")} == {"sqs:SendMessage": [queue_arn]}
    assert not [a for a in _allowed(_statements(transformed["Resources"][FUNCTION_ROLE])) if a.startswith("sqs:")]

    worker_role = transformed["Resources"][WORKER_ROLE]
    assert worker_role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    worker = _allowed(_statements(worker_role, ALL_CONDITIONS))
    receive = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
    assert {a: r for a, r in worker.items() if a.startswith("sqs:")} == {a: [queue_arn] for a in receive}
    # Otherwise exactly what the scheduled function has for checking.
    checking = _allowed(_statements(transformed["Resources"][FUNCTION_ROLE], ALL_CONDITIONS - {"FanOutEnabled"}))
    checking = {a: r for a, r in checking.items() if not a.startswith("s3:")}
    assert {a: r for a, r in worker.items() if not a.startswith("sqs:")} == checking


def test_work_dead_letter_alarm(transformed):
    properties = transformed["Resources"]["WorkDeadLetterAlarm"]["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert properties["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [WORK_DLQ, "QueueName"]}}]
    assert (properties["Statistic"], properties["Threshold"]) == ("Maximum", 1)
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert properties["TreatMissingData"] == "notBreaching"
    assert properties["AlarmActions"] == [
        {"Fn::If": ["HasOperationsTopic", {"Ref": "OperationsTopicArn"}, {"Ref": "AlertTopic"}]}
    ]


def test_default_stack_has_no_fan_out_resources(deployed):
    ids = deployed.physical_ids(STACK_NAME)
    assert not FAN_OUT_RESOURCES & ids.keys()
    assert not {"WorkQueueUrl", "WorkerFunctionName"} & deployed.outputs(STACK_NAME).keys()


def test_deployed_license_list_and_fan_out_stack(deployed):
    outputs = deployed.outputs(NO_RESERVATION_STACK)
    ids = deployed.physical_ids(NO_RESERVATION_STACK)
    queue_url = outputs["WorkQueueUrl"]
    dlq_url = outputs["WorkDeadLetterQueueUrl"]

    def attributes(url: str) -> dict[str, str]:
        return dict(deployed.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])

    queue, dlq = attributes(queue_url), attributes(dlq_url)
    assert queue["VisibilityTimeout"] == "1800"
    assert json.loads(queue["RedrivePolicy"]) == {"deadLetterTargetArn": dlq["QueueArn"], "maxReceiveCount": 3}
    assert dlq["MessageRetentionPeriod"] == "1209600"

    # The scheduled function: the list URI, the queue URL, the chunk size.
    config = deployed.lambda_.get_function_configuration(FunctionName=outputs["FunctionName"])
    variables = {k: str(v) for k, v in config["Environment"]["Variables"].items()}
    assert variables["LICENSE_LIST_S3_URI"] == f"s3://{LICENSE_LIST_BUCKET}/{LICENSE_LIST_KEY}"
    assert variables["FANOUT_QUEUE_URL"] == queue_url
    assert variables["FANOUT_CHUNK_SIZE"] == NO_RESERVATION_PARAMETERS["FanOutChunkSize"]
    dispatcher = _role_grants(deployed.iam, ids[FUNCTION_ROLE])
    assert dispatcher["s3:GetObject"] == [f"arn:aws:s3:::{LICENSE_LIST_BUCKET}/{LICENSE_LIST_KEY}"]
    assert dispatcher["sqs:SendMessage"] == [queue["QueueArn"]]

    # The worker: same checking environment, its own role, fed by the queue one chunk at a time.
    worker = deployed.lambda_.get_function_configuration(FunctionName=outputs["WorkerFunctionName"])
    assert worker["Handler"] == "usage_monitor.app.worker_handler"
    assert worker["Role"].rsplit("/", 1)[-1] == ids[WORKER_ROLE]
    worker_variables = {k: str(v) for k, v in worker["Environment"]["Variables"].items()}
    assert worker_variables == {k: v for k, v in variables.items() if k in SHARED_ENVIRONMENT}
    concurrency = deployed.lambda_.get_function_concurrency(FunctionName=outputs["WorkerFunctionName"])
    assert "ReservedConcurrentExecutions" not in concurrency
    worker_grants = _role_grants(deployed.iam, ids[WORKER_ROLE])
    assert {a: r for a, r in worker_grants.items() if a.startswith("sqs:")} == {
        a: [queue["QueueArn"]] for a in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
    }
    assert not [a for a in worker_grants if a.startswith("s3:")]
    [mapping] = deployed.lambda_.list_event_source_mappings(FunctionName=outputs["WorkerFunctionName"])[
        "EventSourceMappings"
    ]
    assert mapping["EventSourceArn"] == queue["QueueArn"]
    assert mapping["BatchSize"] == 1


def test_sqs_chunk_event_is_what_the_worker_accepts():
    from usage_monitor.fleet.fanout import parse_chunk

    event = _event("sqs-chunk.json")
    [record] = event["Records"]
    assert record.keys() == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].startswith(f"arn:aws:sqs:{REGION}:")
    chunk = parse_chunk(record["body"])
    assert (chunk.chunk, chunk.chunks) == (1, 1)
    assert chunk.license_ids == ("bd82845c-897b-4022-b5f7-679905c1979b",)


def test_checkov_passes_with_every_optional_resource_deployed(sam_template, tmp_path):
    """checkov evaluates conditions with the parameters' defaults, so `make checkov` never sees the fan-out
    resources (FanOut defaults to disabled) or the license-list policy. Scan a copy with them switched on."""
    import subprocess

    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    if not checkov.exists():
        pytest.skip("checkov is installed by `make checkov` (make test) into .venv-checkov")
    variant = copy.deepcopy(sam_template)
    defaults = {"FanOut": "enabled", "LicenseListBucket": LICENSE_LIST_BUCKET, "LicenseListKey": LICENSE_LIST_KEY}
    for name, value in defaults.items():
        variant["Parameters"][name]["Default"] = value
    path = tmp_path / "template-all-enabled.json"
    path.write_text(json.dumps(variant), encoding="utf-8")

    result = subprocess.run(
        [str(checkov), "-f", str(path), "--framework", "cloudformation", "--compact", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    report = json.loads(result.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    scanned = {c["resource"] for c in report["results"]["passed_checks"] + report["results"]["skipped_checks"]}
    optional = {f"AWS::SQS::Queue.{WORK_QUEUE}", f"AWS::Serverless::Function.{WORKER}", f"AWS::IAM::Role.{WORKER_ROLE}"}
    assert optional <= scanned


# --------------------------------------------------------------------------------------------- dashboard


def _dashboard_body(transformed: dict[str, Any]) -> dict[str, Any]:
    """The dashboard JSON with the Fn::Sub placeholders filled in as CloudFormation would."""
    template, values = transformed["Resources"]["UsageDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    text = template
    for name, value in {
        **values,
        "AWS::Region": "ap-south-1",
        "SnapshotTable": "t",
        "UsageMonitorFunction": "f",
    }.items():
        text = text.replace("${" + name + "}", str(value))
    assert "${" not in text, "an unresolved placeholder is left in the dashboard"
    body: dict[str, Any] = json.loads(text)
    return body


def test_dashboard_is_valid_json_and_charts_the_metrics_the_code_emits(transformed):
    body = _dashboard_body(transformed)
    charted = json.dumps(body)
    observability = (Path(__file__).parents[2] / "src/usage_monitor/observability.py").read_text()
    monitor = (Path(__file__).parents[2] / "src/usage_monitor/fleet/monitor.py").read_text()
    for metric in ("UsagePercentMax", "UsagePercent", "DaysToLimitMin", "AlertsPublished"):
        assert f'MetricName=\\"{metric}\\"' in charted
        assert f'"{metric}"' in observability
    for metric in ("ChecksSucceeded", "ChecksFailed"):
        assert f'"{metric}"' in charted
        assert f'name="{metric}"' in monitor
    assert {w["type"] for w in body["widgets"]} == {"text", "metric"}


def test_issue_five_settings_reach_the_function(transformed):
    variables = transformed["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]
    assert variables["ALERT_THRESHOLD_OVERRIDES"] == {"Ref": "AlertThresholdOverrides"}
    assert variables["FORECAST_ALERT_DAYS"] == {"Ref": "ForecastAlertDays"}
    assert variables["METRICS_TOP_LICENSES"] == {"Ref": "MetricsTopLicenses"}
    assert variables["MAX_REQUESTS_PER_SECOND"] == {"Ref": "MaxRequestsPerSecond"}


def test_worker_errors_alarm_exists_only_with_fan_out(transformed):
    alarm = transformed["Resources"]["WorkerErrorsAlarm"]
    assert alarm["Condition"] == "FanOutEnabled"
    properties = alarm["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == ("AWS/Lambda", "Errors")
    assert properties["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": WORKER}}]


def test_failed_work_chunks_alarm_exists_only_with_fan_out_and_watches_the_workers_metric(transformed):
    # A worker whose chunks all fail returns them as batchItemFailures: a successful invocation, no Errors.
    from usage_monitor.observability import NAMESPACE, SERVICE

    alarm = transformed["Resources"]["WorkChunksFailedAlarm"]
    assert alarm["Condition"] == "FanOutEnabled"
    properties = alarm["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == (NAMESPACE, "WorkChunksFailed")
    assert properties["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
    assert (properties["Statistic"], properties["Threshold"], properties["EvaluationPeriods"]) == ("Sum", 1, 1)
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert properties["TreatMissingData"] == "notBreaching"
    assert properties["AlarmActions"] == [
        {"Fn::If": ["HasOperationsTopic", {"Ref": "OperationsTopicArn"}, {"Ref": "AlertTopic"}]}
    ]


# ------------------------------------------------------------------------------------- on-premise SignStation


@pytest.mark.parametrize("role", [FUNCTION_ROLE, WORKER_ROLE])
def test_vpc_and_ca_bundle_permissions_exist_only_when_set_and_are_scoped(transformed, role):
    plain = _allowed(_statements(transformed["Resources"][role]))
    assert not [a for a in plain if a.startswith(("ec2:", "ssm:"))]  # nothing without the parameters

    grants = _allowed(_statements(transformed["Resources"][role], ALL_CONDITIONS))
    account = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}"
    assert grants["ec2:CreateNetworkInterface"] == [
        {"Fn::Sub": f"{account}:network-interface/*"},
        {"Fn::Sub": f"{account}:subnet/*"},
        {"Fn::Sub": f"{account}:security-group/*"},
    ]
    for action in ("ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"):
        assert grants[action] == [{"Fn::Sub": f"{account}:network-interface/*"}]
    assert grants["ec2:DescribeNetworkInterfaces"] == ["*"]
    assert grants["ssm:GetParameter"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${CaBundleParameter}"}
    ]


@pytest.mark.parametrize("function", [FUNCTION, WORKER])
def test_functions_join_the_vpc_only_when_subnets_are_given(transformed, function):
    vpc = transformed["Resources"][function]["Properties"]["VpcConfig"]
    assert vpc == {
        "Fn::If": [
            "InVpc",
            {"SubnetIds": {"Ref": "VpcSubnetIds"}, "SecurityGroupIds": {"Ref": "VpcSecurityGroupIds"}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert transformed["Conditions"]["InVpc"] == {
        "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "VpcSubnetIds"}]}, ""]}]
    }


def test_critical_at_limit_only_parameter_matches_the_code_and_the_descriptions(sam_template, transformed):
    # Issue 19 item 17: the template promises "the highest is critical"; the code makes it so unless
    # CriticalAtLimitOnly is true, and every value the template allows is one the settings code accepts.
    from usage_monitor.settings import parse_flag

    parameter = sam_template["Parameters"]["CriticalAtLimitOnly"]
    assert {value: parse_flag(value, "CRITICAL_AT_LIMIT_ONLY") for value in parameter["AllowedValues"]} == {
        "false": False,
        "true": True,
    }
    assert parse_flag(parameter["Default"], "CRITICAL_AT_LIMIT_ONLY") is False
    assert "The highest is critical" in sam_template["Parameters"]["AlertThresholds"]["Description"]
    assert "CriticalAtLimitOnly" in sam_template["Parameters"]["AlertThresholds"]["Description"]
    environment = transformed["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]
    assert environment["CRITICAL_AT_LIMIT_ONLY"] == {"Ref": "CriticalAtLimitOnly"}
