"""The table service's operations as the HTTP API runs them.

Items, keys, start keys and expression attribute values travel as DynamoDB
typed JSON (`{"id": {"S": "a"}, "n": {"N": "3"}}`), in both directions, so
numbers keep every digit and binary values and sets keep their types.
Expression attribute names are a plain object (`{"#n": "name"}`).

The writes in `TRACED` also take the caller's W3C `traceparent`, which the
hub passes as a third argument and the store keeps with the change record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from squall.services.args import Args
from squall.services.errors import InvalidParameter
from squall.services.tables.model import DEFAULT_STREAM_VIEW_TYPE, Item, Page, ReturnValues, TableInfo, TableStore
from squall.services.tables.values import from_typed, item_from_typed, item_to_typed

RESOURCE_ARGUMENT = "table"
# Writes add change records, so the hub wakes the triggers that wait on the table.
WRITES = {"put", "update", "delete"}
TRACED = {"put", "update", "delete"}


def _key_attribute(args: Args, name: str) -> tuple[str, str] | None:
    spec = args.mapping(name, None)
    if spec is None:
        return None
    attribute = spec.get("name")
    kind = spec.get("type")
    if not isinstance(attribute, str) or not isinstance(kind, str) or set(spec) != {"name", "type"}:
        raise InvalidParameter(
            f"{args.operation}: argument {name!r} is {spec!r}, expected an object"
            ' {"name": ATTRIBUTE, "type": "S" | "N" | "B"}'
        )
    return (attribute, kind)


def _typed_item(args: Args, name: str) -> Item:
    return item_from_typed(args.mapping(name))


def _optional_typed_item(args: Args, name: str) -> Item | None:
    typed = args.mapping(name, None)
    return item_from_typed(typed) if typed is not None else None


def _typed_values(args: Args) -> dict[str, Any] | None:
    typed = args.mapping("values", None)
    if typed is None:
        return None
    return {
        placeholder: from_typed(value, f"{args.operation}: expression attribute value {placeholder}")
        for placeholder, value in typed.items()
    }


def _names(args: Args) -> dict[str, str] | None:
    return args.mapping("names", None)


def _typed_or_none(item: Item | None) -> dict[str, Any] | None:
    return item_to_typed(item) if item is not None else None


def _page(page: Page) -> dict[str, Any]:
    return {
        "items": [item_to_typed(item) for item in page.items],
        "last_evaluated_key": _typed_or_none(page.last_evaluated_key),
        "count": page.count,
        "scanned_count": page.scanned_count,
    }


# ---------------------------------------------------------------- tables


def _create_table(store: TableStore, args: Args) -> TableInfo:
    partition_key = _key_attribute(args, "partition_key")
    if partition_key is None:
        raise InvalidParameter(
            f"{args.operation}: argument 'partition_key' is missing, expected an object"
            ' {"name": ATTRIBUTE, "type": "S" | "N" | "B"}'
        )
    return store.create_table(
        args.text("name"),
        partition_key,
        sort_key=_key_attribute(args, "sort_key"),
        ttl_attribute=args.text("ttl_attribute", None),
        stream=args.flag("stream", True),
        stream_view_type=args.text("stream_view_type", DEFAULT_STREAM_VIEW_TYPE.value),
    )


def _describe_table(store: TableStore, args: Args) -> TableInfo:
    return store.describe_table(args.text("name"))


def _list_tables(store: TableStore, args: Args) -> list[str]:
    return store.list_tables()


def _delete_table(store: TableStore, args: Args) -> None:
    store.delete_table(args.text("name"))


# ---------------------------------------------------------------- items


def _put(store: TableStore, args: Args, traceparent: str | None = None) -> dict[str, Any] | None:
    old = store.put(
        args.text("table"),
        _typed_item(args, "item"),
        condition=args.text("condition", None),
        names=_names(args),
        values=_typed_values(args),
        return_old=args.flag("return_old", False),
        traceparent=traceparent,
    )
    return _typed_or_none(old)


def _get(store: TableStore, args: Args) -> dict[str, Any] | None:
    item = store.get(
        args.text("table"),
        _typed_item(args, "key"),
        projection=args.text("projection", None),
        names=_names(args),
    )
    return _typed_or_none(item)


def _delete(store: TableStore, args: Args, traceparent: str | None = None) -> dict[str, Any] | None:
    old = store.delete(
        args.text("table"),
        _typed_item(args, "key"),
        condition=args.text("condition", None),
        names=_names(args),
        values=_typed_values(args),
        return_old=args.flag("return_old", False),
        traceparent=traceparent,
    )
    return _typed_or_none(old)


def _update(store: TableStore, args: Args, traceparent: str | None = None) -> dict[str, Any] | None:
    attributes = store.update(
        args.text("table"),
        _typed_item(args, "key"),
        args.text("update_expression"),
        condition=args.text("condition", None),
        names=_names(args),
        values=_typed_values(args),
        return_values=args.text("return_values", ReturnValues.NONE.value),
        traceparent=traceparent,
    )
    return _typed_or_none(attributes)


def _query(store: TableStore, args: Args) -> dict[str, Any]:
    page = store.query(
        args.text("table"),
        args.text("key_condition"),
        names=_names(args),
        values=_typed_values(args),
        filter=args.text("filter", None),
        forward=args.flag("forward", True),
        limit=args.integer("limit", None),
        start_key=_optional_typed_item(args, "start_key"),
        projection=args.text("projection", None),
    )
    return _page(page)


def _scan(store: TableStore, args: Args) -> dict[str, Any]:
    page = store.scan(
        args.text("table"),
        filter=args.text("filter", None),
        limit=args.integer("limit", None),
        start_key=_optional_typed_item(args, "start_key"),
        projection=args.text("projection", None),
        names=_names(args),
        values=_typed_values(args),
    )
    return _page(page)


OPERATIONS: dict[str, Callable[[TableStore, Args], Any]] = {
    "create_table": _create_table,
    "describe_table": _describe_table,
    "list_tables": _list_tables,
    "delete_table": _delete_table,
    "put": _put,
    "get": _get,
    "delete": _delete,
    "update": _update,
    "query": _query,
    "scan": _scan,
}

# The arguments each operation reads; the hub rejects any other name before the call.
ARGUMENTS = {
    "create_table": ('name', 'partition_key', 'sort_key', 'stream', 'stream_view_type', 'ttl_attribute'),
    "describe_table": ('name',),
    "list_tables": (),
    "delete_table": ('name',),
    "put": ('condition', 'item', 'names', 'return_old', 'table', 'values'),
    "get": ('key', 'names', 'projection', 'table'),
    "delete": ('condition', 'key', 'names', 'return_old', 'table', 'values'),
    "update": ('condition', 'key', 'names', 'return_values', 'table', 'update_expression', 'values'),
    "query": ('filter', 'forward', 'key_condition', 'limit', 'names', 'projection', 'start_key', 'table', 'values'),
    "scan": ('filter', 'limit', 'names', 'projection', 'start_key', 'table', 'values'),
}

# DynamoDB reports invalid requests and items over 400 KB as ValidationException.
ERROR_CODES = {"InvalidParameterValue": "ValidationException", "LimitExceeded": "ValidationException"}
