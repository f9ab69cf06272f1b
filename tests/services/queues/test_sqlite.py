"""What only the SQLite store has: its file, durability, a full disk, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from squall.services.errors import StorageFull
from squall.services.queues import SqliteQueues

from .fakes import FakeClock


def test_file_uses_wal(tmp_path: Path, clock: FakeClock) -> None:
    store = SqliteQueues(tmp_path / "data" / "queues.db", clock=clock)
    store.close()

    with sqlite3.connect(tmp_path / "data" / "queues.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopen_keeps_queues_and_messages(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queues.db"
    store = SqliteQueues(path, clock=clock)
    store.create_queue("orders")
    store.send("orders", "kept")
    [message] = store.receive("orders")
    store.close()

    reopened = SqliteQueues(path, clock=clock)
    try:
        assert reopened.get_queue("orders").name == "orders"
        assert reopened.stats("orders").in_flight == 1
        reopened.delete("orders", message.receipt_handle)
        assert reopened.stats("orders").in_flight == 0
    finally:
        reopened.close()


def test_full_disk_raises_storage_full(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queues.db"
    store = SqliteQueues(path, clock=clock, max_size_bytes=256 * 1024)
    accepted = ["before"]
    try:
        store.create_queue("orders")
        store.send("orders", "before")
        with pytest.raises(StorageFull) as caught:
            for index in range(100):
                body = f"{index}" + "x" * 50_000
                store.send("orders", body)
                accepted.append(body)
        assert caught.value.code == "StorageFull"
        assert caught.value.status == 507
        assert store.stats("orders").visible == len(accepted)
    finally:
        store.close()

    # Once there is room again, every accepted message is there, in order.
    reopened = SqliteQueues(path, clock=clock)
    try:
        bodies = [m.body for m in reopened.receive("orders", 10)]
        assert bodies == accepted[:10]
    finally:
        reopened.close()


def test_calls_from_threads(tmp_path: Path, clock: FakeClock) -> None:
    store = SqliteQueues(tmp_path / "queues.db", clock=clock)
    store.create_queue("orders")
    for index in range(40):
        store.send("orders", f"message {index}")
    received: list[str] = []
    received_lock = threading.Lock()

    def consume() -> None:
        for _ in range(10):
            batch = store.receive("orders", 2)
            with received_lock:
                received.extend(message.message_id for message in batch)

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    store.close()

    assert len(received) == 40
    assert len(set(received)) == 40


def test_closed_store_raises(tmp_path: Path, clock: FakeClock) -> None:
    store = SqliteQueues(tmp_path / "queues.db", clock=clock)
    store.close()
    store.close()

    with pytest.raises(RuntimeError) as caught:
        store.list_queues()
    assert "closed" in str(caught.value)
