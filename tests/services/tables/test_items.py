"""Writing and reading single items: put, get, delete and update."""

from __future__ import annotations

from decimal import Decimal

import pytest

from squall.services.errors import ConditionFailed, InvalidParameter, LimitExceeded
from squall.services.tables.model import TableStore
from squall.services.tables.values import ITEM_SIZE_LIMIT


def test_put_then_get(orders: TableStore) -> None:
    item = {"customer": "ann", "order": 1, "total": Decimal("9.50"), "tags": {"new", "gift"}, "paid": True,
            "lines": [{"sku": "a", "count": 2}], "note": None, "blob": b"\x00\x01"}

    orders.put("orders", item)

    stored = orders.get("orders", {"customer": "ann", "order": 1})
    assert stored == {**item, "order": Decimal(1), "total": Decimal("9.5")}
    assert stored["paid"] is True


def test_put_replaces_whole_item(orders: TableStore) -> None:
    orders.put("orders", {"customer": "ann", "order": 1, "a": "x"})

    old = orders.put("orders", {"customer": "ann", "order": 1, "b": "y"}, return_old=True)

    assert old == {"customer": "ann", "order": 1, "a": "x"}
    assert orders.get("orders", {"customer": "ann", "order": 1}) == {"customer": "ann", "order": 1, "b": "y"}


def test_put_return_old_missing(orders: TableStore) -> None:
    assert orders.put("orders", {"customer": "ann", "order": 1}, return_old=True) is None


