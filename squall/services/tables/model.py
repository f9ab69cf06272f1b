"""The table store's interface, its records and the checks every backend shares.

A table follows DynamoDB's item model: an item is a dict of attributes, found
by a partition key and an optional sort key. Items inside one partition are
kept in sort-key order. Numbers sort numerically, strings by their UTF-8
bytes, and binary values by their bytes. `encode_key_value` turns a key value
into bytes that compare the same way, so any engine that orders byte strings
(SQLite BLOBs, PostgreSQL `bytea`) can keep the order in an index.
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from squall.services.errors import InvalidParameter, LimitExceeded, ServiceError
from squall.services.tables.expressions import Condition, DocumentPath, Projection
from squall.services.tables.values import ITEM_SIZE_LIMIT, item_size, values_equal

Item = dict[str, Any]

# DynamoDB's documented limits for table names, attribute names and key values.
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.\-]{3,255}")
MAX_KEY_ATTRIBUTE_NAME_BYTES = 255
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024

# A Query or Scan stops after reading this much item data, as DynamoDB does.
MAX_PAGE_BYTES = 1024 * 1024

# Change records per `changes` call; DynamoDB Streams' GetRecords has the same cap.
MAX_CHANGES_PER_CALL = 1000

# The userIdentity that DynamoDB Streams puts on a REMOVE written by the TTL sweep.
TTL_USER_IDENTITY: Mapping[str, str] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


class TableStoreClosed(ServiceError):
    """Raised when a method of a table store is called after `close()`."""

    code = "TableStoreClosed"
    status = 503


class KeyType(str, enum.Enum):
    """The scalar type of a key attribute, as DynamoDB names it."""

    STRING = "S"
    NUMBER = "N"
    BINARY = "B"


class ReturnValues(str, enum.Enum):
    """The choice of attributes `update` returns: none, the whole item, or the changed paths."""

    NONE = "NONE"
    ALL_OLD = "ALL_OLD"
    ALL_NEW = "ALL_NEW"
    UPDATED_OLD = "UPDATED_OLD"
    UPDATED_NEW = "UPDATED_NEW"


class StreamViewType(str, enum.Enum):
    """The part of a changed item that its change records carry besides the keys, as DynamoDB Streams names it."""

    KEYS_ONLY = "KEYS_ONLY"
    NEW_IMAGE = "NEW_IMAGE"
    OLD_IMAGE = "OLD_IMAGE"
    NEW_AND_OLD_IMAGES = "NEW_AND_OLD_IMAGES"

    @property
    def keeps_old_image(self) -> bool:
        return self in (StreamViewType.OLD_IMAGE, StreamViewType.NEW_AND_OLD_IMAGES)

    @property
    def keeps_new_image(self) -> bool:
        return self in (StreamViewType.NEW_IMAGE, StreamViewType.NEW_AND_OLD_IMAGES)


# The view type of a stream that no one chose: both images, as Squall's
# streams carried before the view type existed.
DEFAULT_STREAM_VIEW_TYPE = StreamViewType.NEW_AND_OLD_IMAGES


class ChangeEvent(str, enum.Enum):
    """The kind of write a change record describes."""

    INSERT = "INSERT"
    MODIFY = "MODIFY"
    REMOVE = "REMOVE"


@dataclass(frozen=True)
class KeyAttribute:
    """One attribute of a table's primary key: its name and scalar type."""

    name: str
    type: KeyType


@dataclass(frozen=True)
class TableInfo:
    """A table's settings and its current item count and size (in bytes).

    `stream_view_type` is None when the table has no change stream.
    """

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None
    ttl_attribute: str | None
    stream_enabled: bool
    stream_view_type: StreamViewType | None
    created_at: float
    item_count: int
    size_bytes: int

    @property
    def key_names(self) -> tuple[str, ...]:
        """Names of the key attributes, partition key first."""
        if self.sort_key is None:
            return (self.partition_key.name,)
        return (self.partition_key.name, self.sort_key.name)

    @property
    def stream_label(self) -> str:
        """The stream's label, the creation time in UTC as DynamoDB Streams writes it."""
        created = datetime.datetime.fromtimestamp(self.created_at, tz=datetime.timezone.utc)
        return created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}"


