"""Fixtures for the template tests: an offline SAM transform and a moto CloudFormation deployment.

Both are module-scoped so template.yaml is transformed and deployed once per test module.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from samtranslator.parser.parser import Parser  # type: ignore[import-untyped, unused-ignore]
from samtranslator.translator.arn_generator import ArnGenerator  # type: ignore[import-untyped, unused-ignore]
from samtranslator.translator.translator import Translator  # type: ignore[import-untyped, unused-ignore]
from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped, unused-ignore]

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
REGION: Final = "ap-south-1"
ACCOUNT_ID = "123456789012"  # moto's default account
ARTIFACT_BUCKET = "sam-artifacts-test"
ARTIFACT_KEY = "leegality-usage-monitor/code.zip"
STACK_NAME = "leegality-usage-monitor"

# What `sam deploy` would otherwise fetch from IAM (ListPolicies). The template names no managed policy, so
# the map is only consulted if someone adds one; a static map keeps the transform offline either way.
STATIC_MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}


class StaticManagedPolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader (same `load()` contract) without an IAM client."""

    def __init__(self, policy_map: dict[str, str]) -> None:
        self._policy_map = dict(policy_map)
        self.calls = 0

    def load(self) -> dict[str, str]:
        self.calls += 1
        return self._policy_map


def load_sam_template() -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse(TEMPLATE_PATH.read_text(encoding="utf-8"))
    return template


def sam_transform(template: dict[str, Any], parameter_values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Runs the AWS::Serverless-2016-10-31 transform locally, as CloudFormation would after `sam package`."""
    sam = copy.deepcopy(template)
    # `sam package` replaces the local CodeUri with the uploaded artifact's S3 location.
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://{ARTIFACT_BUCKET}/{ARTIFACT_KEY}"
    loader = StaticManagedPolicyLoader(STATIC_MANAGED_POLICIES)
    previous_region = ArnGenerator.BOTO_SESSION_REGION_NAME
    try:
        # An explicit session region: the transform needs one for pseudo parameters and partitions,
        # and must not depend on the developer's AWS config. Creating a session makes no AWS call.
        translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
        transformed: dict[str, Any] = translator.translate(
            sam,
            parameter_values=dict(parameter_values or {}),
            get_managed_policy_map=loader.load,
        )
    finally:
        ArnGenerator.BOTO_SESSION_REGION_NAME = previous_region
    return transformed


@pytest.fixture(scope="module")
def sam_template() -> dict[str, Any]:
    return load_sam_template()


@pytest.fixture(scope="module")
def transformed(sam_template: dict[str, Any]) -> dict[str, Any]:
    return sam_transform(sam_template)


@dataclass(frozen=True)
class Deployment:
    """Stacks created from the transformed template in moto; clients stay valid while the fixture is active."""

    cloudformation: CloudFormationClient
    dynamodb: DynamoDBClient
    sns: SNSClient
    lambda_: LambdaClient
    iam: IAMClient
    sqs: SQSClient
    logs: Any  # no boto3-stubs extra for CloudWatch Logs in requirements-dev.txt
    # Resource types moto's CloudFormation skipped (it warns and creates nothing for them).
    unsupported_types: frozenset[str]

    def outputs(self, stack_name: str) -> dict[str, str]:
        stack = self.cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def physical_ids(self, stack_name: str) -> dict[str, str]:
        summaries = self.cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
        return {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries if s["LogicalResourceId"]}


# Second stack, deployed next to the first, exercising the non-default branches of the conditions:
# no reserved concurrency, an S3 license list and fan-out enabled.
NO_RESERVATION_STACK = "leegality-usage-monitor-noreserve"
LICENSE_LIST_BUCKET = "fleet-config"
LICENSE_LIST_KEY = "leegality/licenses.txt"
NO_RESERVATION_PARAMETERS = {
    "ReservedConcurrency": "0",
    "LogRetentionDays": "14",
    "LicenseListBucket": LICENSE_LIST_BUCKET,
    "LicenseListKey": LICENSE_LIST_KEY,
    "FanOut": "enabled",
    "FanOutMaxWorkers": "6",
    "FanOutChunkSize": "250",
}
DEFAULT_STACK_PARAMETERS = {"AlertEmail": "ops@example.com", "AlertSmsNumber": "+919812345678"}


def _code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("usage_monitor/__init__.py", "")
        archive.writestr(
            "usage_monitor/app.py",
            "def lambda_handler(event, context):\n    return {}\n\n\n"
            "def worker_handler(event, context):\n    return {}\n",
        )
    return buffer.getvalue()


def _create_stack(
    cloudformation: CloudFormationClient, name: str, template: dict[str, Any], parameters: dict[str, str]
) -> None:
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")


def _dropping_no_value_in_lists() -> Any:
    """moto's CloudFormation keeps `!If [cond, x, !Ref AWS::NoValue]` in a list as None; CloudFormation removes
    the element. The function role's optional inline policies are such list elements, so mirror CloudFormation
    (clean_json recurses through the module attribute, so nested lists are covered too).
    """
    from moto.cloudformation import parsing

    original = parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, list):
            cleaned = [clean_json(value, resources_map) for value in resource_json]
            return [value for value in cleaned if value is not None]
        return original(resource_json, resources_map)

    return mock.patch.object(parsing, "clean_json", clean_json)


_UNSUPPORTED = re.compile(r"Tried to parse (\S+) but it's not supported by moto's CloudFormation")


@pytest.fixture(scope="module")
def deployed(transformed: dict[str, Any]) -> Iterator[Deployment]:
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": REGION}), mock_aws(), _dropping_no_value_in_lists():
        # Never pick up a developer's profile; mock_aws supplies fake keys itself. patch.dict restores these.
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_DEFAULT_PROFILE", None)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACT_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket=ARTIFACT_BUCKET, Key=ARTIFACT_KEY, Body=_code_zip())
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _create_stack(cloudformation, STACK_NAME, transformed, DEFAULT_STACK_PARAMETERS)
            _create_stack(cloudformation, NO_RESERVATION_STACK, transformed, NO_RESERVATION_PARAMETERS)
        unsupported = {m.group(1) for w in caught if (m := _UNSUPPORTED.search(str(w.message)))}
        yield Deployment(
            cloudformation=cloudformation,
            dynamodb=boto3.client("dynamodb", region_name=REGION),
            sns=boto3.client("sns", region_name=REGION),
            lambda_=boto3.client("lambda", region_name=REGION),
            iam=boto3.client("iam", region_name=REGION),
            sqs=boto3.client("sqs", region_name=REGION),
            logs=boto3.client("logs", region_name=REGION),
            unsupported_types=frozenset(unsupported),
        )
