"""What only the SQLite store promises: WAL, its schema, its indexes, lock handling."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_rows import make_log, make_record

from squall.store import SqliteStore, StoreError
from squall.store.sqlite import SCHEMA_VERSION

FLUSH_TIMEOUT_S = 30.0


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "squall.db"


@pytest.fixture
def sqlite_store(db_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(db_path, flush_interval_s=0.01)
    store.start()
    yield store
    store.close()


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_file_is_in_wal_mode(sqlite_store: SqliteStore, db_path: Path) -> None:
    assert _query(db_path, "PRAGMA journal_mode") == [("wal",)]


def test_start_creates_parent_folder(sqlite_store: SqliteStore, db_path: Path) -> None:
    assert db_path.is_file()


def test_schema_version_recorded(sqlite_store: SqliteStore, db_path: Path) -> None:
    assert _query(db_path, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_restart_keeps_schema_version(db_path: Path) -> None:
    for _ in range(2):
        store = SqliteStore(db_path)
        store.start()
        store.close()

    assert _query(db_path, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_newer_schema_rejected(db_path: Path) -> None:
    store = SqliteStore(db_path)
    store.start()
    store.close()
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 98,))
    conn.close()

    newer = SqliteStore(db_path)
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 98}"):
        newer.start()


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        (
            "SELECT * FROM invocation_records WHERE function = 'a' AND started_at >= 0",
            "invocation_records_function_started",
        ),
        ("SELECT * FROM logs WHERE function = 'a' AND id > 10 ORDER BY id", "logs_function_id"),
        # A request id is looked up among its function's entries: an index on
        # random ids made every insert slower as the table grew.
        ("SELECT * FROM logs WHERE function = 'a' AND request_id = 'r'", "logs_function_id"),
    ],
    ids=["records_by_function", "logs_by_function", "logs_by_request"],
)
def test_queries_use_index(
    sqlite_store: SqliteStore, db_path: Path, sql: str, index: str
) -> None:
    plan = " ".join(str(row[-1]) for row in _query(db_path, "EXPLAIN QUERY PLAN " + sql))

    assert index in plan


def test_no_index_on_random_request_ids(sqlite_store: SqliteStore, db_path: Path) -> None:
    indexes = {name for (name,) in _query(db_path, "SELECT name FROM sqlite_master WHERE type = 'index'")}

    assert "logs_request_id" not in indexes
    assert "logs_function_id" in indexes


def test_reads_before_start_raise(db_path: Path) -> None:
    store = SqliteStore(db_path)

    with pytest.raises(StoreError, match="not started"):
        store.records()


def test_failed_row_counted_and_logged(
    sqlite_store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    bad = make_log("req-bad")
    object.__setattr__(bad, "text", object())  # a value sqlite3 cannot bind
    sqlite_store.add_log(make_log("req-good"))
    sqlite_store.add_log(bad)

    with caplog.at_level(logging.ERROR, logger="squall.store.base"):
        assert sqlite_store.flush(FLUSH_TIMEOUT_S)

    counters = sqlite_store.counters()
    assert counters.failed_logs == 1
    assert counters.written_logs == 1
    assert "req-bad" in caplog.text
    assert [entry.request_id for entry in sqlite_store.logs()] == ["req-good"]


def test_locked_database_retried_not_dropped(
    sqlite_store: SqliteStore, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    with caplog.at_level(logging.WARNING, logger="squall.store.base"):
        sqlite_store.add_record(make_record("req-1"))

        # Wait until the writer has failed once on the lock and logged a retry.
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        while "retrying" not in caplog.text and time.monotonic() < deadline:
            assert sqlite_store.flush(timeout_s=0.1) is False
        assert "retrying" in caplog.text

        locker.execute("ROLLBACK")
        locker.close()
        assert sqlite_store.flush(FLUSH_TIMEOUT_S) is True

    assert [record.request_id for record in sqlite_store.records()] == ["req-1"]
    assert sqlite_store.counters().failed_records == 0
    assert "retrying" in caplog.text
