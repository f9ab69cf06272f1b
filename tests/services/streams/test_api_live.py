"""The stream service over HTTP on a real server, through the SDK's `Stream` class."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from squall.sdk import Client, RemoteError
from squall.sdk.streams import (
    Stream,
    after_sequence_number,
    at_sequence_number,
    at_timestamp,
    create_stream,
    list_streams,
)
from tests.conftest import RunningServer, start_server

FIRST_SHARD = "shardId-000000000000"
SECOND_SHARD = "shardId-000000000001"
MAX_RECORD_BYTES = 1024 * 1024
# The lowest hash key of the second half of the 128-bit key space.
SECOND_HALF_HASH_KEY = str(2**127)

MANIFEST = """\
service: stream-writer
functions:
  record:
    handler: app.record
    events:
      - http: {method: POST, path: "/streams/{name}"}
"""

APP = """\
import base64
import json

from squall.sdk.streams import Stream


def record(event, context):
    body = event.get("body") or ""
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    receipt = Stream(event["pathParameters"]["name"]).put(data, partition_key="from-function")
    return {"statusCode": 200, "body": json.dumps({"sequence_number": receipt.sequence_number})}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("app")
    (folder / "squall.yml").write_text(MANIFEST)
    (folder / "app.py").write_text(APP)
    running = start_server(folder, tmp_path_factory.mktemp("data"))
    yield running
    running.stop()


@pytest.fixture
def client(server: RunningServer) -> Client:
    return Client(server.endpoint)


@pytest.fixture
def stream(client: Client, request: pytest.FixtureRequest) -> Iterator[Stream]:
    """A fresh one-shard stream named after the test."""
    name = "t-" + "".join(c if c.isalnum() else "-" for c in request.node.name)[:100]
    created = create_stream(name, client=client)
    yield created
    created.delete()


def test_stream_lifecycle(client: Client) -> None:
    created = create_stream("lifecycle", shards=2, retention_h=48, client=client)

    description = created.describe()
    assert description.name == "lifecycle"
    assert description.status == "ACTIVE"
    assert description.shard_count == 2
    assert description.retention_h == 48
    assert [shard.shard_id for shard in description.shards] == [FIRST_SHARD, SECOND_SHARD]
    assert description.shards[1].starting_hash_key == SECOND_HALF_HASH_KEY
    assert "lifecycle" in list_streams(client=client)

    created.delete()
    assert "lifecycle" not in list_streams(client=client)


def test_create_same_settings_returns_stream(client: Client) -> None:
    first = create_stream("twice", shards=2, client=client).describe()
    second = create_stream("twice", shards=2, client=client).describe()

    assert second.created_at == first.created_at
    Stream("twice", client).delete()


def test_create_other_settings_conflicts(client: Client) -> None:
    create_stream("settled", shards=1, client=client)

    with pytest.raises(RemoteError) as raised:
        create_stream("settled", shards=3, client=client)

    assert raised.value.code == "ResourceInUseException"
    assert raised.value.status == 409
    assert "'settled'" in raised.value.message
    Stream("settled", client).delete()


def test_put_and_read_round_trip(stream: Stream) -> None:
    binary = bytes(range(256))
    first = stream.put(binary, partition_key="a")
    second = stream.put("héllo", partition_key="b")

    page = stream.read(FIRST_SHARD)

    assert [record.data for record in page.records] == [binary, "héllo".encode()]
    assert [record.sequence_number for record in page.records] == [first.sequence_number, second.sequence_number]
    assert [record.partition_key for record in page.records] == ["a", "b"]
    assert page.records[0].shard_id == FIRST_SHARD == first.shard_id
    assert abs(page.records[0].approximate_arrival_timestamp - time.time()) < 60
    assert page.next_position == after_sequence_number(second.sequence_number)
    assert stream.read(FIRST_SHARD, page.next_position).records == ()


