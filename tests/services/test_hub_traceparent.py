"""The hub hands a write's W3C traceparent to the store, which keeps it beside the data and out of every read."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from squall.services.hub import ServiceHub

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
SHARD_0 = "shardId-000000000000"
DATA = base64.b64encode(b"click").decode()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ServiceHub]:
    opened = ServiceHub(tmp_path / "services")
    opened.store("streams").create_stream("clicks")
    opened.store("tables").create_table("users", partition_key=("id", "S"))
    objects = opened.store("objects")
    objects.create_bucket("uploads")
    objects.put("uploads", "a.txt", b"a")
    opened.store("tables").put("users", {"id": "old", "n": 1})
    yield opened
    opened.close()


def stream_traces(hub: ServiceHub) -> list[str | None]:
    from squall.services.streams import Position

    records = hub.store("streams").read("clicks", SHARD_0, Position.trim_horizon()).records
    return [record.traceparent for record in records]


def last_change_trace(hub: ServiceHub) -> list[str | None]:
    return [hub.store("tables").changes("users", 1, 100)[-1].traceparent]


def last_object_trace(hub: ServiceHub) -> list[str | None]:
    return [hub.store("objects").events(1, 100)[-1].traceparent]


# Each write's service, operation and arguments, and the function that reads back the traceparents it stored.
WRITES: dict[str, tuple[str, str, dict[str, Any], Callable[[ServiceHub], list[str | None]]]] = {
    "put_record": (
        "streams", "put_record", {"stream": "clicks", "data": DATA, "partition_key": "k"}, stream_traces
    ),
    "put_records": (
        "streams",
        "put_records",
        {"stream": "clicks", "records": [{"data": DATA, "partition_key": "k"}] * 3},
        stream_traces,
    ),
    "table put": ("tables", "put", {"table": "users", "item": {"id": {"S": "new"}}}, last_change_trace),
    "table update": (
        "tables",
        "update",
        {
            "table": "users",
            "key": {"id": {"S": "old"}},
            "update_expression": "SET n = :n",
            "values": {":n": {"N": "2"}},
        },
        last_change_trace,
    ),
    "table delete": ("tables", "delete", {"table": "users", "key": {"id": {"S": "old"}}}, last_change_trace),
    "object copy": ("objects", "copy", {"bucket": "uploads", "key": "b.txt", "src_key": "a.txt"}, last_object_trace),
    "object delete": ("objects", "delete", {"bucket": "uploads", "key": "a.txt"}, last_object_trace),
}


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("traceparent", [TRACEPARENT, None])
async def test_write_stores_traceparent(hub: ServiceHub, write: str, traceparent: str | None) -> None:
    service, operation, arguments, stored = WRITES[write]

    await hub.call(service, operation, arguments, traceparent)

    traces = stored(hub)
    assert traces
    assert set(traces) == {traceparent}


async def test_stream_read_hides_traceparent(hub: ServiceHub) -> None:
    await hub.call("streams", "put_record", {"stream": "clicks", "data": DATA, "partition_key": "k"}, TRACEPARENT)

    page = await hub.call("streams", "read", {"stream": "clicks", "shard_id": SHARD_0}, TRACEPARENT)

    (record,) = page["records"]
    assert "traceparent" not in record
    assert base64.b64decode(record["data"]) == b"click"
    assert TRACEPARENT not in repr(page)


async def test_untraced_operation_ignores_traceparent(hub: ServiceHub) -> None:
    result = await hub.call("tables", "get", {"table": "users", "key": {"id": {"S": "old"}}}, TRACEPARENT)

    assert result == {"id": {"S": "old"}, "n": {"N": "1"}}


def test_trigger_events_leave_traceparent_out(hub: ServiceHub) -> None:
    from squall.services.objects import s3_event
    from squall.services.streams import Position, kinesis_event, stream_arn
    from squall.services.tables import dynamodb_stream_event, table_arn

    hub.store("streams").put_record("clicks", b"click", "k", traceparent=TRACEPARENT)
    hub.store("tables").put("users", {"id": "traced"}, traceparent=TRACEPARENT)
    hub.store("objects").put("uploads", "traced.txt", b"t", traceparent=TRACEPARENT)
    records = hub.store("streams").read("clicks", SHARD_0, Position.trim_horizon()).records
    changes = hub.store("tables").changes("users", 0, 100)
    label = hub.store("tables").describe_table("users").stream_label
    event = hub.store("objects").events(0, 100)[-1]

    events = [
        kinesis_event(records, stream_arn("clicks")),
        dynamodb_stream_event(changes, table_arn("users"), stream_label=label),
        s3_event(event, "us-east-1", "000000000000", configuration_id="traced"),
    ]

    assert event.traceparent == TRACEPARENT
    for built in events:
        assert TRACEPARENT not in repr(built)
