"""The soak's moto tweaks (local/soak/mototweaks.py) change how fast moto answers, never what it answers.

Each answer is compared with plain moto's on the same table: Queries of every key-condition form the
tweaked Query handles (and the ones it hands back to moto), pages, filters and projections; the sizes moto
counts; the 400 KB item rule; and the first day of the soak itself, snapshot for snapshot, judged by its oracle.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.aws import REGION, provision
from local.soak.driver import Soak, _iso
from local.soak.fleet import RUN_EVERY
from local.soak.mototweaks import attribute_size, expires_at, freeze_items_before, moto_tweaks
from local.soak.oracle import judge

PARTITIONS = ("lic-a", "lic-b", "state#lic-a")


def _item(partition: str, minute: int) -> dict[str, Any]:
    """A snapshot-shaped item with every attribute type the tweaks convert or size themselves (binary only in
    lic-a: frozen items keep no binary values, those stay moto's own)."""
    item: dict[str, Any] = {
        "license_id": partition,
        "captured_at": f"2027-01-{1 + minute // 1440:02d}T{minute // 60 % 24:02d}:{minute % 60:02d}:00Z",
        "record_type": "snapshot",
        "status": "ok" if minute % 7 else "failed",
        "users": {"current": Decimal(minute), "limit": Decimal(1000), "percent": Decimal("12.5"), "days": None},
        "problems": ["one", Decimal(2), {"nested": True}],
        "tags": {"x", "ÿnicode"},
        "counts": {Decimal(1), Decimal("2.5")},
        "flag": minute % 2 == 0,
        "expires_at": Decimal(1800000000 + minute),
    }
    if partition == "lic-a":
        item["blob"] = b"\x00\x01binary"
    return item


@pytest.fixture
def table() -> Any:
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        stack = provision(session, "{}")
        resource = session.resource("dynamodb", region_name=REGION).Table(stack.table_name)
        with resource.batch_writer() as batch:
            for partition in PARTITIONS:
                for minute in range(0, 3 * 1440, 45):
                    batch.put_item(Item=_item(partition, minute))
        yield resource


QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "license_id = :p", "ExpressionAttributeValues": {":p": "lic-a"}},
    {
        "KeyConditionExpression": "license_id = :p AND captured_at >= :t",
        "ExpressionAttributeValues": {":p": "lic-a", ":t": "2027-01-02T06:00:00Z"},
    },
    {
        "KeyConditionExpression": "license_id = :p AND captured_at > :t",
        "ExpressionAttributeValues": {":p": "lic-b", ":t": "2027-01-02T06:00:00Z"},
    },
    {
        "KeyConditionExpression": "license_id = :p AND captured_at < :t",
        "ExpressionAttributeValues": {":p": "lic-a", ":t": "2027-01-01T12:00:00Z"},
    },
    {
        "KeyConditionExpression": "license_id = :p AND captured_at <= :t",
        "ExpressionAttributeValues": {":p": "lic-a", ":t": "2027-01-01T12:00:00Z"},
    },
    {
        "KeyConditionExpression": "license_id = :p AND captured_at = :t",
        "ExpressionAttributeValues": {":p": "lic-a", ":t": "2027-01-01T00:45:00Z"},
    },
    {
        "KeyConditionExpression": "license_id = :p AND captured_at BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":p": "lic-b", ":a": "2027-01-01T10:00:00Z", ":b": "2027-01-02T10:00:00Z"},
    },
    {
        "KeyConditionExpression": "license_id = :p AND begins_with(captured_at, :d)",
        "ExpressionAttributeValues": {":p": "lic-a", ":d": "2027-01-02"},
    },
    {
        "KeyConditionExpression": "license_id = :p AND captured_at >= :t",
        "ExpressionAttributeValues": {":p": "lic-a", ":t": "2027-01-01T00:00:00Z"},
        "ScanIndexForward": False,
        "Limit": 7,
    },
    {
        "KeyConditionExpression": "license_id = :p AND captured_at >= :t",
        "FilterExpression": "#s = :ok",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":p": "lic-a", ":t": "2027-01-01T08:00:00Z", ":ok": "failed"},
    },
    {
        "KeyConditionExpression": "license_id = :p",
        "ProjectionExpression": "captured_at, #u.#c, problems[2]",
        "ExpressionAttributeNames": {"#u": "users", "#c": "current"},
        "ExpressionAttributeValues": {":p": "state#lic-a"},
    },
    {"KeyConditionExpression": "license_id = :p", "ExpressionAttributeValues": {":p": "no-such-license"}},
]


