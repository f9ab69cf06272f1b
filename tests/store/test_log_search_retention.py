"""The SQLite store's log search, deletion batches, usage periods and schema upgrade."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from store_rows import make_log, make_record

from squall.metering.log_search import build_filter
from squall.metering.records import LogEntry, ProvisionedUsage
from squall.store import SqliteStore
from squall.store.base import RetentionStore, UsageStore
from squall.store.sqlite import _MIGRATIONS, SCHEMA_VERSION

T0 = 1_700_000_000.0


def json_log(request_id: str, level: str, *, function: str = "orders", time: float = T0) -> LogEntry:
    line = json.dumps({"level": level, "message": f"order {request_id}", "order": {"id": request_id}})
    text = f"START RequestId: {request_id}\n{line}\nEND RequestId: {request_id}\n"
    return LogEntry(function=function, request_id=request_id, time=time, text=text)


def add_logs(store: SqliteStore, entries: list[LogEntry]) -> None:
    for entry in entries:
        store.add_log(entry)
    assert store.flush(30)


def test_sqlite_store_implements_protocols(store: SqliteStore) -> None:
    assert isinstance(store, RetentionStore)
    assert isinstance(store, UsageStore)


def test_field_filter_returns_matching_entries(store: SqliteStore) -> None:
    add_logs(store, [json_log(f"r{i}", "ERROR" if i % 3 == 0 else "INFO", time=T0 + i) for i in range(10)])

    found = store.logs(function="orders", line_filter=build_filter(None, ["level=ERROR"]))

    assert [entry.request_id for entry in found] == ["r0", "r3", "r6", "r9"]


def test_filtered_newest_limit_is_last_matches(store: SqliteStore) -> None:
    add_logs(store, [json_log(f"r{i}", "ERROR" if i % 3 == 0 else "INFO", time=T0 + i) for i in range(10)])

    found = store.logs(function="orders", limit=2, newest=True, line_filter=build_filter(None, ["level=ERROR"]))

    assert [entry.request_id for entry in found] == ["r6", "r9"]


def test_filter_with_after_id_and_time_range(store: SqliteStore) -> None:
    add_logs(store, [json_log(f"r{i}", "ERROR", time=T0 + i) for i in range(6)])
    first_id = store.logs(function="orders", limit=1)[0].id
    assert first_id is not None

    found = store.logs(
        function="orders", after_id=first_id, since=T0 + 2, until=T0 + 4, line_filter=build_filter("order", [])
    )

    assert [entry.request_id for entry in found] == ["r2", "r3", "r4"]


def test_until_alone_keeps_older_entries(store: SqliteStore) -> None:
    add_logs(store, [make_log(f"r{i}", time=T0 + i) for i in range(4)])

    assert [entry.request_id for entry in store.logs(until=T0 + 1)] == ["r0", "r1"]


def test_field_filter_of_other_function_excluded(store: SqliteStore) -> None:
    add_logs(store, [json_log("a", "ERROR", function="orders"), json_log("b", "ERROR", function="billing")])

    found = store.logs(function="billing", line_filter=build_filter(None, ["level=ERROR"]))

    assert [entry.request_id for entry in found] == ["b"]


def test_log_bytes_tracks_inserts_and_deletes(store: SqliteStore) -> None:
    entries = [make_log(f"r{i}", time=T0 + i) for i in range(5)]
    add_logs(store, entries)
    sizes = [len(entry.text.encode()) for entry in entries]

    assert store.log_bytes() == sum(sizes)
    assert store.delete_logs_before(T0 + 2, max_rows=100) == 2
    assert store.log_bytes() == sum(sizes[2:])


def test_delete_logs_before_in_batches(store: SqliteStore) -> None:
    add_logs(store, [make_log(f"r{i}", time=T0 + i) for i in range(7)])

    counts = [store.delete_logs_before(T0 + 5, max_rows=2) for _ in range(4)]

    assert counts == [2, 2, 1, 0]
    assert [entry.request_id for entry in store.logs()] == ["r5", "r6"]


def test_delete_oldest_logs_down_to_size(store: SqliteStore) -> None:
    entries = [make_log(f"r{i}", time=T0 + i) for i in range(6)]
    add_logs(store, entries)
    size = len(entries[0].text.encode())  # every text has the same length

    deleted = store.delete_oldest_logs(max_bytes=size * 4, max_rows=100)

    assert deleted == 2
    assert [entry.request_id for entry in store.logs()] == ["r2", "r3", "r4", "r5"]
    assert store.log_bytes() == size * 4
    assert store.delete_oldest_logs(max_bytes=size * 4, max_rows=100) == 0


def test_delete_oldest_logs_honours_batch(store: SqliteStore) -> None:
    add_logs(store, [make_log(f"r{i}", time=T0 + i) for i in range(6)])

    assert store.delete_oldest_logs(max_bytes=0, max_rows=4) == 4
    assert len(store.logs()) == 2


def test_delete_records_and_usage_before(store: SqliteStore) -> None:
    for index in range(3):
        store.add_record(make_record(f"r{index}", started_at=T0 + index))
    assert store.flush(30)
    store.add_usage([ProvisionedUsage("resize", T0 - 60, T0, 1, 128), ProvisionedUsage("resize", T0, T0 + 60, 1, 128)])

    deleted = store.delete_records_before(T0 + 1.5, max_rows=100)

    assert deleted == 3  # two records and the period that ended at T0
    assert [record.request_id for record in store.records()] == ["r2"]
    assert [period.started_at for period in store.usage()] == [T0]


def test_usage_since_keeps_overlapping_periods(store: SqliteStore) -> None:
    periods = [ProvisionedUsage("resize", T0 + 60 * i, T0 + 60 * (i + 1), 2, 256) for i in range(3)]
    store.add_usage(periods)

    assert store.usage(since=T0 + 90) == periods[1:]


@pytest.mark.parametrize("max_rows", [0, -1])
def test_delete_rejects_invalid_batch(store: SqliteStore, max_rows: int) -> None:
    with pytest.raises(ValueError, match="max_rows"):
        store.delete_logs_before(T0, max_rows=max_rows)


def test_version_2_file_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "squall.db"
    texts = ["START RequestId: a\nhello\n", "START RequestId: b\nGrüße\n"]
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in _MIGRATIONS[:2]:
        conn.executescript(migration)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version (version) VALUES (2)")
    for index, text in enumerate(texts):
        conn.execute(
            "INSERT INTO logs (function, request_id, time, text) VALUES (?, ?, ?, ?)", ("old", f"r{index}", T0, text)
        )
    conn.close()

    upgraded = SqliteStore(path)
    upgraded.start()
    try:
        assert upgraded.log_bytes() == sum(len(text.encode()) for text in texts)
        assert [entry.text for entry in upgraded.logs(function="old")] == texts
        assert upgraded.usage() == []
    finally:
        upgraded.close()
    version = sqlite3.connect(path).execute("SELECT version FROM schema_version").fetchone()[0]
    assert version == SCHEMA_VERSION == 3
