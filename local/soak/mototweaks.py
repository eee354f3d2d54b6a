"""moto's pathological costs removed, behaviour kept: what a year's soak would otherwise spend its hours on.

`fast_dynamodb_responses`: moto's DynamoDB data-plane answers written with `json.dumps` instead of its
generic shape serializer. Why: moto 5.2's serializer walks the response shape for every attribute of every
item (about 5 ms an item), so one forecast Query of 14 days of snapshots (1,344 items) takes 7 s, and a
year's soak would spend hours there. DynamoDB's data-plane results are already in the wire format
(`{"S": ...}`, `{"N": "..."}`), so the bytes botocore parses are the same; the soak's first days compare
equal item for item with and without this.
Control-plane calls (tables, TTL: they carry datetimes) keep moto's serializer.

`indexed_dynamodb_query`: a Query reads only its partition, within its key condition. Why: moto 5.2's
`Table.query` walks every item of the table, sizes each, sorts the partition and deep-copies the results, so
each license's daily forecast Query costs time in proportion to the whole table (96 snapshots a day per
license, none expiring within a year): the soak slowed from 4 s to 15 s a simulated day by day 111.

`freeze_items_before` (called by the soak once a simulated day): items older than a cutoff are kept as their
wire JSON (about 600 bytes) instead of moto's tree of DynamoType objects (about 4.3 KB a snapshot); any use of
one's attributes thaws it back into the same tree. Why: a year keeps every snapshot (the TTL is 400 days), and
the runs read only the last two weeks; moto's objects made the process grow with the table.

`untracked_dynamodb_items`: moto's BaseModel remembers every object of its class it ever made (for moto
server's dashboard and its reset), so every item put, copied or projected stayed alive: 4 items and 47
DynamoType objects a run with one license (counted with gc), 13 KB a run of RSS over a year. DynamoDB items
are made without that list; nothing else reads it.

`lean_dynamodb_items`: a new item's size is checked once, not once per attribute. Why: moto's
`LimitedSizeDict` re-sizes every attribute already set at each insert (quadratic in the attributes), on
every put of every snapshot. The 400 KB rule is the same (sizes are not negative, so the running total passes
the limit exactly when the final total does).

Each is checked against plain moto by `tests/integration/test_soak_tweaks.py`: the first day of the soak
give the same messages, items and answers with and without them.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def moto_tweaks() -> Iterator[None]:
    """Every tweak below, for the span of a soak."""
    with (
        fast_dynamodb_responses(),
        indexed_dynamodb_query(),
        lean_dynamodb_items(),
        fast_item_sizes(),
        untracked_dynamodb_items(),
    ):
        yield


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
    from moto.dynamodb.responses import DynamoResult

    original = responses.ActionResult.execute_result
    original_result = DynamoResult.__init__

    def dynamo_result(self: Any, result: object) -> None:
        responses.ActionResult.__init__(self, _plain(result))

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
    DynamoResult.__init__ = dynamo_result  # type: ignore[method-assign]
    try:
        yield
    finally:
        responses.ActionResult.execute_result = original  # type: ignore[method-assign]
        DynamoResult.__init__ = original_result  # type: ignore[method-assign]


PLAIN_TYPES = frozenset({"S", "N", "BOOL", "NULL", "SS", "NS"})  # moto keeps their wire values as they came


def _plain(value: Any) -> Any:
    """moto's `dynamo_to_dict`, in one pass for the types the soak stores (binary and the rest: moto's own).

    Why: moto's version tests every value against datetime, DynamoType, `to_json`, dict and list in turn,
    and a 14-day forecast Query answers 1,344 items of nested maps.
    """
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import dynamo_to_dict

    return _plain_of(value, DynamoType, LimitedSizeDict, dynamo_to_dict)


def _plain_of(value: Any, typed: type, attrs: type, fallback: Any) -> Any:
    kind = type(value)
    if kind is typed:
        if value.type == "M":
            return {"M": {k: _plain_of(v, typed, attrs, fallback) for k, v in value.value.items()}}
        if value.type == "L":
            return {"L": [_plain_of(v, typed, attrs, fallback) for v in value.value]}
        if value.type in PLAIN_TYPES:
            return {value.type: value.value}
    elif kind is dict or kind is attrs:
        return {k: _plain_of(v, typed, attrs, fallback) for k, v in value.items()}
    elif kind is list:
        return [_plain_of(v, typed, attrs, fallback) for v in value]
    elif kind is str or kind is int or kind is bool or value is None:
        return value
    return fallback(value)


def _may_match(key: Any, comparison: str | None, bounds: list[Any]) -> bool:
    """Whether a range key can pass the key condition (a superset: moto's own comparison decides)."""
    if comparison is None or key.type != "S" or any(b.type != "S" for b in bounds):
        return True
    value, first = key.value, bounds[0].value if bounds else None
    if comparison in (">=", ">"):
        return bool(value >= first)
    if comparison in ("<=", "<"):
        return bool(value <= first)
    if comparison == "=":
        return bool(value == first)
    if comparison == "BETWEEN" and len(bounds) == 2:
        return bool(first <= value <= bounds[1].value)
    if comparison == "BEGINS_WITH":
        return bool(value.startswith(first))
    return True


@contextmanager
def indexed_dynamodb_query() -> Iterator[None]:
    """moto's own `Table.query` on the items of one partition that can pass the key condition, uncopied.

    moto filters `all_items()` by hash key and then by the range condition; it is handed that partition's
    candidates instead (per thread: the function's check pool and the soak call moto from several). The
    results' deep copy guards against a caller changing them; the Query answer only serializes them.
    """
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    original_query, original_all_items, original_deepcopy = Table.query, Table.all_items, Item.__deepcopy__
    local = threading.local()

    def all_items(self: Any) -> Any:
        only = getattr(local, "only", None)
        if only is not None and only[0] is self:
            return only[1]
        return original_all_items(self)

    def query(self: Any, hash_key: Any, range_comparison: Any, range_objs: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[4] if len(args) > 4 else None)
        if index_name is not None or hash_key is None or self.range_key_attr is None:
            return original_query(self, hash_key, range_comparison, range_objs, *args, **kwargs)
        partition = self.items.get(hash_key) or {}
        candidates = [item for key, item in partition.items() if _may_match(key, range_comparison, range_objs)]
        local.only, local.sizes = (self, candidates), {}
        try:
            return original_query(self, hash_key, range_comparison, range_objs, *args, **kwargs)
        finally:
            local.only = local.sizes = None

    original_size = Item.size

    def size(self: Any) -> int:
        """Once per item and Query: moto sizes each result twice (the page limit, then the page's total)."""
        sizes = getattr(local, "sizes", None)
        if sizes is None or getattr(local, "only", None) is None:
            return int(original_size(self))
        known = sizes.get(id(self))
        if known is None:
            known = sizes[id(self)] = int(original_size(self))
        return int(known)

    def deepcopy(self: Any, memo: dict[int, Any]) -> Any:
        if getattr(local, "only", None) is not None:
            return self
        return original_deepcopy(self, memo)

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    Item.__deepcopy__ = deepcopy  # type: ignore[method-assign]
    Item.size = size  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query = original_query  # type: ignore[method-assign]
        Table.all_items = original_all_items  # type: ignore[method-assign]
        Item.__deepcopy__ = original_deepcopy  # type: ignore[method-assign]
        Item.size = original_size  # type: ignore[method-assign]


@contextmanager
def lean_dynamodb_items() -> Iterator[None]:
    """A new moto `Item` sizes its attributes once; later changes to it keep moto's per-insert check."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    original_init = Item.__init__

    def init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        built = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.__init__(built)
        total = 0
        for key, value in attrs.items():
            typed = DynamoType(value)
            total += bytesize(key) + typed.size()
            dict.__setitem__(built, key, typed)
        if total > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = built

    Item.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        Item.__init__ = original_init  # type: ignore[method-assign]


@contextmanager
def untracked_dynamodb_items() -> Iterator[None]:
    from moto.dynamodb.models.dynamo_type import Item

    def new(cls: type, *_: Any, **__: Any) -> Any:
        return object.__new__(cls)

    Item.__new__ = staticmethod(new)  # type: ignore[method-assign]
    try:
        yield
    finally:
        del Item.__new__


@contextmanager
def fast_item_sizes() -> Iterator[None]:
    """moto's size rule (`DynamoType.size`) in one function of the type tag, without building a DynamoType
    for every map value it visits."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoType.size

    def size(self: Any) -> int:
        return attribute_size(self.type, self.value)

    DynamoType.size = size  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoType.size = original  # type: ignore[method-assign]


def attribute_size(kind: str, value: Any) -> int:
    """The bytes moto counts for one attribute value, given as its type tag and value; nested values may be
    moto's DynamoType or wire dicts (`{"S": "..."}`), as botocore parses them.

    moto's rule, in its order: a number is its text's length; a set the sum of its members'; a list the sum
    of its elements'; a map its keys' UTF-8 bytes plus its values'; a boolean (and NULL, whose value is True)
    1 byte; anything else (strings, binary) its bytes.
    """
    if kind == "N":
        return len(str(value))
    if kind == "SS" or kind == "BS":
        return sum(_bytes(member) for member in value)
    if kind == "NS":
        return sum(len(str(member)) for member in value)
    if kind == "L":
        return sum(_nested_size(element) for element in value)
    if kind == "M":
        return sum(len(key.encode()) + _nested_size(element) for key, element in value.items())
    if isinstance(value, bool):
        return 1
    return _bytes(value)


def _nested_size(value: Any) -> int:
    if isinstance(value, dict):
        ((kind, inner),) = value.items()
        return attribute_size(kind, inner)
    return attribute_size(value.type, value.value)


def _bytes(value: Any) -> int:
    return len(value if isinstance(value, bytes) else value.encode("utf-8"))


ITEM_SIZE_LIMIT = 405000  # moto's (LimitedSizeDict.__setitem__): between DynamoDB's measured 409 and 410 KB


def freeze_items_before(table: Any, cutoff: str) -> int:
    """Freeze every item of `table` whose range key is a string before `cutoff`; returns how many it froze."""
    frozen_class = _frozen_class()
    plain_item = frozen_class.__mro__[1]
    frozen = 0
    for ranges in table.items.values():
        if not isinstance(ranges, dict):
            continue  # a table without a range key keeps its items as they are
        for key, item in list(ranges.items()):
            if type(item) is plain_item and key.type == "S" and key.value < cutoff:
                try:
                    ranges[key] = frozen_class(item)
                except TypeError:
                    continue  # binary attributes: moto's own tree keeps them exactly
                frozen += 1
    return frozen


def expires_at(item: Any) -> int | None:
    """An item's `expires_at` (the table's TTL attribute), read without thawing a frozen item."""
    if isinstance(item, _frozen_class()) and item.frozen:
        known: int | None = item.frozen_expires_at
        return known
    value = item.attrs.get("expires_at")
    return int(value.value) if value is not None and value.type == "N" else None


@functools.cache
def _frozen_class() -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    def decode(wire: str) -> Any:
        attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.__init__(attrs)
        for name, value in json.loads(wire).items():
            dict.__setitem__(attrs, name, DynamoType(value))
        return attrs

    class FrozenItem(Item):
        """A moto Item kept as its wire JSON until its attributes are used (then it is a plain Item again)."""

        def __init__(self, item: Any) -> None:  # no super().__init__: the item was checked when it was written
            self.hash_key, self.range_key = item.hash_key, item.range_key
            self._wire: str | None = json.dumps(_plain(item.attrs))  # TypeError for binary values
            self._thawed: Any = None
            self.frozen_expires_at = expires_at(item)

        @property
        def frozen(self) -> bool:
            return self._thawed is None

        @property
        def attrs(self) -> Any:
            if self._thawed is None:
                assert self._wire is not None
                self._thawed, self._wire = decode(self._wire), None
            return self._thawed

        @attrs.setter
        def attrs(self, value: Any) -> None:
            self._thawed, self._wire = value, None

        def _view(self) -> Any:
            """A plain Item over freshly decoded attributes, for reads that need not keep them."""
            if self._thawed is not None:
                return self
            view: Any = Item.__new__(Item)
            view.hash_key, view.range_key = self.hash_key, self.range_key
            assert self._wire is not None
            view.attrs = decode(self._wire)
            return view

        def to_json(self, root_attr_name: str = "Attributes") -> Any:
            return Item.to_json(self._view(), root_attr_name)

        def size(self) -> int:
            return int(Item.size(self._view()))

    return FrozenItem