def test_number_keys_equal_across_forms(orders: TableStore) -> None:
    orders.put("orders", {"customer": "ann", "order": Decimal("1.50"), "v": 1})

    assert orders.get("orders", {"customer": "ann", "order": 1.5}) is not None
    assert orders.get("orders", {"customer": "ann", "order": Decimal("1.500")}) is not None


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"order": 1}, "'customer' of table 'orders' is missing"),
        ({"customer": "ann"}, "'order' of table 'orders' is missing"),
        ({"customer": 5, "order": 1}, "has type N: expected S"),
        ({"customer": "ann", "order": "1"}, "has type S: expected N"),
        ({"customer": "", "order": 1}, "0 bytes long"),
        ({"customer": "x" * 2049, "order": 1}, "2049 bytes long: use 1 to 2048"),
        ({"customer": "ann", "order": [1]}, "has type list: expected N"),
    ],
)
def test_put_invalid_key(orders: TableStore, item: dict, expected: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        orders.put("orders", item)

    assert expected in caught.value.message


def test_sort_key_length_limit(store: TableStore) -> None:
    store.create_table("pages", partition_key=("site", "S"), sort_key=("path", "S"))
    store.put("pages", {"site": "a", "path": "p" * 1024})

    with pytest.raises(InvalidParameter) as caught:
        store.put("pages", {"site": "a", "path": "p" * 1025})

    assert "1025 bytes long: use 1 to 1024" in caught.value.message


def test_get_rejects_extra_attributes(orders: TableStore) -> None:
    with pytest.raises(InvalidParameter) as caught:
        orders.get("orders", {"customer": "ann", "order": 1, "total": 3})

    assert "['total']" in caught.value.message


def test_item_over_size_limit(orders: TableStore) -> None:
    # The number 1 takes 2 bytes: one per two digits, plus one.
    room = ITEM_SIZE_LIMIT - len("customer") - len("ann") - len("order") - 2 - len("blob")
    orders.put("orders", {"customer": "ann", "order": 1, "blob": b"x" * room})

    with pytest.raises(LimitExceeded) as caught:
        orders.put("orders", {"customer": "ann", "order": 2, "blob": b"x" * (room + 1)})

    assert str(ITEM_SIZE_LIMIT + 1) in caught.value.message
    assert str(ITEM_SIZE_LIMIT) in caught.value.message
    assert orders.get("orders", {"customer": "ann", "order": 2}) is None


def test_put_condition_not_exists(orders: TableStore) -> None:
    orders.put("orders", {"customer": "ann", "order": 1, "v": 1}, condition="attribute_not_exists(customer)")

    with pytest.raises(ConditionFailed) as caught:
        orders.put("orders", {"customer": "ann", "order": 1, "v": 2}, condition="attribute_not_exists(customer)")

    assert caught.value.code == "ConditionalCheckFailedException"
    assert orders.get("orders", {"customer": "ann", "order": 1})["v"] == 1


def test_put_condition_with_values(orders: TableStore) -> None:
    orders.put("orders", {"customer": "ann", "order": 1, "v": 1})

    orders.put("orders", {"customer": "ann", "order": 1, "v": 2}, condition="#v = :old", names={"#v": "v"}, values={":old": 1})

    with pytest.raises(ConditionFailed):
        orders.put("orders", {"customer": "ann", "order": 1, "v": 3}, condition="#v = :old", names={"#v": "v"}, values={":old": 1})
    assert orders.get("orders", {"customer": "ann", "order": 1})["v"] == 2


def test_get_projection(orders: TableStore) -> None:
    orders.put("orders", {"customer": "ann", "order": 1, "a": 1, "b": {"c": 2, "d": 3}, "end": "x"})

    projected = orders.get("orders", {"customer": "ann", "order": 1}, projection="a, b.c, #e", names={"#e": "end"})

    assert projected == {"a": 1, "b": {"c": 2}, "end": "x"}


def test_delete_returns_old(orders: TableStore) -> None:
    orders.put("orders", {"customer": "ann", "order": 1, "v": 1})

    old = orders.delete("orders", {"customer": "ann", "order": 1}, return_old=True)

    assert old == {"customer": "ann", "order": 1, "v": 1}
    assert orders.get("orders", {"customer": "ann", "order": 1}) is None
    assert orders.delete("orders", {"customer": "ann", "order": 1}, return_old=True) is None


def test_delete_condition_failed(orders: TableStore) -> None:
    orders.put("orders", {"customer": "ann", "order": 1, "status": "open"})

    with pytest.raises(ConditionFailed):
        orders.delete("orders", {"customer": "ann", "order": 1}, condition="#s = :s", names={"#s": "status"}, values={":s": "closed"})

    assert orders.get("orders", {"customer": "ann", "order": 1}) is not None


def test_delete_missing_with_condition(orders: TableStore) -> None:
    with pytest.raises(ConditionFailed):
        orders.delete("orders", {"customer": "ann", "order": 1}, condition="attribute_exists(customer)")


def test_update_creates_missing_item(orders: TableStore) -> None:
    new = orders.update("orders", {"customer": "ann", "order": 1}, "SET total = :t", values={":t": 5}, return_values="ALL_NEW")

    assert new == {"customer": "ann", "order": 1, "total": 5}
    assert orders.get("orders", {"customer": "ann", "order": 1}) == new


def test_update_counter(orders: TableStore) -> None:
    key = {"customer": "ann", "order": 1}
    for _ in range(3):
        orders.update("orders", key, "ADD visits :one", values={":one": 1})

    assert orders.get("orders", key)["visits"] == 3


@pytest.mark.parametrize(
    ("return_values", "expected"),
    [
        ("NONE", None),
        ("ALL_OLD", {"customer": "ann", "order": 1, "a": 1, "b": 2}),
        ("ALL_NEW", {"customer": "ann", "order": 1, "a": 10, "c": 3}),
        ("UPDATED_OLD", {"a": 1, "b": 2}),
        ("UPDATED_NEW", {"a": 10, "c": 3}),
    ],
)
def test_update_return_values(orders: TableStore, return_values: str, expected: dict | None) -> None:
    key = {"customer": "ann", "order": 1}
    orders.put("orders", {**key, "a": 1, "b": 2})

    result = orders.update("orders", key, "SET a = :a, c = :c REMOVE b", values={":a": 10, ":c": 3}, return_values=return_values)

    assert result == expected


def test_update_invalid_return_values(orders: TableStore) -> None:
    with pytest.raises(InvalidParameter) as caught:
        orders.update("orders", {"customer": "ann", "order": 1}, "SET a = :a", values={":a": 1}, return_values="EVERYTHING")

    assert "'EVERYTHING'" in caught.value.message
    assert "UPDATED_NEW" in caught.value.message


@pytest.mark.parametrize("expression", ["SET #k = :v", "REMOVE #k"])
def test_update_cannot_change_key(orders: TableStore, expression: str) -> None:
    key = {"customer": "ann", "order": 1}
    orders.put("orders", {**key, "a": 1})

    with pytest.raises(InvalidParameter) as caught:
        orders.update("orders", key, expression, names={"#k": "order"}, values={":v": 2} if ":v" in expression else None)

    assert "'order'" in caught.value.message
    assert orders.get("orders", key) == {**key, "a": 1}


def test_update_condition_failed(orders: TableStore) -> None:
    key = {"customer": "ann", "order": 1}
    orders.put("orders", {**key, "v": 1})

    with pytest.raises(ConditionFailed):
        orders.update("orders", key, "SET v = :new", condition="v = :old", values={":new": 2, ":old": 5})

    assert orders.get("orders", key)["v"] == 1


def test_update_over_size_limit(orders: TableStore) -> None:
    key = {"customer": "ann", "order": 1}
    orders.put("orders", {**key, "blob": b"x" * (ITEM_SIZE_LIMIT - 100)})

    with pytest.raises(LimitExceeded):
        orders.update("orders", key, "SET more = :m", values={":m": "y" * 200})

    assert "more" not in orders.get("orders", key)


def test_update_returns_nested_paths(orders: TableStore) -> None:
    key = {"customer": "ann", "order": 1}
    orders.put("orders", {**key, "address": {"city": "Oslo", "zip": "0150"}, "other": 1})

    old = orders.update("orders", key, "SET address.city = :c", values={":c": "Bergen"}, return_values="UPDATED_OLD")
    new = orders.update("orders", key, "SET address.city = :c", values={":c": "Tromsø"}, return_values="UPDATED_NEW")

    assert old == {"address": {"city": "Oslo"}}
    assert new == {"address": {"city": "Tromsø"}}


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.put("orders", {"customer": "ann", "order": 1}, values={":unused": 1}),
        lambda s: s.put("orders", {"customer": "ann", "order": 1}, condition="attribute_not_exists(v)", values={":unused": 1}),
        lambda s: s.update("orders", {"customer": "ann", "order": 1}, "SET v = :v", values={":v": 1, ":unused": 2}),
        lambda s: s.delete("orders", {"customer": "ann", "order": 1}, names={"#unused": "v"}),
        lambda s: s.get("orders", {"customer": "ann", "order": 1}, projection="v", names={"#unused": "v"}),
        lambda s: s.query("orders", "customer = :c", values={":c": "ann", ":unused": 1}),
        lambda s: s.scan("orders", filter="v = :v", values={":v": 1, ":unused": 1}),
    ],
)
def test_unused_placeholder_rejected(orders: TableStore, call) -> None:
    with pytest.raises(InvalidParameter) as caught:
        call(orders)

    assert "unused" in caught.value.message


def test_placeholders_shared_across_expressions(orders: TableStore) -> None:
    key = {"customer": "ann", "order": 1}
    orders.put("orders", {**key, "v": 1})

    orders.update("orders", key, "SET #v = :new", condition="#v = :old", names={"#v": "v"}, values={":new": 2, ":old": 1})
    page = orders.query("orders", "#c = :c", filter="#v = :new", projection="#v", names={"#c": "customer", "#v": "v"}, values={":c": "ann", ":new": 2})

    assert page.items == [{"v": 2}]
