"""Query and scan: key order, key conditions, limits, filters and pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from squall.services.errors import InvalidParameter
from squall.services.tables.model import MAX_PAGE_BYTES, TableStore

NUMBERS = [Decimal(text) for text in ("-1E+10", "-12.5", "-12", "-0.55", "-0.5", "0", "1E-10", "0.5", "0.55", "2", "10", "100.25", "9.9E+20")]
# UTF-8 byte order puts "Z" before "a", and "é" (0xC3 0xA9) after "z".
STRINGS = ["A", "Z", "a", "ab", "abc", "b", "z", "é", "😀"]
BINARIES = [b"\x00", b"\x00\x00", b"\x01", b"\x7f", b"\x80", b"\xff", b"\xff\x00"]


def _sort_values(page) -> list[Any]:
    return [item["s"] for item in page.items]


@pytest.mark.parametrize(
    ("kind", "ordered"),
    [("N", NUMBERS), ("S", STRINGS), ("B", BINARIES)],
)
@pytest.mark.parametrize("forward", [True, False])
def test_query_sort_order(store: TableStore, kind: str, ordered: list[Any], forward: bool) -> None:
    store.create_table("tbl", partition_key=("p", "S"), sort_key=("s", kind))
    for value in reversed(ordered):
        store.put("tbl", {"p": "x", "s": value})
    store.put("tbl", {"p": "other", "s": ordered[0]})

    page = store.query("tbl", "p = :p", values={":p": "x"}, forward=forward)

    expected = ordered if forward else list(reversed(ordered))
    assert _sort_values(page) == expected
    assert page.count == len(ordered)
    assert page.last_evaluated_key is None


@pytest.fixture
def numbered(store: TableStore) -> TableStore:
    """Table 'tbl' with items s = 1..10 in partition "x", each with odd = s % 2."""
    store.create_table("tbl", partition_key=("p", "S"), sort_key=("s", "N"))
    for number in range(1, 11):
        store.put("tbl", {"p": "x", "s": number, "odd": number % 2})
    return store


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        ("p = :p AND s = :a", {":a": 3}, [3]),
        ("p = :p AND s < :a", {":a": 3}, [1, 2]),
        ("p = :p AND s <= :a", {":a": 3}, [1, 2, 3]),
        ("p = :p AND s > :a", {":a": 8}, [9, 10]),
        ("p = :p AND s >= :a", {":a": 8}, [8, 9, 10]),
        ("p = :p AND s BETWEEN :a AND :b", {":a": 4, ":b": 6}, [4, 5, 6]),
        ("p = :p AND s BETWEEN :a AND :b", {":a": 4, ":b": 4}, [4]),
    ],
)
def test_query_sort_conditions(numbered: TableStore, condition: str, values: dict, expected: list[int]) -> None:
    page = numbered.query("tbl", condition, values={":p": "x", **values})

    assert _sort_values(page) == expected


def test_query_between_reversed_bounds(numbered: TableStore) -> None:
    with pytest.raises(InvalidParameter) as caught:
        numbered.query("tbl", "p = :p AND s BETWEEN :a AND :b", values={":p": "x", ":a": 6, ":b": 4})

    assert "BETWEEN" in caught.value.message


@pytest.mark.parametrize(
    ("kind", "values", "prefix", "expected"),
    [
        ("S", ["a", "ab", "abc", "abd", "b", "ab\uffff"], "ab", ["ab", "abc", "abd", "ab\uffff"]),
        ("S", ["a", "b"], "c", []),
        ("B", [b"\x01", b"\x01\xff", b"\x01\xff\x00", b"\x02"], b"\x01\xff", [b"\x01\xff", b"\x01\xff\x00"]),
        ("B", [b"\xfe", b"\xff", b"\xff\xff"], b"\xff", [b"\xff", b"\xff\xff"]),
    ],
)
def test_query_begins_with(store: TableStore, kind: str, values: list, prefix: Any, expected: list) -> None:
    store.create_table("tbl", partition_key=("p", "S"), sort_key=("s", kind))
    for value in values:
        store.put("tbl", {"p": "x", "s": value})

    page = store.query("tbl", "p = :p AND begins_with(s, :pre)", values={":p": "x", ":pre": prefix})

    assert _sort_values(page) == expected


def test_query_begins_with_number_key(numbered: TableStore) -> None:
    with pytest.raises(InvalidParameter):
        numbered.query("tbl", "p = :p AND begins_with(s, :pre)", values={":p": "x", ":pre": 1})


def test_query_wrong_partition_type(numbered: TableStore) -> None:
    with pytest.raises(InvalidParameter) as caught:
        numbered.query("tbl", "p = :p", values={":p": 5})

    assert "key: p" in caught.value.message
    assert "expected: S" in caught.value.message


def test_query_limit_counts_before_filter(numbered: TableStore) -> None:
    page = numbered.query("tbl", "p = :p", values={":p": "x", ":one": 1}, filter="odd = :one", limit=4)

    assert _sort_values(page) == [1, 3]
    assert page.count == 2
    assert page.scanned_count == 4
    assert page.last_evaluated_key == {"p": "x", "s": 4}


def test_query_filter_may_return_empty_page(numbered: TableStore) -> None:
    page = numbered.query("tbl", "p = :p AND s <= :s", values={":p": "x", ":s": 2, ":zero": 0}, filter="odd = :zero", limit=1)

    assert page.items == []
    assert page.scanned_count == 1
    assert page.last_evaluated_key == {"p": "x", "s": 1}


@pytest.mark.parametrize("forward", [True, False])
@pytest.mark.parametrize("limit", [1, 3, 10, 11])
def test_query_pages_cover_partition(numbered: TableStore, forward: bool, limit: int) -> None:
    seen: list[int] = []
    start = None
    for _ in range(20):
        page = numbered.query("tbl", "p = :p", values={":p": "x"}, forward=forward, limit=limit, start_key=start)
        seen += _sort_values(page)
        start = page.last_evaluated_key
        if start is None:
            break

    expected = list(range(1, 11))
    assert seen == (expected if forward else list(reversed(expected)))


def test_query_last_page_has_no_key(numbered: TableStore) -> None:
    page = numbered.query("tbl", "p = :p", values={":p": "x"}, limit=10)

    assert page.count == 10
    assert page.last_evaluated_key is None


def test_query_start_key_other_partition(numbered: TableStore) -> None:
    with pytest.raises(InvalidParameter) as caught:
        numbered.query("tbl", "p = :p", values={":p": "x"}, start_key={"p": "y", "s": 1})

    assert "start_key" in caught.value.message


def test_query_projection(numbered: TableStore) -> None:
    page = numbered.query("tbl", "p = :p AND s = :s", values={":p": "x", ":s": 1}, projection="odd")

    assert page.items == [{"odd": 1}]


@pytest.mark.parametrize("limit", [0, -1, True, 1.5])
def test_query_invalid_limit(numbered: TableStore, limit: Any) -> None:
    with pytest.raises(InvalidParameter) as caught:
        numbered.query("tbl", "p = :p", values={":p": "x"}, limit=limit)

    assert "limit" in caught.value.message


def test_page_stops_at_one_megabyte(store: TableStore) -> None:
    store.create_table("tbl", partition_key=("p", "S"), sort_key=("s", "N"))
    blob = b"x" * 300_000
    for number in range(5):
        store.put("tbl", {"p": "x", "s": number, "blob": blob})

    first = store.query("tbl", "p = :p", values={":p": "x"})
    rest = store.query("tbl", "p = :p", values={":p": "x"}, start_key=first.last_evaluated_key)

    # Three items of about 300,000 bytes fit in 1 MB; a fourth would not.
    assert first.scanned_count == 3
    assert 3 * len(blob) < MAX_PAGE_BYTES < 4 * len(blob)
    assert first.last_evaluated_key == {"p": "x", "s": first.scanned_count - 1}
    assert first.scanned_count + rest.scanned_count == 5
    assert rest.last_evaluated_key is None


def test_scan_pages_cover_table(store: TableStore) -> None:
    store.create_table("tbl", partition_key=("p", "S"), sort_key=("s", "N"))
    expected = {(p, s) for p in ("a", "b", "c") for s in range(4)}
    for p, s in expected:
        store.put("tbl", {"p": p, "s": s})

    seen: list[tuple[str, int]] = []
    start = None
    for _ in range(20):
        page = store.scan("tbl", limit=5, start_key=start)
        seen += [(item["p"], int(item["s"])) for item in page.items]
        start = page.last_evaluated_key
        if start is None:
            break

    assert len(seen) == len(expected)
    assert set(seen) == expected


def test_scan_filter_and_projection(numbered: TableStore) -> None:
    page = numbered.scan("tbl", filter="odd = :one AND s > :s", values={":one": 1, ":s": 5}, projection="s")

    assert sorted(int(item["s"]) for item in page.items) == [7, 9]
    assert page.scanned_count == 10
    assert page.count == 2


def test_scan_table_without_sort_key(store: TableStore) -> None:
    store.create_table("tbl", partition_key=("id", "N"))
    for number in range(7):
        store.put("tbl", {"id": number})

    first = store.scan("tbl", limit=4)
    rest = store.scan("tbl", start_key=first.last_evaluated_key)

    assert first.count == 4
    assert set(first.last_evaluated_key) == {"id"}
    assert sorted(int(item["id"]) for item in first.items + rest.items) == list(range(7))
