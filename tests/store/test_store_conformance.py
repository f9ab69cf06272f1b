"""Behaviour every Store implementation must have; runs once per backend."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from store_backends import Backend
from store_rows import make_log, make_record

from squall.metering.records import InvocationRecord, LogEntry, Outcome
from squall.store import ServiceEntry, Store, StoreClosed

FLUSH_TIMEOUT_S = 30.0


def test_store_satisfies_protocol(store: Store) -> None:
    assert isinstance(store, Store)


def test_records_round_trip(store: Store) -> None:
    records = [
        make_record("req-1"),
        make_record(
            "req-2",
            started_at=1_700_000_001.5,
            outcome=Outcome.ERROR,
            cold=True,
            init_ms=3.25,
            error_type="ValueError",
        ),
        make_record("req-3", started_at=1_700_000_002.0, outcome=Outcome.THROTTLED),
    ]
    for record in records:
        store.add_record(record)

    assert store.flush(FLUSH_TIMEOUT_S)
    assert store.records() == records


def test_records_filter_by_function_and_since(store: Store) -> None:
    for index, started_at in enumerate([100.0, 200.0, 300.0]):
        store.add_record(make_record(f"a-{index}", "alpha", started_at=started_at))
        store.add_record(make_record(f"b-{index}", "beta", started_at=started_at))
    assert store.flush(FLUSH_TIMEOUT_S)

    alpha_since_200 = store.records(since=200.0, function="alpha")
    all_since_300 = store.records(since=300.0)

    assert [record.request_id for record in alpha_since_200] == ["a-1", "a-2"]
    assert sorted(record.request_id for record in all_since_300) == ["a-2", "b-2"]
    assert store.records(function="gamma") == []


def test_records_ordered_by_start_time(store: Store) -> None:
    for request_id, started_at in [("late", 30.0), ("early", 10.0), ("middle", 20.0)]:
        store.add_record(make_record(request_id, started_at=started_at))
    assert store.flush(FLUSH_TIMEOUT_S)

    assert [record.request_id for record in store.records()] == ["early", "middle", "late"]


def test_logs_round_trip_with_ids(store: Store) -> None:
    entries = [make_log(f"req-{index}", time=1000.0 + index) for index in range(3)]
    for entry in entries:
        store.add_log(dataclasses.replace(entry, id=999))  # a caller's id is ignored
    assert store.flush(FLUSH_TIMEOUT_S)

    stored = store.logs()

    ids = [entry.id for entry in stored if entry.id is not None]
    assert len(ids) == len(stored)
    assert ids == sorted(set(ids))
    assert [dataclasses.replace(entry, id=None) for entry in stored] == entries


def test_logs_paging_with_after_id(store: Store) -> None:
    for index in range(25):
        store.add_log(make_log(f"alpha-{index}", "alpha", time=float(index)))
        store.add_log(make_log(f"beta-{index}", "beta", time=float(index)))
    assert store.flush(FLUSH_TIMEOUT_S)

    pages: list[list[LogEntry]] = []
    after_id: int | None = None
    while len(pages) < 10:
        page = store.logs(function="alpha", after_id=after_id, limit=10)
        if not page:
            break
        pages.append(page)
        after_id = page[-1].id

    assert [len(page) for page in pages] == [10, 10, 5]
    seen = [entry.request_id for page in pages for entry in page]
    assert seen == [f"alpha-{index}" for index in range(25)]


def test_logs_follow_sees_only_new_entries(store: Store) -> None:
    store.add_log(make_log("first"))
    assert store.flush(FLUSH_TIMEOUT_S)
    last_id = store.logs()[-1].id

    store.add_log(make_log("second"))
    assert store.flush(FLUSH_TIMEOUT_S)
    new_entries = store.logs(after_id=last_id)

    assert [entry.request_id for entry in new_entries] == ["second"]
    assert new_entries[0].id is not None
    assert last_id is not None
    assert new_entries[0].id > last_id


def test_logs_filter_by_since(store: Store) -> None:
    for index in range(5):
        store.add_log(make_log(f"req-{index}", time=100.0 * index))
    assert store.flush(FLUSH_TIMEOUT_S)

    recent = store.logs(since=300.0)

    assert [entry.request_id for entry in recent] == ["req-3", "req-4"]


def test_logs_lookup_by_request_id(store: Store) -> None:
    for index in range(5):
        store.add_log(make_log(f"req-{index}", "alpha" if index % 2 else "beta"))
    assert store.flush(FLUSH_TIMEOUT_S)

    found = store.logs(request_id="req-3")

    assert len(found) == 1
    assert found[0].request_id == "req-3"
    assert found[0].function == "alpha"
    assert store.logs(request_id="req-3", function="beta") == []


def test_logs_newest_returns_last_entries_oldest_first(store: Store) -> None:
    for index in range(10):
        store.add_log(make_log(f"req-{index}"))
    assert store.flush(FLUSH_TIMEOUT_S)

    tail = store.logs(limit=3, newest=True)
    head = store.logs(limit=3)

    assert [entry.request_id for entry in tail] == ["req-7", "req-8", "req-9"]
    assert [entry.request_id for entry in head] == ["req-0", "req-1", "req-2"]


@pytest.mark.parametrize("limit", [0, -1, 2.5, True])
def test_logs_rejects_invalid_limit(store: Store, limit: object) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.logs(limit=limit)  # type: ignore[arg-type]


def test_registry_round_trip(store: Store) -> None:
    store.save_service("thumbs", "/srv/thumbs", "service: thumbs\n")
    store.save_service("api", "/srv/api", "service: api\n")
    store.save_service("thumbs", "/srv/thumbs-v2", "service: thumbs\nversion: 2\n")

    assert store.services() == [
        ServiceEntry("api", "/srv/api", "service: api\n"),
        ServiceEntry("thumbs", "/srv/thumbs-v2", "service: thumbs\nversion: 2\n"),
    ]

    store.remove_service("api")
    store.remove_service("never-deployed")

    assert store.services() == [
        ServiceEntry("thumbs", "/srv/thumbs-v2", "service: thumbs\nversion: 2\n")
    ]


def test_flush_with_nothing_queued(store: Store) -> None:
    assert store.flush(FLUSH_TIMEOUT_S) is True


def test_flush_does_not_wait_for_batch_interval(backend: Backend, tmp_path: Path) -> None:
    # With an hour between scheduled batches, only flush() can get this row written.
    slow = backend.open_store(tmp_path, 3600.0)
    slow.start()
    try:
        slow.add_record(make_record("req-1"))
        assert slow.flush(FLUSH_TIMEOUT_S) is True
        assert [record.request_id for record in slow.records()] == ["req-1"]
    finally:
        slow.close()


def test_close_commits_queued_rows(backend: Backend, tmp_path: Path) -> None:
    first = backend.open_store(tmp_path, 3600.0)
    first.start()
    first.add_record(make_record("req-1"))
    first.add_log(make_log("req-1"))
    first.close()

    reopened = backend.open_store(tmp_path, 0.01)
    reopened.start()
    try:
        assert [record.request_id for record in reopened.records()] == ["req-1"]
        assert [entry.request_id for entry in reopened.logs()] == ["req-1"]
    finally:
        reopened.close()


def test_reopen_keeps_data_and_id_order(backend: Backend, tmp_path: Path) -> None:
    first = backend.open_store(tmp_path, 0.01)
    first.start()
    first.add_record(make_record("req-1"))
    first.add_log(make_log("req-1"))
    first.save_service("thumbs", "/srv/thumbs", "service: thumbs\n")
    assert first.flush(FLUSH_TIMEOUT_S)
    first.close()

    reopened = backend.open_store(tmp_path, 0.01)
    reopened.start()
    try:
        reopened.add_log(make_log("req-2"))
        assert reopened.flush(FLUSH_TIMEOUT_S)

        assert reopened.records() == [make_record("req-1")]
        assert reopened.services() == [ServiceEntry("thumbs", "/srv/thumbs", "service: thumbs\n")]
        logs = reopened.logs()
        assert [entry.request_id for entry in logs] == ["req-1", "req-2"]
        assert logs[0].id is not None and logs[1].id is not None
        assert logs[1].id > logs[0].id
    finally:
        reopened.close()


def test_add_after_close_raises(backend: Backend, tmp_path: Path) -> None:
    closed = backend.open_store(tmp_path, 0.01)
    closed.start()
    closed.close()

    with pytest.raises(StoreClosed, match="req-1"):
        closed.add_record(make_record("req-1"))
    with pytest.raises(StoreClosed, match="req-2"):
        closed.add_log(make_log("req-2"))


def test_writer_survives_row_it_cannot_write(store: Store) -> None:
    # A value the backend cannot bind fails that row only; the rows around it,
    # and rows added later, are still written.
    bad = dataclasses.replace(make_record("req-bad"), trigger=object())  # type: ignore[arg-type]
    store.add_record(make_record("req-before"))
    store.add_record(bad)
    store.add_record(make_record("req-after", started_at=1_700_000_001.0))
    assert store.flush(FLUSH_TIMEOUT_S)

    store.add_record(make_record("req-later", started_at=1_700_000_002.0))
    assert store.flush(FLUSH_TIMEOUT_S)

    stored = [record.request_id for record in store.records()]
    assert stored == ["req-before", "req-after", "req-later"]


def _add_from_threads(store: Store, rows: list[InvocationRecord]) -> None:
    def add_chunk(chunk: list[InvocationRecord]) -> None:
        for row in chunk:
            store.add_record(row)

    workers = [threading.Thread(target=add_chunk, args=(rows[start::8],)) for start in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=FLUSH_TIMEOUT_S)
    assert not any(worker.is_alive() for worker in workers), "add_record blocked"


def _add_from_event_loop(store: Store, rows: list[InvocationRecord]) -> None:
    async def add_all() -> None:
        loop = asyncio.get_running_loop()
        for row in rows:
            loop.call_soon(store.add_record, row)
        # Every callback above runs before this sleep returns.
        await asyncio.sleep(0)

    asyncio.run(add_all())


@pytest.mark.parametrize(
    "add_rows", [_add_from_threads, _add_from_event_loop], ids=["threads", "event_loop"]
)
def test_add_record_returns_while_backend_is_locked(
    backend: Backend,
    store: Store,
    tmp_path: Path,
    add_rows: Callable[[Store, list[InvocationRecord]], None],
) -> None:
    rows = [make_record(f"req-{index}", started_at=float(index)) for index in range(2_000)]

    with backend.hold_write_lock(tmp_path):
        add_rows(store, rows)

        # Nothing can be committed while the lock is held: the adds above only
        # queued their rows, and a flush cannot finish.
        assert store.records() == []
        assert store.flush(timeout_s=0.2) is False

    assert store.flush(FLUSH_TIMEOUT_S) is True
    assert len(store.records()) == len(rows)
