"""The change stream written with every write, and the TTL sweep."""

from __future__ import annotations

import pytest

from squall.services.errors import ConditionFailed, InvalidParameter, ResourceNotFound
from squall.services.tables.model import ChangeEvent, TableStore

KEY = {"customer": "ann", "order": 1}


def test_insert_modify_remove(orders: TableStore, clock) -> None:
    orders.put("orders", {**KEY, "v": 1})
    clock.advance(1)
    orders.update("orders", KEY, "SET v = :v", values={":v": 2})
    clock.advance(1)
    orders.delete("orders", KEY)

    changes = orders.changes("orders")

    assert [change.event_name for change in changes] == [ChangeEvent.INSERT, ChangeEvent.MODIFY, ChangeEvent.REMOVE]
    insert, modify, remove = changes
    assert insert.keys == KEY
    assert insert.old_image is None
    assert insert.new_image == {**KEY, "v": 1}
    assert modify.old_image == {**KEY, "v": 1}
    assert modify.new_image == {**KEY, "v": 2}
    assert remove.old_image == {**KEY, "v": 2}
    assert remove.new_image is None
    assert remove.user_identity is None
    assert insert.seq < modify.seq < remove.seq
    assert modify.created_at - insert.created_at == 1


def test_change_size_counts_keys_and_images(orders: TableStore) -> None:
    orders.put("orders", {**KEY, "note": "hello"})
    orders.put("orders", {**KEY, "note": "hi"})

    insert, modify = orders.changes("orders")

    keys = len("customer") + len("ann") + len("order") + 2
    assert insert.size_bytes == keys + keys + len("note") + 5
    assert modify.size_bytes == keys + (keys + len("note") + 5) + (keys + len("note") + 2)


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.put("orders", {**KEY, "v": 1, "tags": {"b", "a"}}),
        lambda s: s.put("orders", {"tags": {"a", "b"}, "v": 1.0, **KEY}),
        lambda s: s.update("orders", KEY, "SET v = :v", values={":v": 1}),
    ],
)
def test_unchanged_write_records_nothing(orders: TableStore, write) -> None:
    orders.put("orders", {**KEY, "v": 1, "tags": {"a", "b"}})

    write(orders)

    assert [change.event_name for change in orders.changes("orders")] == [ChangeEvent.INSERT]


def test_type_change_is_a_modify(orders: TableStore) -> None:
    orders.put("orders", {**KEY, "flag": 1})
    orders.put("orders", {**KEY, "flag": True})

    assert [change.event_name for change in orders.changes("orders")] == [ChangeEvent.INSERT, ChangeEvent.MODIFY]


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.delete("orders", KEY),
        lambda s: s.delete("orders", KEY, condition="attribute_exists(customer)"),
        lambda s: s.put("orders", {**KEY, "v": 1}, condition="attribute_exists(customer)"),
    ],
)
def test_no_record_without_a_write(orders: TableStore, write) -> None:
    try:
        write(orders)
    except ConditionFailed:
        pass

    assert orders.changes("orders") == []


def test_changes_after_seq_and_limit(orders: TableStore) -> None:
    for number in range(5):
        orders.put("orders", {"customer": "ann", "order": number})
    all_changes = orders.changes("orders")

    page = orders.changes("orders", after_seq=all_changes[1].seq, limit=2)

    assert [change.seq for change in page] == [all_changes[2].seq, all_changes[3].seq]


def test_changes_are_per_table(orders: TableStore) -> None:
    orders.create_table("other", partition_key=("id", "S"))
    orders.put("other", {"id": "x"})
    orders.put("orders", KEY)

    assert [change.keys for change in orders.changes("orders")] == [KEY]
    assert [change.keys for change in orders.changes("other")] == [{"id": "x"}]


@pytest.mark.parametrize("limit", [0, 1001])
def test_changes_invalid_limit(orders: TableStore, limit: int) -> None:
    with pytest.raises(InvalidParameter) as caught:
        orders.changes("orders", limit=limit)

    assert "1000" in caught.value.message


def test_trim_changes(orders: TableStore) -> None:
    for number in range(4):
        orders.put("orders", {"customer": "ann", "order": number})
    seqs = [change.seq for change in orders.changes("orders")]

    trimmed = orders.trim_changes("orders", seqs[1])
    orders.put("orders", {"customer": "ann", "order": 9})

    remaining = [change.seq for change in orders.changes("orders")]
    assert trimmed == 2
    assert remaining[:2] == seqs[2:]
    assert remaining[2] > seqs[-1]


def test_stream_disabled(store: TableStore) -> None:
    store.create_table("quiet", partition_key=("id", "S"), stream=False)
    store.put("quiet", {"id": "a"})

    with pytest.raises(ResourceNotFound) as caught:
        store.changes("quiet")

    assert "stream=False" in caught.value.message


def test_expire_deletes_past_items(orders: TableStore, clock) -> None:
    now = int(clock.now)
    orders.put("orders", {"customer": "ann", "order": 1, "expires": now - 1})
    orders.put("orders", {"customer": "ann", "order": 2, "expires": now + 60})
    orders.put("orders", {"customer": "ann", "order": 3})
    orders.put("orders", {"customer": "ann", "order": 4, "expires": "soon"})

    # Expired items stay readable until the sweep, as in DynamoDB.
    assert orders.get("orders", {"customer": "ann", "order": 1}) is not None
    assert orders.expire() == 1
    assert orders.get("orders", {"customer": "ann", "order": 1}) is None

    clock.advance(61)
    assert orders.expire() == 1
    remaining = orders.query("orders", "customer = :c", values={":c": "ann"})
    assert [int(item["order"]) for item in remaining.items] == [3, 4]


def test_expire_not_at_exact_second(orders: TableStore, clock) -> None:
    orders.put("orders", {**KEY, "expires": clock.now})

    assert orders.expire() == 0


def test_expire_writes_service_remove(orders: TableStore, clock) -> None:
    orders.put("orders", {**KEY, "expires": int(clock.now) - 5})

    orders.expire()

    removal = orders.changes("orders")[-1]
    assert removal.event_name is ChangeEvent.REMOVE
    assert removal.keys == KEY
    assert removal.old_image == {**KEY, "expires": int(clock.now) - 5}
    assert removal.user_identity == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def test_expire_respects_limit(orders: TableStore, clock) -> None:
    for number in range(5):
        orders.put("orders", {"customer": "ann", "order": number, "expires": int(clock.now) - 10 + number})

    assert orders.expire(limit=2) == 2
    assert orders.expire(limit=10) == 3
    assert orders.describe_table("orders").item_count == 0


def test_update_moves_expiry(orders: TableStore, clock) -> None:
    orders.put("orders", {**KEY, "expires": int(clock.now) - 5})
    orders.update("orders", KEY, "SET expires = :later", values={":later": int(clock.now) + 100})

    assert orders.expire() == 0
    clock.advance(101)
    assert orders.expire() == 1


def test_table_without_ttl_never_expires(store: TableStore, clock) -> None:
    store.create_table("plain", partition_key=("id", "S"))
    store.put("plain", {"id": "a", "expires": 1})

    assert store.expire() == 0
