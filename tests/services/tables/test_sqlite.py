"""What only the SQLite backend promises: its file, full disks, threads and key encoding."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from squall.services.errors import StorageFull
from squall.services.tables.model import KeyType, TableStoreClosed, encode_key_value
from squall.services.tables.sqlite import SqliteTables
from squall.services.tables.values import compare

from .conftest import FakeClock


def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "tables.sqlite3"
    first = SqliteTables(path)
    first.create_table("orders", partition_key=("id", "S"))
    first.put("orders", {"id": "a", "v": 1})
    first.close()

    second = SqliteTables(path)
    try:
        assert second.get("orders", {"id": "a"}) == {"id": "a", "v": 1}
        assert [change.keys for change in second.changes("orders")] == [{"id": "a"}]
    finally:
        second.close()


_WRITER = """
import sys
from pathlib import Path
from squall.services.tables.sqlite import SqliteTables

store = SqliteTables(Path(sys.argv[1]))
store.create_table("orders", partition_key=("id", "S"))
store.put("orders", {"id": "a", "v": 1})
print("committed", flush=True)
sys.stdin.read()
"""


def test_commit_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "tables.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "committed"
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)

    reopened = SqliteTables(path)
    try:
        assert reopened.get("orders", {"id": "a"}) == {"id": "a", "v": 1}
    finally:
        reopened.close()


def test_wal_mode(tmp_path: Path) -> None:
    store = SqliteTables(tmp_path / "tables.sqlite3")
    store.create_table("orders", partition_key=("id", "S"))
    store.put("orders", {"id": "a"})

    assert (tmp_path / "tables.sqlite3-wal").exists()
    store.close()


def test_full_storage_keeps_earlier_data(tmp_path: Path) -> None:
    store = SqliteTables(tmp_path / "tables.sqlite3", clock=FakeClock(), max_size_bytes=256 * 1024)
    store.create_table("orders", partition_key=("id", "N"))
    store.put("orders", {"id": 0, "blob": b"x" * 1000})

    with pytest.raises(StorageFull) as caught:
        for number in range(1, 1000):
            store.put("orders", {"id": number, "blob": b"x" * 100_000})

    assert caught.value.code == "StorageFull"
    assert store.get("orders", {"id": 0}) == {"id": 0, "blob": b"x" * 1000}
    info = store.describe_table("orders")
    stored_changes = store.changes("orders", limit=1000)
    assert info.item_count == len(stored_changes)
    store.close()


def test_threads_share_one_store(tmp_path: Path) -> None:
    store = SqliteTables(tmp_path / "tables.sqlite3")
    store.create_table("counters", partition_key=("id", "S"))
    errors: list[BaseException] = []

    def add(times: int) -> None:
        try:
            for _ in range(times):
                store.update("counters", {"id": "c"}, "ADD n :one", values={":one": 1})
        except BaseException as error:  # noqa: BLE001 - reported to the main thread
            errors.append(error)

    workers = [threading.Thread(target=add, args=(50,)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    assert errors == []
    assert store.get("counters", {"id": "c"})["n"] == 200
    store.close()


def test_closed_store_rejects_calls(tmp_path: Path) -> None:
    store = SqliteTables(tmp_path / "tables.sqlite3")
    store.close()

    with pytest.raises(TableStoreClosed):
        store.list_tables()


NUMBERS = [
    "-9.99E+125", "-1E+10", "-100", "-12.5", "-12.05", "-12", "-1", "-0.55", "-0.5", "-0.505", "-1E-130",
    "0", "1E-130", "0.5", "0.505", "0.55", "1", "9", "10", "12", "12.05", "12.5", "100", "1E+10", "9.99E+125",
]


@pytest.mark.parametrize("left", NUMBERS)
def test_number_encoding_order(left: str) -> None:
    for right in NUMBERS:
        a, b = Decimal(left), Decimal(right)
        by_bytes = (encode_key_value(KeyType.NUMBER, a) > encode_key_value(KeyType.NUMBER, b)) - (
            encode_key_value(KeyType.NUMBER, a) < encode_key_value(KeyType.NUMBER, b)
        )
        assert by_bytes == compare(a, b), (left, right)


def test_equal_numbers_encode_alike() -> None:
    assert encode_key_value(KeyType.NUMBER, Decimal("1.50")) == encode_key_value(KeyType.NUMBER, Decimal("1.5"))
    assert encode_key_value(KeyType.NUMBER, Decimal("100")) == encode_key_value(KeyType.NUMBER, Decimal("1E+2"))
