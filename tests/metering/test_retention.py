"""The retention task: what it deletes, in batches off the event loop, and how it survives failures."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from squall.metering.records import InvocationRecord, LogEntry, Outcome
from squall.metering.retention import RetentionPolicy, enforce_retention, run_retention
from squall.store.sqlite import SqliteStore

NOW = 1_700_000_000.0
DAY_S = 86_400.0


def log(request_id: str, age_days: float, size: int = 100) -> LogEntry:
    return LogEntry(function="orders", request_id=request_id, time=NOW - age_days * DAY_S, text="x" * size)


def record(request_id: str, age_days: float) -> InvocationRecord:
    return InvocationRecord(
        request_id=request_id,
        function="orders",
        version="$LATEST",
        trigger="http",
        started_at=NOW - age_days * DAY_S,
        duration_ms=1.0,
        billed_ms=1,
        memory_mb=128,
        max_memory_mb=30,
        init_ms=None,
        cold=False,
        outcome=Outcome.SUCCESS,
    )


def fill(store: SqliteStore, logs: list[LogEntry], records: tuple[InvocationRecord, ...] = ()) -> None:
    for entry in logs:
        store.add_log(entry)
    for item in records:
        store.add_record(item)
    assert store.flush(30)


async def test_deletes_logs_older_than_days(store: SqliteStore) -> None:
    fill(store, [log("old", 9), log("week", 6.9), log("new", 0)])

    deleted = await enforce_retention(store, RetentionPolicy(log_days=7), clock=lambda: NOW)

    assert deleted.logs_by_age == 1
    assert [entry.request_id for entry in store.logs()] == ["week", "new"]


async def test_deletes_oldest_logs_over_size(store: SqliteStore) -> None:
    # 30 entries of 100 KiB are 3 MiB; a 1 MiB limit keeps the newest 10.
    fill(store, [log(f"r{index:02}", age_days=1, size=100 * 1024) for index in range(30)])

    deleted = await enforce_retention(store, RetentionPolicy(log_mb=1, batch_rows=4), clock=lambda: NOW)

    assert deleted.logs_by_size == 20
    assert [entry.request_id for entry in store.logs()] == [f"r{index:02}" for index in range(20, 30)]
    assert store.log_bytes() <= 1024 * 1024


async def test_deletes_records_older_than_days(store: SqliteStore) -> None:
    fill(store, [log("old", 40)], (record("old", 40), record("new", 1)))

    deleted = await enforce_retention(store, RetentionPolicy(record_days=30), clock=lambda: NOW)

    assert deleted.records == 1
    assert [item.request_id for item in store.records()] == ["new"]
    assert [entry.request_id for entry in store.logs()] == ["old"]  # logs have their own policy


async def test_batches_run_off_loop_and_interleave(store: SqliteStore) -> None:
    fill(store, [log(f"r{index}", age_days=10) for index in range(50)])
    loop_thread = threading.get_ident()
    calls: list[int] = []
    seen_by_loop: list[int] = []
    original = store.delete_logs_before

    def delete_logs_before(cutoff: float, max_rows: int) -> int:
        calls.append(threading.get_ident())
        return original(cutoff, max_rows)

    store.delete_logs_before = delete_logs_before  # type: ignore[method-assign]

    async def watch_loop() -> None:
        while True:
            seen_by_loop.append(len(calls))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch_loop())
    try:
        deleted = await enforce_retention(store, RetentionPolicy(log_days=1, batch_rows=5), clock=lambda: NOW)
    finally:
        watcher.cancel()

    assert deleted.logs_by_age == 50
    assert len(calls) == 11  # ten full batches, then one that finds nothing
    assert loop_thread not in calls
    # The loop ran between batches, not only before the first and after the last.
    assert len({count for count in seen_by_loop if 0 < count < len(calls)}) >= 5


async def test_writer_commits_during_retention(store: SqliteStore) -> None:
    fill(store, [log(f"old{index}", age_days=10) for index in range(200)])

    async def keep_writing() -> None:
        for index in range(20):
            store.add_log(log(f"new{index}", age_days=0))
            await asyncio.sleep(0)

    writer = asyncio.create_task(keep_writing())
    await enforce_retention(store, RetentionPolicy(log_days=1, batch_rows=10), clock=lambda: NOW)
    await writer

    assert store.flush(30)
    assert [entry.request_id for entry in store.logs()] == [f"new{index}" for index in range(20)]


async def test_run_retention_survives_failed_round(store: SqliteStore, caplog: pytest.LogCaptureFixture) -> None:
    fill(store, [log("old", 9), log("new", 0)])
    original = store.delete_logs_before
    rounds = 0
    second_round_done = asyncio.Event()

    def flaky_delete(cutoff: float, max_rows: int) -> int:
        nonlocal rounds
        rounds += 1
        if rounds == 1:
            raise OSError("disk I/O error")
        count = original(cutoff, max_rows)
        if count == 0:
            second_round_done.set()
        return count

    store.delete_logs_before = flaky_delete  # type: ignore[method-assign]
    policy = RetentionPolicy(log_days=7, interval_s=0.01)
    with caplog.at_level(logging.ERROR, logger="squall.metering.retention"):
        task = asyncio.create_task(run_retention(store, policy, clock=lambda: NOW))
        try:
            await asyncio.wait_for(second_round_done.wait(), timeout=30)
        finally:
            task.cancel()

    assert [entry.request_id for entry in store.logs()] == ["new"]
    assert "disk I/O error" in caplog.text


async def test_run_retention_without_limits_returns() -> None:
    await asyncio.wait_for(run_retention(object(), RetentionPolicy()), timeout=5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "field"),
    [({"log_days": 0}, "log_days"), ({"log_mb": -5}, "log_mb"), ({"record_days": float("nan")}, "record_days"),
     ({"batch_rows": 0}, "batch_rows"), ({"interval_s": 0}, "interval_s")],
)
def test_policy_rejects_invalid(settings: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RetentionPolicy(**settings)  # type: ignore[arg-type]
