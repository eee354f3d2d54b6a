"""Integration fixtures: the real handler, moto for AWS, the Leegality simulator on 127.0.0.1."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.aws import REGION, FakeContext, LocalStack, PublishedAlert, delivered_messages, provision, published_alerts
from local.simulator import LeegalitySimulator, usage_of
from usage_monitor import app
from usage_monitor.observability import logger

HEALTHY = usage_of(users=(233, 1000), departments=(23, 1000), signatures=(23, 1000), certificates=(23, 1000))


@dataclass
class Harness:
    """One deployed-like environment: simulator, moto resources, and the handler's environment."""

    simulator: LeegalitySimulator
    session: Any
    stack: LocalStack
    monkeypatch: pytest.MonkeyPatch
    env: dict[str, str] = field(default_factory=dict)

    def configure(self, **overrides: str) -> None:
        self.env = self.stack.environment(self.simulator.base_url, **overrides)
        for name, value in self.env.items():
            self.monkeypatch.setenv(name, value)

    def set_secret(self, value: str | dict[str, str]) -> None:
        text = value if isinstance(value, str) else json.dumps(value)
        self.session.client("secretsmanager", region_name=REGION).put_secret_value(
            SecretId=self.stack.secret_id, SecretString=text
        )
        app.reset()  # a new container: the secret cache starts empty

    def invoke(self, event: dict[str, Any] | None = None, *, time: str | None = None, **context: Any) -> dict[str, Any]:
        if event is None:
            event = scheduled_event(time or "2026-11-24T09:15:00Z")
        result: dict[str, Any] = app.lambda_handler(event, FakeContext(**context))
        return result

    @property
    def table(self) -> Any:
        return self.session.resource("dynamodb", region_name=REGION).Table(self.stack.table_name)

    @property
    def dynamo_table(self) -> Any:
        """The table as the code reads and writes it: the low-level client with plain values."""
        from usage_monitor.storage.dynamo import DynamoTable

        return DynamoTable(self.session.client("dynamodb", region_name=REGION), self.stack.table_name)

    def snapshots(self, license_id: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        items: list[dict[str, Any]] = self.table.query(KeyConditionExpression=Key("license_id").eq(license_id))["Items"]
        return items

    def snapshot(self, license_id: str, captured_at: str = "2026-11-24T09:15:00Z") -> dict[str, Any]:
        item: dict[str, Any] = self.table.get_item(Key={"license_id": license_id, "captured_at": captured_at})["Item"]
        return item

    def alerts(self) -> list[PublishedAlert]:
        return published_alerts(self.stack.topic_arn)

    def delivered(self) -> list[dict[str, Any]]:
        return delivered_messages(self.session, self.stack.queue_url)


def scheduled_event(time: str, event_id: str | None = None) -> dict[str, Any]:
    """What EventBridge Scheduler delivers with the template's Input."""
    return {
        "source": "aws.scheduler",
        "detail-type": "Scheduled Event",
        "id": event_id or f"run-{time}",
        "time": time,
        "detail": {},
    }


@pytest.fixture
def simulator() -> Iterator[LeegalitySimulator]:
    with LeegalitySimulator() as running:
        yield running


@pytest.fixture
def harness(simulator: LeegalitySimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """Empty secret JSON map by default; tests add licenses with `add` below."""
    app.reset()
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        stack = provision(session, json.dumps({"default": "unused-default-token"}))
        harness = Harness(simulator, session, stack, monkeypatch)
        harness.configure(HTTP_READ_TIMEOUT_SECONDS="2", HTTP_CONNECT_TIMEOUT_SECONDS="2")
        yield harness
    app.reset()


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the Powertools logger writes. Its handler holds the stdout of the moment it was built (pytest's
    own capture, at import), which `capsys` does not see; EMF metrics are printed and `capsys` sees those."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def add_licenses(
    harness: Harness, usages: dict[str, dict[str, Any]], overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """Register licenses with the simulator and put their tokens into the secret."""
    tokens = {}
    for license_id, usage in usages.items():
        token = f"tok-{license_id}-SECRET"
        harness.simulator.add_license(license_id, token, usage)
        tokens[license_id] = token
    tokens.update(overrides or {})
    harness.set_secret(tokens)
    return tokens
