"""The real environment the stateful test drives: moto (DynamoDB, SNS, Secrets Manager), the Leegality
simulator on 127.0.0.1, and the handler's container, with SNS that can be down or kill the run."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from local.aws import REGION, FakeContext, provision, published_alerts
from local.simulator import LeegalitySimulator, Reply, error_body
from tests.model.claims import Message
from usage_monitor import app
from usage_monitor.settings import Settings
from usage_monitor.storage.dynamo import DynamoTable
from usage_monitor.storage.silences import mute, unmute
from usage_monitor.storage.store import STATE_PREFIX, STATE_SORT_KEY
from usage_monitor.wiring import wire

PATH = "/api/api/v1/licenses/x/usage-statistics"
# One run's failure of each kind, as the simulator serves it (enough replies for every retry).
FAULTS: dict[str, tuple[str, tuple[Reply, ...]]] = {
    "500": ("http_error", (Reply(500, error_body(500, PATH)),)),
    "503": ("http_error", (Reply(503, "", content_type="text/html"),) * 4),
    "400": ("http_error", (Reply(400, error_body(400, PATH)),)),
    "403": ("access_denied", (Reply(403, error_body(403, PATH)),)),
    "bad json": ("malformed_response", (Reply(200, "{not json"),)),
    "reset": ("unreachable", (Reply(action="reset"),) * 4),
}
# Settings the model leaves to their defaults unless a variant sets them: removed before each deploy.
ALERT_SETTINGS = (
    "ALERT_THRESHOLD_OVERRIDES",
    "ALERT_HYSTERESIS_POINTS",
    "ALERT_FLAP_CHANGES",
    "ALERT_FLAP_WINDOW_HOURS",
    "ALERT_REMIND_AFTER_HOURS",
    "FAILURE_ALERT_AFTER_RUNS",
    "FORECAST_ALERT_DAYS",
    "FORECAST_HISTORY_DAYS",
)


class FunctionKilled(BaseException):
    """Lambda stopping the function (timeout, out of memory) right after a claim: nothing catches it."""


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduled_event(at: datetime, event_id: str) -> dict[str, Any]:
    return {"source": "aws.scheduler", "detail-type": "Scheduled Event", "id": event_id, "time": iso(at), "detail": {}}


class World:
    """One deployed-like stack for the licenses; `sns_mode` is "up", "down" or "kill" (the next Publish)."""

    def __init__(self, licenses: tuple[str, ...]) -> None:
        self._saved_env = dict(os.environ)
        self._aws = mock_aws()
        self._aws.start()
        self.simulator = LeegalitySimulator().start()
        try:
            self.session = boto3.session.Session(region_name=REGION)
            self.tokens = {lid: f"tok-{lid}-0-SECRET-0123456789abcdef" for lid in licenses}
            self.stack = provision(self.session, json.dumps(self.tokens))
            for lid in licenses:
                self.simulator.add_license(lid, self.tokens[lid], {})
            self.session.events.register("before-call.sns.Publish", self._sns)
        except BaseException:
            self.release()
            raise
        self.sns_mode = "up"
        self.rotations = 0
        self.seen = 0

    def deploy(self, settings_env: Mapping[str, str]) -> None:
        """A new container with these settings, its clients built on the session carrying the SNS hook."""
        for name in ALERT_SETTINGS:
            os.environ.pop(name, None)
        os.environ.update(self.stack.environment(self.simulator.base_url, **settings_env))
        app._wired = wire(Settings.from_env(os.environ), self.session)

    def invoke(self, event: dict[str, Any]) -> None:
        app.lambda_handler(event, FakeContext())

    def release(self) -> None:
        self.simulator.stop()
        self._aws.stop()
        app.reset()
        os.environ.clear()
        os.environ.update(self._saved_env)

    def _sns(self, **_: Any) -> None:
        if self.sns_mode == "kill":
            self.sns_mode = "up"
            raise FunctionKilled
        if self.sns_mode == "down":
            raise ClientError({"Error": {"Code": "InternalError", "Message": "SNS is down"}}, "Publish")

    def serve(self, lid: str, usage: Mapping[str, tuple[int, int]], fault: str | None) -> None:
        self.simulator.licenses[lid].usage = {name: {"current": c, "limit": lim} for name, (c, lim) in usage.items()}
        if fault is not None:
            self.simulator.script(lid, *FAULTS[fault][1])

    def revoke(self, lid: str) -> None:
        """The token stops working upstream while the secret still holds it (expired, revoked)."""
        self.rotations += 1
        self.simulator.licenses[lid].token = f"tok-{lid}-revoked-{self.rotations}"

    def rotate(self, lid: str) -> None:
        """A new token in SignStation and the secret together; a warm container's cached secret is stale."""
        self.rotations += 1
        self.tokens[lid] = f"tok-{lid}-{self.rotations}-SECRET-0123456789abcdef"
        self.simulator.licenses[lid].token = self.tokens[lid]
        secrets = self.session.client("secretsmanager", region_name=REGION)
        secrets.put_secret_value(SecretId=self.stack.secret_id, SecretString=json.dumps(self.tokens))

    def mute(self, lid: str, resource: str | None, until: datetime) -> None:
        mute(self.table(), lid, resource, until)

    def unmute(self, lid: str, resource: str | None) -> None:
        unmute(self.table(), lid, resource)

    def new_messages(self) -> list[Message]:
        alerts = published_alerts(self.stack.topic_arn)[self.seen :]
        self.seen += len(alerts)
        forms = [(a.subject, json.dumps({"email": a.email, "sms": a.sms}), a.attributes) for a in alerts]
        return [Message.from_sns(*form) for form in forms]

    def snapshot(self, lid: str, at: str) -> dict[str, Any]:
        """The stored figures of one run: resource -> {current, limit} as integers."""
        table = self.session.resource("dynamodb", region_name=REGION).Table(self.stack.table_name)
        item = table.get_item(Key={"license_id": lid, "captured_at": at}).get("Item")
        assert item is not None, f"an alert about {lid} at {at}, but no snapshot of that run"
        return {
            name: {k: int(v) for k, v in value.items() if k in ("current", "limit") and isinstance(v, Decimal)}
            for name, value in item.items()
            if isinstance(value, dict) and name != "error"
        }

    def stored(self, lid: str, at: str) -> bool:
        """Whether the run at `at` stored a snapshot of the license."""
        table = self.session.resource("dynamodb", region_name=REGION).Table(self.stack.table_name)
        return "Item" in table.get_item(Key={"license_id": lid, "captured_at": at})

    def state(self, lid: str) -> dict[str, Any]:
        item = self.table().get_item({"license_id": STATE_PREFIX + lid, "captured_at": STATE_SORT_KEY})
        return dict(item or {})

    def age_claim(self, lid: str) -> None:
        """Time passes: a killed run's claim is older than any live run could be."""
        self.table().update_item(
            {"license_id": STATE_PREFIX + lid, "captured_at": STATE_SORT_KEY},
            UpdateExpression="SET pending.claimed_at = :old",
            ExpressionAttributeValues={":old": iso(datetime.now(UTC) - timedelta(hours=1))},
        )

    def table(self) -> DynamoTable:
        return DynamoTable(self.session.client("dynamodb", region_name=REGION), self.stack.table_name)
