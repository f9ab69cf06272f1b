"""Tables in the SDK: DynamoDB-style items as plain Python dicts.

An item is a dict of attribute name to value. Values come back as `str`,
`decimal.Decimal` (every number), `bytes`, `bool`, `None`, `list`, `dict`, or
a `set` of `str`, `Decimal` or `bytes`. On input, `int` and `float` are
accepted for numbers, `tuple` for lists and `bytearray` for binary values.

    from squall.sdk.tables import Table, create_table

    orders = create_table("orders", partition_key=("customer", "S"), sort_key=("order", "N"))
    orders.put({"customer": "alice", "order": 1, "total": 12.5})
    page = orders.query("customer = :c", values={":c": "alice"})
    for item in orders.query_all("customer = :c", values={":c": "alice"}):
        print(item["total"])

Only the standard library is used, so a function imports this module cheaply.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from squall.sdk.client import Client, default_client
from squall.services.errors import InvalidParameter

SERVICE = "tables"
# DynamoDB's StreamViewType values: what a change record carries besides the keys.
STREAM_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
DEFAULT_STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"

Item = dict[str, Any]


@dataclass(frozen=True)
class KeyAttribute:
    """One attribute of a table's primary key: its name and type ("S", "N" or "B")."""

    name: str
    type: str


@dataclass(frozen=True)
class TableDescription:
    """A table's settings, item count and size in bytes; `created_at` is in epoch seconds.

    `stream_view_type` is what the table's change records carry besides the
    keys (KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES), or None
    when the table has no change stream.
    """

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None
    ttl_attribute: str | None
    stream_enabled: bool
    stream_view_type: str | None
    created_at: float
    item_count: int
    size_bytes: int


@dataclass(frozen=True)
class Page:
    """One page of a query or scan.

    `last_evaluated_key` is None on the last page. Otherwise pass it as
    `start_key` to read the next one. `scanned_count` counts the items read
    before the filter and `count` the items that passed it.
    """

    items: list[Item]
    last_evaluated_key: Item | None
    count: int
    scanned_count: int


class Table:
    """One table of a Squall server.

        table = Table("orders")
        table.put({"customer": "alice", "order": 1})
        table.get({"customer": "alice", "order": 1})

    `client` None uses the client built from SQUALL_ENDPOINT and SQUALL_TOKEN.
    Failed calls raise `squall.sdk.RemoteError` with the server's error code,
    such as ResourceNotFoundException or ConditionalCheckFailedException.
    A value that has no DynamoDB type raises InvalidParameter before any call.
    """

    def __init__(self, name: str, client: Client | None = None) -> None:
        self.name = name
        self.client = client if client is not None else default_client()

    def __repr__(self) -> str:
        return f"Table({self.name!r}, endpoint={self.client.endpoint!r})"

    def describe(self) -> TableDescription:
        """Return the table's settings, item count and size."""
        return _description(self.client.call(SERVICE, "describe_table", name=self.name))

    def put(
        self,
        item: Mapping[str, Any],
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        return_old: bool = False,
    ) -> Item | None:
        """Write a whole item, replacing any item with the same key.

            table.put({"id": "a", "n": 1}, condition="attribute_not_exists(id)")

        Returns the replaced item when `return_old` is set, else None.
        """
        old = self.client.call(
            SERVICE,
            "put",
            table=self.name,
            item=item_to_typed(item),
            condition=condition,
            names=_names(names),
            values=_values(values),
            return_old=return_old,
        )
        return item_from_typed(old) if old is not None else None

    def get(self, key: Mapping[str, Any], projection: str | None = None,
            names: Mapping[str, str] | None = None) -> Item | None:
        """Return the item with this key, or None. `projection` picks attributes, such as "id, #n"."""
        item = self.client.call(
            SERVICE, "get", table=self.name, key=item_to_typed(key), projection=projection, names=_names(names)
        )
        return item_from_typed(item) if item is not None else None

    def delete(
        self,
        key: Mapping[str, Any],
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        return_old: bool = False,
    ) -> Item | None:
        """Delete the item with this key. A missing item is not an error.

            table.delete({"id": "a"}, condition="n < :max", values={":max": 10})

        Returns the deleted item when `return_old` is set, else None.
        """
        old = self.client.call(
            SERVICE,
            "delete",
            table=self.name,
            key=item_to_typed(key),
            condition=condition,
            names=_names(names),
            values=_values(values),
            return_old=return_old,
        )
        return item_from_typed(old) if old is not None else None

    def update(
        self,
        key: Mapping[str, Any],
        expression: str,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        return_values: str = "NONE",
    ) -> Item | None:
        """Apply an update expression to the item with this key, creating it if missing.

            table.update({"id": "a"}, "SET n = n + :one", values={":one": 1}, return_values="ALL_NEW")

        `return_values` is NONE, ALL_OLD, ALL_NEW, UPDATED_OLD or UPDATED_NEW.
        Returns the attributes it selects, or None.
        """
        attributes = self.client.call(
            SERVICE,
            "update",
            table=self.name,
            key=item_to_typed(key),
            update_expression=expression,
            condition=condition,
            names=_names(names),
            values=_values(values),
            return_values=return_values,
        )
        return item_from_typed(attributes) if attributes is not None else None

    def query(
        self,
        key_condition: str,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        filter: str | None = None,
        projection: str | None = None,
        limit: int | None = None,
        start_key: Mapping[str, Any] | None = None,
        forward: bool = True,
    ) -> Page:
        """Read one page of one partition's items in sort-key order (reversed when not `forward`).

            page = table.query("customer = :c AND #o > :after", names={"#o": "order"},
                               values={":c": "alice", ":after": 10}, limit=25)

        `limit` counts items read before the filter, as in DynamoDB.
        """
        result = self.client.call(
            SERVICE,
            "query",
            table=self.name,
            key_condition=key_condition,
            names=_names(names),
            values=_values(values),
            filter=filter,
            projection=projection,
            limit=limit,
            start_key=item_to_typed(start_key) if start_key is not None else None,
            forward=forward,
        )
        return _page(result)

    def scan(
        self,
        filter: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        projection: str | None = None,
        limit: int | None = None,
        start_key: Mapping[str, Any] | None = None,
    ) -> Page:
        """Read one page of all the table's items, in key order.

            page = table.scan(filter="total > :min", values={":min": 100})
        """
        result = self.client.call(
            SERVICE,
            "scan",
            table=self.name,
            filter=filter,
            names=_names(names),
            values=_values(values),
            projection=projection,
            limit=limit,
            start_key=item_to_typed(start_key) if start_key is not None else None,
        )
        return _page(result)

    def query_all(self, key_condition: str, **options: Any) -> Iterator[Item]:
        """Yield the items of every page of a query, taking the options of `query`.

            for item in table.query_all("customer = :c", values={":c": "alice"}, limit=100):
                ...

        `limit` is the page size here: the generator reads the next page when
        the items of one run out.
        """
        start_key = options.pop("start_key", None)
        while True:
            page = self.query(key_condition, start_key=start_key, **options)
            yield from page.items
            if page.last_evaluated_key is None:
                return
            start_key = page.last_evaluated_key

    def scan_all(self, **options: Any) -> Iterator[Item]:
        """Yield the items of every page of a scan, taking the options of `scan` with `limit` as the page size."""
        start_key = options.pop("start_key", None)
        while True:
            page = self.scan(start_key=start_key, **options)
            yield from page.items
            if page.last_evaluated_key is None:
                return
            start_key = page.last_evaluated_key


