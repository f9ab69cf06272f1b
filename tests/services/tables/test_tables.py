"""Creating, describing, listing and deleting tables."""

from __future__ import annotations

import pytest

from squall.services.errors import InvalidParameter, ResourceExists, ResourceNotFound
from squall.services.tables.model import KeyAttribute, KeyType, TableStore


def test_create_returns_settings(store: TableStore) -> None:
    info = store.create_table("orders", partition_key=("customer", "S"), sort_key=("order", "N"), ttl_attribute="ttl")

    assert info.name == "orders"
    assert info.partition_key == KeyAttribute("customer", KeyType.STRING)
    assert info.sort_key == KeyAttribute("order", KeyType.NUMBER)
    assert info.ttl_attribute == "ttl"
    assert info.stream_enabled is True
    assert info.item_count == 0
    assert store.describe_table("orders") == info


def test_create_same_settings_again(store: TableStore) -> None:
    first = store.create_table("orders", partition_key=("customer", "S"))
    store.put("orders", {"customer": "ann"})

    again = store.create_table("orders", partition_key=("customer", "S"))

    assert again.created_at == first.created_at
    assert again.item_count == 1


@pytest.mark.parametrize(
    "settings",
    [
        {"partition_key": ("customer", "N")},
        {"partition_key": ("client", "S")},
        {"partition_key": ("customer", "S"), "sort_key": ("order", "N")},
        {"partition_key": ("customer", "S"), "ttl_attribute": "expires"},
        {"partition_key": ("customer", "S"), "stream": False},
    ],
)
def test_create_other_settings_rejected(store: TableStore, settings: dict) -> None:
    store.create_table("orders", partition_key=("customer", "S"))

    with pytest.raises(ResourceExists) as caught:
        store.create_table("orders", **settings)

    assert "orders" in caught.value.message
    assert caught.value.code == "ResourceInUseException"


@pytest.mark.parametrize("name", ["ab", "x" * 256, "my table", "orders!", "", 42])
def test_create_invalid_name(store: TableStore, name: object) -> None:
    with pytest.raises(InvalidParameter) as caught:
        store.create_table(name, partition_key=("id", "S"))  # type: ignore[arg-type]

    assert repr(name) in caught.value.message
    assert "3 to 255" in caught.value.message


@pytest.mark.parametrize("name", ["abc", "a.b-c_d", "X" * 255])
def test_create_valid_name(store: TableStore, name: str) -> None:
    assert store.create_table(name, partition_key=("id", "S")).name == name


@pytest.mark.parametrize(
    ("partition_key", "sort_key", "expected"),
    [
        (("id", "X"), None, "'X'"),
        (("id", "SS"), None, "'SS'"),
        (("", "S"), None, "''"),
        ("id", None, "pair"),
        (("id", "S"), ("id", "N"), "also the partition key"),
        (("id", "S"), ("when", "BOOL"), "'BOOL'"),
    ],
)
def test_create_invalid_key_schema(store: TableStore, partition_key: object, sort_key: object, expected: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        store.create_table("orders", partition_key=partition_key, sort_key=sort_key)  # type: ignore[arg-type]

    assert expected in caught.value.message


def test_list_tables_sorted(store: TableStore) -> None:
    for name in ("zeta", "alpha", "mid"):
        store.create_table(name, partition_key=("id", "S"))

    assert store.list_tables() == ["alpha", "mid", "zeta"]


def test_delete_table_removes_items(store: TableStore) -> None:
    store.create_table("orders", partition_key=("id", "S"))
    store.put("orders", {"id": "a"})

    store.delete_table("orders")

    assert store.list_tables() == []
    with pytest.raises(ResourceNotFound):
        store.describe_table("orders")
    store.create_table("orders", partition_key=("id", "S"))
    assert store.get("orders", {"id": "a"}) is None


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.describe_table("missing"),
        lambda s: s.delete_table("missing"),
        lambda s: s.put("missing", {"id": "a"}),
        lambda s: s.get("missing", {"id": "a"}),
        lambda s: s.scan("missing"),
        lambda s: s.changes("missing"),
    ],
)
def test_missing_table_not_found(store: TableStore, call) -> None:
    with pytest.raises(ResourceNotFound) as caught:
        call(store)

    assert "'missing'" in caught.value.message
    assert caught.value.code == "ResourceNotFoundException"


def test_describe_counts_items_and_bytes(store: TableStore) -> None:
    store.create_table("orders", partition_key=("id", "S"))
    store.put("orders", {"id": "a", "note": "12345"})
    store.put("orders", {"id": "b"})
    store.put("orders", {"id": "a", "note": "1"})
    store.delete("orders", {"id": "b"})

    info = store.describe_table("orders")

    assert info.item_count == 1
    # "id" + "a" + "note" + "1", counted as DynamoDB counts item sizes.
    assert info.size_bytes == 2 + 1 + 4 + 1


def test_stream_label_format(store: TableStore, clock) -> None:
    clock.now = 1_431_378_893.291
    info = store.create_table("orders", partition_key=("id", "S"))

    assert info.stream_label == "2015-05-11T21:14:53.291"
