"""template.yaml: offline SAM transform, cfn-lint, least-privilege IAM, a moto deployment, events/*.json.

moto's CloudFormation (5.2.5) cannot check everything: it skips AWS::Scheduler::Schedule,
AWS::SNS::Subscription and AWS::Lambda::EventInvokeConfig, and ignores the table's TimeToLiveSpecification,
PointInTimeRecoverySpecification and SSESpecification and the function's Architectures, TracingConfig and
LoggingConfig. Those are asserted on the transformed template instead.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
import uuid
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

# Every resource the deployed stack has, after the SAM transform. A new resource must be added here on purpose.
EXPECTED_RESOURCES = {
    FUNCTION: "AWS::Lambda::Function",
    FUNCTION_ROLE: "AWS::IAM::Role",
    "UsageMonitorFunctionEventInvokeConfig": "AWS::Lambda::EventInvokeConfig",
    SCHEDULE: "AWS::Scheduler::Schedule",
    SCHEDULE_ROLE: "AWS::IAM::Role",
    SCHEDULE_QUEUE: "AWS::SQS::Queue",
    "UsageMonitorLogGroup": "AWS::Logs::LogGroup",
    "FunctionErrorsAlarm": "AWS::CloudWatch::Alarm",
    "ChecksFailedAlarm": "AWS::CloudWatch::Alarm",
    "NoRunsAlarm": "AWS::CloudWatch::Alarm",
    "ScheduleDeadLetterAlarm": "AWS::CloudWatch::Alarm",
    "SnapshotTable": "AWS::DynamoDB::Table",
    "AlertTopic": "AWS::SNS::Topic",
    "AlertEmailSubscription": "AWS::SNS::Subscription",
    "AlertSmsSubscription": "AWS::SNS::Subscription",
}

EXPECTED_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "leegality-usage-monitor",
    "POWERTOOLS_METRICS_NAMESPACE": "LeegalityUsageMonitor",
    "POWERTOOLS_LOG_LEVEL": {"Ref": "LogLevel"},
    "TOKENS_SECRET_ID": {"Ref": "TokensSecretName"},
    "LICENSE_IDS": {"Ref": "LicenseIds"},
    "SNAPSHOT_TABLE": {"Ref": "SnapshotTable"},
    "ALERT_TOPIC_ARN": {"Ref": "AlertTopic"},
    "ALERT_THRESHOLDS": {"Ref": "AlertThresholds"},
    "LEEGALITY_BASE_URL": {"Ref": "LeegalityBaseUrl"},
    "SNAPSHOT_RETENTION_DAYS": {"Ref": "SnapshotRetentionDays"},
    "ALERT_REMIND_AFTER_HOURS": {"Ref": "AlertRemindAfterHours"},
    "MAX_CONCURRENCY": {"Ref": "MaxConcurrency"},
}

EXPECTED_PARAMETER_DEFAULTS = {
    "ScheduleRate": "rate(15 minutes)",
    "ScheduleTimezone": "UTC",
    "TokensSecretName": "leegality-usage-monitor/tokens",
    "LicenseIds": "",
    "AlertThresholds": "80,95",
    "LeegalityBaseUrl": "https://app1.leegality.com/api",
    "SnapshotRetentionDays": 400,
    "AlertRemindAfterHours": 24,
    "MaxConcurrency": 16,
    "AlertEmail": "",
    "AlertSmsNumber": "",
    "SmsMinimumSeverity": "critical",
    "LogRetentionDays": 90,
    "LogLevel": "INFO",
    "ReservedConcurrency": 1,
    "OperationsTopicArn": "",
    "ChecksFailedAlarmPeriods": 3,
}

SECRET_ARN_PATTERN = (
    "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${TokensSecretName}-??????"
)

# Actions with no resource-level permissions: "*" is the only valid Resource for them.
ACTIONS_ALLOWED_ON_ANY_RESOURCE = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})

TABLE_ACTIONS = frozenset(
    {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:ConditionCheckItem",
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


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in role["Properties"].get("Policies", []):
        statements.extend(_as_list(policy["PolicyDocument"]["Statement"]))
    return statements


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
        ("AlertThresholds", ["80,95", "80, 95", "50%,90.5"], ["", "80,", "eighty"]),
        ("TokensSecretName", ["leegality-usage-monitor/tokens"], ["", "has space", "arn:aws:x"]),
        ("ScheduleRate", ["rate(15 minutes)", "cron(0/15 * * * ? *)"], ["15 minutes", "every 15m"]),
    ],
)
def test_parameter_patterns_accept_valid_and_reject_invalid_values(sam_template, parameter, accepted, rejected):
    # CloudFormation matches AllowedPattern against the whole value (Java regex; these use no Java-only syntax).
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
    grants = _allowed(_statements(transformed["Resources"][FUNCTION_ROLE]))
    logs_grants = {a: r for a, r in grants.items() if a.startswith("logs:")}
    log_group_arn = {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${UsageMonitorLogGroup}:*"
    }
    assert logs_grants == {"logs:CreateLogStream": [log_group_arn], "logs:PutLogEvents": [log_group_arn]}


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
        star = {a for a, r in _allowed(_statements(role)).items() if "*" in r}
        assert star <= ACTIONS_ALLOWED_ON_ANY_RESOURCE, name


# ------------------------------------------------------------------------------------------------- schedule


def test_schedule_runs_the_function_with_scheduler_context(transformed):
    schedule = transformed["Resources"][SCHEDULE]["Properties"]
    assert schedule["ScheduleExpression"] == {"Ref": "ScheduleRate"}
    assert schedule["ScheduleExpressionTimezone"] == {"Ref": "ScheduleTimezone"}
    assert schedule["State"] == "ENABLED"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    # Per-stack name: default and prod stacks can share an account and region.
    assert schedule["Name"] == {"Fn::Sub": "${AWS::StackName}-usage-check"}

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
    assert sms["Properties"]["FilterPolicy"] == {
        "Fn::If": ["SmsCriticalOnly", {"severity": ["critical"]}, {"Ref": "AWS::NoValue"}]
    }


def test_outputs(transformed):
    outputs = {k: v["Value"] for k, v in transformed["Outputs"].items()}
    assert outputs == {
        "FunctionName": {"Ref": FUNCTION},
        "SnapshotTableName": {"Ref": "SnapshotTable"},
        "AlertTopicArn": {"Ref": "AlertTopic"},
        "TokensSecretArnPattern": {"Fn::Sub": SECRET_ARN_PATTERN},
        "ScheduleName": {"Ref": SCHEDULE},
        "ScheduleDeadLetterQueueUrl": {"Ref": SCHEDULE_QUEUE},
    }


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
        "TOKENS_SECRET_ID": "leegality-usage-monitor/tokens",
        "LICENSE_IDS": "",
        "SNAPSHOT_TABLE": outputs["SnapshotTableName"],
        "ALERT_TOPIC_ARN": outputs["AlertTopicArn"],
        "ALERT_THRESHOLDS": "80,95",
        "LEEGALITY_BASE_URL": "https://app1.leegality.com/api",
        "SNAPSHOT_RETENTION_DAYS": "400",
        "ALERT_REMIND_AFTER_HOURS": "24",
        "MAX_CONCURRENCY": "16",
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
        ("ChecksFailedAlarm", "LeegalityUsageMonitor", "ChecksFailed", "GreaterThanOrEqualToThreshold", "notBreaching"),
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
    monitor_source = (Path(__file__).parents[2] / "src/usage_monitor/monitor.py").read_text()
    assert 'name="ChecksFailed"' in monitor_source
