"""Behaviour of stream management and writes, against every `StreamStore` backend."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from squall.services.errors import LimitExceeded, ResourceExists, ResourceNotFound
from squall.services.streams import (
    InvalidArgument,
    Position,
    PutRecordsEntry,
    StreamStatus,
    StreamStore,
    stream_arn,
)

MIB = 1024 * 1024
HASH_SPACE = 2**128


def md5_hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def shard_for(streams: StreamStore, stream: str, hash_key: int) -> str:
    for shard in streams.describe_stream(stream).shards:
        if int(shard.starting_hash_key) <= hash_key <= int(shard.ending_hash_key):
            return shard.shard_id
    raise AssertionError(f"no shard of {stream!r} covers hash key {hash_key}")


# -- creating and describing -------------------------------------------------------


def test_describe_new_stream(streams: StreamStore) -> None:
    created = streams.create_stream("orders", shard_count=2, retention_h=48)
    described = streams.describe_stream("orders")

    assert described == created
    assert described.name == "orders"
    assert described.status is StreamStatus.ACTIVE
    assert described.shard_count == 2
    assert described.retention_h == 48
    assert [shard.shard_id for shard in described.shards] == ["shardId-000000000000", "shardId-000000000001"]


@pytest.mark.parametrize("shard_count", [1, 2, 3, 4, 7, 500])
def test_shards_cover_hash_key_space(streams: StreamStore, shard_count: int) -> None:
    shards = streams.create_stream("s", shard_count=shard_count).shards

    assert len(shards) == shard_count
    assert int(shards[0].starting_hash_key) == 0
    assert int(shards[-1].ending_hash_key) == HASH_SPACE - 1
    for previous, following in itertools.pairwise(shards):
        assert int(following.starting_hash_key) == int(previous.ending_hash_key) + 1
    width = HASH_SPACE // shard_count
    for index, shard in enumerate(shards):
        assert int(shard.starting_hash_key) == index * width


def test_four_shards_match_kinesis_ranges(streams: StreamStore) -> None:
    # The ranges Kinesis shows for a stream created with four shards.
    shards = streams.create_stream("four", shard_count=4).shards
    ranges = [(shard.starting_hash_key, shard.ending_hash_key) for shard in shards]

    assert ranges == [
        ("0", "85070591730234615865843651857942052863"),
        ("85070591730234615865843651857942052864", "170141183460469231731687303715884105727"),
        ("170141183460469231731687303715884105728", "255211775190703847597530955573826158591"),
        ("255211775190703847597530955573826158592", "340282366920938463463374607431768211455"),
    ]


def test_create_same_settings_again(streams: StreamStore) -> None:
    first = streams.create_stream("orders", shard_count=3, retention_h=36)
    second = streams.create_stream("orders", shard_count=3, retention_h=36)

    assert second == first
    assert streams.list_streams() == ["orders"]


@pytest.mark.parametrize(("shard_count", "retention_h"), [(2, 24), (1, 48)])
def test_create_other_settings_rejected(streams: StreamStore, shard_count: int, retention_h: int) -> None:
    streams.create_stream("orders", shard_count=1, retention_h=24)

    with pytest.raises(ResourceExists) as caught:
        streams.create_stream("orders", shard_count=shard_count, retention_h=retention_h)

    assert "orders" in caught.value.message
    assert caught.value.code == "ResourceInUseException"


@pytest.mark.parametrize("name", ["a", "A.b_c-9", "x" * 128])
def test_valid_stream_names(streams: StreamStore, name: str) -> None:
    streams.create_stream(name)

    assert streams.list_streams() == [name]


@pytest.mark.parametrize("name", ["", "x" * 129, "my stream", "orders/1", "café", "a:b"])
def test_invalid_stream_names(streams: StreamStore, name: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        streams.create_stream(name)

    assert repr(name) in caught.value.message
    assert "1 to 128 characters" in caught.value.message
    assert streams.list_streams() == []


@pytest.mark.parametrize(
    ("shard_count", "retention_h", "expected"),
    [
        (0, 24, "shard count 0"),
        (501, 24, "shard count 501"),
        (True, 24, "shard count True"),
        (1, 23, "retention period 23"),
        (1, 8761, "retention period 8761"),
        (1, 24.5, "retention period 24.5"),
    ],
)
def test_invalid_stream_settings(streams: StreamStore, shard_count: object, retention_h: object, expected: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        streams.create_stream("s", shard_count=shard_count, retention_h=retention_h)  # type: ignore[arg-type]

    assert expected in caught.value.message


def test_list_streams_sorted(streams: StreamStore) -> None:
    for name in ["zeta", "alpha", "Mid"]:
        streams.create_stream(name)

    assert streams.list_streams() == ["Mid", "alpha", "zeta"]


def test_delete_stream(streams: StreamStore) -> None:
    streams.create_stream("gone")
    streams.put_record("gone", b"x", "k")

    streams.delete_stream("gone")

    assert streams.list_streams() == []
    with pytest.raises(ResourceNotFound):
        streams.describe_stream("gone")
    with pytest.raises(ResourceNotFound):
        streams.put_record("gone", b"x", "k")


def test_recreated_stream_starts_empty(streams: StreamStore) -> None:
    streams.create_stream("again")
    old = streams.put_record("again", b"old", "k")
    streams.delete_stream("again")
    streams.create_stream("again")

    result = streams.read("again", "shardId-000000000000", Position.trim_horizon())

    assert result.records == ()
    with pytest.raises(InvalidArgument):
        streams.read("again", old.shard_id, Position.after_sequence_number(old.sequence_number))


@pytest.mark.parametrize("operation", ["describe", "delete", "put", "read"])
def test_unknown_stream_not_found(streams: StreamStore, operation: str) -> None:
    with pytest.raises(ResourceNotFound) as caught:
        if operation == "describe":
            streams.describe_stream("missing")
        elif operation == "delete":
            streams.delete_stream("missing")
        elif operation == "put":
            streams.put_record("missing", b"x", "k")
        else:
            streams.read("missing", "shardId-000000000000", Position.trim_horizon())

    assert "'missing'" in caught.value.message
    assert caught.value.status == 404


def test_stream_arn_format() -> None:
    assert stream_arn("orders") == "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
    assert stream_arn("o", "eu-west-1", "123456789012") == "arn:aws:kinesis:eu-west-1:123456789012:stream/o"


# -- put_record ------------------------------------------------------------------


def test_partition_key_md5_picks_shard(streams: StreamStore) -> None:
    streams.create_stream("s", shard_count=4)
    keys = [f"user-{number}" for number in range(40)]

    used = set()
    for key in keys:
        result = streams.put_record("s", b"x", key)
        assert result.shard_id == shard_for(streams, "s", md5_hash_key(key)), key
        used.add(result.shard_id)

    # Forty keys spread over every shard of four.
    assert len(used) == 4


@pytest.mark.parametrize(
    ("explicit_hash_key", "expected_shard"),
    [
        ("0", "shardId-000000000000"),
        ("113427455640312821154458202477256070484", "shardId-000000000000"),
        ("113427455640312821154458202477256070485", "shardId-000000000001"),
        ("340282366920938463463374607431768211455", "shardId-000000000002"),
    ],
)
def test_explicit_hash_key_picks_shard(streams: StreamStore, explicit_hash_key: str, expected_shard: str) -> None:
    streams.create_stream("s", shard_count=3)

    result = streams.put_record("s", b"x", "ignored-for-routing", explicit_hash_key=explicit_hash_key)

    assert result.shard_id == expected_shard


@pytest.mark.parametrize(
    "explicit_hash_key", ["-1", "01", "1.5", "", "abc", "340282366920938463463374607431768211456", "9" * 40]
)
def test_invalid_explicit_hash_key(streams: StreamStore, explicit_hash_key: str) -> None:
    streams.create_stream("s")

    with pytest.raises(InvalidArgument) as caught:
        streams.put_record("s", b"x", "k", explicit_hash_key=explicit_hash_key)

    assert repr(explicit_hash_key) in caught.value.message
    assert "340282366920938463463374607431768211455" in caught.value.message


def test_sequence_numbers_increase_within_shard(streams: StreamStore) -> None:
    streams.create_stream("s", shard_count=2)

    numbers: dict[str, list[str]] = {}
    for number in range(30):
        result = streams.put_record("s", b"x", f"k{number % 5}")
        numbers.setdefault(result.shard_id, []).append(result.sequence_number)

    for shard_numbers in numbers.values():
        as_integers = [int(number) for number in shard_numbers]
        assert as_integers == sorted(as_integers)
        assert len(set(as_integers)) == len(as_integers)
    every_number = [number for shard_numbers in numbers.values() for number in shard_numbers]
    assert all(number.isdigit() and len(number) >= 50 for number in every_number)


def test_record_of_one_mib_accepted(streams: StreamStore) -> None:
    streams.create_stream("s")
    key = "k" * 10

    streams.put_record("s", b"\0" * (MIB - len(key)), key)

    record = streams.read("s", "shardId-000000000000", Position.trim_horizon()).records[0]
    assert len(record.data) == MIB - len(key)


def test_record_over_one_mib_rejected(streams: StreamStore) -> None:
    streams.create_stream("s")

    with pytest.raises(LimitExceeded) as caught:
        streams.put_record("s", b"\0" * (MIB - 1), "ab")

    assert str(MIB + 1) in caught.value.message
    assert str(MIB) in caught.value.message
    assert streams.read("s", "shardId-000000000000", Position.trim_horizon()).records == ()


def test_empty_data_accepted(streams: StreamStore) -> None:
    streams.create_stream("s")

    streams.put_record("s", b"", "k")

    assert streams.read("s", "shardId-000000000000", Position.trim_horizon()).records[0].data == b""


@pytest.mark.parametrize(
    ("partition_key", "expected"),
    [("", "1 to 256 characters"), ("k" * 257, "(257 characters)"), ("a\udc80", "lone surrogate")],
)
def test_invalid_partition_key(streams: StreamStore, partition_key: str, expected: str) -> None:
    streams.create_stream("s")

    with pytest.raises(InvalidArgument) as caught:
        streams.put_record("s", b"x", partition_key)

    assert "partition key" in caught.value.message
    assert expected in caught.value.message


def test_partition_key_of_256_characters(streams: StreamStore) -> None:
    streams.create_stream("s")
    key = "é" * 256

    result = streams.put_record("s", b"x", key)

    assert result.shard_id == shard_for(streams, "s", md5_hash_key(key))


def test_text_data_rejected(streams: StreamStore) -> None:
    streams.create_stream("s")

    with pytest.raises(InvalidArgument) as caught:
        streams.put_record("s", "text", "k")  # type: ignore[arg-type]

    assert "bytes" in caught.value.message
    assert "str" in caught.value.message


# -- put_records -----------------------------------------------------------------


def test_put_records_bad_record_rejects_all(streams: StreamStore) -> None:
    streams.create_stream("s", shard_count=2)
    entries = [
        PutRecordsEntry(b"first", "a"),
        PutRecordsEntry(b"bad", ""),
        PutRecordsEntry(b"last", "b", explicit_hash_key="0"),
    ]

    with pytest.raises(InvalidArgument) as caught:
        streams.put_records("s", entries)

    assert "records[1]" in caught.value.message
    assert "partition key ''" in caught.value.message
    stored = [
        record.data
        for shard in ("shardId-000000000000", "shardId-000000000001")
        for record in streams.read("s", shard, Position.trim_horizon()).records
    ]
    assert stored == []


def test_put_records_results_in_order(streams: StreamStore) -> None:
    streams.create_stream("s", shard_count=3)
    entries = [PutRecordsEntry(f"record {number}".encode(), f"key {number}") for number in range(500)]

    result = streams.put_records("s", entries)

    assert result.failed_record_count == 0
    assert len(result.records) == 500
    for entry, outcome in zip(entries, result.records, strict=True):
        assert outcome.shard_id == shard_for(streams, "s", md5_hash_key(entry.partition_key))
    by_sequence = {outcome.sequence_number: entry.data for entry, outcome in zip(entries, result.records, strict=True)}
    for shard in streams.describe_stream("s").shards:
        for record in streams.read("s", shard.shard_id, Position.trim_horizon()).records:
            assert by_sequence[record.sequence_number] == record.data


def test_put_records_over_500_rejected(streams: StreamStore) -> None:
    streams.create_stream("s")

    with pytest.raises(LimitExceeded) as caught:
        streams.put_records("s", [PutRecordsEntry(b"x", "k")] * 501)

    assert "501" in caught.value.message
    assert "500" in caught.value.message
    assert streams.read("s", "shardId-000000000000", Position.trim_horizon()).records == ()


def test_put_records_over_5_mib_rejected(streams: StreamStore) -> None:
    streams.create_stream("s")
    entries = [PutRecordsEntry(b"\0" * (MIB - 1), "k")] * 5 + [PutRecordsEntry(b"\0" * 10, "k")]

    with pytest.raises(LimitExceeded) as caught:
        streams.put_records("s", entries)

    assert str(5 * MIB) in caught.value.message
    assert streams.read("s", "shardId-000000000000", Position.trim_horizon()).records == ()


def test_put_records_empty_rejected(streams: StreamStore) -> None:
    streams.create_stream("s")

    with pytest.raises(InvalidArgument) as caught:
        streams.put_records("s", [])

    assert "1 to 500 records" in caught.value.message
