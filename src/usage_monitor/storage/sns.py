"""SNS adapter: publish a rendered alert with message attributes subscribers can filter on."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from usage_monitor.core.aws_limits import sns_message_problems, summarize
from usage_monitor.messages.outgoing import OutgoingMessage

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class PublishFailed(Exception):
    """SNS refused or could not be reached; the caller keeps the alert pending for the next run."""


class SnsNotifier:
    """`client` may be a function that makes it: then the client is built on the first publish, so a run
    with nothing to announce (most runs) never pays for loading SNS's service model."""

    def __init__(self, topic_arn: str, client: SNSClient | Callable[[], SNSClient]) -> None:
        self.topic_arn = topic_arn
        self._client = client

    @cached_property
    def client(self) -> SNSClient:
        # A boto3 client is not callable; a factory is.
        return self._client() if callable(self._client) else self._client

    def publish(self, message: OutgoingMessage) -> str:
        """Returns the SNS MessageId."""
        from botocore.exceptions import BotoCoreError, ClientError

        problems = sns_message_problems(message.subject, message.message_json, message.attributes)
        if problems:
            raise PublishFailed(f"message not publishable to SNS: {summarize(problems)}")
        try:
            response = self.client.publish(
                TopicArn=self.topic_arn,
                Subject=message.subject,
                Message=message.message_json,
                MessageStructure="json",
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value} for name, value in message.attributes.items()
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise PublishFailed(f"SNS publish to {self.topic_arn} failed: {exc}") from exc
        return response["MessageId"]
