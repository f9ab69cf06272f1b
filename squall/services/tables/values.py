"""Attribute values of the table service: validation, typed JSON, sizes and key ordering.

An item is a dict from attribute name to value. After `normalize_item`, a value
is one of: `str` (S), `bytes` (B), `bool` (BOOL), `None` (NULL), `Decimal` (N),
`list` (L), `dict` with `str` keys (M), or a non-empty `set` of `str` (SS),
`Decimal` (NS) or `bytes` (BS). Input may also use `int` and `float` for
numbers, `tuple` for lists, `bytearray` for binary and `frozenset` for sets.

The typed JSON form is DynamoDB's wire format: `{"S": "x"}`, `{"N": "12"}`,
`{"B": "<base64>"}`, `{"BOOL": true}`, `{"NULL": true}`, `{"L": [...]}`,
`{"M": {...}}`, `{"SS" | "NS" | "BS": [...]}`.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import logging
import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from squall.services.errors import InvalidParameter

logger = logging.getLogger(__name__)

ITEM_SIZE_LIMIT = 400 * 1024
"""Largest item DynamoDB stores, in bytes as `item_size` counts them."""

MAX_NESTING_DEPTH = 32
"""Deepest nesting of lists and maps DynamoDB accepts."""

MAX_NUMBER_DIGITS = 38
MAX_NUMBER_EXPONENT = 125
"""A number's magnitude is below 1E+126 (largest: 9.99…9E+125 with 38 nines)."""
MIN_NUMBER_EXPONENT = -130
"""A non-zero number's magnitude is at least 1E-130."""

SCALAR_TYPES = frozenset({"S", "N", "B"})
"""Types a key attribute, a sort comparison or `BETWEEN` accepts."""

ALL_TYPES = ("S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS")

# Wide enough that adding or subtracting any two valid numbers is exact, so
# the 38-digit check runs on the exact result: 126 integer digits plus 130
# fraction digits plus the 38 digits of the smaller operand fit in 400.
_EXACT = decimal.Context(
    prec=400,
    Emax=999_999,
    Emin=-999_999,
    traps=[decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero],
)


