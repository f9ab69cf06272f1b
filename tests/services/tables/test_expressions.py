"""Tests for condition, update, key condition and projection expressions."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from squall.services.errors import InvalidParameter
from squall.services.tables.expressions import (
    ExpressionKind,
    check_unused_placeholders,
    parse_condition,
    parse_key_condition,
    parse_projection,
    parse_update,
)
from squall.services.tables.values import normalize_item

ITEM = normalize_item(
    {
        "pk": "user#1",
        "age": 30,
        "name": "Ada",
        "blob": b"\x01\x02\x03",
        "active": True,
        "nothing": None,
        "tags": {"red", "blue"},
        "scores": {1, 2, 3},
        "hashes": {b"\x01"},
        "list": [1, "two", [3]],
        "map": {"inner": {"deep": 5}, "dotted.key": "x"},
        "empty": "",
    }
)


# ---------------------------------------------------------------- conditions

CONDITION_CASES: list[tuple[str, dict[str, str] | None, dict[str, Any] | None, bool]] = [
    # comparisons
    ("age = :v", None, {":v": 30}, True),
    ("age = :v", None, {":v": 30.0}, True),
    ("age = :v", None, {":v": "30"}, False),
    ("age <> :v", None, {":v": 31}, True),
    ("age <> :v", None, {":v": 30}, False),
    ("age <> :v", None, {":v": "30"}, True),
    ("missing <> :v", None, {":v": 1}, True),
    ("missing = :v", None, {":v": 1}, False),
    ("age < :v", None, {":v": 31}, True),
    ("age <= :v", None, {":v": 30}, True),
    ("age > :v", None, {":v": 30}, False),
    ("age >= :v", None, {":v": 30}, True),
    ("age < :v", None, {":v": "z"}, False),
    ("missing < :v", None, {":v": 1}, False),
    ("name < :v", None, {":v": "Adb"}, True),
    ("name > :v", None, {":v": "ADA"}, True),
    ("blob > :v", None, {":v": b"\x01\x02"}, True),
    ("active = :v", None, {":v": True}, True),
    ("active = :v", None, {":v": 1}, False),
    ("nothing = :v", None, {":v": None}, True),
    ("tags = :v", None, {":v": {"blue", "red"}}, True),
    ("list = :v", None, {":v": [1, "two", [3]]}, True),
    ("list = :v", None, {":v": [1, "two"]}, False),
    ("map.inner = :v", None, {":v": {"deep": 5}}, True),
    ("empty = :v", None, {":v": ""}, True),
    (":v = age", None, {":v": 30}, True),
    ("age = age", None, None, True),
    (":a < :b", None, {":a": 1, ":b": 2}, True),
    # document paths and placeholders
    ("map.inner.deep = :v", None, {":v": 5}, True),
    ("#m.#i.deep = :v", {"#m": "map", "#i": "inner"}, {":v": 5}, True),
    ("#d = :v", {"#d": "map"}, {":v": {"inner": {"deep": 5}, "dotted.key": "x"}}, True),
    ("map.#k = :v", {"#k": "dotted.key"}, {":v": "x"}, True),
    ("list[0] = :v", None, {":v": 1}, True),
    ("list[2][0] = :v", None, {":v": 3}, True),
    ("list[9] = :v", None, {":v": 1}, False),
    ("name[0] = :v", None, {":v": "A"}, False),
    ("map.inner.deep.more = :v", None, {":v": 5}, False),
    # BETWEEN and IN
    ("age BETWEEN :lo AND :hi", None, {":lo": 30, ":hi": 40}, True),
    ("age BETWEEN :lo AND :hi", None, {":lo": 31, ":hi": 40}, False),
    ("name BETWEEN :lo AND :hi", None, {":lo": "A", ":hi": "B"}, True),
    ("age BETWEEN :lo AND :hi", None, {":lo": "a", ":hi": "b"}, False),
    ("age IN (:a, :b)", None, {":a": 1, ":b": 30}, True),
    ("age IN (:a)", None, {":a": 1}, False),
    ("name IN (:a, :b)", None, {":a": "Ada", ":b": 30}, True),
    ("missing IN (:a)", None, {":a": 1}, False),
    # functions
    ("attribute_exists(age)", None, None, True),
    ("attribute_exists(missing)", None, None, False),
    ("attribute_exists(map.inner.deep)", None, None, True),
    ("attribute_exists(list[5])", None, None, False),
    ("attribute_exists(nothing)", None, None, True),
    ("attribute_not_exists(missing)", None, None, True),
    ("attribute_not_exists(age)", None, None, False),
    ("attribute_type(age, :t)", None, {":t": "N"}, True),
    ("attribute_type(age, :t)", None, {":t": "S"}, False),
    ("attribute_type(tags, :t)", None, {":t": "SS"}, True),
    ("attribute_type(nothing, :t)", None, {":t": "NULL"}, True),
    ("attribute_type(map, :t)", None, {":t": "M"}, True),
    ("attribute_type(missing, :t)", None, {":t": "S"}, False),
    ("begins_with(name, :p)", None, {":p": "Ad"}, True),
    ("begins_with(name, :p)", None, {":p": "ad"}, False),
    ("begins_with(name, :p)", None, {":p": ""}, True),
    ("begins_with(blob, :p)", None, {":p": b"\x01"}, True),
    ("begins_with(age, :p)", None, {":p": "3"}, False),
    ("contains(name, :s)", None, {":s": "d"}, True),
    ("contains(name, :s)", None, {":s": "x"}, False),
    ("contains(tags, :s)", None, {":s": "red"}, True),
    ("contains(tags, :s)", None, {":s": "green"}, False),
    ("contains(scores, :n)", None, {":n": 2}, True),
    ("contains(scores, :n)", None, {":n": "2"}, False),
    ("contains(hashes, :b)", None, {":b": b"\x01"}, True),
    ("contains(list, :e)", None, {":e": "two"}, True),
    ("contains(list, :e)", None, {":e": [3]}, True),
    ("contains(list, :e)", None, {":e": 3}, False),
    ("contains(age, :e)", None, {":e": 3}, False),
    ("contains(missing, :e)", None, {":e": 3}, False),
    ("size(name) = :n", None, {":n": 3}, True),
    ("size(blob) = :n", None, {":n": 3}, True),
    ("size(tags) = :n", None, {":n": 2}, True),
    ("size(list) > :n", None, {":n": 2}, True),
    ("size(map) = :n", None, {":n": 2}, True),
    ("size(age) = :n", None, {":n": 2}, False),
    ("size(missing) = :n", None, {":n": 0}, False),
    ("size(name) BETWEEN :a AND :b", None, {":a": 1, ":b": 3}, True),
    # logic and precedence
    ("age = :v AND name = :n", None, {":v": 30, ":n": "Ada"}, True),
    ("age = :v AND name = :n", None, {":v": 30, ":n": "Bob"}, False),
    ("age = :w OR name = :n", None, {":w": 1, ":n": "Ada"}, True),
    ("NOT age = :v", None, {":v": 30}, False),
    ("NOT NOT age = :v", None, {":v": 30}, True),
    ("NOT attribute_exists(missing)", None, None, True),
    ("age = :w OR age = :v AND name = :x", None, {":w": 30, ":v": 1, ":x": "Bob"}, True),
    ("(age = :w OR age = :v) AND name = :x", None, {":w": 30, ":v": 1, ":x": "Bob"}, False),
    ("NOT age = :w AND name = :x", None, {":w": 1, ":x": "Ada"}, True),
    ("NOT (age = :v AND name = :x)", None, {":v": 30, ":x": "Ada"}, False),
    ("(age = :v)", None, {":v": 30}, True),
    ("((age = :v) AND (name = :x)) OR (age = :y)", None, {":v": 30, ":x": "Ada", ":y": 1}, True),
    # keywords are case-insensitive, functions and whitespace as written
    ("age between :a and :b or NOT name in (:x)", None, {":a": 1, ":b": 2, ":x": "Bob"}, True),
    ("  age=:v  AND\tname=:x\n", None, {":v": 30, ":x": "Ada"}, True),
    ("attribute_exists ( age )", None, None, True),
]


@pytest.mark.parametrize(("text", "names", "values", "expected"), CONDITION_CASES)
def test_condition_evaluates(
    text: str, names: dict[str, str] | None, values: dict[str, Any] | None, expected: bool
) -> None:
    assert parse_condition(text, names, values).evaluate(ITEM) is expected


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("attribute_not_exists(pk)", None, True),
        ("attribute_exists(pk)", None, False),
        ("pk = :v", {":v": "user#1"}, False),
        ("pk <> :v", {":v": "user#1"}, True),
        ("NOT contains(tags, :v)", {":v": "a"}, True),
    ],
)
def test_condition_on_missing_item(text: str, values: dict[str, Any] | None, expected: bool) -> None:
    assert parse_condition(text, None, values).evaluate(None) is expected


CONDITION_ERRORS: list[tuple[str, dict[str, str] | None, dict[str, Any] | None, str]] = [
    ("", None, None, "Invalid ConditionExpression: The expression can not be empty;"),
    ("   ", None, None, "Invalid ConditionExpression: The expression can not be empty;"),
    ("a <> <>", None, None, 'Invalid ConditionExpression: Syntax error; token: "<>", near: "<> <>"'),
    ("a-b", None, None, 'Invalid ConditionExpression: Syntax error; token: "-", near: "a-b"'),
    ("NOT #h", {"#h": "h"}, None, 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "#h"'),
    ("a = :v AND", None, {":v": 1}, 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "AND"'),
    ("a = :v $ b", None, {":v": 1}, 'Invalid ConditionExpression: Syntax error; token: "$", near: ":v $ b"'),
    ("a = :v)", None, {":v": 1}, 'Invalid ConditionExpression: Syntax error; token: ")", near: ":v)"'),
    ("(a = :v", None, {":v": 1}, 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: ":v"'),
    ("a :v", None, {":v": 1}, 'Invalid ConditionExpression: Syntax error; token: ":v", near: "a :v"'),
    (":v", None, {":v": 1}, 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: ":v"'),
    ("a = :v + :v", None, {":v": 1}, 'Invalid ConditionExpression: Syntax error; token: "+", near: ":v + :v"'),
    ("a[x] = :v", None, {":v": 1}, 'Invalid ConditionExpression: Syntax error; token: "x", near: "[x]"'),
    ("a. = :v", None, {":v": 1}, 'Invalid ConditionExpression: Syntax error; token: "=", near: ". = :v"'),
    ("AND = :v", None, {":v": 1}, 'Invalid ConditionExpression: Syntax error; token: "AND", near: "AND ="'),
    ("a BETWEEN :v", None, {":v": 1}, 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: ":v"'),
    ("a IN ()", None, None, 'Invalid ConditionExpression: Syntax error; token: ")", near: "()"'),
    ("((a = :v))", None, {":v": 1}, "Invalid ConditionExpression: The expression has redundant parentheses;"),
    (
        "a = :x",
        None,
        None,
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
        "attribute value: :x",
    ),
    (
        "#n = :v",
        None,
        {":v": 1},
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; "
        "attribute name: #n",
    ),
    ("a = :v", {"#n": "x"}, {":v": 1}, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#n}"),
    (
        "a = :v",
        {"#b": "x", "#a": "y"},
        {":v": 1},
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}",
    ),
    ("a = :v", None, {":v": 1, ":w": 2}, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"),
    ("a = :v", {"n": "x"}, {":v": 1}, 'ExpressionAttributeNames contains invalid key: Syntax error; key: "n"'),
    ("a = :v", None, {"v": 1}, 'ExpressionAttributeValues contains invalid key: Syntax error; key: "v"'),
    ("#n = :v", {"#n": ""}, {":v": 1}, "ExpressionAttributeNames contains invalid value: Empty attribute name; for key: #n"),
    ("a = :v", None, {":v": set()}, "ExpressionAttributeValues :v: the set is empty"),
    ("foo(a)", None, None, "Invalid ConditionExpression: Invalid function name; function: foo"),
    ("ATTRIBUTE_EXISTS(a)", None, None, "Invalid ConditionExpression: Invalid function name; function: ATTRIBUTE_EXISTS"),
    (
        "size(a)",
        None,
        None,
        "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size",
    ),
    (
        "a = attribute_exists(b)",
        None,
        None,
        "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; "
        "function: attribute_exists",
    ),
    (
        "if_not_exists(a, :v) = :v",
        None,
        {":v": 1},
        "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; "
        "function: if_not_exists",
    ),
    (
        "attribute_exists(a, b)",
        None,
        None,
        "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
        "operator or function: attribute_exists, number of operands: 2",
    ),
    (
        "begins_with(a)",
        None,
        None,
        "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
        "operator or function: begins_with, number of operands: 1",
    ),
    (
        "attribute_exists(:v)",
        None,
        {":v": 1},
        "Invalid ConditionExpression: Operator or function requires a document path; "
        "operator or function: attribute_exists",
    ),
    (
        "size(:v) = :v",
        None,
        {":v": 1},
        "Invalid ConditionExpression: Operator or function requires a document path; operator or function: size",
    ),
    (
        "begins_with(a, :v)",
        None,
        {":v": 1},
        "Invalid ConditionExpression: Incorrect operand type for operator or function; "
        "operator or function: begins_with, operand type: N",
    ),
    (
        "a < :v",
        None,
        {":v": [1]},
        "Invalid ConditionExpression: Incorrect operand type for operator or function; "
        "operator or function: <, operand type: L",
    ),
    (
        "a BETWEEN :lo AND :hi",
        None,
        {":lo": True, ":hi": True},
        "Invalid ConditionExpression: Incorrect operand type for operator or function; "
        "operator or function: BETWEEN, operand type: BOOL",
    ),
    (
        "a BETWEEN :hi AND :lo",
        None,
        {":hi": 5, ":lo": 1},
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to "
        "lower bound; lower bound operand: :hi, upper bound operand: :lo",
    ),
    (
        "contains(#a, #a)",
        {"#a": "data"},
        None,
        "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this "
        "operator or function; operator: contains, first operand: [data]",
    ),
    (
        "attribute_type(a, :t)",
        None,
        {":t": "STRING"},
        "Invalid ConditionExpression: Invalid attribute type name found in type operand: 'STRING' in :t",
    ),
    (
        "a IN (" + ", ".join([":v"] * 101) + ")",
        None,
        {":v": 1},
        "Invalid ConditionExpression: The IN operator accepts at most 100 operands; number of operands: 101",
    ),
    (
        "a = :v OR " * 500 + "a = :v",
        None,
        {":v": 1},
        "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size",
    ),
]


@pytest.mark.parametrize(("text", "names", "values", "message"), CONDITION_ERRORS)
def test_condition_rejects(
    text: str, names: dict[str, str] | None, values: dict[str, Any] | None, message: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_condition(text, names, values)
    assert str(caught.value).startswith(message)


def test_filter_expression_errors_name_filter() -> None:
    with pytest.raises(InvalidParameter, match="^Invalid FilterExpression: Syntax error"):
        parse_condition("a = ", None, None, kind=ExpressionKind.FILTER)


def test_condition_records_placeholders_used() -> None:
    condition = parse_condition("#a = :v AND b = :w", {"#a": "a"}, {":v": 1, ":w": 2})
    assert condition.names_used == frozenset({"#a"})
    assert condition.values_used == frozenset({":v", ":w"})


def test_condition_in_accepts_100_operands() -> None:
    values = {f":v{index}": index for index in range(100)}
    text = "age IN (" + ", ".join(values) + ")"
    assert parse_condition(text, None, values).evaluate(ITEM) is True


# ---------------------------------------------------------------- updates

UPDATE_CASES: list[tuple[str, dict[str, str] | None, dict[str, Any] | None, dict[str, Any], dict[str, Any]]] = [
    ("SET a = :v", None, {":v": 1}, {}, {"a": 1}),
    ("SET a = :v", None, {":v": "new"}, {"a": 1}, {"a": "new"}),
    ("SET #n = :v", {"#n": "dotted.name"}, {":v": 1}, {}, {"dotted.name": 1}),
    ("SET a = :v, b = :w", None, {":v": 1, ":w": 2}, {}, {"a": 1, "b": 2}),
    ("SET a = b", None, None, {"b": [1]}, {"a": [1], "b": [1]}),
    ("SET a = b, b = a", None, None, {"a": 1, "b": 2}, {"a": 2, "b": 1}),
    ("SET n = n + :d", None, {":d": 5}, {"n": 10}, {"n": 15}),
    ("SET n = n - :d", None, {":d": 0.5}, {"n": 10}, {"n": Decimal("9.5")}),
    ("SET n = :d - n", None, {":d": 1}, {"n": 10}, {"n": -9}),
    ("SET n = m + n", None, None, {"n": 1, "m": 2}, {"n": 3, "m": 2}),
    ("SET c = if_not_exists(c, :z) + :one", None, {":z": 0, ":one": 1}, {}, {"c": 1}),
    ("SET c = if_not_exists(c, :z) + :one", None, {":z": 0, ":one": 1}, {"c": 7}, {"c": 8}),
    ("SET c = if_not_exists(c, :v)", None, {":v": "x"}, {"c": "keep"}, {"c": "keep"}),
    ("SET l = list_append(l, :e)", None, {":e": [3]}, {"l": [1, 2]}, {"l": [1, 2, 3]}),
    ("SET l = list_append(:e, l)", None, {":e": [0]}, {"l": [1]}, {"l": [0, 1]}),
    (
        "SET l = list_append(if_not_exists(l, :empty), :e)",
        None,
        {":empty": [], ":e": ["x"]},
        {},
        {"l": ["x"]},
    ),
    ("SET m.k = :v", None, {":v": 1}, {"m": {}}, {"m": {"k": 1}}),
    ("SET m.inner.k = :v", None, {":v": 1}, {"m": {"inner": {"k": 0, "j": 2}}}, {"m": {"inner": {"k": 1, "j": 2}}}),
    ("SET l[1] = :v", None, {":v": "b"}, {"l": ["a", "x", "c"]}, {"l": ["a", "b", "c"]}),
    ("SET l[10] = :v", None, {":v": "d"}, {"l": ["a"]}, {"l": ["a", "d"]}),
    ("SET l[0].k = :v", None, {":v": 2}, {"l": [{"k": 1}]}, {"l": [{"k": 2}]}),
    ("REMOVE a", None, None, {"a": 1, "b": 2}, {"b": 2}),
    ("REMOVE missing", None, None, {"b": 2}, {"b": 2}),
    ("REMOVE a, b", None, None, {"a": 1, "b": 2, "c": 3}, {"c": 3}),
    ("REMOVE m.k", None, None, {"m": {"k": 1, "j": 2}}, {"m": {"j": 2}}),
    ("REMOVE m.missing.k", None, None, {"m": {}}, {"m": {}}),
    ("REMOVE l[1]", None, None, {"l": [0, 1, 2]}, {"l": [0, 2]}),
    ("REMOVE l[0], l[2]", None, None, {"l": [0, 1, 2, 3]}, {"l": [1, 3]}),
    ("REMOVE l[2], l[0]", None, None, {"l": [0, 1, 2, 3]}, {"l": [1, 3]}),
    ("REMOVE l[9]", None, None, {"l": [0]}, {"l": [0]}),
    ("ADD n :d", None, {":d": 2}, {"n": 1}, {"n": 3}),
    ("ADD n :d", None, {":d": -2}, {}, {"n": -2}),
    ("ADD s :add", None, {":add": {"b", "c"}}, {"s": {"a", "b"}}, {"s": {"a", "b", "c"}}),
    ("ADD s :add", None, {":add": {1}}, {}, {"s": {1}}),
    ("ADD m.n :d", None, {":d": 1}, {"m": {"n": 1}}, {"m": {"n": 2}}),
    ("DELETE s :del", None, {":del": {"a", "z"}}, {"s": {"a", "b"}}, {"s": {"b"}}),
    ("DELETE s :del", None, {":del": {"a", "b"}}, {"s": {"a", "b"}, "x": 1}, {"x": 1}),
    ("DELETE s :del", None, {":del": {"a"}}, {}, {}),
    ("DELETE s :del", None, {":del": {b"\x01"}}, {"s": {b"\x01", b"\x02"}}, {"s": {b"\x02"}}),
    (
        "SET a = :v REMOVE b ADD c :n DELETE d :s",
        None,
        {":v": 1, ":n": 1, ":s": {"x"}},
        {"b": 1, "c": 1, "d": {"x", "y"}},
        {"a": 1, "c": 2, "d": {"y"}},
    ),
    (
        "delete d :s add c :n remove b set a = :v",
        None,
        {":v": 1, ":n": 1, ":s": {"x"}},
        {"b": 1, "c": 1, "d": {"x", "y"}},
        {"a": 1, "c": 2, "d": {"y"}},
    ),
    ("SET l[0] = :v REMOVE l[1]", None, {":v": "z"}, {"l": ["a", "b", "c"]}, {"l": ["z", "c"]}),
]


@pytest.mark.parametrize(("text", "names", "values", "before", "after"), UPDATE_CASES)
def test_update_applies(
    text: str,
    names: dict[str, str] | None,
    values: dict[str, Any] | None,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    item = normalize_item(before)
    original = copy.deepcopy(item)

    result = parse_update(text, names, values).apply(item)

    assert result == normalize_item(after)
    assert item == original


def test_update_on_missing_item() -> None:
    update = parse_update("SET a = :v ADD n :one", None, {":v": "x", ":one": 1})
    assert update.apply(None) == {"a": "x", "n": Decimal(1)}


def test_update_reports_paths_and_attributes() -> None:
    update = parse_update("SET #a.b = :v REMOVE c[1] ADD d :n", {"#a": "a"}, {":v": 1, ":n": 1})
    assert update.paths == (("a", "b"), ("c", 1), ("d",))
    assert update.attribute_names == frozenset({"a", "c", "d"})


def test_update_does_not_share_values_with_result() -> None:
    item = normalize_item({"l": [[1]]})
    result = parse_update("SET copy = l", None, None).apply(item)
    result["copy"][0].append(2)
    assert item == normalize_item({"l": [[1]]})
    assert result["l"] == [[Decimal(1)]]


UPDATE_ERRORS: list[tuple[str, dict[str, str] | None, dict[str, Any] | None, str]] = [
    ("", None, None, "Invalid UpdateExpression: The expression can not be empty;"),
    ("INVALID SYNTAX HERE", None, None, 'Invalid UpdateExpression: Syntax error; token: "INVALID", near: "INVALID SYNTAX"'),
    ("SET", None, None, 'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: "SET"'),
    ("SET a :v", None, {":v": 1}, 'Invalid UpdateExpression: Syntax error; token: ":v", near: "a :v"'),
    ("SET a = :v,", None, {":v": 1}, 'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: ","'),
    ("SET a = b + c + d", None, None, 'Invalid UpdateExpression: Syntax error; token: "+", near: "c + d"'),
    ("SET a = (b)", None, None, 'Invalid UpdateExpression: Syntax error; token: "(", near: "= (b"'),
    ("REMOVE a = :v", None, {":v": 1}, 'Invalid UpdateExpression: Syntax error; token: "=", near: "a = :v"'),
    ("ADD a b", None, None, 'Invalid UpdateExpression: Syntax error; token: "b", near: "a b"'),
    ("SET :v = a", None, {":v": 1}, 'Invalid UpdateExpression: Syntax error; token: ":v", near: "SET :v ="'),
    (
        "SET a = :v SET b = :v",
        None,
        {":v": 1},
        'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;',
    ),
    (
        "REMOVE a remove b",
        None,
        None,
        'Invalid UpdateExpression: The "REMOVE" section can only be used once in an update expression;',
    ),
    (
        "SET a = :v REMOVE a",
        None,
        {":v": 1},
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these "
        "paths; path one: [a], path two: [a]",
    ),
    (
        "SET a.b = :v, a = :v",
        None,
        {":v": 1},
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these "
        "paths; path one: [a, b], path two: [a]",
    ),
    (
        "SET #x[1] = :v ADD x[1].y :v",
        {"#x": "x"},
        {":v": 1},
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these "
        "paths; path one: [x, [1]], path two: [x, [1], y]",
    ),
    (
        "SET a[0] = :v REMOVE a.b",
        None,
        {":v": 1},
        "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these "
        "paths; path one: [a, [0]], path two: [a, b]",
    ),
    (
        "ADD a :v",
        None,
        {":v": "x"},
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING",
    ),
    (
        "ADD a :v",
        None,
        {":v": [1]},
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: LIST",
    ),
    (
        "DELETE a :v",
        None,
        {":v": 1},
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER",
    ),
    (
        "SET a = b + :v",
        None,
        {":v": "x"},
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, "
        "operand type: S",
    ),
    (
        "SET a = list_append(a, :v)",
        None,
        {":v": 1},
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, "
        "operand type: N",
    ),
    (
        "SET a = list_append(a)",
        None,
        None,
        "Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: "
        "list_append, number of operands: 1",
    ),
    (
        "SET a = if_not_exists(:v, :v)",
        None,
        {":v": 1},
        "Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists",
    ),
    ("SET a = size(b)", None, None, "Invalid UpdateExpression: The function is not allowed in an update expression; function: size"),
    (
        "SET a = attribute_exists(b)",
        None,
        None,
        "Invalid UpdateExpression: The function is not allowed in an update expression; function: attribute_exists",
    ),
    ("SET a = nope(b)", None, None, "Invalid UpdateExpression: Invalid function name; function: nope"),
    (
        "SET a = :v",
        None,
        None,
        "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :v",
    ),
    ("REMOVE a", {"#a": "a"}, None, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a}"),
]


@pytest.mark.parametrize(("text", "names", "values", "message"), UPDATE_ERRORS)
def test_update_rejects(text: str, names: dict[str, str] | None, values: dict[str, Any] | None, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_update(text, names, values)
    assert str(caught.value) == message


UPDATE_APPLY_ERRORS: list[tuple[str, dict[str, Any] | None, dict[str, Any], str]] = [
    ("SET a = b", None, {}, "The provided expression refers to an attribute that does not exist in the item"),
    ("SET a = b + :v", {":v": 1}, {}, "The provided expression refers to an attribute that does not exist in the item"),
    (
        "SET a = list_append(b, :v)",
        {":v": [1]},
        {},
        "The provided expression refers to an attribute that does not exist in the item",
    ),
    ("SET a = b + :v", {":v": 1}, {"b": "x"}, "An operand in the update expression has an incorrect data type"),
    ("SET a = list_append(b, :v)", {":v": [1]}, {"b": "x"}, "An operand in the update expression has an incorrect data type"),
    ("ADD a :v", {":v": 1}, {"a": "x"}, "An operand in the update expression has an incorrect data type"),
    ("ADD a :v", {":v": {"x"}}, {"a": {1}}, "An operand in the update expression has an incorrect data type"),
    ("DELETE a :v", {":v": {"x"}}, {"a": {1}}, "An operand in the update expression has an incorrect data type"),
    ("SET a.b = :v", {":v": 1}, {}, "The document path provided in the update expression is invalid for update"),
    ("SET a.b = :v", {":v": 1}, {"a": "text"}, "The document path provided in the update expression is invalid for update"),
    ("SET a[0] = :v", {":v": 1}, {"a": {"0": 1}}, "The document path provided in the update expression is invalid for update"),
    ("ADD a.b :v", {":v": 1}, {}, "The document path provided in the update expression is invalid for update"),
    ("SET a = a + :v", {":v": Decimal("1E-100")}, {"a": 1}, "has 101 significant digits"),
    ("SET a = a + :v", {":v": Decimal("9E+125")}, {"a": Decimal("9E+125")}, "is too large"),
]


@pytest.mark.parametrize(("text", "values", "item", "message"), UPDATE_APPLY_ERRORS)
def test_update_apply_rejects(text: str, values: dict[str, Any] | None, item: dict[str, Any], message: str) -> None:
    update = parse_update(text, None, values)
    with pytest.raises(InvalidParameter) as caught:
        update.apply(normalize_item(item))
    assert message in str(caught.value)


# ---------------------------------------------------------------- key conditions

KEY_CASES: list[tuple[str, dict[str, str] | None, dict[str, Any], Any, str | None, tuple[Any, ...]]] = [
    ("pk = :p", None, {":p": "a"}, "a", None, ()),
    ("#p = :p", {"#p": "pk"}, {":p": 5}, Decimal(5), None, ()),
    ("pk = :p AND sk = :s", None, {":p": "a", ":s": "x"}, "a", "=", ("x",)),
    ("pk = :p AND sk < :s", None, {":p": "a", ":s": 1}, "a", "<", (Decimal(1),)),
    ("pk = :p AND sk <= :s", None, {":p": "a", ":s": 1}, "a", "<=", (Decimal(1),)),
    ("pk = :p AND sk > :s", None, {":p": "a", ":s": 1}, "a", ">", (Decimal(1),)),
    ("pk = :p AND sk >= :s", None, {":p": "a", ":s": 1}, "a", ">=", (Decimal(1),)),
    ("pk = :p AND sk BETWEEN :lo AND :hi", None, {":p": "a", ":lo": 1, ":hi": 9}, "a", "between", (Decimal(1), Decimal(9))),
    ("pk = :p AND begins_with(sk, :s)", None, {":p": "a", ":s": "2024-"}, "a", "begins_with", ("2024-",)),
    ("sk > :s AND pk = :p", None, {":p": "a", ":s": 1}, "a", ">", (Decimal(1),)),
    (":s < sk AND :p = pk", None, {":p": "a", ":s": 1}, "a", ">", (Decimal(1),)),
    ("(pk = :p) AND (sk = :s)", None, {":p": "a", ":s": "x"}, "a", "=", ("x",)),
    ("(pk = :p AND sk = :s)", None, {":p": "a", ":s": "x"}, "a", "=", ("x",)),
    ("pk = :p and begins_with(sk, :s)", None, {":p": "a", ":s": b"\x01"}, "a", "begins_with", (b"\x01",)),
]


@pytest.mark.parametrize(("text", "names", "values", "partition", "sort_op", "sort_values"), KEY_CASES)
def test_key_condition_parses(
    text: str,
    names: dict[str, str] | None,
    values: dict[str, Any],
    partition: Any,
    sort_op: str | None,
    sort_values: tuple[Any, ...],
) -> None:
    condition = parse_key_condition(text, names, values, "pk", "sk")
    assert condition.partition_value == partition
    assert condition.sort_op == sort_op
    assert condition.sort_values == sort_values


@pytest.mark.parametrize(
    ("text", "values", "sort_value", "expected"),
    [
        ("pk = :p AND sk BETWEEN :lo AND :hi", {":p": "a", ":lo": 1, ":hi": 9}, Decimal(9), True),
        ("pk = :p AND sk BETWEEN :lo AND :hi", {":p": "a", ":lo": 1, ":hi": 9}, Decimal(10), False),
        ("pk = :p AND begins_with(sk, :s)", {":p": "a", ":s": "ab"}, "abc", True),
        ("pk = :p AND begins_with(sk, :s)", {":p": "a", ":s": "ab"}, "b", False),
        ("pk = :p AND sk < :s", {":p": "a", ":s": "b"}, "a", True),
        ("pk = :p AND sk < :s", {":p": "a", ":s": "b"}, "b", False),
        ("pk = :p", {":p": "a"}, "anything", True),
    ],
)
def test_key_condition_matches_sort(text: str, values: dict[str, Any], sort_value: Any, expected: bool) -> None:
    condition = parse_key_condition(text, None, values, "pk", "sk")
    assert condition.matches_sort(sort_value) is expected
    assert condition.matches({"pk": "a", "sk": sort_value}) is expected
    assert condition.matches({"pk": "other", "sk": sort_value}) is False


KEY_ERRORS: list[tuple[str, dict[str, Any] | None, str]] = [
    ("", None, "Invalid KeyConditionExpression: The expression can not be empty;"),
    ("()", None, 'Invalid KeyConditionExpression: Syntax error; token: ")", near: "()"'),
    ("a-b", None, 'Invalid KeyConditionExpression: Syntax error; token: "-", near: "a-b"'),
    ("((pk = :p))", {":p": "a"}, "Invalid KeyConditionExpression: The expression has redundant parentheses;"),
    ("pk = :p OR sk = :s", {":p": "a", ":s": "b"}, "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR"),
    ("NOT pk = :p", {":p": "a"}, "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: NOT"),
    ("pk IN (:p)", {":p": "a"}, "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: IN"),
    ("pk = :p AND sk <> :s", {":p": "a", ":s": "b"}, "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: <>"),
    (
        "pk = :p AND attribute_exists(sk)",
        {":p": "a"},
        "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: attribute_exists",
    ),
    ("sk = :s", {":s": "b"}, "Query condition missed key schema element: pk"),
    ("pk > :p", {":p": "a"}, "Query key condition not supported: the partition key pk takes only '='"),
    ("pk = :p AND other = :s", {":p": "a", ":s": "b"}, "Query key condition not supported: other is not a key attribute"),
    (
        "pk = :p AND pk = :p",
        {":p": "a"},
        "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition per key",
    ),
    (
        "pk = :p AND sk > :s AND sk < :s",
        {":p": "a", ":s": "b"},
        "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition per key",
    ),
    ("pk.x = :p", {":p": "a"}, "Invalid KeyConditionExpression: Key conditions name top-level key attributes only"),
    ("pk = sk", None, "Invalid KeyConditionExpression: Key conditions compare one key attribute with value placeholders"),
    (
        "pk = :p AND size(sk) = :s",
        {":p": "a", ":s": 1},
        "Invalid KeyConditionExpression: Key conditions compare one key attribute with value placeholders",
    ),
    (
        "pk = :p AND begins_with(sk, :s)",
        {":p": "a", ":s": 1},
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
        "operator or function: begins_with, operand type: N",
    ),
    (
        "pk = :p",
        {":p": [1]},
        "One or more parameter values were invalid: Condition parameter type does not match schema type",
    ),
    ("pk = :p", {":p": "a", ":q": "b"}, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:q}"),
]


@pytest.mark.parametrize(("text", "values", "message"), KEY_ERRORS)
def test_key_condition_rejects(text: str, values: dict[str, Any] | None, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_key_condition(text, None, values, "pk", "sk")
    assert str(caught.value).startswith(message)


def test_key_condition_without_sort_key_rejects_sort_condition() -> None:
    with pytest.raises(InvalidParameter, match="sk is not a key attribute"):
        parse_key_condition("pk = :p AND sk = :s", None, {":p": "a", ":s": "b"}, "pk", None)


def test_key_condition_checks_key_types() -> None:
    types = {"pk": "S", "sk": "N"}
    parse_key_condition("pk = :p AND sk > :s", None, {":p": "a", ":s": 1}, "pk", "sk", key_types=types)
    with pytest.raises(InvalidParameter, match="key: sk, value type: S, expected: N"):
        parse_key_condition("pk = :p AND sk > :s", None, {":p": "a", ":s": "1"}, "pk", "sk", key_types=types)


# ---------------------------------------------------------------- projections

PROJECTED = normalize_item(
    {
        "a": 1,
        "b": "x",
        "list": [{"x": 1, "y": 2}, {"x": 3}, {"x": 5}, "plain"],
        "map": {"p": 1, "q": {"r": 2, "s": 3}},
    }
)

PROJECTION_CASES: list[tuple[str, dict[str, str] | None, dict[str, Any]]] = [
    ("a", None, {"a": 1}),
    ("a, b", None, {"a": 1, "b": "x"}),
    ("#a", {"#a": "a"}, {"a": 1}),
    ("map.q.r", None, {"map": {"q": {"r": 2}}}),
    ("map.p, map.q.s", None, {"map": {"p": 1, "q": {"s": 3}}}),
    ("list[0].x", None, {"list": [{"x": 1}]}),
    ("list[2], list[0].y", None, {"list": [{"y": 2}, {"x": 5}]}),
    ("list[3]", None, {"list": ["plain"]}),
    ("list[9]", None, {}),
    ("missing, map.nope", None, {}),
    ("a.b", None, {}),
    ("list[1].x, list[3].x", None, {"list": [{"x": 3}]}),
]


@pytest.mark.parametrize(("text", "names", "expected"), PROJECTION_CASES)
def test_projection_applies(text: str, names: dict[str, str] | None, expected: dict[str, Any]) -> None:
    assert parse_projection(text, names).apply(PROJECTED) == normalize_item(expected)


def test_projection_copies_values() -> None:
    result = parse_projection("map", None).apply(PROJECTED)
    result["map"]["p"] = "changed"
    assert PROJECTED["map"]["p"] == Decimal(1)


PROJECTION_ERRORS: list[tuple[str, dict[str, str] | None, str]] = [
    ("", None, "Invalid ProjectionExpression: The expression can not be empty;"),
    ("!!", None, 'Invalid ProjectionExpression: Syntax error; token: "!", near: "!!"'),
    ("a,", None, 'Invalid ProjectionExpression: Syntax error; token: "<EOF>", near: ","'),
    ("a, :v", None, 'Invalid ProjectionExpression: Syntax error; token: ":v", near: ", :v"'),
    ("size(a)", None, 'Invalid ProjectionExpression: Syntax error; token: "(", near: "size(a"'),
    (
        "a, a.b",
        None,
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of "
        "these paths; path one: [a], path two: [a, b]",
    ),
    (
        "a, #a",
        {"#a": "a"},
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of "
        "these paths; path one: [a], path two: [a]",
    ),
    (
        "#x",
        None,
        "Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; "
        "attribute name: #x",
    ),
    ("a", {"#x": "x"}, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#x}"),
]


@pytest.mark.parametrize(("text", "names", "message"), PROJECTION_ERRORS)
def test_projection_rejects(text: str, names: dict[str, str] | None, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_projection(text, names)
    assert str(caught.value) == message


# ---------------------------------------------------------------- placeholders shared by a request


def test_shared_placeholders_checked_across_expressions() -> None:
    names = {"#count": "count", "#pk": "pk"}
    values = {":one": 1}
    update = parse_update("SET #count = #count + :one", names, values, check_unused=False)
    condition = parse_condition("attribute_exists(#pk)", names, values, check_unused=False)

    check_unused_placeholders(names, values, update, condition)

    with pytest.raises(InvalidParameter, match=r"ExpressionAttributeNames unused in expressions: keys: \{#pk\}"):
        check_unused_placeholders(names, values, update)


def test_shared_placeholders_report_unused_value() -> None:
    values = {":p": "a", ":extra": 1}
    key = parse_key_condition("pk = :p", None, values, "pk", None, check_unused=False)
    projection = parse_projection("a", None, check_unused=False)
    with pytest.raises(InvalidParameter, match=r"ExpressionAttributeValues unused in expressions: keys: \{:extra\}"):
        check_unused_placeholders(None, values, key, projection)


# ---------------------------------------------------------------- size and depth limits


@pytest.mark.parametrize(
    "text",
    [
        "NOT " * 101 + "a = :v",
        "(NOT " * 60 + "a = :v" + ")" * 60,
        "(a = :v AND " * 101 + "a = :v" + ")" * 101,
    ],
)
def test_condition_rejects_deep_nesting(text: str) -> None:
    with pytest.raises(InvalidParameter, match="more than 100 levels deep"):
        parse_condition(text, None, {":v": 1})


def test_update_rejects_deeply_nested_functions() -> None:
    text = "SET a = " + "list_append(" * 101 + ":v" + ", :v)" * 101
    with pytest.raises(InvalidParameter, match="more than 100 levels deep"):
        parse_update(text, None, {":v": [1]})


def test_long_and_chain_evaluates() -> None:
    text = " AND ".join(["age = :v"] * 300)
    assert len(text) < 4096
    assert parse_condition(text, None, {":v": 30}).evaluate(ITEM) is True


def test_nesting_within_limit_evaluates() -> None:
    text = "NOT " * 100 + "age = :v"
    assert parse_condition(text, None, {":v": 30}).evaluate(ITEM) is True


def test_document_path_depth_limit() -> None:
    parse_projection(".".join(["a"] * 32), None)
    with pytest.raises(InvalidParameter, match="has 33 elements: a document path may have at most 32"):
        parse_projection(".".join(["a"] * 33), None)