def create_table(
    name: str,
    partition_key: tuple[str, str] | str,
    sort_key: tuple[str, str] | str | None = None,
    ttl_attribute: str | None = None,
    client: Client | None = None,
    stream_view_type: str | None = DEFAULT_STREAM_VIEW_TYPE,
) -> Table:
    """Create a table, or find it if it exists with the same settings, and return it.

        orders = create_table("orders", ("customer", "S"), sort_key=("order", "N"), ttl_attribute="expires")

    A key is a pair (attribute name, "S" | "N" | "B") or the text "name:TYPE".
    `stream_view_type` is what each change record carries besides the keys,
    as in DynamoDB: "KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE" or
    "NEW_AND_OLD_IMAGES". None creates the table without a change stream, so
    no table-stream trigger can read it. An existing table with other
    settings raises RemoteError ResourceInUseException.
    """
    table = Table(name, client)
    stream = {"stream": False} if stream_view_type is None else {"stream_view_type": stream_view_type}
    table.client.call(
        SERVICE,
        "create_table",
        name=name,
        partition_key=_key_spec("partition_key", partition_key),
        sort_key=_key_spec("sort_key", sort_key) if sort_key is not None else None,
        ttl_attribute=ttl_attribute,
        **stream,
    )
    return table


def list_tables(client: Client | None = None) -> list[str]:
    """Return the names of the server's tables in sorted order."""
    return list((client or default_client()).call(SERVICE, "list_tables"))


def delete_table(name: str, client: Client | None = None) -> None:
    """Delete a table with all its items. A missing table raises RemoteError ResourceNotFoundException."""
    (client or default_client()).call(SERVICE, "delete_table", name=name)


# ---------------------------------------------------------------- typed JSON


