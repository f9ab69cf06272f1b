"""Squall's table store: DynamoDB's item model with a change stream per table.

`model` contains the `TableStore` interface, its records and the checks every
backend shares. `sqlite` is the embedded backend. `values` and `expressions`
handle attribute values and DynamoDB's expression language. `lambda_events`
builds the DynamoDB Streams event a function receives.
"""

from __future__ import annotations

from squall.services.tables.lambda_events import dynamodb_stream_event, stream_arn, table_arn
from squall.services.tables.model import (
    Change,
    ChangeEvent,
    Item,
    KeyAttribute,
    KeyType,
    Page,
    ReturnValues,
    StreamViewType,
    TableInfo,
    TableStore,
    TableStoreClosed,
)
from squall.services.tables.sqlite import SqliteTables

__all__ = [
    "Change",
    "ChangeEvent",
    "Item",
    "KeyAttribute",
    "KeyType",
    "Page",
    "ReturnValues",
    "SqliteTables",
    "StreamViewType",
    "TableInfo",
    "TableStore",
    "TableStoreClosed",
    "dynamodb_stream_event",
    "stream_arn",
    "table_arn",
]
