"""Properties of the SQLite backend: durability across reopen, a full disk, and threads."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from squall.services.errors import StorageFull
from squall.services.streams import Position, PutRecordsEntry, SqliteStreams
from tests.services.streams.conftest import FakeClock

SHARD_0 = "shardId-000000000000"


def test_reopen_keeps_records_and_checkpoints(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "streams.db"
    first = SqliteStreams(path, clock=clock)
    first.create_stream("s")
    before = first.put_record("s", b"before", "k")
    first.save_checkpoint("c", "s", SHARD_0, before.sequence_number)
    first.close()

    second = SqliteStreams(path, clock=clock)
    try:
        after = second.put_record("s", b"after", "k")
        records = second.read("s", SHARD_0, Position.trim_horizon()).records
        checkpoint = second.load_checkpoint("c", "s", SHARD_0)
    finally:
        second.close()

    assert [record.data for record in records] == [b"before", b"after"]
    assert int(after.sequence_number) > int(before.sequence_number)
    assert checkpoint == before.sequence_number


def test_file_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "streams.db"
    store = SqliteStreams(path)
    store.close()

    assert path.exists()
    assert path.read_bytes()[18:20] == b"\x02\x02"  # header bytes for WAL read and write versions


def test_full_disk_keeps_earlier_data(tmp_path: Path, clock: FakeClock) -> None:
    store = SqliteStreams(tmp_path / "streams.db", clock=clock, max_db_bytes=512 * 1024)
    try:
        store.create_stream("s")
        kept = store.put_record("s", b"kept", "k")

        with pytest.raises(StorageFull) as caught:
            for _ in range(20):
                store.put_records("s", [PutRecordsEntry(b"\0" * 100_000, "k")] * 2)

        records = store.read("s", SHARD_0, Position.trim_horizon()).records
        assert caught.value.status == 507
        assert str(tmp_path) in caught.value.message
        assert records[0].sequence_number == kept.sequence_number
        assert all(record.data in (b"kept", b"\0" * 100_000) for record in records)
        # Each batch is all or nothing: the failed one left no half behind.
        assert len(records) % 2 == 1
    finally:
        store.close()


def test_closed_store_raises(tmp_path: Path) -> None:
    store = SqliteStreams(tmp_path / "streams.db")
    store.close()

    with pytest.raises(RuntimeError, match="closed"):
        store.list_streams()


def test_concurrent_puts_get_distinct_numbers(tmp_path: Path) -> None:
    store = SqliteStreams(tmp_path / "streams.db")
    store.create_stream("s")
    results: list[str] = []
    results_lock = threading.Lock()

    def put_many(worker: int) -> None:
        for number in range(50):
            sequence = store.put_record("s", f"{worker}-{number}".encode(), "k").sequence_number
            with results_lock:
                results.append(sequence)

    threads = [threading.Thread(target=put_many, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    records = store.read("s", SHARD_0, Position.trim_horizon()).records
    store.close()

    assert len(results) == 200
    assert len(set(results)) == 200
    assert sorted(results, key=int) == [record.sequence_number for record in records]
