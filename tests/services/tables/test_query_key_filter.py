"""Query filters that read key attributes: DynamoDB rejects them, Scan allows them."""

from __future__ import annotations

import pytest

from squall.services.errors import InvalidParameter
from squall.services.tables.model import TableStore

REJECTION = "Filter Expression can only contain non-primary key attributes: Primary key attribute: "


@pytest.fixture
def events(store: TableStore) -> TableStore:
    """Table 'events': partition key 'id' (S), sort key 'sk' (S), three items in partition "a"."""
    store.create_table("events", partition_key=("id", "S"), sort_key=("sk", "S"))
    for sort_value in ("x1", "x2", "y1"):
        store.put("events", {"id": "a", "sk": sort_value, "kind": sort_value[0], "tags": ["t"]})
    return store


@pytest.mark.parametrize(
    ("filter", "names", "values", "key"),
    [
        ("sk = :s", None, {":s": "x1"}, "sk"),
        ("#k = :s", {"#k": "sk"}, {":s": "x1"}, "sk"),
        ("begins_with(sk, :s)", None, {":s": "x"}, "sk"),
        ("attribute_exists(sk)", None, None, "sk"),
        ("size(sk) > :n", None, {":n": 1}, "sk"),
        ("kind = :k OR sk IN (:s, :t)", None, {":k": "x", ":s": "x1", ":t": "y1"}, "sk"),
        ("NOT (sk BETWEEN :s AND :t)", None, {":s": "x1", ":t": "x2"}, "sk"),
        ("kind = :k AND id <> :s", None, {":k": "x", ":s": "b"}, "id"),
        ("#p = :s", {"#p": "id"}, {":s": "a"}, "id"),
        ("sk = :s AND id = :t", None, {":s": "x1", ":t": "a"}, "id"),
    ],
)
def test_query_filter_on_key_rejected(
    events: TableStore, filter: str, names: dict[str, str] | None, values: dict[str, object] | None, key: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        events.query("events", "id = :p", names=names, values={":p": "a", **(values or {})}, filter=filter)

    assert str(caught.value).startswith(REJECTION + key + ".")


def test_query_filter_nested_key_path(events: TableStore) -> None:
    with pytest.raises(InvalidParameter) as caught:
        events.query("events", "id = :p", values={":p": "a", ":v": "x"}, filter="sk.part = :v")

    assert str(caught.value).startswith(REJECTION + "sk.")


def test_query_filter_partition_only_table(store: TableStore) -> None:
    store.create_table("users", partition_key=("id", "S"))
    store.put("users", {"id": "u", "name": "Ann"})

    with pytest.raises(InvalidParameter) as caught:
        store.query("users", "id = :p", values={":p": "u"}, filter="attribute_exists(id)")

    assert str(caught.value).startswith(REJECTION + "id.")


def test_query_filter_on_other_attributes(events: TableStore) -> None:
    page = events.query(
        "events", "id = :p", names={"#k": "kind"}, values={":p": "a", ":k": "x", ":t": "t"},
        filter="#k = :k AND contains(tags, :t)",
    )

    assert [item["sk"] for item in page.items] == ["x1", "x2"]


def test_query_key_condition_may_name_sort_key(events: TableStore) -> None:
    page = events.query("events", "id = :p AND sk = :s", values={":p": "a", ":s": "x1", ":k": "x"}, filter="kind = :k")

    assert [item["sk"] for item in page.items] == ["x1"]


def test_scan_filter_may_read_keys(events: TableStore) -> None:
    page = events.scan("events", filter="#k = :s AND id = :p", names={"#k": "sk"}, values={":s": "y1", ":p": "a"})

    assert [item["sk"] for item in page.items] == ["y1"]
