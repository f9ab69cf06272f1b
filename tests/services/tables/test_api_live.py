"""The table service on a real server: the HTTP API, the SDK's `Table`, and the SDK inside a function."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from squall.sdk.client import Client, RemoteError
from squall.sdk.tables import KeyAttribute, Page, Table, create_table, delete_table, list_tables
from squall.services.errors import InvalidParameter
from tests.conftest import RunningServer, start_server

MANIFEST = """\
service: tables-live
functions:
  record:
    handler: handlers.record
    events:
      - http: {method: POST, path: "/record"}
"""

# The function stores the request's JSON body as an item, with its numbers as
# Decimals, then reads it back through the SDK to show what it stored.
HANDLERS = """\
import json
from decimal import Decimal

from squall.sdk.tables import Table


def record(event, context):
    request = json.loads(event["body"], parse_float=Decimal)
    table = Table(request["table"])
    table.put(request["item"])
    stored = table.get({"id": request["item"]["id"]})
    return {"statusCode": 200, "body": json.dumps({"total": str(stored["total"])})}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the module; every test works on tables of its own."""
    folder = tmp_path_factory.mktemp("app")
    (folder / "squall.yml").write_text(MANIFEST)
    (folder / "handlers.py").write_text(HANDLERS)
    running = start_server(folder, tmp_path_factory.mktemp("data"))
    yield running
    running.stop()


@pytest.fixture
def client(server: RunningServer) -> Client:
    return Client(server.endpoint)


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def orders(client: Client) -> Table:
    """A new table: partition key 'customer' (S), sort key 'order' (N)."""
    return create_table(unique_name("orders"), ("customer", "S"), sort_key=("order", "N"), client=client)


@pytest.fixture
def users(client: Client) -> Table:
    """A new table with only a partition key, 'id' (S)."""
    return create_table(unique_name("users"), "id:S", client=client)


def remote_error(call: Any, *args: Any, **kwargs: Any) -> RemoteError:
    with pytest.raises(RemoteError) as caught:
        call(*args, **kwargs)
    return caught.value


# ---------------------------------------------------------------- tables


def test_create_describe_list_delete(client: Client) -> None:
    name = unique_name("lifecycle")
    table = create_table(name, ("pk", "S"), sort_key="sk:N", ttl_attribute="expires", client=client)

    description = table.describe()
    assert description.name == name
    assert description.partition_key == KeyAttribute("pk", "S")
    assert description.sort_key == KeyAttribute("sk", "N")
    assert description.ttl_attribute == "expires"
    assert description.item_count == 0
    assert name in list_tables(client)

    delete_table(name, client)
    assert name not in list_tables(client)
    error = remote_error(table.describe)
    assert error.code == "ResourceNotFoundException"
    assert error.status == 404
    assert name in error.message


def test_create_again_same_settings(client: Client) -> None:
    name = unique_name("again")
    create_table(name, ("id", "S"), client=client)
    create_table(name, ("id", "S"), client=client)
    assert list_tables(client).count(name) == 1

    error = remote_error(create_table, name, ("id", "N"), client=client)
    assert error.code == "ResourceInUseException"
    assert name in error.message


@pytest.mark.parametrize(
    ("arguments", "code", "named"),
    [
        ({"name": "a b", "partition_key": {"name": "id", "type": "S"}}, "ValidationException", "'a b'"),
        ({"name": "ok-name", "partition_key": {"name": "id", "type": "X"}}, "ValidationException", "'X'"),
        ({"name": "ok-name", "partition_key": {"name": "id"}}, "ValidationException", "partition_key"),
        ({"name": "ok-name"}, "ValidationException", "partition_key"),
        ({"partition_key": {"name": "id", "type": "S"}}, "ValidationException", "'name'"),
    ],
)
def test_create_table_invalid(client: Client, arguments: dict[str, Any], code: str, named: str) -> None:
    error = remote_error(client.call, "tables", "create_table", **arguments)
    assert error.code == code
    assert error.status == 400
    assert named in error.message


# ---------------------------------------------------------------- items


def test_put_get_every_type(users: Table) -> None:
    item = {
        "id": "a",
        "count": 3,
        "price": 12.5,
        "exact": Decimal("0.123456789012345678901234567890"),
        "blob": b"\x00\xff",
        "flag": True,
        "nothing": None,
        "tags": {"red", "blue"},
        "scores": {1, 2.5},
        "blobs": {b"x", b"y"},
        "nested": {"list": [1, "two", {"three": False}]},
    }
    users.put(item)

    stored = users.get({"id": "a"})
    assert stored == {
        **item,
        "count": Decimal(3),
        "price": Decimal("12.5"),
        "scores": {Decimal(1), Decimal("2.5")},
        "nested": {"list": [Decimal(1), "two", {"three": False}]},
    }
    assert isinstance(stored["count"], Decimal)
    assert users.get({"id": "missing"}) is None


def test_wire_form_is_typed_json(client: Client, users: Table) -> None:
    client.call("tables", "put", table=users.name, item={"id": {"S": "w"}, "n": {"N": "1.50"}, "b": {"B": "AAE="}})

    stored = client.call("tables", "get", table=users.name, key={"id": {"S": "w"}})
    assert stored == {"id": {"S": "w"}, "n": {"N": "1.5"}, "b": {"B": "AAE="}}


def test_get_projection(users: Table) -> None:
    users.put({"id": "p", "name": "Ann", "secret": "x"})
    assert users.get({"id": "p"}, projection="#n", names={"#n": "name"}) == {"name": "Ann"}


def test_conditional_put_fails(users: Table) -> None:
    users.put({"id": "c", "version": 1}, condition="attribute_not_exists(id)")

    error = remote_error(users.put, {"id": "c", "version": 2}, condition="attribute_not_exists(id)")
    assert error.code == "ConditionalCheckFailedException"
    assert error.status == 409
    assert users.get({"id": "c"}) == {"id": "c", "version": 1}


def test_put_returns_old_item(users: Table) -> None:
    assert users.put({"id": "r", "v": 1}, return_old=True) is None
    assert users.put({"id": "r", "v": 2}, return_old=True) == {"id": "r", "v": 1}


def test_update_counter(users: Table) -> None:
    new = users.update({"id": "u"}, "SET hits = if_not_exists(hits, :zero) + :one",
                       values={":zero": 0, ":one": 1}, return_values="ALL_NEW")
    assert new == {"id": "u", "hits": 1}

    changed = users.update({"id": "u"}, "SET hits = hits + :one", values={":one": 1}, return_values="UPDATED_NEW")
    assert changed == {"hits": 2}
    assert users.update({"id": "u"}, "REMOVE hits") is None
    assert users.get({"id": "u"}) == {"id": "u"}


def test_update_invalid_return_values(users: Table) -> None:
    error = remote_error(users.update, {"id": "u"}, "SET a = :a", values={":a": 1}, return_values="EVERYTHING")
    assert error.code == "ValidationException"
    assert "'EVERYTHING'" in error.message


def test_delete_returns_old_item(users: Table) -> None:
    users.put({"id": "d", "v": 1})

    assert users.delete({"id": "d"}, return_old=True) == {"id": "d", "v": 1}
    assert users.get({"id": "d"}) is None
    assert users.delete({"id": "d"}, return_old=True) is None


def test_conditional_delete_fails(users: Table) -> None:
    users.put({"id": "k", "v": 5})

    error = remote_error(users.delete, {"id": "k"}, condition="v < :max", values={":max": 3})
    assert error.code == "ConditionalCheckFailedException"
    assert users.get({"id": "k"}) == {"id": "k", "v": 5}


# ---------------------------------------------------------------- reads


def fill_orders(orders: Table, count: int) -> None:
    for number in range(1, count + 1):
        orders.put({"customer": "alice", "order": number, "total": number * 10})
    orders.put({"customer": "bob", "order": 1, "total": 99})


def test_query_range_and_order(orders: Table) -> None:
    fill_orders(orders, 5)

    page = orders.query("customer = :c AND #o BETWEEN :low AND :high", names={"#o": "order"},
                        values={":c": "alice", ":low": 2, ":high": 4})
    assert isinstance(page, Page)
    assert [item["order"] for item in page.items] == [2, 3, 4]
    assert page.last_evaluated_key is None

    descending = orders.query("customer = :c", values={":c": "alice"}, forward=False)
    assert [item["order"] for item in descending.items] == [5, 4, 3, 2, 1]


def test_query_pages(orders: Table) -> None:
    fill_orders(orders, 5)

    first = orders.query("customer = :c", values={":c": "alice"}, limit=2)
    assert [item["order"] for item in first.items] == [1, 2]
    assert first.last_evaluated_key == {"customer": "alice", "order": 2}

    second = orders.query("customer = :c", values={":c": "alice"}, limit=2, start_key=first.last_evaluated_key)
    assert [item["order"] for item in second.items] == [3, 4]

    every = list(orders.query_all("customer = :c", values={":c": "alice"}, limit=2))
    assert [item["order"] for item in every] == [1, 2, 3, 4, 5]


def test_query_filter_counts(orders: Table) -> None:
    fill_orders(orders, 5)

    page = orders.query("customer = :c", filter="total > :min", values={":c": "alice", ":min": 30})
    assert [item["order"] for item in page.items] == [4, 5]
    assert page.count == 2
    assert page.scanned_count == 5


def test_query_filter_on_sort_key(orders: Table) -> None:
    fill_orders(orders, 2)

    error = remote_error(orders.query, "customer = :c", filter="#o = :o", names={"#o": "order"}, values={":c": "alice", ":o": 1})

    assert error.code == "ValidationException"
    assert error.status == 400
    assert "Filter Expression can only contain non-primary key attributes: Primary key attribute: order" in error.message


def test_scan_all_pages(orders: Table) -> None:
    fill_orders(orders, 4)

    first = orders.scan(limit=3)
    assert len(first.items) == 3
    assert first.last_evaluated_key is not None

    every = list(orders.scan_all(limit=2))
    assert sorted((item["customer"], item["order"]) for item in every) == [
        ("alice", 1), ("alice", 2), ("alice", 3), ("alice", 4), ("bob", 1),
    ]
    filtered = list(orders.scan_all(filter="total = :t", values={":t": 99}))
    assert filtered == [{"customer": "bob", "order": 1, "total": 99}]


def test_scan_projection(orders: Table) -> None:
    fill_orders(orders, 1)
    assert orders.scan(projection="total").items == [{"total": 10}, {"total": 99}]


# ---------------------------------------------------------------- errors


def test_unknown_table(client: Client) -> None:
    table = Table("no-such-table", client)
    for call in (lambda: table.get({"id": "a"}), lambda: table.put({"id": "a"}), lambda: table.scan()):
        error = remote_error(call)
        assert error.code == "ResourceNotFoundException"
        assert error.status == 404
        assert "'no-such-table'" in error.message


@pytest.mark.parametrize(
    ("item", "named"),
    [
        ({"id": 7}, "'id'"),
        ({"other": "x"}, "'id'"),
        ({"id": ""}, "'id'"),
    ],
)
def test_put_invalid_key(users: Table, item: dict[str, Any], named: str) -> None:
    error = remote_error(users.put, item)
    assert error.code == "ValidationException"
    assert named in error.message


def test_get_key_with_extra_attributes(users: Table) -> None:
    error = remote_error(users.get, {"id": "a", "extra": 1})
    assert error.code == "ValidationException"
    assert "extra" in error.message


def test_item_over_size_limit(users: Table) -> None:
    error = remote_error(users.put, {"id": "big", "data": "x" * (400 * 1024)})
    assert error.code == "ValidationException"
    assert error.status == 413
    assert "400 KB" in error.message
    assert users.get({"id": "big"}) is None


@pytest.mark.parametrize(
    ("item", "named"),
    [
        ({"id": {"X": "a"}}, "'X'"),
        ({"id": {"S": "a"}, "n": {"N": "twelve"}}, "'twelve'"),
        ({"id": "a"}, "'a'"),
    ],
)
def test_put_invalid_typed_json(client: Client, users: Table, item: dict[str, Any], named: str) -> None:
    error = remote_error(client.call, "tables", "put", table=users.name, item=item)
    assert error.code == "ValidationException"
    assert named in error.message


def test_invalid_expression(orders: Table) -> None:
    error = remote_error(orders.query, "customer == :c", values={":c": "alice"})
    assert error.code == "ValidationException"
    assert error.status == 400


def test_unknown_operation(client: Client) -> None:
    error = remote_error(client.call, "tables", "truncate", name="x")
    assert error.code == "ValidationException"
    assert "'truncate'" in error.message


@pytest.mark.parametrize("value", [object(), set(), {1, "a"}, float("nan")])
def test_sdk_rejects_untyped_value(users: Table, value: Any) -> None:
    with pytest.raises(InvalidParameter):
        users.put({"id": "a", "bad": value})


# ---------------------------------------------------------------- inside a function


def test_function_writes_with_sdk(server: RunningServer, users: Table) -> None:
    body = {"table": users.name, "item": {"id": "from-function", "total": 12.25}}
    response = httpx.post(f"{server.endpoint}/record", json=body, timeout=60)

    assert response.status_code == 200, response.text
    assert response.json() == {"total": "12.25"}
    assert users.get({"id": "from-function"}) == {"id": "from-function", "total": Decimal("12.25")}