@dataclass(frozen=True)
class Change:
    """One record of a table's change stream.

    `old_image` is None for an INSERT and `new_image` is None for a REMOVE,
    and either is None when `view_type`, the table's view type when the
    record was written, leaves it out. `size_bytes` counts the keys and the
    images the record carries, as DynamoDB Streams does. `created_at` is in
    epoch seconds. `user_identity` is set only on the REMOVE records that the
    TTL sweep writes. `traceparent` is the W3C trace context of the write, or
    None. It is Squall's own and never part of the DynamoDB Streams record.
    """

    seq: int
    event_name: ChangeEvent
    keys: Item
    old_image: Item | None
    new_image: Item | None
    size_bytes: int
    created_at: float
    user_identity: Mapping[str, str] | None = None
    traceparent: str | None = None
    view_type: StreamViewType = DEFAULT_STREAM_VIEW_TYPE


@dataclass(frozen=True)
class Page:
    """One page of a query or scan.

    `scanned_count` counts the items read before the filter and `count` the
    items that passed it. `last_evaluated_key` is None on the last page;
    otherwise pass it as `start_key` to read the next page.
    """

    items: list[Item]
    last_evaluated_key: Item | None
    count: int
    scanned_count: int


class TableStore(Protocol):
    """A store of DynamoDB-style tables with a change stream per table."""

    def create_table(
        self,
        name: str,
        partition_key: tuple[str, str],
        sort_key: tuple[str, str] | None = None,
        ttl_attribute: str | None = None,
        stream: bool = True,
        stream_view_type: StreamViewType | str = DEFAULT_STREAM_VIEW_TYPE,
    ) -> TableInfo:
        """Create a table, or return it if it exists with the same settings.

        `stream` and `stream_view_type` are DynamoDB's StreamSpecification:
        whether the table records its changes, and what each record carries.
        """
        ...

    def update_stream(
        self,
        name: str,
        stream: bool,
        stream_view_type: StreamViewType | str = DEFAULT_STREAM_VIEW_TYPE,
    ) -> TableInfo:
        """Turn a table's change stream on or off, or change its view type."""
        ...

    def describe_table(self, name: str) -> TableInfo:
        """Return a table's settings, item count and size."""
        ...

    def list_tables(self) -> list[str]:
        """Return the table names in sorted order."""
        ...

    def delete_table(self, name: str) -> None:
        """Delete a table with its items and change records."""
        ...

    def put(
        self,
        table: str,
        item: Mapping[str, Any],
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        return_old: bool = False,
        *,
        traceparent: str | None = None,
    ) -> Item | None:
        """Write a whole item, replacing any item with the same key; its change record keeps `traceparent`."""
        ...

    def get(
        self,
        table: str,
        key: Mapping[str, Any],
        projection: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> Item | None:
        """Return the item with this key, or None."""
        ...

    def delete(
        self,
        table: str,
        key: Mapping[str, Any],
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        return_old: bool = False,
        *,
        traceparent: str | None = None,
    ) -> Item | None:
        """Delete the item with this key; deleting a missing item is not an error."""
        ...

    def update(
        self,
        table: str,
        key: Mapping[str, Any],
        update_expression: str,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        return_values: ReturnValues | str = ReturnValues.NONE,
        *,
        traceparent: str | None = None,
    ) -> Item | None:
        """Apply an update expression to an item, creating it if missing."""
        ...

    def query(
        self,
        table: str,
        key_condition: str,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        filter: str | None = None,
        forward: bool = True,
        limit: int | None = None,
        start_key: Mapping[str, Any] | None = None,
        projection: str | None = None,
    ) -> Page:
        """Read one page of the items of one partition, in sort-key order."""
        ...

    def scan(
        self,
        table: str,
        filter: str | None = None,
        limit: int | None = None,
        start_key: Mapping[str, Any] | None = None,
        projection: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Page:
        """Read one page of all the items of a table."""
        ...

    def expire(self, limit: int = 1000) -> int:
        """Delete up to `limit` expired items of all tables; return how many."""
        ...

    def changes(self, table: str, after_seq: int = 0, limit: int = 100) -> list[Change]:
        """Return the change records after `after_seq`, oldest first."""
        ...

    def trim_changes(self, table: str, up_to_seq: int) -> int:
        """Delete the change records up to `up_to_seq`; return how many."""
        ...

    def close(self) -> None:
        """Release the store's files and connections."""
        ...


def validate_table_name(name: object) -> str:
    """Return `name` if it is a valid table name, else raise InvalidParameter."""
    if not isinstance(name, str) or _TABLE_NAME.fullmatch(name) is None:
        raise InvalidParameter(
            f"table name {name!r} is invalid: use 3 to 255 characters from"
            " A-Z, a-z, 0-9, '_', '-' and '.'"
        )
    return name


def validate_attribute_name(role: str, name: object) -> str:
    """Return `name` if it can name a key or TTL attribute, else raise InvalidParameter."""
    if not isinstance(name, str) or not 1 <= len(name.encode()) <= MAX_KEY_ATTRIBUTE_NAME_BYTES:
        raise InvalidParameter(
            f"{role} attribute name {name!r} is invalid:"
            f" use 1 to {MAX_KEY_ATTRIBUTE_NAME_BYTES} bytes of text"
        )
    return name


def parse_key_attribute(role: str, spec: object) -> KeyAttribute:
    """Turn a `(name, "S"|"N"|"B")` pair into a KeyAttribute, or raise InvalidParameter."""
    if isinstance(spec, KeyAttribute):
        return spec
    if not isinstance(spec, tuple | list) or len(spec) != 2:
        raise InvalidParameter(
            f"{role} {spec!r} is invalid: expected a pair (attribute name, 'S', 'N' or 'B')"
        )
    name = validate_attribute_name(role, spec[0])
    try:
        kind = KeyType(spec[1])
    except ValueError:
        raise InvalidParameter(
            f"{role} type {spec[1]!r} of attribute {name!r} is invalid: use 'S', 'N' or 'B'"
        ) from None
    return KeyAttribute(name, kind)


def parse_stream_view_type(value: StreamViewType | str) -> StreamViewType:
    """Return the StreamViewType member named by `value`, or raise InvalidParameter."""
    try:
        return StreamViewType(value)
    except ValueError:
        valid = ", ".join(member.value for member in StreamViewType)
        raise InvalidParameter(f"stream view type {value!r} is invalid: use one of {valid}") from None


def parse_return_values(value: ReturnValues | str) -> ReturnValues:
    """Return the ReturnValues member named by `value`, or raise InvalidParameter."""
    try:
        return ReturnValues(value)
    except ValueError:
        valid = ", ".join(member.value for member in ReturnValues)
        raise InvalidParameter(f"return_values {value!r} is invalid: use one of {valid}") from None


def check_limit(name: str, value: int | None, maximum: int | None = None) -> None:
    """Raise InvalidParameter unless `value` is None or a whole number in range."""
    if value is None:
        return
    valid = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    if valid and maximum is not None:
        valid = value <= maximum
    if not valid:
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise InvalidParameter(f"{name} {value!r} is invalid: use a whole number of at least 1{upper}")


def check_query_filter(table: TableInfo, filter_condition: Condition | None) -> None:
    """Reject a Query filter that reads a key attribute, as DynamoDB does.

    The error names the partition key when the filter reads both keys.
    Scan filters may read key attributes, so `scan` does not call this.
    """
    if filter_condition is None:
        return
    for name in table.key_names:
        if name in filter_condition.attribute_names:
            raise InvalidParameter(
                "Filter Expression can only contain non-primary key attributes:"
                f" Primary key attribute: {name}. Put conditions on key attributes"
                " in the key condition, or use scan, whose filter may read them"
            )


def key_type_of(value: object) -> KeyType | None:
    """Return the key type a normalized value would have, or None for non-scalar values."""
    if isinstance(value, str):
        return KeyType.STRING
    if isinstance(value, bytes):
        return KeyType.BINARY
    if isinstance(value, Decimal):
        return KeyType.NUMBER
    return None


def check_key_value(table: TableInfo, attribute: KeyAttribute, value: Any) -> None:
    """Raise InvalidParameter unless `value` suits the key attribute's type and size limit."""
    is_partition = attribute == table.partition_key
    role = "partition key" if is_partition else "sort key"
    actual = key_type_of(value)
    if actual is not attribute.type:
        actual_name = actual.value if actual is not None else type(value).__name__
        raise InvalidParameter(
            f"{role} attribute {attribute.name!r} of table {table.name!r} has type"
            f" {actual_name}: expected {attribute.type.value}"
        )
    if isinstance(value, str | bytes):
        size = len(value.encode()) if isinstance(value, str) else len(value)
        max_bytes = MAX_PARTITION_KEY_BYTES if is_partition else MAX_SORT_KEY_BYTES
        if not 1 <= size <= max_bytes:
            raise InvalidParameter(
                f"{role} attribute {attribute.name!r} of table {table.name!r} is"
                f" {size} bytes long: use 1 to {max_bytes} bytes"
            )


def extract_key(table: TableInfo, item: Mapping[str, Any], *, exact: bool) -> Item:
    """Return the key attributes of a normalized item or key, checking each one.

    With `exact`, `item` must contain the key attributes and nothing else, as
    DynamoDB requires of the key in GetItem, DeleteItem and UpdateItem.
    """
    key: Item = {}
    for attribute in (table.partition_key, table.sort_key):
        if attribute is None:
            continue
        if attribute.name not in item:
            role = "partition key" if attribute == table.partition_key else "sort key"
            raise InvalidParameter(
                f"{role} attribute {attribute.name!r} of table {table.name!r} is missing"
            )
        check_key_value(table, attribute, item[attribute.name])
        key[attribute.name] = item[attribute.name]

    if exact:
        extra = sorted(set(item) - set(key))
        if extra:
            raise InvalidParameter(
                f"key for table {table.name!r} contains non-key attributes {extra}:"
                f" give only {list(table.key_names)}"
            )
    return key


def check_item_size(table: str, item: Mapping[str, Any]) -> int:
    """Return the item's size in bytes, or raise LimitExceeded past DynamoDB's 400 KB."""
    size = item_size(dict(item))
    if size > ITEM_SIZE_LIMIT:
        raise LimitExceeded(
            f"item for table {table!r} is {size} bytes: the maximum item size is"
            f" {ITEM_SIZE_LIMIT} bytes (400 KB), counting attribute names and values"
        )
    return size


def encode_key_value(kind: KeyType, value: Any) -> bytes:
    """Encode a key value so that byte order equals DynamoDB's order for its type."""
    if kind is KeyType.STRING:
        return value.encode()
    if kind is KeyType.BINARY:
        return bytes(value)
    return _encode_number(value)


# A number becomes a class byte (negative, zero, positive), then for non-zero
# numbers the decimal exponent and the significant digits of 0.d1d2d3... x
# 10**exponent. A negative number stores both inverted and ends its digits
# with 0xFF, so that -0.5 sorts above -0.55 although "5" is a prefix of "55".
_NEGATIVE, _ZERO, _POSITIVE = b"\x01", b"\x02", b"\x03"
_EXPONENT_BIAS = 0x8000


def _encode_number(value: Decimal) -> bytes:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidParameter(f"number key value {value!r} is invalid: use a finite number")
    if value.is_zero():
        return _ZERO

    sign, digits, exponent = value.normalize().as_tuple()
    adjusted = int(exponent) + len(digits) + _EXPONENT_BIAS
    if not 0 <= adjusted <= 0xFFFF:
        raise InvalidParameter(f"number key value {value} is out of range: use 1E-130 to 9.99E+125")
    text = "".join(str(digit) for digit in digits)
    if sign == 0:
        return _POSITIVE + adjusted.to_bytes(2, "big") + text.encode()
    inverted = "".join(str(9 - digit) for digit in digits)
    return _NEGATIVE + (0xFFFF - adjusted).to_bytes(2, "big") + inverted.encode() + b"\xff"


def ttl_expiry(table: TableInfo, item: Mapping[str, Any]) -> float | None:
    """Return the epoch second at which the item expires, or None if it never does.

    DynamoDB ignores a TTL attribute that is missing or is not a number.
    """
    if table.ttl_attribute is None:
        return None
    value = item.get(table.ttl_attribute)
    if not isinstance(value, Decimal) or not value.is_finite():
        return None
    return float(value)


def stream_images(view_type: StreamViewType, old: Item | None, new: Item | None) -> tuple[Item | None, Item | None]:
    """Return the old and new images a change record of this view type carries."""
    return (old if view_type.keeps_old_image else None, new if view_type.keeps_new_image else None)


def change_size(keys: Mapping[str, Any], old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> int:
    """Return a change record's size: the keys plus the images it carries, as DynamoDB Streams counts it."""
    size = item_size(dict(keys))
    if old is not None:
        size += item_size(dict(old))
    if new is not None:
        size += item_size(dict(new))
    return size


def same_item(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Tell whether two items contain the same data, as DynamoDB compares values.

    Plain `==` is not enough: Python finds `True == Decimal(1)`, while
    DynamoDB treats a boolean and a number as different.
    """
    return values_equal(dict(first), dict(second))


def select_return_values(
    choice: ReturnValues, old: Item | None, new: Item, updated_paths: tuple[DocumentPath, ...]
) -> Item | None:
    """Pick what `update` returns; None when there is nothing to return.

    UPDATED_OLD and UPDATED_NEW hold only the document paths that the update
    expression names, as they were before or are after the update. A path
    missing on that side (added or removed) is left out.
    """
    if choice is ReturnValues.NONE:
        return None
    if choice is ReturnValues.ALL_NEW:
        return new
    if choice is ReturnValues.ALL_OLD:
        return old

    source = old if choice is ReturnValues.UPDATED_OLD else new
    if source is None:
        return None
    selected = Projection("", updated_paths, frozenset()).apply(source)
    return selected or None
