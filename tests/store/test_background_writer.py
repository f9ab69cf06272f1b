"""The background writer's queue bound, failure handling and lifecycle, on a fake backend."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence

import pytest
from store_rows import make_log, make_record

from squall.metering.records import InvocationRecord, LogEntry
from squall.store import BackgroundWriter, StoreClosed, StoreError, TransientWriteError

WAIT_S = 30.0


class FakeSink:
    """A BatchSink that keeps what it was given and can be paused or made to fail."""

    def __init__(self) -> None:
        self.records: list[InvocationRecord] = []
        self.logs: list[LogEntry] = []
        self.entered = threading.Event()  # set when a write starts
        self.release = threading.Event()  # a write returns only once this is set
        self.release.set()
        self.bad_request_ids: set[str] = set()
        self.transient_failures = 0  # fail this many writes with TransientWriteError
        self.closed = False

    def write(self, records: Sequence[InvocationRecord], logs: Sequence[LogEntry]) -> None:
        self.entered.set()
        self.release.wait(WAIT_S)
        if self.transient_failures > 0:
            self.transient_failures -= 1
            raise TransientWriteError("database is busy")
        request_ids = [record.request_id for record in records]
        request_ids += [entry.request_id for entry in logs]
        bad = [request_id for request_id in request_ids if request_id in self.bad_request_ids]
        if bad:
            raise ValueError(f"cannot store {bad}")
        self.records.extend(records)
        self.logs.extend(logs)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def sink() -> FakeSink:
    return FakeSink()


@pytest.fixture
def writer(sink: FakeSink) -> Iterator[BackgroundWriter]:
    background = BackgroundWriter(
        "test", flush_interval_s=0.01, max_queued_rows=10, max_queued_records=20
    )
    background.start(sink)
    yield background
    sink.release.set()
    background.close(timeout_s=WAIT_S)


def _pause_writer(writer: BackgroundWriter, sink: FakeSink) -> None:
    """Leave the writer stuck inside a write of one record, so that rows pile up."""
    sink.release.clear()
    sink.entered.clear()
    writer.add_record(make_record("req-in-flight"))
    assert sink.entered.wait(WAIT_S), "writer never started a write"


def test_full_queue_drops_oldest_logs(
    writer: BackgroundWriter, sink: FakeSink, caplog: pytest.LogCaptureFixture
) -> None:
    _pause_writer(writer, sink)
    for index in range(15):
        writer.add_log(make_log(f"log-{index}"))

    counters = writer.counters()
    assert counters.dropped_logs == 5
    assert counters.queued_logs == 10

    with caplog.at_level(logging.WARNING, logger="squall.store.base"):
        sink.release.set()
        assert writer.flush(WAIT_S)
    assert [entry.request_id for entry in sink.logs] == [f"log-{index}" for index in range(5, 15)]
    assert "dropped the 5 oldest queued log entries" in caplog.text


def test_records_evict_logs_not_records(writer: BackgroundWriter, sink: FakeSink) -> None:
    _pause_writer(writer, sink)
    for index in range(4):
        writer.add_log(make_log(f"log-{index}"))
    for index in range(10):
        writer.add_record(make_record(f"rec-{index}"))

    counters = writer.counters()
    assert counters.queued_records == 10
    assert counters.queued_logs == 0
    assert counters.dropped_logs == 4
    assert counters.dropped_records == 0


def test_records_queue_past_bound_until_hard_limit(
    writer: BackgroundWriter, sink: FakeSink, caplog: pytest.LogCaptureFixture
) -> None:
    _pause_writer(writer, sink)
    for index in range(25):
        writer.add_record(make_record(f"rec-{index}"))

    counters = writer.counters()
    assert counters.queued_records == 20
    assert counters.dropped_records == 5

    with caplog.at_level(logging.WARNING, logger="squall.store.base"):
        sink.release.set()
        assert writer.flush(WAIT_S)
    written = [record.request_id for record in sink.records]
    assert written == ["req-in-flight", *[f"rec-{index}" for index in range(20)]]
    assert "dropped 5 new invocation records" in caplog.text


def test_failed_batch_keeps_good_rows(
    writer: BackgroundWriter, sink: FakeSink, caplog: pytest.LogCaptureFixture
) -> None:
    sink.bad_request_ids = {"bad-record", "bad-log"}
    _pause_writer(writer, sink)
    for request_id in ["rec-0", "bad-record", "rec-1"]:
        writer.add_record(make_record(request_id))
    for request_id in ["log-0", "bad-log"]:
        writer.add_log(make_log(request_id))

    with caplog.at_level(logging.ERROR, logger="squall.store.base"):
        sink.release.set()
        assert writer.flush(WAIT_S)

    assert [record.request_id for record in sink.records] == ["req-in-flight", "rec-0", "rec-1"]
    assert [entry.request_id for entry in sink.logs] == ["log-0"]
    counters = writer.counters()
    assert counters.failed_records == 1
    assert counters.failed_logs == 1
    assert "bad-record" in caplog.text
    assert "bad-log" in caplog.text


def test_writer_carries_on_after_failure(writer: BackgroundWriter, sink: FakeSink) -> None:
    sink.bad_request_ids = {"bad"}
    writer.add_record(make_record("bad"))
    assert writer.flush(WAIT_S)

    writer.add_record(make_record("good"))
    assert writer.flush(WAIT_S)

    assert [record.request_id for record in sink.records] == ["good"]


def test_transient_failure_retried(writer: BackgroundWriter, sink: FakeSink) -> None:
    sink.transient_failures = 3
    writer.add_record(make_record("req-1"))

    assert writer.flush(WAIT_S)

    assert [record.request_id for record in sink.records] == ["req-1"]
    assert writer.counters().failed_records == 0


def test_flush_times_out_while_backend_stuck(writer: BackgroundWriter, sink: FakeSink) -> None:
    _pause_writer(writer, sink)

    assert writer.flush(timeout_s=0.05) is False

    sink.release.set()
    assert writer.flush(WAIT_S) is True


def test_close_writes_queued_rows_and_closes_sink(sink: FakeSink) -> None:
    # A long interval, so that only close() gets the rows written.
    background = BackgroundWriter("test", flush_interval_s=3600.0)
    background.start(sink)
    background.add_record(make_record("req-1"))
    background.add_log(make_log("req-1"))

    background.close(timeout_s=WAIT_S)

    assert [record.request_id for record in sink.records] == ["req-1"]
    assert [entry.request_id for entry in sink.logs] == ["req-1"]
    assert sink.closed


def test_close_gives_up_on_stuck_backend(
    sink: FakeSink, caplog: pytest.LogCaptureFixture
) -> None:
    background = BackgroundWriter("test", flush_interval_s=0.01)
    background.start(sink)
    sink.transient_failures = 1_000_000
    background.add_record(make_record("req-stuck"))

    with caplog.at_level(logging.ERROR, logger="squall.store.base"):
        background.close(timeout_s=0.1)

    assert background.counters().failed_records == 1
    assert "req-stuck" in caplog.text
    assert sink.records == []
    assert sink.closed


def test_add_after_close_raises(sink: FakeSink) -> None:
    background = BackgroundWriter("test")
    background.start(sink)
    background.close()

    with pytest.raises(StoreClosed, match="store test is closed"):
        background.add_record(make_record())


def test_flush_before_start_raises() -> None:
    background = BackgroundWriter("test")
    background.add_record(make_record())

    with pytest.raises(StoreError, match="not started"):
        background.flush()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("flush_interval_s", 0.0),
        ("batch_rows", 0),
        ("max_queued_rows", 0),
        ("max_queued_records", 5),
    ],
)
def test_invalid_option_rejected(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=option):
        BackgroundWriter("test", **{option: value})  # type: ignore[arg-type]