def format_path(parts: Iterable[str | int]) -> str:
    """Format a document path the way expressions write it, e.g. `a.b[2].c`."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = part
    return text or "<item>"


# ---------------------------------------------------------------- numbers


def check_number(number: Decimal, where: str) -> Decimal:
    """Validate `number` against DynamoDB's precision and range and return it normalized.

    Trailing zeros go, so `Decimal("1.50")` becomes `Decimal("1.5")` as
    DynamoDB returns it. Raises `InvalidParameter` naming `where`.
    """
    if not number.is_finite():
        raise InvalidParameter(
            f"{where}: number {number} is invalid: use a finite number (NaN and Infinity are not numbers in DynamoDB)"
        )
    if number.is_zero():
        return Decimal(0)

    # Checked on the digit tuple, before any context arithmetic could round.
    digits = len("".join(map(str, number.as_tuple().digits)).rstrip("0"))
    if digits > MAX_NUMBER_DIGITS:
        raise InvalidParameter(
            f"{where}: number {number} has {digits} significant digits: a number may have at most {MAX_NUMBER_DIGITS}"
        )
    if number.adjusted() > MAX_NUMBER_EXPONENT:
        raise InvalidParameter(
            f"{where}: number {number} is too large: the magnitude must be below 1E+{MAX_NUMBER_EXPONENT + 1}"
        )
    if number.adjusted() < MIN_NUMBER_EXPONENT:
        raise InvalidParameter(
            f"{where}: number {number} is too small: a non-zero magnitude must be at least 1E{MIN_NUMBER_EXPONENT}"
        )
    return number.normalize(_EXACT)


_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_number(text: Any, where: str) -> Decimal:
    """Parse the text of an N value ("12", "-0.5", "1E+3") into a validated `Decimal`."""
    if not isinstance(text, str) or not _NUMBER_TEXT.fullmatch(text):
        raise InvalidParameter(
            f"{where}: {_preview(text)} is not a number: use decimal digits such as '12', '-0.5' or '1E+3'"
        )
    return check_number(Decimal(text), where)


def format_number(number: Decimal) -> str:
    """Format a number as DynamoDB returns it: plain digits, no exponent, no trailing zeros."""
    if number.is_zero():
        return "0"
    return format(number.normalize(_EXACT), "f")


def add_numbers(left: Decimal, right: Decimal, where: str) -> Decimal:
    """Add two numbers exactly and validate the sum."""
    return check_number(_EXACT.add(left, right), where)


def subtract_numbers(left: Decimal, right: Decimal, where: str) -> Decimal:
    """Subtract `right` from `left` exactly and validate the difference."""
    return check_number(_EXACT.subtract(left, right), where)


# ---------------------------------------------------------------- input values


def normalize_value(value: Any, where: str = "value", depth: int = 1) -> Any:
    """Validate one attribute value and convert it to its normal Python form.

    `where` names the value in error messages (an attribute path or an
    expression placeholder). `depth` is the nesting level of `value`.
    """
    # bool before numbers, because bool is a subclass of int.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        _check_text(value, where)
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Decimal):
        return check_number(value, where)
    if isinstance(value, int):
        return check_number(Decimal(value), where)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidParameter(f"{where}: number {value} is invalid: use a finite number")
        # str() gives the shortest text that round-trips, so 0.1 stays 0.1.
        return check_number(Decimal(str(value)), where)
    if isinstance(value, (list, tuple)):
        _check_depth(depth, where)
        return [normalize_value(element, f"{where}[{index}]", depth + 1) for index, element in enumerate(value)]
    if isinstance(value, Mapping):
        _check_depth(depth, where)
        result: dict[str, Any] = {}
        for key, element in value.items():
            if not isinstance(key, str):
                raise InvalidParameter(
                    f"{where}: map key {key!r} has type {type(key).__name__}: map keys must be strings"
                )
            _check_text(key, where)
            result[key] = normalize_value(element, f"{where}.{key}", depth + 1)
        return result
    if isinstance(value, (set, frozenset)):
        return _normalize_set(value, where)
    raise InvalidParameter(
        f"{where}: {type(value).__name__} value {value!r} is not supported: use str, bytes, bool, None, "
        "a number (int, float or Decimal), list, dict, or a set of str, numbers or bytes"
    )


def normalize_item(item: Any) -> dict[str, Any]:
    """Validate an item (a dict of attribute name to value) and return it in normal form."""
    if not isinstance(item, Mapping):
        raise InvalidParameter(f"item must be a dict of attribute name to value, got {type(item).__name__}")
    result: dict[str, Any] = {}
    for name, value in item.items():
        if not isinstance(name, str) or not name:
            raise InvalidParameter(f"attribute name {name!r} is invalid: use a non-empty string")
        _check_text(name, f"attribute name {name!r}")
        result[name] = normalize_value(value, f"attribute {name}")
    return result


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParameter(
            f"{where}: string {text!r} cannot be encoded as UTF-8: remove unpaired surrogate characters"
        ) from None


def _check_depth(depth: int, where: str) -> None:
    if depth > MAX_NESTING_DEPTH:
        raise InvalidParameter(
            f"{where}: lists and maps are nested deeper than {MAX_NESTING_DEPTH} levels, the most DynamoDB supports"
        )


def _normalize_set(value: set[Any] | frozenset[Any], where: str) -> set[Any]:
    if not value:
        raise InvalidParameter(
            f"{where}: the set is empty: a set needs at least one element (remove the attribute instead)"
        )
    kinds = {_set_element_type(element, where) for element in value}
    if len(kinds) > 1:
        raise InvalidParameter(
            f"{where}: set {_preview(value)} mixes {', '.join(sorted(kinds))} elements: "
            "all elements of a set must be strings, numbers or bytes alike"
        )
    result = {normalize_value(element, where) for element in value}
    if len(result) != len(value):
        raise InvalidParameter(f"{where}: set {_preview(value)} contains duplicates once its numbers are normalized")
    return result


def _set_element_type(element: Any, where: str) -> str:
    if isinstance(element, str):
        return "S"
    if isinstance(element, (bytes, bytearray)):
        return "B"
    if isinstance(element, (int, float, Decimal)) and not isinstance(element, bool):
        return "N"
    raise InvalidParameter(
        f"{where}: set element {element!r} has type {type(element).__name__}: "
        "set elements must be strings, numbers or bytes"
    )


def _preview(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- types and order


def type_name(value: Any) -> str:
    """Return the DynamoDB type of a value: "S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS" or "BS"."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, str):
        return "S"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "B"
    if isinstance(value, (Decimal, int, float)):
        return "N"
    if isinstance(value, (list, tuple)):
        return "L"
    if isinstance(value, Mapping):
        return "M"
    if isinstance(value, (set, frozenset)) and value:
        return _set_element_type(next(iter(value)), "set") + "S"
    raise InvalidParameter(f"value {_preview(value)} has no DynamoDB type: normalize it first")


