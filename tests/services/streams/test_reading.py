"""Behaviour of reads, retention and consumer checkpoints, against every `StreamStore` backend."""

from __future__ import annotations

import pytest

from squall.services.errors import ResourceNotFound
from squall.services.streams import (
    InvalidArgument,
    Position,
    PositionType,
    PutRecordsEntry,
    StreamRecord,
    StreamStore,
)
from tests.services.streams.conftest import START_TIME_S, FakeClock

SHARD_0 = "shardId-000000000000"
SHARD_1 = "shardId-000000000001"
DAY_S = 24 * 3600


def put_numbered(streams: StreamStore, count: int, stream: str = "s") -> list[str]:
    """Put `count` records b"0", b"1", ... on shard 0 and return their sequence numbers."""
    return [
        streams.put_record(stream, str(number).encode(), "k", explicit_hash_key="0").sequence_number
        for number in range(count)
    ]


def data_of(result_records: tuple[StreamRecord, ...]) -> list[bytes]:
    return [record.data for record in result_records]


def test_trim_horizon_reads_all_in_order(streams: StreamStore, clock: FakeClock) -> None:
    streams.create_stream("s")
    numbers = []
    for number in range(5):
        numbers.append(streams.put_record("s", f"r{number}".encode(), f"key{number}").sequence_number)
        clock.advance(0.25)

    result = streams.read("s", SHARD_0, Position.trim_horizon())

    assert data_of(result.records) == [b"r0", b"r1", b"r2", b"r3", b"r4"]
    assert [record.sequence_number for record in result.records] == numbers
    assert [record.partition_key for record in result.records] == [f"key{n}" for n in range(5)]
    assert {record.shard_id for record in result.records} == {SHARD_0}
    assert [record.approximate_arrival_timestamp for record in result.records] == [
        START_TIME_S + 0.25 * n for n in range(5)
    ]
    assert result.next_position == Position.after_sequence_number(numbers[-1])


def test_limit_and_continuation(streams: StreamStore) -> None:
    streams.create_stream("s")
    put_numbered(streams, 7)

    pages = []
    position = Position.trim_horizon()
    for _ in range(5):
        result = streams.read("s", SHARD_0, position, limit=3)
        pages.append(data_of(result.records))
        position = result.next_position

    assert pages == [[b"0", b"1", b"2"], [b"3", b"4", b"5"], [b"6"], [], []]


def test_at_and_after_sequence_number(streams: StreamStore) -> None:
    streams.create_stream("s")
    numbers = put_numbered(streams, 5)

    at = streams.read("s", SHARD_0, Position.at_sequence_number(numbers[2]))
    after = streams.read("s", SHARD_0, Position.after_sequence_number(numbers[2]))

    assert data_of(at.records) == [b"2", b"3", b"4"]
    assert data_of(after.records) == [b"3", b"4"]


def test_at_timestamp(streams: StreamStore, clock: FakeClock) -> None:
    streams.create_stream("s")
    put_numbered(streams, 2)
    clock.advance(10)
    middle = clock()
    put_numbered(streams, 2)

    result = streams.read("s", SHARD_0, Position.at_timestamp(middle))
    future = streams.read("s", SHARD_0, Position.at_timestamp(middle + 60))

    assert data_of(result.records) == [b"0", b"1"]
    assert result.records[0].approximate_arrival_timestamp == middle
    assert future.records == ()
    assert future.next_position == Position.at_timestamp(middle + 60)


def test_latest_skips_earlier_records(streams: StreamStore) -> None:
    streams.create_stream("s")
    put_numbered(streams, 3)

    first = streams.read("s", SHARD_0, Position.latest())
    later = put_numbered(streams, 2)
    second = streams.read("s", SHARD_0, first.next_position)

    assert first.records == ()
    assert first.next_position.type is PositionType.AFTER_SEQUENCE_NUMBER
    assert [record.sequence_number for record in second.records] == later


def test_latest_position_of_empty_shard(streams: StreamStore) -> None:
    streams.create_stream("s", shard_count=2)
    # Records on the other shard move the stream's counter, not this shard's records.
    streams.put_record("s", b"elsewhere", "k", explicit_hash_key=str(2**127))

    stored = streams.read("s", SHARD_0, Position.latest()).next_position
    streams.put_record("s", b"here", "k", explicit_hash_key="0")

    assert data_of(streams.read("s", SHARD_0, stored).records) == [b"here"]


def test_read_empty_shard_keeps_position(streams: StreamStore) -> None:
    streams.create_stream("s")

    result = streams.read("s", SHARD_0, Position.trim_horizon())

    assert result.records == ()
    assert result.next_position == Position.trim_horizon()


@pytest.mark.parametrize("shard_id", ["shardId-000000000002", "shardId-0", "shard", ""])
def test_unknown_shard_not_found(streams: StreamStore, shard_id: str) -> None:
    streams.create_stream("s", shard_count=2)

    with pytest.raises(ResourceNotFound) as caught:
        streams.read("s", shard_id, Position.trim_horizon())

    assert repr(shard_id) in caught.value.message
    assert SHARD_1 in caught.value.message


def test_sequence_number_of_other_shard_rejected(streams: StreamStore) -> None:
    streams.create_stream("s", shard_count=2)
    other = streams.put_record("s", b"x", "k", explicit_hash_key=str(2**127))

    with pytest.raises(InvalidArgument) as caught:
        streams.read("s", SHARD_0, Position.after_sequence_number(other.sequence_number))

    assert other.sequence_number in caught.value.message
    assert SHARD_0 in caught.value.message


