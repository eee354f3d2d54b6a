"""Each role grants exactly the AWS actions its function's code calls (issue 19 item 18).

Every AWS operation the handlers make is recorded with a botocore `before-call` hook on every client
created while they run (the handlers build their own sessions, so the hook goes on client creation),
over every path: scheduled run with alerts, a redelivered event (idempotency), a manual run, the digest,
the S3 license list, the CA bundle from SSM, fan-out dispatch, a settings error, a run that fails; and the
worker's chunks, redelivered and failing. The recorded IAM actions must equal the role's grants in
template.yaml (all optional features on), minus what the Lambda service itself does with the role.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.session
import pytest

from local.aws import REGION, FakeContext, create_work_queue, lambda_sqs_event, load_event, put_license_list
from local.simulator import usage_of
from tests.integration.conftest import HEALTHY, Harness, add_licenses, scheduled_event
from tests.template.conftest import load_sam_template, sam_transform
from tests.template.intrinsics import parameter_values, resolve
from usage_monitor import app
from usage_monitor.core.errors import ConfigError, SecretUnavailable

T1, T2, T3 = "2026-11-24T09:15:00Z", "2026-11-24T09:30:00Z", "2026-11-24T09:45:00Z"
CA_PARAMETER = "/leegality/ca"
FULL = usage_of(users=(990, 1000))

# Used by the Lambda service with the role, not by the code: writing the function's logs, sending its
# traces (active tracing), attaching it to the VPC, and (worker) the SQS event source mapping's polling.
PLATFORM = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}
EVENT_SOURCE_MAPPING = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
# Operations authorised by another action's name.
AUTHORISED_AS = {"sqs:SendMessageBatch": "sqs:SendMessage", "s3:HeadObject": "s3:GetObject"}


class AwsCalls:
    """IAM actions of the AWS calls made while `recording` is active."""

    def __init__(self) -> None:
        self.actions: set[str] = set()
        self.active = False

    def before_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if not self.active:
            return
        action = f"{model.service_model.signing_name}:{model.name}"
        if action == "dynamodb:TransactWriteItems":  # authorised per item
            kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "CheckItem"}
            for item in params["TransactItems"]:
                self.actions.update(f"dynamodb:{kinds[k].replace('CheckItem', 'ConditionCheckItem')}" for k in item)
            return
        self.actions.add(AUTHORISED_AS.get(action, action))

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Only the handlers' calls: the test's own setup (moto resources, the secret) is not the role's."""
        self.active = True
        try:
            yield
        finally:
            self.active = False


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> AwsCalls:
    recorder = AwsCalls()
    create_client = botocore.session.Session.create_client

    def recorded_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("before-call", recorder.before_call)
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", recorded_client)
    return recorder


