"""Tests for attribute values: normalization, typed JSON, item sizes and key ordering."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from squall.services.errors import InvalidParameter
from squall.services.tables.values import (
    ITEM_SIZE_LIMIT,
    compare,
    format_number,
    from_typed,
    item_from_typed,
    item_size,
    item_to_typed,
    normalize_item,
    normalize_value,
    parse_number,
    sort_key,
    to_typed,
    type_name,
    values_equal,
)

MAX_38_DIGITS = Decimal("9." + "9" * 37 + "E+125")
MIN_38_DIGITS = Decimal("-9." + "9" * 37 + "E+125")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("text", "text"),
        ("", ""),
        (b"\x00\xff", b"\x00\xff"),
        (bytearray(b"ab"), b"ab"),
        (True, True),
        (False, False),
        (None, None),
        (12, Decimal("12")),
        (0, Decimal("0")),
        (-7, Decimal("-7")),
        (0.1, Decimal("0.1")),
        (1e20, Decimal("1E+20")),
        (Decimal("1.500"), Decimal("1.5")),
        (Decimal("-0"), Decimal("0")),
        ((1, "a"), [Decimal(1), "a"]),
        ([1.5, [True, None]], [Decimal("1.5"), [True, None]]),
        ({"k": {"n": 2}}, {"k": {"n": Decimal(2)}}),
        (frozenset({"a", "b"}), {"a", "b"}),
        ({1, 2.5}, {Decimal(1), Decimal("2.5")}),
        ({b"x"}, {b"x"}),
    ],
)
def test_normalize_value_converts(given: Any, expected: Any) -> None:
    result = normalize_value(given)
    assert result == expected
    assert type_name(result) == type_name(expected)


def test_normalize_keeps_bool_apart_from_numbers() -> None:
    assert normalize_value(True) is True
    assert type_name(normalize_value(1)) == "N"


@pytest.mark.parametrize(
    ("item", "message_part"),
    [
        ({"a": set()}, "attribute a: the set is empty"),
        ({"a": {1, "x"}}, "mixes N, S elements"),
        ({"a": {True}}, "set element True has type bool"),
        ({"a": {0.1, Decimal("0.1")}}, "contains duplicates"),
        ({"a": float("nan")}, "use a finite number"),
        ({"a": float("inf")}, "use a finite number"),
        ({"a": Decimal("NaN")}, "use a finite number"),
        ({"a": Decimal("1" * 39)}, "has 39 significant digits: a number may have at most 38"),
        ({"a": Decimal("1E+126")}, "is too large"),
        ({"a": Decimal("-1E+126")}, "is too large"),
        ({"a": Decimal("1E-131")}, "is too small"),
        ({"a": {"b": [object()]}}, "attribute a.b[0]: object value"),
        ({"a": {1: "x"}}, "map key 1 has type int"),
        ({"a": "\ud800"}, "cannot be encoded as UTF-8"),
        ({"": 1}, "attribute name '' is invalid"),
        ({1: 1}, "attribute name 1 is invalid"),
    ],
)
def test_normalize_item_rejects(item: dict[Any, Any], message_part: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        normalize_item(item)
    assert message_part in str(caught.value)


def test_normalize_item_rejects_non_dict() -> None:
    with pytest.raises(InvalidParameter, match="item must be a dict"):
        normalize_item([("a", 1)])


@pytest.mark.parametrize(
    "number",
    [MAX_38_DIGITS, MIN_38_DIGITS, Decimal("1E-130"), Decimal("-1E-130"), Decimal("1" * 38), Decimal("1" * 38 + "000")],
)
def test_number_limits_accept_edges(number: Decimal) -> None:
    assert normalize_value(number) == number


def nested_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_nesting_depth_limit() -> None:
    assert normalize_item({"a": nested_list(32)})["a"] == nested_list(32)
    with pytest.raises(InvalidParameter, match="nested deeper than 32 levels"):
        normalize_item({"a": nested_list(33)})


@pytest.mark.parametrize(
    ("value", "typed"),
    [
        ("x", {"S": "x"}),
        (Decimal("12"), {"N": "12"}),
        (Decimal("-0.5"), {"N": "-0.5"}),
        (Decimal("1E+3"), {"N": "1000"}),
        (b"hi", {"B": "aGk="}),
        (True, {"BOOL": True}),
        (None, {"NULL": True}),
        ([Decimal(1), "a"], {"L": [{"N": "1"}, {"S": "a"}]}),
        ({"k": [None]}, {"M": {"k": {"L": [{"NULL": True}]}}}),
        ({"b", "a"}, {"SS": ["a", "b"]}),
        ({Decimal(10), Decimal(9)}, {"NS": ["9", "10"]}),
        ({b"\x02", b"\x01"}, {"BS": ["AQ==", "Ag=="]}),
    ],
)
def test_typed_round_trip(value: Any, typed: dict[str, Any]) -> None:
    assert to_typed(value) == typed
    assert from_typed(typed) == value


def test_item_typed_round_trip() -> None:
    item = normalize_item({"pk": "user#1", "n": 3, "tags": {"a"}, "doc": {"list": [1, b"x"]}})
    typed = item_to_typed(item)
    assert typed["pk"] == {"S": "user#1"}
    assert typed["doc"] == {"M": {"list": {"L": [{"N": "1"}, {"B": "eA=="}]}}}
    assert item_from_typed(typed) == item


@pytest.mark.parametrize(
    ("typed", "message_part"),
    [
        ({"S": 1}, "S value 1 is invalid"),
        ({"N": "abc"}, "'abc' is not a number"),
        ({"N": "1_000"}, "'1_000' is not a number"),
        ({"N": " 1"}, "' 1' is not a number"),
        ({"N": "Infinity"}, "is not a number"),
        ({"N": 5}, "5 is not a number"),
        ({"N": "1" * 39}, "significant digits"),
        ({"B": "not base64!"}, "is not valid base64"),
        ({"BOOL": "true"}, "BOOL value 'true' is invalid"),
        ({"NULL": False}, "NULL must be true"),
        ({"L": {}}, "L value {} is invalid"),
        ({"M": []}, "M value [] is invalid"),
        ({"SS": []}, "the SS set is empty"),
        ({"SS": ["a", "a"]}, "contains duplicates"),
        ({"NS": ["1", "1.0"]}, "contains duplicates"),
        ({"XX": "a"}, "type 'XX' is unknown"),
        ({"S": "a", "N": "1"}, "use a dict with exactly one of the keys"),
        ("plain", "is not a typed value"),
    ],
)
def test_from_typed_rejects(typed: Any, message_part: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        from_typed(typed)
    assert message_part in str(caught.value)


def test_item_from_typed_names_path() -> None:
    with pytest.raises(InvalidParameter, match=r"attribute doc\.list\[1\]: 'x' is not a number"):
        item_from_typed({"doc": {"M": {"list": {"L": [{"N": "1"}, {"N": "x"}]}}}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12", "12"), ("1.50", "1.5"), ("-0", "0"), ("1E+2", "100"), ("+.5", "0.5"), ("0.000", "0"), ("1e-3", "0.001")],
)
def test_number_text_normalized(text: str, expected: str) -> None:
    assert format_number(parse_number(text, "n")) == expected


@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"a": "abc"}, 1 + 3),
        ({"é": "é"}, 2 + 2),
        ({"a": b"\x00\x01"}, 1 + 2),
        ({"a": True}, 1 + 1),
        ({"a": None}, 1 + 1),
        ({"a": Decimal("12345")}, 1 + 3 + 1),
        ({"a": Decimal("1")}, 1 + 1 + 1),
        ({"a": Decimal("0")}, 1 + 1),
        ({"a": []}, 1 + 3),
        ({"a": {}}, 1 + 3),
        ({"a": ["xy", "z"]}, 1 + 3 + (1 + 2) + (1 + 1)),
        ({"a": {"k": "vv"}}, 1 + 3 + (1 + 1 + 2)),
        ({"a": {"xy", "z"}}, 1 + 3),
        ({"a": "x", "bb": "yy"}, 2 + 4),
    ],
)
def test_item_size_matches_documented_rules(item: dict[str, Any], size: int) -> None:
    assert item_size(item) == size


def test_item_size_limit_is_400_kib() -> None:
    assert ITEM_SIZE_LIMIT == 409_600
    assert item_size({"a": "x" * (ITEM_SIZE_LIMIT - 1)}) == ITEM_SIZE_LIMIT


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("a", "b", -1),
        ("b", "a", 1),
        ("a", "a", 0),
        ("Z", "a", -1),
        ("a", "ä", -1),
        ("\uffff", "\U0001f600", -1),
        (Decimal("2"), Decimal("10"), -1),
        (Decimal("-1"), Decimal("-0.5"), -1),
        (Decimal("1.0"), Decimal("1"), 0),
        (b"\x01", b"\xff", -1),
        (b"\x00", b"\x00\x00", -1),
        (b"", b"", 0),
    ],
)
def test_compare_orders_key_values(left: Any, right: Any, expected: int) -> None:
    assert compare(left, right) == expected


@pytest.mark.parametrize(("left", "right"), [("1", Decimal(1)), (b"a", "a"), (True, False), ([1], [2])])
def test_compare_rejects_other_types(left: Any, right: Any) -> None:
    with pytest.raises(InvalidParameter):
        compare(left, right)


def test_sort_key_sorts_strings_by_utf8_bytes() -> None:
    words = ["b", "\U0001f600", "a", "B", "\uffff"]
    assert sorted(words, key=sort_key) == sorted(words, key=lambda word: word.encode("utf-8"))


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        (True, Decimal(1), False),
        ("1", Decimal(1), False),
        (Decimal("1.0"), Decimal(1), True),
        ([Decimal(1), "a"], [Decimal(1), "a"], True),
        ([Decimal(1)], [True], False),
        ({"a": Decimal(1)}, {"a": True}, False),
        ({"a": None}, {"a": None}, True),
        ({"x", "y"}, {"y", "x"}, True),
        ({"x"}, {b"x"}, False),
        (None, None, True),
    ],
)
def test_values_equal_compares_types(left: Any, right: Any, expected: bool) -> None:
    assert values_equal(left, right) is expected


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("a", "S"),
        (Decimal(1), "N"),
        (3, "N"),
        (b"", "B"),
        (False, "BOOL"),
        (None, "NULL"),
        ([], "L"),
        ({}, "M"),
        ({"a"}, "SS"),
        ({Decimal(1)}, "NS"),
        ({b"a"}, "BS"),
    ],
)
def test_type_name(value: Any, name: str) -> None:
    assert type_name(value) == name
