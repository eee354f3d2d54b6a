"""In-process AWS for local runs, tests and the benchmark: resources shaped like template.yaml's.

The table's keys, billing mode and TTL attribute are read from template.yaml itself, so the local
table cannot drift from the deployed one.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

REGION = "ap-south-1"
ACCOUNT_ID = "123456789012"  # moto's default account
ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"


@cache
def template() -> dict[str, Any]:
    from cfnlint.decode import decode

    document, errors = decode(str(TEMPLATE))
    if errors or document is None:
        raise RuntimeError(f"template.yaml does not parse: {errors}")
    return dict(document)


def table_properties() -> dict[str, Any]:
    properties: dict[str, Any] = template()["Resources"]["SnapshotTable"]["Properties"]
    return properties


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


@dataclass(frozen=True)
class LocalStack:
    table_name: str
    topic_arn: str
    queue_url: str
    secret_id: str

    def environment(self, base_url: str, **overrides: str) -> dict[str, str]:
        """The function's environment, as template.yaml sets it, pointing at local resources."""
        env = {
            "TOKENS_SECRET_ID": self.secret_id,
            "SNAPSHOT_TABLE": self.table_name,
            "ALERT_TOPIC_ARN": self.topic_arn,
            "ALERT_THRESHOLDS": "80,95",
            "LEEGALITY_BASE_URL": base_url,
            "LICENSE_IDS": "",
            "POWERTOOLS_SERVICE_NAME": "leegality-usage-monitor",
            "POWERTOOLS_METRICS_NAMESPACE": "LeegalityUsageMonitor",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        env.update(overrides)
        return env


def provision(session: Any, secret_value: str, *, secret_id: str = "leegality-usage-monitor/tokens") -> LocalStack:
    """Create the table, topic (with an SQS queue subscribed) and secret under moto."""
    properties = table_properties()
    dynamodb = session.client("dynamodb", region_name=REGION)
    table_name = "usage-snapshots"
    dynamodb.create_table(
        TableName=table_name,
        KeySchema=properties["KeySchema"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        BillingMode=properties["BillingMode"],
    )
    ttl = properties["TimeToLiveSpecification"]
    dynamodb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
    )
    sns = session.client("sns", region_name=REGION)
    topic_arn = sns.create_topic(Name="leegality-usage-alerts")["TopicArn"]
    sqs = session.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    session.client("secretsmanager", region_name=REGION).create_secret(Name=secret_id, SecretString=secret_value)
    return LocalStack(table_name, topic_arn, queue_url, secret_id)


@dataclass(frozen=True)
class PublishedAlert:
    """A message as our code published it (all protocol forms), read back from moto's SNS."""

    subject: str
    email: str
    sms: str
    default: str
    attributes: dict[str, str]
    chat: str = ""  # the `https` form: Amazon Q Developer's custom-notification event (JSON)


def published_alerts(topic_arn: str) -> list[PublishedAlert]:
    from moto.sns.models import sns_backends

    topic = sns_backends[ACCOUNT_ID][REGION].topics[topic_arn]
    alerts = []
    for _message_id, message, subject, attributes, _group in topic.sent_notifications:
        forms = json.loads(message)
        alerts.append(
            PublishedAlert(
                subject=subject or "",
                email=forms["email"],
                sms=forms["sms"],
                default=forms["default"],
                attributes={k: v["Value"] for k, v in (attributes or {}).items()},
                chat=forms.get("https", ""),
            )
        )
    return alerts


def delivered_messages(session: Any, queue_url: str) -> list[dict[str, Any]]:
    """Drain the SQS queue subscribed to the topic: SNS envelopes as an SQS subscriber gets them."""
    sqs = session.client("sqs", region_name=REGION)
    envelopes: list[dict[str, Any]] = []
    while True:
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = response.get("Messages", [])
        if not messages:
            return envelopes
        for message in messages:
            envelopes.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@dataclass
class FakeContext:
    """The parts of Powertools' `LambdaContext` the handler uses."""

    timeout_seconds: float = 300.0
    function_name: str = "leegality-usage-monitor"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:leegality-usage-monitor"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000)


def put_license_list(
    session: Any, text: str | bytes, *, bucket: str = "fleet-config", key: str = "licenses.txt"
) -> str:
    """An S3 license list (creating the bucket if needed); returns its `s3://bucket/key` URI."""
    s3 = session.client("s3", region_name=REGION)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8") if isinstance(text, str) else text)
    return f"s3://{bucket}/{key}"


def create_work_queue(session: Any, name: str = "usage-monitor-work") -> str:
    """The fan-out work queue (template.yaml's WorkQueue); returns its URL."""
    url: str = session.client("sqs", region_name=REGION).create_queue(QueueName=name)["QueueUrl"]
    return url


def lambda_sqs_event(session: Any, queue_url: str) -> dict[str, Any]:
    """Receive every visible message and wrap them as Lambda's SQS event source mapping delivers them.

    The messages stay in the queue (invisible for its visibility timeout), as they would while a worker runs.
    """
    sqs = session.client("sqs", region_name=REGION)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    records: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return {"Records": records}
        for message in messages:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": REGION,
                }
            )
