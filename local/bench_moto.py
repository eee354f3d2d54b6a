"""The benchmark's AWS: `python -m moto.server`, with one fix so table size does not skew Query times.

Run by `local.benchmark` as `python -m local.bench_moto -H 127.0.0.1 -p PORT`, never by hand.

moto answers a Query on the base table by sorting every item of the table and filtering on the partition
key (`Table.all_items()`), so each Query costs O(items in the table): after two runs of 10,000 licenses
one Query takes 150-450 ms here, where DynamoDB reads only the queried partition. That would time moto,
not the function. While a base-table Query with a partition key runs, `all_items()` returns that
partition alone (sorted by sort key, as the full sort would have left it); everything else, and the
Query's own filtering, paging and limits, stays moto's. If moto's internals change shape, the fix
steps aside and plain moto runs.
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Callable
from typing import Any

_partition = threading.local()  # werkzeug serves each request on its own thread


def install_partition_query() -> bool:
    """Patch moto's Table so a base-table Query scans its partition only; False if moto has changed."""
    try:
        from moto.dynamodb.models.table import Table
    except ImportError:
        return False
    all_items: Callable[..., Any] | None = getattr(Table, "all_items", None)
    query: Callable[..., Any] | None = getattr(Table, "query", None)
    if all_items is None or query is None:
        return False
    parameters = inspect.signature(query).parameters
    if "hash_key" not in parameters or "index_name" not in parameters:
        return False
    signature = inspect.signature(query)

    def partition_items(self: Any) -> Any:
        hash_key = getattr(_partition, "hash_key", None)
        items = getattr(self, "items", None)
        if hash_key is None or not getattr(self, "range_key_attr", None) or not isinstance(items, dict):
            return all_items(self)
        partition = items.get(hash_key) or {}
        return sorted(partition.values(), key=lambda item: item.range_key)

    def partition_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        hash_key = bound.arguments.get("hash_key")
        _partition.hash_key = hash_key if bound.arguments.get("index_name") is None else None
        try:
            return query(self, *args, **kwargs)
        finally:
            _partition.hash_key = None

    setattr(Table, "all_items", partition_items)  # noqa: B010
    setattr(Table, "query", partition_query)  # noqa: B010
    return True


def main(argv: list[str]) -> None:
    installed = install_partition_query()
    print(f"bench_moto: partition-scoped Query {'on' if installed else 'NOT installed (moto changed)'}", flush=True)
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