@pytest.mark.parametrize(
    "build",
    [
        lambda: Position.at_sequence_number("12a"),
        lambda: Position.after_sequence_number(""),
        lambda: Position.at_timestamp(float("nan")),
        lambda: Position.at_timestamp(-1),
        lambda: Position(PositionType.LATEST, sequence_number="1"),
        lambda: Position(PositionType.TRIM_HORIZON, timestamp=1.0),
    ],
)
def test_invalid_positions(build: object) -> None:
    with pytest.raises(InvalidArgument):
        build()  # type: ignore[operator]


@pytest.mark.parametrize("limit", [0, 10_001, -1])
def test_invalid_read_limit(streams: StreamStore, limit: int) -> None:
    streams.create_stream("s")

    with pytest.raises(InvalidArgument) as caught:
        streams.read("s", SHARD_0, Position.trim_horizon(), limit=limit)

    assert str(limit) in caught.value.message
    assert "10000" in caught.value.message


def test_read_stops_after_10_mib(streams: StreamStore) -> None:
    streams.create_stream("s")
    for _ in range(3):
        streams.put_records("s", [PutRecordsEntry(b"\0" * (1024 * 1024 - 1), "k", explicit_hash_key="0")] * 4)

    first = streams.read("s", SHARD_0, Position.trim_horizon())
    second = streams.read("s", SHARD_0, first.next_position)

    assert len(first.records) == 10
    assert len(second.records) == 2


# -- retention -------------------------------------------------------------------


def test_expired_records_never_returned(streams: StreamStore, clock: FakeClock) -> None:
    streams.create_stream("s")
    put_numbered(streams, 2)
    clock.advance(DAY_S - 1)
    kept = put_numbered(streams, 1)
    clock.advance(2)

    before_trim = streams.read("s", SHARD_0, Position.trim_horizon())
    trimmed = streams.trim()
    after_trim = streams.read("s", SHARD_0, Position.trim_horizon())

    assert [record.sequence_number for record in before_trim.records] == kept
    assert trimmed == 2
    assert [record.sequence_number for record in after_trim.records] == kept
    assert streams.trim() == 0


def test_retention_is_per_stream(streams: StreamStore, clock: FakeClock) -> None:
    streams.create_stream("short", retention_h=24)
    streams.create_stream("long", retention_h=72)
    put_numbered(streams, 1, stream="short")
    put_numbered(streams, 1, stream="long")
    clock.advance(2 * DAY_S)

    assert streams.trim() == 1
    assert streams.read("short", SHARD_0, Position.trim_horizon()).records == ()
    assert data_of(streams.read("long", SHARD_0, Position.trim_horizon()).records) == [b"0"]


def test_position_into_trimmed_records(streams: StreamStore, clock: FakeClock) -> None:
    streams.create_stream("s")
    old = put_numbered(streams, 3)
    clock.advance(DAY_S + 1)
    streams.trim()
    new = put_numbered(streams, 1)

    result = streams.read("s", SHARD_0, Position.after_sequence_number(old[0]))

    assert [record.sequence_number for record in result.records] == new


# -- checkpoints -----------------------------------------------------------------


def test_checkpoint_round_trip(streams: StreamStore) -> None:
    streams.create_stream("s", shard_count=2)
    numbers = put_numbered(streams, 3)

    assert streams.load_checkpoint("fn:orders", "s", SHARD_0) is None
    streams.save_checkpoint("fn:orders", "s", SHARD_0, numbers[1])
    saved = streams.load_checkpoint("fn:orders", "s", SHARD_0)

    assert saved == numbers[1]
    resumed = streams.read("s", SHARD_0, Position.after_sequence_number(str(saved)))
    assert data_of(resumed.records) == [b"2"]


def test_checkpoints_per_consumer_and_shard(streams: StreamStore) -> None:
    streams.create_stream("s", shard_count=2)
    numbers = put_numbered(streams, 3)

    streams.save_checkpoint("one", "s", SHARD_0, numbers[0])
    streams.save_checkpoint("two", "s", SHARD_0, numbers[2])
    streams.save_checkpoint("one", "s", SHARD_0, numbers[1])

    assert streams.load_checkpoint("one", "s", SHARD_0) == numbers[1]
    assert streams.load_checkpoint("two", "s", SHARD_0) == numbers[2]
    assert streams.load_checkpoint("one", "s", SHARD_1) is None


def test_delete_stream_drops_checkpoints(streams: StreamStore) -> None:
    streams.create_stream("s")
    numbers = put_numbered(streams, 1)
    streams.save_checkpoint("c", "s", SHARD_0, numbers[0])

    streams.delete_stream("s")
    streams.create_stream("s")

    assert streams.load_checkpoint("c", "s", SHARD_0) is None


@pytest.mark.parametrize("sequence_number", ["123", "not-a-number", "4" * 56])
def test_checkpoint_foreign_sequence_rejected(streams: StreamStore, sequence_number: str) -> None:
    streams.create_stream("s")

    with pytest.raises(InvalidArgument) as caught:
        streams.save_checkpoint("c", "s", SHARD_0, sequence_number)

    assert repr(sequence_number) in caught.value.message


@pytest.mark.parametrize("consumer", ["", "has space", "x" * 257])
def test_invalid_consumer_name(streams: StreamStore, consumer: str) -> None:
    streams.create_stream("s")
    numbers = put_numbered(streams, 1)

    with pytest.raises(InvalidArgument) as caught:
        streams.save_checkpoint(consumer, "s", SHARD_0, numbers[0])

    assert "consumer name" in caught.value.message


def test_checkpoint_unknown_shard(streams: StreamStore) -> None:
    streams.create_stream("s")
    numbers = put_numbered(streams, 1)

    with pytest.raises(ResourceNotFound):
        streams.save_checkpoint("c", "s", SHARD_1, numbers[0])
