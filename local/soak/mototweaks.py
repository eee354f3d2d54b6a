"""moto's DynamoDB data-plane answers written with `json.dumps` instead of its generic shape serializer.

Why: moto 5.2's serializer walks the response shape for every attribute of every item (about 5 ms an item),
so one forecast Query of 14 days of snapshots (1,344 items) takes 7 s, and a year's soak would spend hours
there. DynamoDB's data-plane results are already in the wire format (`{"S": ...}`, `{"N": "..."}`), so the
bytes botocore parses are the same; the soak's first days compare equal item for item with and without this.
Control-plane calls (tables, TTL: they carry datetimes) keep moto's serializer.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DATA_PLANE = frozenset(
    {"Query", "Scan", "GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
)


def _binary(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@contextmanager
def fast_dynamodb_responses() -> Iterator[None]:
    from moto.core import responses

    original = responses.ActionResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        if (
            context.service_model.service_name == "dynamodb"
            and context.operation_model.name in DATA_PLANE
            and type(self).__name__ == "DynamoResult"
            and isinstance(self.result, dict)
        ):
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(self.result, default=_binary)
        return original(self, context)

    responses.ActionResult.execute_result = execute_result  # type: ignore[method-assign]
    try:
        yield
    finally:
        responses.ActionResult.execute_result = original  # type: ignore[method-assign]