def values_equal(left: Any, right: Any) -> bool:
    """Compare two values as DynamoDB does: equal only when type and content are equal.

    Unlike Python's `==`, `True` does not equal `1` and `"1"` does not equal `1`.
    """
    left_type = type_name(left)
    if left_type != type_name(right):
        return False
    if left_type == "L":
        return len(left) == len(right) and all(values_equal(a, b) for a, b in zip(left, right))
    if left_type == "M":
        return left.keys() == right.keys() and all(values_equal(left[key], right[key]) for key in left)
    if left_type == "B":
        return bytes(left) == bytes(right)
    return bool(left == right)


def compare(left: Any, right: Any) -> int:
    """Order two values of one key type: -1, 0 or 1.

    S compares by UTF-8 bytes, N numerically and B by unsigned bytes, as
    DynamoDB sorts a sort key. Raises `InvalidParameter` for other types or
    for values of different types.
    """
    left_key = sort_key(left)
    right_key = sort_key(right)
    if type_name(left) != type_name(right):
        raise InvalidParameter(
            f"cannot compare {type_name(left)} value {_preview(left)} with {type_name(right)} value "
            f"{_preview(right)}: both must be of one type"
        )
    return (left_key > right_key) - (left_key < right_key)


def sort_key(value: Any) -> Decimal | bytes:
    """Return a Python key that sorts S, N and B values in DynamoDB's order (for `sorted(key=...)`)."""
    kind = type_name(value)
    if kind == "S":
        return value.encode("utf-8")
    if kind == "N":
        return value if isinstance(value, Decimal) else Decimal(str(value))
    if kind == "B":
        return bytes(value)
    raise InvalidParameter(f"{kind} value {_preview(value)} has no order: only S, N and B values can be compared")


# ---------------------------------------------------------------- typed JSON


def to_typed(value: Any) -> dict[str, Any]:
    """Convert a normal-form value to DynamoDB's typed JSON."""
    kind = type_name(value)
    if kind == "S":
        return {"S": value}
    if kind == "N":
        return {"N": format_number(Decimal(str(value)) if not isinstance(value, Decimal) else value)}
    if kind == "B":
        return {"B": base64.b64encode(bytes(value)).decode("ascii")}
    if kind == "BOOL":
        return {"BOOL": value}
    if kind == "NULL":
        return {"NULL": True}
    if kind == "L":
        return {"L": [to_typed(element) for element in value]}
    if kind == "M":
        return {"M": {key: to_typed(element) for key, element in value.items()}}

    # Sets have no order in DynamoDB; sorting keeps the output stable.
    ordered = sorted(value, key=sort_key)
    if kind == "SS":
        return {"SS": ordered}
    if kind == "NS":
        return {"NS": [format_number(Decimal(str(number))) for number in ordered]}
    return {"BS": [base64.b64encode(bytes(element)).decode("ascii") for element in ordered]}