def _grants(role: str) -> set[str]:
    """The role's actions with every optional feature on (license list, fan-out, VPC, CA bundle)."""
    template = sam_transform(load_sam_template())
    parameters = parameter_values(
        load_sam_template(),
        {
            "LicenseListBucket": "fleet-config",
            "LicenseListKey": "licenses.txt",
            "FanOut": "enabled",
            "VpcSubnetIds": "subnet-1",
            "VpcSecurityGroupIds": "sg-1",
            "CaBundleParameter": CA_PARAMETER,
        },
    )
    policies = resolve(template["Resources"][role]["Properties"]["Policies"], template, parameters)
    actions: set[str] = set()
    for policy in policies:
        if policy is None:
            continue
        statements = policy["PolicyDocument"]["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            listed = statement["Action"]
            actions.update(listed if isinstance(listed, list) else [listed])
    return actions


def _put_ca(harness: Harness) -> None:
    import trustme

    pem = trustme.CA().cert_pem.bytes().decode()
    harness.session.client("ssm").put_parameter(Name=CA_PARAMETER, Value=pem, Type="SecureString", Overwrite=True)


def _delete_secret(harness: Harness) -> None:
    harness.session.client("secretsmanager", region_name=REGION).delete_secret(
        SecretId=harness.stack.secret_id, ForceDeleteWithoutRecovery=True
    )
    app.reset()


def test_the_scheduled_functions_role_grants_exactly_what_its_paths_call(harness: Harness, calls: AwsCalls) -> None:
    add_licenses(harness, {"lic-1": HEALTHY, "lic-2": FULL})
    _put_ca(harness)
    uri = put_license_list(harness.session, "lic-1\nlic-2\n")
    queue_url = create_work_queue(harness.session)

    def invoke(event: dict[str, Any]) -> None:
        with calls.recording():
            harness.invoke(event)

    # A scheduled run that alerts, with the CA bundle and the S3 list; the same event redelivered
    harness.configure(CA_BUNDLE_PARAMETER=CA_PARAMETER, LICENSE_LIST_S3_URI=uri)
    event = scheduled_event(T1, event_id="exec-1")
    invoke(event)
    invoke(event)
    # A manual run, the digest, and a later run where the full license recovers
    invoke({"license_ids": ["lic-1"]})
    invoke({**load_event("digest.json"), "time": T2, "id": "digest-1"})
    harness.simulator.add_license("lic-2", "tok-lic-2-SECRET", HEALTHY)
    invoke(scheduled_event(T2))
    # Fan-out: the run only dispatches
    app.reset()
    harness.configure(FANOUT_QUEUE_URL=queue_url, FANOUT_CHUNK_SIZE="1")
    invoke(scheduled_event(T3))
    # A setting the code rejects (config_problem), and a run whose secret is gone (run-level check_failed)
    harness.configure(ALERT_THRESHOLDS="0")
    with pytest.raises(ConfigError):
        invoke(scheduled_event(T3))
    harness.configure(FANOUT_QUEUE_URL="", LICENSE_LIST_S3_URI="")
    _delete_secret(harness)
    with pytest.raises(SecretUnavailable):
        invoke(scheduled_event(T3, event_id="exec-failing"))

    granted = _grants("UsageMonitorFunctionRole") - PLATFORM
    assert calls.actions == granted, f"unused grants: {granted - calls.actions}; missing: {calls.actions - granted}"


def test_the_workers_role_grants_exactly_what_its_paths_call(harness: Harness, calls: AwsCalls) -> None:
    add_licenses(harness, {"lic-1": HEALTHY, "lic-2": FULL})
    _put_ca(harness)
    queue_url = create_work_queue(harness.session)
    harness.configure(FANOUT_QUEUE_URL=queue_url, FANOUT_CHUNK_SIZE="1")
    harness.invoke(scheduled_event(T1))
    work = lambda_sqs_event(harness.session, queue_url)
    harness.configure(CA_BUNDLE_PARAMETER=CA_PARAMETER, FANOUT_QUEUE_URL="")  # the worker's environment
    app.reset()

    def worker(event: dict[str, Any]) -> dict[str, Any]:
        with calls.recording():
            response: dict[str, Any] = app.worker_handler(event, FakeContext(function_name="usage-monitor-worker"))
        return response

    # Chunks checked (one alerts), then delivered again (idempotency)
    assert worker(work) == {"batchItemFailures": []}
    assert worker(work) == {"batchItemFailures": []}
    # A bad message, chunks whose secret is gone, and a worker with a setting the code rejects
    bad = {"Records": [{**work["Records"][0], "body": "{not json", "messageId": "bad-1"}]}
    assert worker(bad)["batchItemFailures"] == [{"itemIdentifier": "bad-1"}]
    retry = {
        "Records": [{**r, "body": json.dumps({**json.loads(r["body"]), "run_id": "exec-2"})} for r in work["Records"]]
    }
    _delete_secret(harness)
    assert len(worker(retry)["batchItemFailures"]) == 2
    harness.configure(ALERT_THRESHOLDS="0")
    with pytest.raises(ConfigError):
        worker(work)

    granted = _grants("UsageMonitorWorkerRole") - PLATFORM - EVENT_SOURCE_MAPPING
    assert calls.actions == granted, f"unused grants: {granted - calls.actions}; missing: {calls.actions - granted}"
