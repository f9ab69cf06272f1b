"""put_records checks the whole request first: one invalid record stores nothing, as in Kinesis PutRecords."""

from __future__ import annotations

import pytest

from squall.services.errors import LimitExceeded, ServiceError
from squall.services.streams import InvalidArgument, Position, PutRecordsEntry, StreamStore

MIB = 1024 * 1024
FIRST_SHARD = "shardId-000000000000"


def stored_data(streams: StreamStore, stream: str) -> list[bytes]:
    return [record.data for record in streams.read(stream, FIRST_SHARD, Position.trim_horizon()).records]


@pytest.mark.parametrize(
    ("bad", "error", "detail"),
    [
        pytest.param(PutRecordsEntry(b"x", ""), InvalidArgument, "partition key ''", id="empty-partition-key"),
        pytest.param(PutRecordsEntry(b"x", "k" * 257), InvalidArgument, "257 characters", id="long-partition-key"),
        pytest.param(PutRecordsEntry(b"x", "\ud800"), InvalidArgument, "lone surrogate", id="surrogate-partition-key"),
        pytest.param(PutRecordsEntry(b"\0" * MIB, "big"), LimitExceeded, "over the limit of 1048576 bytes", id="record-over-1-mib"),
        pytest.param(PutRecordsEntry(b"x", "k", explicit_hash_key="-1"), InvalidArgument, "explicit hash key '-1'", id="negative-hash-key"),
        pytest.param(PutRecordsEntry(b"x", "k", explicit_hash_key=str(2**128)), InvalidArgument, str(2**128), id="hash-key-too-big"),
        pytest.param(PutRecordsEntry("text", "k"), InvalidArgument, "must be bytes", id="data-not-bytes"),  # type: ignore[arg-type]
    ],
)
def test_put_records_invalid_record_rejects_all(
    streams: StreamStore, bad: PutRecordsEntry, error: type[ServiceError], detail: str
) -> None:
    streams.create_stream("s")
    entries = [PutRecordsEntry(b"first", "a"), PutRecordsEntry(b"second", "b"), bad, PutRecordsEntry(b"last", "c")]

    with pytest.raises(error) as caught:
        streams.put_records("s", entries)

    assert type(caught.value) is error
    assert "records[2]" in caught.value.message
    assert detail in caught.value.message
    assert stored_data(streams, "s") == []


def test_put_records_names_first_invalid_record(streams: StreamStore) -> None:
    streams.create_stream("s")
    entries = [PutRecordsEntry(b"ok", "a"), PutRecordsEntry(b"x", "k", explicit_hash_key="abc"), PutRecordsEntry(b"y", "")]

    with pytest.raises(InvalidArgument) as caught:
        streams.put_records("s", entries)

    assert "records[1]" in caught.value.message
    assert "'abc'" in caught.value.message


def test_put_records_after_rejection_continues(streams: StreamStore) -> None:
    streams.create_stream("s")
    before = streams.put_records("s", [PutRecordsEntry(b"one", "a")])
    with pytest.raises(InvalidArgument):
        streams.put_records("s", [PutRecordsEntry(b"two", "a"), PutRecordsEntry(b"bad", "")])

    after = streams.put_records("s", [PutRecordsEntry(b"three", "a")])

    assert after.failed_record_count == 0
    assert int(after.records[0].sequence_number) > int(before.records[0].sequence_number)
    assert stored_data(streams, "s") == [b"one", b"three"]


def test_put_records_valid_batch_stores_all(streams: StreamStore) -> None:
    streams.create_stream("s")
    entries = [PutRecordsEntry(b"\0" * (MIB - 1), "k"), PutRecordsEntry(b"b", "k", explicit_hash_key="0")]

    result = streams.put_records("s", entries)

    assert result.failed_record_count == 0
    assert [entry.failed for entry in result.records] == [False, False]
    assert [entry.error_code for entry in result.records] == [None, None]
    assert [len(data) for data in stored_data(streams, "s")] == [MIB - 1, 1]


def test_put_records_total_over_5_mib(streams: StreamStore) -> None:
    streams.create_stream("s")
    entries = [PutRecordsEntry(b"\0" * (MIB - 1), "k")] * 6

    with pytest.raises(LimitExceeded) as caught:
        streams.put_records("s", entries)

    assert "5 MiB" in caught.value.message
    assert stored_data(streams, "s") == []