def from_typed(typed: Any, where: str = "value", depth: int = 1) -> Any:
    """Convert DynamoDB's typed JSON to a normal-form value, validating it."""
    if not isinstance(typed, Mapping) or len(typed) != 1:
        raise InvalidParameter(
            f"{where}: {_preview(typed)} is not a typed value: use a dict with exactly one of the keys "
            f"{', '.join(ALL_TYPES)}"
        )
    ((kind, payload),) = typed.items()

    if kind == "S":
        if not isinstance(payload, str):
            raise InvalidParameter(f"{where}: S value {_preview(payload)} is invalid: use a string")
        _check_text(payload, where)
        return payload
    if kind == "N":
        return parse_number(payload, where)
    if kind == "B":
        return _decode_binary(payload, where)
    if kind == "BOOL":
        if not isinstance(payload, bool):
            raise InvalidParameter(f"{where}: BOOL value {_preview(payload)} is invalid: use true or false")
        return payload
    if kind == "NULL":
        if payload is not True:
            raise InvalidParameter(f"{where}: NULL value {_preview(payload)} is invalid: NULL must be true")
        return None
    if kind == "L":
        if not isinstance(payload, list):
            raise InvalidParameter(f"{where}: L value {_preview(payload)} is invalid: use a list of typed values")
        _check_depth(depth, where)
        return [from_typed(element, f"{where}[{index}]", depth + 1) for index, element in enumerate(payload)]
    if kind == "M":
        if not isinstance(payload, Mapping):
            raise InvalidParameter(f"{where}: M value {_preview(payload)} is invalid: use an object of typed values")
        _check_depth(depth, where)
        result: dict[str, Any] = {}
        for key, element in payload.items():
            _check_text(key, where)
            result[key] = from_typed(element, f"{where}.{key}", depth + 1)
        return result
    if kind in ("SS", "NS", "BS"):
        return _set_from_typed(kind, payload, where)
    raise InvalidParameter(f"{where}: type {kind!r} is unknown: use one of {', '.join(ALL_TYPES)}")


def _decode_binary(payload: Any, where: str) -> bytes:
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if not isinstance(payload, str):
        raise InvalidParameter(f"{where}: B value {_preview(payload)} is invalid: use a base64 string")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameter(f"{where}: B value {_preview(payload)} is not valid base64") from None


def _set_from_typed(kind: str, payload: Any, where: str) -> set[Any]:
    if not isinstance(payload, list):
        raise InvalidParameter(f"{where}: {kind} value {_preview(payload)} is invalid: use a list")
    if not payload:
        raise InvalidParameter(f"{where}: the {kind} set is empty: a set needs at least one element")
    if kind == "SS":
        elements = [from_typed({"S": element}, where) for element in payload]
    elif kind == "NS":
        elements = [from_typed({"N": element}, where) for element in payload]
    else:
        elements = [from_typed({"B": element}, where) for element in payload]
    result = set(elements)
    if len(result) != len(elements):
        raise InvalidParameter(
            f"{where}: {kind} set {_preview(payload)} contains duplicates: set elements must be unique"
        )
    return result


def item_to_typed(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Convert a normal-form item to DynamoDB's typed JSON (`{"name": {"S": "x"}, ...}`)."""
    return {name: to_typed(value) for name, value in item.items()}


def item_from_typed(typed: Any) -> dict[str, Any]:
    """Convert a typed-JSON item to a normal-form item, validating names and values."""
    if not isinstance(typed, Mapping):
        raise InvalidParameter(f"item must be an object of attribute name to typed value, got {_preview(typed)}")
    result: dict[str, Any] = {}
    for name, value in typed.items():
        if not isinstance(name, str) or not name:
            raise InvalidParameter(f"attribute name {name!r} is invalid: use a non-empty string")
        _check_text(name, f"attribute name {name!r}")
        result[name] = from_typed(value, f"attribute {name}")
    return result


# ---------------------------------------------------------------- sizes


def item_size(item: Mapping[str, Any]) -> int:
    """Return an item's size in bytes as DynamoDB counts it toward the 400 KB limit.

    The size is the sum of each attribute's UTF-8 name length and value size.
    """
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def value_size(value: Any) -> int:
    """Return the size of one value in bytes, without its attribute name.

    S: UTF-8 bytes. N: one byte per two significant digits plus one. B: raw
    bytes. BOOL and NULL: one byte. L and M: three bytes plus one byte per
    element plus the elements (and, in a map, the keys). Sets: the sum of their
    elements.
    """
    kind = type_name(value)
    if kind == "S":
        return len(value.encode("utf-8"))
    if kind == "N":
        return _number_size(value)
    if kind == "B":
        return len(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in value)
    if kind == "M":
        return 3 + sum(1 + len(key.encode("utf-8")) + value_size(element) for key, element in value.items())
    return sum(value_size(element) for element in value)


def _number_size(number: Any) -> int:
    # NOTE: DynamoDB documents this size as approximate; it stores numbers as
    # base-100 digit pairs, so a value's real size may differ by one byte.
    decimal_number = number if isinstance(number, Decimal) else Decimal(str(number))
    if decimal_number.is_zero():
        return 1
    digits = len(decimal_number.normalize(_EXACT).as_tuple().digits)
    return (digits + 1) // 2 + 1