def test_read_positions(stream: Stream) -> None:
    before = time.time() - 1
    receipts = [stream.put(f"r{index}", partition_key="k") for index in range(3)]
    middle = receipts[1].sequence_number

    def data(position: Any) -> list[bytes]:
        return [record.data for record in stream.read(FIRST_SHARD, position).records]

    assert data(at_sequence_number(middle)) == [b"r1", b"r2"]
    assert data(after_sequence_number(middle)) == [b"r2"]
    assert data(at_timestamp(before)) == [b"r0", b"r1", b"r2"]
    assert data("trim_horizon") == [b"r0", b"r1", b"r2"]


def test_read_latest_sees_only_later_records(stream: Stream) -> None:
    stream.put("old", partition_key="k")

    empty = stream.read(FIRST_SHARD, "LATEST")
    stream.put("new", partition_key="k")
    later = stream.read(FIRST_SHARD, empty.next_position)

    assert empty.records == ()
    assert empty.next_position["type"] == "AFTER_SEQUENCE_NUMBER"
    assert [record.data for record in later.records] == [b"new"]


def test_iterate_follows_positions(stream: Stream) -> None:
    for index in range(5):
        stream.put(f"r{index}", partition_key="k")

    seen = [record.data for record in stream.iterate(FIRST_SHARD, limit=2)]

    assert seen == [b"r0", b"r1", b"r2", b"r3", b"r4"]


def test_put_many_bad_record_rejects_all(stream: Stream) -> None:
    with pytest.raises(RemoteError) as raised:
        stream.put_many([(b"one", "k"), {"data": "two", "partition_key": ""}, {"data": "three", "partition_key": "k"}])

    assert raised.value.code == "InvalidArgumentException"
    assert raised.value.status == 400
    assert "records[1]" in raised.value.message
    assert "partition key ''" in raised.value.message
    assert not stream.read(FIRST_SHARD).records


def test_put_many_reports_each_record(stream: Stream) -> None:
    result = stream.put_many([(b"one", "k"), {"data": "two", "partition_key": "k"}])

    assert result.failed_record_count == 0
    assert [entry.failed for entry in result.records] == [False, False]
    assert [entry.shard_id for entry in result.records] == [FIRST_SHARD, FIRST_SHARD]
    stored = [record.data for record in stream.read(FIRST_SHARD).records]
    assert stored == [b"one", b"two"]


def test_put_many_rejects_a_misspelt_key(stream: Stream) -> None:
    with pytest.raises(RemoteError) as raised:
        stream.put_many([{"data": "a", "partition_key": "k", "explicit_hashkey": "0"}])

    assert "unknown key 'explicit_hashkey' (did you mean 'explicit_hash_key'?)" in str(raised.value)
    assert not stream.read(FIRST_SHARD).records


def test_put_many_names_a_missing_data_key(stream: Stream) -> None:
    with pytest.raises(TypeError, match="records\\[0\\] has no 'data'.*got 'Data', 'PartitionKey'"):
        stream.put_many([{"Data": "a", "PartitionKey": "k"}])


def test_explicit_hash_key_picks_shard(client: Client) -> None:
    stream = create_stream("hashed", shards=2, client=client)

    receipt = stream.put("x", partition_key="k", explicit_hash_key=SECOND_HALF_HASH_KEY)
    batch = stream.put_many([{"data": "y", "partition_key": "k", "explicit_hash_key": "0"}])

    assert receipt.shard_id == SECOND_SHARD
    assert batch.records[0].shard_id == FIRST_SHARD
    assert [record.data for record in stream.read(SECOND_SHARD).records] == [b"x"]
    stream.delete()


@pytest.mark.parametrize(
    ("action", "code", "status", "named"),
    [
        pytest.param(lambda c: Stream("missing", c).describe(), "ResourceNotFoundException", 404, "'missing'", id="describe-unknown"),
        pytest.param(lambda c: Stream("missing", c).put("x", "k"), "ResourceNotFoundException", 404, "'missing'", id="put-unknown"),
        pytest.param(lambda c: Stream("missing", c).read(FIRST_SHARD), "ResourceNotFoundException", 404, "'missing'", id="read-unknown"),
        pytest.param(lambda c: Stream("missing", c).delete(), "ResourceNotFoundException", 404, "'missing'", id="delete-unknown"),
        pytest.param(lambda c: create_stream("bad name!", client=c), "InvalidArgumentException", 400, "'bad name!'", id="bad-name"),
        pytest.param(lambda c: create_stream("s", shards=0, client=c), "InvalidArgumentException", 400, "shard count 0", id="zero-shards"),
        pytest.param(lambda c: create_stream("s", retention_h=12, client=c), "InvalidArgumentException", 400, "retention period 12", id="short-retention"),
    ],
)
def test_stream_errors(client: Client, action: Any, code: str, status: int, named: str) -> None:
    with pytest.raises(RemoteError) as raised:
        action(client)

    assert raised.value.code == code
    assert raised.value.status == status
    assert named in raised.value.message