def _pages(table: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
    answers, request = [], dict(query)
    while True:
        page = table.query(**request)
        page.pop("ResponseMetadata")
        answers.append(page)
        if "LastEvaluatedKey" not in page:
            return answers
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q["KeyConditionExpression"][:40])
def test_a_query_answers_as_plain_moto_does(table: Any, query: dict[str, Any]) -> None:
    # Given a table of three partitions, and plain moto's pages for the query
    plain = _pages(table, {**query, "Limit": query.get("Limit", 10)})

    # When the tweaked moto answers the same query
    with moto_tweaks():
        tweaked = _pages(table, {**query, "Limit": query.get("Limit", 10)})

    # Then every page is the same, items, counts and the key to go on from
    assert tweaked == plain
    if query["ExpressionAttributeValues"][":p"] != "no-such-license":
        assert plain[0]["Items"], "the query found something to compare"


def test_other_reads_answer_as_plain_moto_does(table: Any) -> None:
    key = {"license_id": "lic-b", "captured_at": "2027-01-02T03:00:00Z"}
    client = table.meta.client

    def reads() -> list[Any]:
        answers = [
            table.get_item(Key=key),
            client.batch_get_item(RequestItems={table.name: {"Keys": [key], "ConsistentRead": True}}),
            table.scan(Limit=25),
        ]
        for answer in answers:
            answer.pop("ResponseMetadata")
        return answers

    plain = reads()
    with moto_tweaks():
        assert reads() == plain


def _moto_table(table: Any) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    from local.aws import ACCOUNT_ID

    return dynamodb_backends[ACCOUNT_ID][REGION].get_table(table.name)


def _every_answer(table: Any) -> list[Any]:
    answers: list[Any] = [_pages(table, {**query, "Limit": 10}) for query in QUERIES]
    scan = table.scan()
    scan.pop("ResponseMetadata")
    return [*answers, scan, sorted(repr(i.to_json()) for r in _moto_table(table).items.values() for i in r.values())]


def test_frozen_items_answer_as_moto_s_own_items_do(table: Any) -> None:
    # Given plain moto's answers to every query, a scan, and each item's own JSON
    plain = _every_answer(table)
    stored = _moto_table(table)
    ttl = {repr(k): expires_at(i) for r in stored.items.values() for k, i in r.items()}

    # When every item older than a cutoff after all of them is frozen
    frozen = freeze_items_before(stored, "9999")

    # Then each is frozen but those with binary values, its TTL reads without thawing it, and every answer is
    # the same
    items = {(p.value, i.range_key.value): i for p, r in stored.items.items() for i in r.values()}
    assert frozen == sum(1 for (p, _) in items if p != "lic-a") == (len(PARTITIONS) - 1) * 96
    assert {repr(k): expires_at(i) for r in stored.items.values() for k, i in r.items()} == ttl
    assert all(getattr(i, "frozen", False) is (p != "lic-a") for (p, _), i in items.items())
    with moto_tweaks():
        assert _every_answer(table) == plain


def test_a_frozen_item_takes_an_update_as_moto_s_own_item_does(table: Any) -> None:
    # Given the same item twice, one of them frozen
    table.put_item(Item=_item("copy", 0))
    table.put_item(Item={**_item("copy", 0), "captured_at": "9999-12-31T00:00:00Z"})
    # (the cutoff also takes the first item of lic-b and of state#lic-a; lic-a's keep their binary values)
    assert freeze_items_before(_moto_table(table), "2027-01-01T00:00:01Z") == 3

    # When both take the same update
    for captured_at in ("2027-01-01T00:00:00Z", "9999-12-31T00:00:00Z"):
        table.update_item(
            Key={"license_id": "copy", "captured_at": captured_at},
            UpdateExpression="SET #u.#c = #u.#c + :one, added = :a REMOVE problems",
            ExpressionAttributeNames={"#u": "users", "#c": "current"},
            ExpressionAttributeValues={":one": 1, ":a": "yes"},
        )

    # Then both read back the same, apart from their key
    a, b = (
        table.get_item(Key={"license_id": "copy", "captured_at": c})["Item"]
        for c in ("2027-01-01T00:00:00Z", "9999-12-31T00:00:00Z")
    )
    assert a["users"]["current"] == 1
    assert a["added"] == "yes"
    assert "problems" not in a
    assert {**b, "captured_at": a["captured_at"]} == a


