"""One DynamoDB table through the low-level client, in plain Python values (str, Decimal, dict, list, set).

boto3's resource layer does the same conversion, but building it (its models, factories and condition
builders) costs about as much as the client itself on every cold start; this uses boto3's own
`TypeSerializer`/`TypeDeserializer` (which that layer uses too, so items are stored exactly as before) and
its `BatchWriter` on the plain client. Expressions are strings, with names and values passed alongside.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.table import BatchWriter
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_dynamo(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values → DynamoDB attribute values (`{"S": ...}`, `{"N": ...}`, `{"M": ...}` ...)."""
    return {name: _serializer.serialize(value) for name, value in item.items()}


def from_dynamo(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values → plain values (numbers as Decimal, as the resource layer returns them)."""
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


class DynamoTable:
    """The calls this project makes on its table, with plain items in and out."""

    def __init__(self, client: DynamoDBClient, name: str) -> None:
        self.client = client
        self.name = name

    def put_item(self, item: Mapping[str, Any], **kwargs: Any) -> None:
        self.client.put_item(TableName=self.name, Item=to_dynamo(item), **_typed_values(kwargs))

    def update_item(self, key: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        """The attributes `ReturnValues` asked for (none by default), as plain values."""
        response = self.client.update_item(TableName=self.name, Key=to_dynamo(key), **_typed_values(kwargs))
        return from_dynamo(response.get("Attributes", {}))

    def get_item(self, key: Mapping[str, Any], *, consistent: bool = False) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self.name, Key=to_dynamo(key), ConsistentRead=consistent)
        item = response.get("Item")
        return from_dynamo(item) if item is not None else None

    def query(self, **kwargs: Any) -> list[dict[str, Any]]:
        """Every page of a Query, in the table's sort order."""
        return self._pages(self.client.query, kwargs)

    def scan(self, **kwargs: Any) -> list[dict[str, Any]]:
        """Every page of a Scan (for people, e.g. the CLI; never the scheduled run)."""
        return self._pages(self.client.scan, kwargs)

    def batch_get(self, keys: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """One strongly consistent BatchGetItem (at most 100 keys): the items found, and the keys left unprocessed."""
        request = {self.name: {"Keys": [to_dynamo(k) for k in keys], "ConsistentRead": True}}
        response = self.client.batch_get_item(RequestItems=request)  # type: ignore[arg-type]
        found = (response.get("Responses") or {}).get(self.name) or []
        unprocessed = (response.get("UnprocessedKeys") or {}).get(self.name)
        keys = unprocessed["Keys"] if unprocessed else []
        return [from_dynamo(i) for i in found], [from_dynamo(k) for k in keys]

    def batch_writer(self, overwrite_by_pkeys: list[str]) -> TypedBatchWriter:
        """boto3's batch writer (25 puts per call, `UnprocessedItems` resent) on the plain client."""
        return TypedBatchWriter(self.name, self.client, overwrite_by_pkeys=overwrite_by_pkeys)

    def _pages(self, call: Any, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        request = {"TableName": self.name, **_typed_values(kwargs)}
        items: list[dict[str, Any]] = []
        while True:
            page = call(**request)
            items.extend(from_dynamo(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class TypedBatchWriter(BatchWriter):
    """`BatchWriter.put_item` with plain items: serialised here, since the plain client does not."""

    def put_item(self, Item: Mapping[str, Any]) -> None:
        super().put_item(Item=to_dynamo(Item))


def _typed_values(kwargs: dict[str, Any]) -> dict[str, Any]:
    values = kwargs.get("ExpressionAttributeValues")
    if values is None:
        return kwargs
    return {**kwargs, "ExpressionAttributeValues": to_dynamo(values)}