def to_typed(value: Any) -> dict[str, Any]:
    """Convert a Python value to DynamoDB typed JSON, such as {"N": "3"}, or raise InvalidParameter."""
    # bool first, because bool is a subclass of int.
    if isinstance(value, bool):
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"B": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (int, float, Decimal)):
        return {"N": _number_text(value)}
    if isinstance(value, (list, tuple)):
        return {"L": [to_typed(element) for element in value]}
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise InvalidParameter(f"map key {key!r} has type {type(key).__name__}: map keys must be strings")
        return {"M": {key: to_typed(element) for key, element in value.items()}}
    if isinstance(value, (set, frozenset)):
        return _set_to_typed(value)
    raise InvalidParameter(
        f"{type(value).__name__} value {value!r} has no table type: use str, bytes, bool, None, a number"
        " (int, float or Decimal), list, dict, or a set of str, numbers or bytes"
    )


def from_typed(typed: Mapping[str, Any]) -> Any:
    """Convert DynamoDB typed JSON to a Python value (numbers as Decimal, sets as set)."""
    ((kind, payload),) = typed.items()
    if kind == "S" or kind == "BOOL":
        return payload
    if kind == "N":
        return Decimal(payload)
    if kind == "B":
        return base64.b64decode(payload)
    if kind == "NULL":
        return None
    if kind == "L":
        return [from_typed(element) for element in payload]
    if kind == "M":
        return {key: from_typed(element) for key, element in payload.items()}
    if kind == "SS":
        return set(payload)
    if kind == "NS":
        return {Decimal(number) for number in payload}
    if kind == "BS":
        return {base64.b64decode(element) for element in payload}
    raise InvalidParameter(f"typed value {dict(typed)!r} has the unknown type {kind!r}")


def item_to_typed(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Convert an item (or a key) to DynamoDB typed JSON, attribute by attribute."""
    if not isinstance(item, Mapping):
        raise InvalidParameter(f"item {item!r} is invalid: use a dict of attribute name to value")
    return {name: to_typed(value) for name, value in item.items()}


def item_from_typed(typed: Mapping[str, Any]) -> Item:
    """Convert a typed-JSON item to a plain dict."""
    return {name: from_typed(value) for name, value in typed.items()}


def _number_text(number: int | float | Decimal) -> str:
    if isinstance(number, int):
        return str(number)
    if isinstance(number, float) and not math.isfinite(number):
        raise InvalidParameter(f"number {number!r} is invalid: use a finite number")
    if isinstance(number, Decimal) and not number.is_finite():
        raise InvalidParameter(f"number {number!r} is invalid: use a finite number")
    # repr gives the shortest text that reads back as the same float, so 0.1 stays "0.1".
    return repr(number) if isinstance(number, float) else str(number)


def _set_to_typed(elements: set[Any] | frozenset[Any]) -> dict[str, Any]:
    if not elements:
        raise InvalidParameter("an empty set has no table type: a set needs at least one element")
    if all(isinstance(element, str) for element in elements):
        return {"SS": sorted(elements)}
    if all(isinstance(element, (bytes, bytearray)) for element in elements):
        return {"BS": [base64.b64encode(bytes(element)).decode("ascii") for element in elements]}
    numeric = (int, float, Decimal)
    if all(isinstance(element, numeric) and not isinstance(element, bool) for element in elements):
        return {"NS": [_number_text(element) for element in elements]}
    kinds = sorted({type(element).__name__ for element in elements})
    raise InvalidParameter(
        f"set {elements!r} mixes element types {kinds}: all elements of a set must be strings, numbers or bytes alike"
    )


def _values(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {placeholder: to_typed(value) for placeholder, value in values.items()}


def _names(names: Mapping[str, str] | None) -> dict[str, str] | None:
    return dict(names) if names is not None else None


def _key_spec(role: str, spec: tuple[str, str] | list[str] | str) -> dict[str, str]:
    if isinstance(spec, str):
        name, separator, kind = spec.rpartition(":")
        if not separator:
            raise InvalidParameter(f"{role} {spec!r} is invalid: use 'name:TYPE' with TYPE one of S, N or B")
        return {"name": name, "type": kind}
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        return {"name": spec[0], "type": spec[1]}
    raise InvalidParameter(f"{role} {spec!r} is invalid: use a pair (attribute name, 'S', 'N' or 'B') or 'name:TYPE'")


def _page(result: Mapping[str, Any]) -> Page:
    last_key = result.get("last_evaluated_key")
    return Page(
        items=[item_from_typed(item) for item in result["items"]],
        last_evaluated_key=item_from_typed(last_key) if last_key is not None else None,
        count=result["count"],
        scanned_count=result["scanned_count"],
    )


def _description(result: Mapping[str, Any]) -> TableDescription:
    partition = result["partition_key"]
    sort = result.get("sort_key")
    return TableDescription(
        name=result["name"],
        partition_key=KeyAttribute(partition["name"], partition["type"]),
        sort_key=KeyAttribute(sort["name"], sort["type"]) if sort is not None else None,
        ttl_attribute=result.get("ttl_attribute"),
        stream_enabled=result["stream_enabled"],
        stream_view_type=result.get("stream_view_type"),
        created_at=result["created_at"],
        item_count=result["item_count"],
        size_bytes=result["size_bytes"],
    )