def test_items_written_through_the_tweaks_are_stored_as_plain_moto_stores_them(table: Any) -> None:
    # Given one item written by plain moto and the same item (under another key) through the tweaks
    table.put_item(Item={**_item("copy-plain", 0)})
    with moto_tweaks():
        table.put_item(Item={**_item("copy-tweaked", 0)})

    # Then both read back the same, apart from their key
    plain = table.get_item(Key={"license_id": "copy-plain", "captured_at": "2027-01-01T00:00:00Z"})["Item"]
    tweaked = table.get_item(Key={"license_id": "copy-tweaked", "captured_at": "2027-01-01T00:00:00Z"})["Item"]
    assert {**tweaked, "license_id": "copy-plain"} == plain


@pytest.mark.parametrize(("size", "accepted"), [(405_000, True), (405_001, False)])
def test_the_item_size_limit_is_moto_s(table: Any, size: int, accepted: bool) -> None:
    # Given an item of exactly moto's limit, or one byte over (names and values: 13 + 31 + 3 bytes besides the pad)
    item = {"license_id": "big", "captured_at": "2027-01-01T00:00:00Z", "pad": "x" * (size - 47)}

    def outcome() -> str:
        try:
            table.put_item(Item=item)
        except table.meta.client.exceptions.ClientError as error:
            return str(error.response["Error"])
        return "stored"

    # When plain moto and the tweaked moto are each asked to store it
    plain = outcome()
    with moto_tweaks():
        tweaked = outcome()

    # Then both agree, and the limit is where moto puts it
    assert tweaked == plain
    assert (plain == "stored") is accepted


def test_attribute_size_is_moto_s_size() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    from usage_monitor.storage.dynamo import to_dynamo

    for partition in PARTITIONS:
        for name, value in to_dynamo(_item(partition, 1234)).items():
            ((kind, inner),) = value.items()
            assert attribute_size(kind, inner) == DynamoType(value).size(), name
            typed = DynamoType(value)
            assert attribute_size(typed.type, typed.value) == DynamoType(value).size(), name


SIMULATOR_PORT = re.compile(r"127\.0\.0\.1:\d+")  # each soak's simulator listens on a port of its own


def _outcome(soak: Soak) -> dict[str, Any]:
    """What the soak left in the table of each license's checks, and how the oracle judged it.

    The messages are the oracle's to judge, not compared run for run: the soak's clock ticks in real time and
    its retries sleep for real, so on a loaded machine a JWT living 5 s or a retry can fall in a different run
    in any two soaks, tweaked or not. A snapshot holds what the simulator served in its slot.
    """
    record = soak.run()
    # The killed run stops at its first publish: which snapshots it wrote first is the check pool's order.
    killed = {_iso(soak.schedule.start + RUN_EVERY * run) for run in record.killed_runs}
    stored = (item.to_json()["Attributes"] for ranges in soak.table.items.values() for item in ranges.values())
    snapshots = sorted(
        SIMULATOR_PORT.sub("127.0.0.1:port", repr({k: v for k, v in item.items() if k != "checked_at"}))
        for item in stored
        if item.get("record_type") == {"S": "snapshot"} and item["captured_at"]["S"] not in killed
    )
    return {
        "invariants": judge(record, soak.schedule, len(soak.scanner.leaks)).failures,
        "matched": judge(record, soak.schedule, len(soak.scanner.leaks)).matched,
        "queries": soak.ledger.calls["dynamodb Query"],
        "units": (soak.ledger.write_units, soak.ledger.read_units),
        "snapshots": snapshots,
    }


def test_the_soak_s_first_day_is_the_same_with_and_without_the_tweaks() -> None:
    # Given a day of the soak's fleet and its faults (each license's forecast Query reads the day so far)
    days, fleet = 1, 7

    # When it runs on plain moto and on the tweaked moto
    plain = _outcome(Soak(days, fleet, measure_memory=False, tweaks=False))
    tweaked = _outcome(Soak(days, fleet, measure_memory=False, tweaks=True))

    # Then both keep every invariant, store the same snapshots, and cost about the same capacity units
    assert tweaked["invariants"] == plain["invariants"] == dict.fromkeys(plain["invariants"], 0)
    assert tweaked["matched"] > 0
    assert plain["matched"] > 0
    assert tweaked["snapshots"] == plain["snapshots"]
    assert len(plain["snapshots"]) > 90 * fleet
    assert min(plain["queries"], tweaked["queries"]) >= fleet, "the forecast Queries ran"
    assert tweaked["units"] == pytest.approx(plain["units"], rel=0.01)