@pytest.mark.parametrize(
    ("action", "code", "status", "named"),
    [
        pytest.param(lambda s: s.put(b"x" * MAX_RECORD_BYTES, "k"), "LimitExceeded", 413, "1048577 bytes", id="record-too-large"),
        pytest.param(lambda s: s.put("x", "k" * 257), "InvalidArgumentException", 400, "257 characters", id="long-partition-key"),
        pytest.param(lambda s: s.put("x", "k", explicit_hash_key=str(2**128)), "InvalidArgumentException", 400, str(2**128), id="hash-key-too-big"),
        pytest.param(lambda s: s.put_many([("x", "k")] * 501), "LimitExceeded", 413, "501 records", id="batch-too-long"),
        pytest.param(lambda s: s.put_many([]), "InvalidArgumentException", 400, "got 0", id="batch-empty"),
        pytest.param(lambda s: s.read("shardId-000000000009"), "ResourceNotFoundException", 404, "'shardId-000000000009'", id="unknown-shard"),
        pytest.param(lambda s: s.read(FIRST_SHARD, {"type": "NEWEST"}), "InvalidArgumentException", 400, "'NEWEST'", id="bad-position-type"),
        pytest.param(lambda s: s.read(FIRST_SHARD, {"type": "AT_SEQUENCE_NUMBER"}), "InvalidArgumentException", 400, "needs a sequence_number", id="position-without-number"),
        pytest.param(lambda s: s.read(FIRST_SHARD, at_sequence_number("12ab")), "InvalidArgumentException", 400, "'12ab'", id="bad-sequence-number"),
        pytest.param(lambda s: s.read(FIRST_SHARD, limit=10_001), "InvalidArgumentException", 400, "10001", id="limit-too-high"),
    ],
)
def test_record_errors(stream: Stream, action: Any, code: str, status: int, named: str) -> None:
    with pytest.raises(RemoteError) as raised:
        action(stream)

    assert raised.value.code == code
    assert raised.value.status == status
    assert named in raised.value.message


def test_data_must_be_base64(client: Client, stream: Stream) -> None:
    with pytest.raises(RemoteError) as raised:
        client.call("streams", "put_record", stream=stream.name, data="not base64!", partition_key="k")

    assert raised.value.code == "InvalidParameterValue"
    assert "'data'" in raised.value.message


def test_bad_position_shorthand_raises_locally(stream: Stream) -> None:
    with pytest.raises(ValueError, match="'oldest'"):
        stream.read(FIRST_SHARD, "oldest")


def test_function_writes_with_sdk(server: RunningServer, client: Client, stream: Stream) -> None:
    response = httpx.post(f"{server.endpoint}/streams/{stream.name}", content="sent by a function", timeout=60)

    assert response.status_code == 200, response.text
    written = json.loads(response.text)["sequence_number"]
    records = stream.read(FIRST_SHARD).records
    assert [record.data for record in records] == [b"sent by a function"]
    assert records[0].sequence_number == written
    assert records[0].partition_key == "from-function"


def test_server_keeps_records_across_restart(tmp_path: Path, serve: Any) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "squall.yml").write_text(MANIFEST)
    (folder / "app.py").write_text(APP)
    data = tmp_path / "kept"

    first = serve(folder, data=data)
    written = create_stream("kept", client=Client(first.endpoint))
    written.put("survives", partition_key="k")
    first.stop()

    second = serve(folder, data=data)
    records = Stream("kept", Client(second.endpoint)).read(FIRST_SHARD).records
    assert [record.data for record in records] == [b"survives"]
