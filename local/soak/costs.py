"""What the soak's calls cost: every botocore call counted by service and operation, DynamoDB capacity units
from the items' sizes, SNS deliveries by protocol, and the month at on-demand list prices.

Capacity units follow DynamoDB's rules: a write costs one unit per started KB of the item (the larger of
before and after for an update), a read one unit per started 4 KB, half that when eventually consistent;
a Query is charged for the items it read (its `ScannedCount`), summed before rounding. Item sizes come from
moto's own size rule (attribute names plus values), which is the one DynamoDB documents.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# On-demand list prices, USD. Checked 2026-12-06 against the stored copies of the AWS pricing pages and the
# pages quoting them (search: aws.amazon.com/lambda/pricing, cloudchipr.com/blog/aws-lambda-pricing,
# factualminds.com SNS pricing, hivebook.wiki Secrets Manager). They are US East (N. Virginia) prices: the
# stored pages give no Asia Pacific (Mumbai) figures, so ap-south-1 (the template's default region) could
# not be confirmed; the marked rows were not confirmed for any region and are the README's own figures.
PRICES_DATE = "2026-12-06"
PRICES_REGION = "us-east-1 (ap-south-1 not confirmed)"
PRICES: dict[str, tuple[float, str, str]] = {
    "lambda_request": (0.20 / 1e6, "per request", "aws.amazon.com/lambda/pricing"),
    "lambda_arm_gb_second": (0.0000133334, "per GB-second, arm64", "cloudchipr.com quoting AWS, us-east-1"),
    "dynamodb_write_unit": (0.625 / 1e6, "per write request unit", "not confirmed (AWS list price since 2024-11)"),
    "dynamodb_read_unit": (0.125 / 1e6, "per read request unit", "not confirmed (AWS list price since 2024-11)"),
    "dynamodb_gb_month": (0.25, "per GB-month stored (first 25 GB free)", "not confirmed"),
    "sns_publish": (0.50 / 1e6, "per publish", "factualminds.com quoting AWS"),
    "sns_email": (2.00 / 1e5, "per email delivery", "factualminds.com quoting AWS"),
    "sns_sms_india": (0.003, "per SMS segment to India (DLT)", "not confirmed (README figure)"),
    "secrets_secret_month": (0.40, "per secret per month", "hivebook.wiki quoting AWS"),
    "secrets_api_call": (0.05 / 1e4, "per API call", "hivebook.wiki quoting AWS"),
    "s3_get": (0.0004 / 1e3, "per GET", "not confirmed"),
    "logs_gb": (0.50, "per GB of logs ingested", "not confirmed (README)"),
    "custom_metric_month": (0.30, "per custom metric per month", "not confirmed (README)"),
}
LAMBDA_MEMORY_GB = 256 / 1024  # template.yaml MemorySize
MONTH_DAYS = 30.4375
SCAN_OPERATIONS = {"Query", "Scan"}


@dataclass
class CallLedger:
    """Counts from botocore event hooks on the function's session."""

    calls: Counter[str] = field(default_factory=Counter)
    write_units: float = 0.0
    read_units: float = 0.0
    sms_segments: int = 0
    email_deliveries: int = 0
    publishes: int = 0

    def register(self, session: Any, table: Any) -> None:
        """`table`: moto's table object, for the sizes of items an update or a delete touched."""
        self._table = table
        session.events.register("before-call", self._count)
        session.events.register("after-call.dynamodb", self._dynamodb)

    def _count(self, event_name: str, **_: Any) -> None:
        parts = event_name.split(".")
        self.calls[f"{parts[1]} {parts[2]}"] += 1

    def _dynamodb(self, event_name: str, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        params = kwargs.get("context", {}).get("soak_params") or {}
        operation = model.name
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            size = _item_size(params.get("Item")) if operation == "PutItem" else self._stored_size(params.get("Key"))
            self.write_units += max(1, math.ceil(size / 1024))
        elif operation == "BatchWriteItem":
            for requests in (params.get("RequestItems") or {}).values():
                for request in requests:
                    item = (request.get("PutRequest") or {}).get("Item")
                    self.write_units += max(1, math.ceil(_item_size(item) / 1024))
        elif operation == "TransactWriteItems":
            self.write_units += 2 * len(params.get("TransactItems") or [])
        elif operation == "GetItem":
            factor = 1.0 if params.get("ConsistentRead") else 0.5
            self.read_units += factor * max(1, math.ceil(_item_size(parsed.get("Item")) / 4096))
        elif operation == "BatchGetItem":
            for name, items in (parsed.get("Responses") or {}).items():
                consistent = ((params.get("RequestItems") or {}).get(name) or {}).get("ConsistentRead")
                for item in items:
                    self.read_units += (1.0 if consistent else 0.5) * max(1, math.ceil(_item_size(item) / 4096))
        elif operation in SCAN_OPERATIONS:
            items = parsed.get("Items") or []
            returned = sum(_item_size(i) for i in items)
            # A filtered Query is billed for what it read: scale by ScannedCount / Count.
            scanned = parsed.get("ScannedCount", len(items)) or 0
            read = returned * (scanned / len(items)) if items else scanned * 1024
            factor = 1.0 if params.get("ConsistentRead") else 0.5
            self.read_units += factor * max(1, math.ceil(read / 4096))

    def _stored_size(self, key: dict[str, Any] | None) -> int:
        if not key or self._table is None:
            return 1024
        try:
            item = self._table.get_item(_dynamo_type(key.get("license_id")), _dynamo_type(key.get("captured_at")))
        except Exception:  # a key moto cannot look up costs the minimum unit
            return 1024
        return int(item.size()) if item is not None else 1024


def remember_params(session: Any) -> None:
    """Keep each DynamoDB call's request parameters for the after-call hook (which does not receive them)."""

    def keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["soak_params"] = params

    session.events.register("before-parameter-build.dynamodb", keep)


def _dynamo_type(value: Any) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType(value) if value is not None else None


def _item_size(item: dict[str, Any] | None) -> int:
    """moto's size of an item as botocore parsed it (attribute values in the wire form `{"S": ...}`)."""
    if not item:
        return 0
    from local.soak.mototweaks import attribute_size

    total = 0
    for name, value in item.items():
        ((kind, inner),) = value.items()
        total += len(name.encode()) + attribute_size(kind, inner)
    return total


@dataclass(frozen=True)
class Month:
    """One month's usage for a fleet of `licenses`: per-run figures times the runs in a month, per-license
    figures times the fleet (linear in licenses from the soak's fleet: an extrapolation, said so in the output)."""

    licenses: int
    runs: float
    write_units: float
    read_units: float
    gb_seconds: float
    publishes: float
    sms_segments: float
    s3_gets: float
    secret_calls: float
    log_gb: float
    stored_gb: float
    custom_metrics: int

    def costs(self) -> dict[str, float]:
        p = {name: price for name, (price, _, _) in PRICES.items()}
        return {
            "Lambda requests": self.runs * p["lambda_request"],
            "Lambda duration (256 MB arm64)": self.gb_seconds * p["lambda_arm_gb_second"],
            "DynamoDB writes": self.write_units * p["dynamodb_write_unit"],
            "DynamoDB reads": self.read_units * p["dynamodb_read_unit"],
            "DynamoDB storage after a year": max(self.stored_gb - 25, 0) * p["dynamodb_gb_month"],
            "SNS publishes + email": self.publishes * (p["sns_publish"] + p["sns_email"]),
            "SNS SMS (critical only)": self.sms_segments * p["sns_sms_india"],
            "Secrets Manager": p["secrets_secret_month"] + self.secret_calls * p["secrets_api_call"],
            "S3 license list reads": self.s3_gets * p["s3_get"],
            "CloudWatch Logs": self.log_gb * p["logs_gb"],
            "CloudWatch custom metrics": self.custom_metrics * p["custom_metric_month"],
        }


def scaled_month(per_run: dict[str, float], per_license_month: dict[str, float], licenses: int) -> Month:
    runs = MONTH_DAYS * 96
    return Month(
        licenses=licenses,
        runs=runs,
        write_units=per_license_month["write_units"] * licenses,
        read_units=per_license_month["read_units"] * licenses,
        gb_seconds=per_license_month["gb_seconds"] * licenses,
        publishes=per_license_month["publishes"] * licenses,
        sms_segments=per_license_month["sms_segments"] * licenses,
        s3_gets=per_run["s3_gets"] * runs,
        secret_calls=per_run["secret_calls"] * runs,
        log_gb=per_license_month["log_bytes"] * licenses / 1e9,
        stored_gb=per_license_month["stored_bytes_after_year"] * licenses / 1e9,
        custom_metrics=int(per_run["custom_metrics"]),
    )
