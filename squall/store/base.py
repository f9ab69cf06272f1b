"""Interfaces of Squall's stores, and the background writer they share.

The server runs on one event loop, so nothing on the request path may wait
for a disk. `add_record` and `add_log` only append to an in-memory queue;
a `BackgroundWriter` thread drains that queue into the backend in batches,
one transaction per batch. Reads and registry changes are plain blocking
calls that the server runs off the loop (`asyncio.to_thread`).

A backend (SQLite today, PostgreSQL later) implements the `Store` protocol,
usually by pairing a `BackgroundWriter` with a `BatchSink` of its own.
"""

from __future__ import annotations

import collections
import enum
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, TypeVar, runtime_checkable

from squall.errors import SquallError
from squall.metering.log_search import LogFilter
from squall.metering.records import InvocationRecord, LogEntry, ProvisionedUsage

logger = logging.getLogger(__name__)

# Defaults for the background writer. The flush interval bounds how stale
# `squall logs --follow` can be; the batch size bounds one transaction.
DEFAULT_FLUSH_INTERVAL_S = 0.05
DEFAULT_BATCH_ROWS = 1_000
DEFAULT_MAX_QUEUED_ROWS = 100_000
DEFAULT_MAX_QUEUED_RECORDS = 1_000_000
DEFAULT_CLOSE_TIMEOUT_S = 30.0

# Drops and transient-write retries are logged at most this often, each time
# with the count since the previous message.
_REPORT_INTERVAL_S = 10.0
_RETRY_BACKOFF_MAX_S = 1.0
# A failed batch log names at most this many request ids.
_MAX_IDS_IN_MESSAGE = 5


class StoreError(SquallError):
    """Raised when a store cannot do what was asked of it."""


class StoreClosed(StoreError):
    """Raised when a row is added to a store that is closing or closed."""


class TransientWriteError(StoreError):
    """Raised by a `BatchSink` when the same batch may succeed if retried.

    Example: another connection holds the database's write lock.
    """


class ServiceEntry(NamedTuple):
    """One deployed service in the registry."""

    name: str
    folder: str  # the folder the service was deployed from
    manifest: str  # the manifest in the deployed code copy (DATA/code/<digest>/...), which a restart deploys


@runtime_checkable
class RecordStore(Protocol):
    """Invocation records, the input of metering."""

    def add_record(self, record: InvocationRecord) -> None:
        """Queue a record for writing; never waits for storage."""
        ...

    def records(
        self, since: float | None = None, function: str | None = None
    ) -> list[InvocationRecord]:
        """Return the committed records, oldest `started_at` first.

        `since` is Unix time in seconds and keeps records with
        `started_at >= since`. Blocks: call it off the event loop.
        """
        ...


@runtime_checkable
class LogStore(Protocol):
    """Invocation logs, one entry per invocation."""

    def add_log(self, entry: LogEntry) -> None:
        """Queue a log entry for writing; never waits for storage.

        The entry's `id` is ignored, because the store assigns ids.
        """
        ...

    def logs(
        self,
        function: str | None = None,
        since: float | None = None,
        after_id: int | None = None,
        request_id: str | None = None,
        limit: int = 1000,
        newest: bool = False,
        until: float | None = None,
        line_filter: LogFilter | None = None,
    ) -> list[LogEntry]:
        """Return at most `limit` committed entries matching every filter, oldest first.

        Ids increase in commit order and become visible in that order, so a
        follower that passes the last id it saw as `after_id` misses nothing.
        `since` keeps entries with `time >= since` and `until` those with
        `time <= until`. `line_filter` keeps entries with at least one
        matching line (see `squall.metering.log_search`). With `newest`, the
        entries are the last `limit` matches instead of the first, still
        oldest first. Raises ValueError when `limit` is not a positive integer.
        Blocks: call it off the event loop.
        """
        ...


@runtime_checkable
class Registry(Protocol):
    """The deployed services, so that a restarted server can redeploy them."""

    def save_service(self, name: str, folder: str, manifest: str) -> None:
        """Insert or replace a service; committed when this returns. Blocks."""
        ...

    def services(self) -> list[ServiceEntry]:
        """Return every saved service, ordered by name. Blocks."""
        ...

    def remove_service(self, name: str) -> None:
        """Remove a service; removing a name that is not saved does nothing. Blocks."""
        ...


@runtime_checkable
class UsageStore(Protocol):
    """Periods of provisioned instance time, the input of provisioned-concurrency cost."""

    def add_usage(self, periods: Sequence[ProvisionedUsage]) -> None:
        """Insert the periods; committed when this returns. Blocks."""
        ...

    def usage(self, since: float | None = None) -> list[ProvisionedUsage]:
        """Return the periods that end after `since`, oldest first. Blocks."""
        ...


@runtime_checkable
class RetentionStore(Protocol):
    """Deletion of old logs and records, a small batch per call.

    Each call is one short transaction, so a caller that loops over them
    leaves the background writer room to commit between batches.
    """

    def log_bytes(self) -> int:
        """Return the total UTF-8 size of the stored log texts. Blocks."""
        ...

    def delete_logs_before(self, cutoff: float, max_rows: int) -> int:
        """Delete at most `max_rows` of the oldest entries with `time < cutoff`; return how many. Blocks."""
        ...

    def delete_oldest_logs(self, max_bytes: int, max_rows: int) -> int:
        """Delete up to `max_rows` oldest entries while the logs exceed `max_bytes`; return how many. Blocks."""
        ...

    def delete_records_before(self, cutoff: float, max_rows: int) -> int:
        """Delete at most `max_rows` records and usage periods older than `cutoff`; return how many. Blocks."""
        ...


@runtime_checkable
class Store(RecordStore, LogStore, Registry, Protocol):
    """A record store, a log store and a registry with one lifecycle."""

    def start(self) -> None:
        """Open the storage, create or upgrade its schema, and start the writer."""
        ...

    def flush(self, timeout_s: float | None = None) -> bool:
        """Block until every row queued before the call is committed or dropped.

        Returns False if `timeout_s` passed first. A row counts as done once
        the writer has given up on it (see `WriterCounters`).
        """
        ...

    def close(self) -> None:
        """Flush, stop the writer and close every connection."""
        ...


class BatchSink(Protocol):
    """The backend half of a `BackgroundWriter`; only the writer thread calls it."""

    def write(
        self, records: Sequence[InvocationRecord], logs: Sequence[LogEntry]
    ) -> None:
        """Write all the rows in one transaction, or none of them and raise.

        Raise `TransientWriteError` when retrying the same batch may succeed.
        """
        ...

    def close(self) -> None:
        """Release the sink's connection."""
        ...


@dataclass(frozen=True, slots=True)
class WriterCounters:
    """Queue lengths and row counts of a `BackgroundWriter` since it was created."""

    queued_records: int
    queued_logs: int
    written_records: int
    written_logs: int
    dropped_logs: int  # evicted, oldest first, because the queue was full
    dropped_records: int  # rejected because the record queue hit its hard limit
    failed_records: int  # dropped because the backend rejected them
    failed_logs: int


class WriterState(enum.Enum):
    """Lifecycle of a `BackgroundWriter`."""

    NEW = "new"  # accepts rows; nothing is written until start()
    RUNNING = "running"
    CLOSING = "closing"  # close() is flushing; new rows are rejected
    CLOSED = "closed"


class BackgroundWriter:
    """A queue of records and log entries, drained into a `BatchSink` by one thread.

    Queue bound: when `max_queued_rows` rows are waiting, adding a row first
    evicts the oldest queued log entry, and the eviction is counted and logged.
    Records are never evicted for logs. If only records are queued, records
    keep queuing past the bound, with a warning, up to `max_queued_records`.
    Past that hard limit a new record is rejected, counted and logged as an
    error, so that a backend that stays down cannot exhaust the memory.

    NOTE: the bound counts rows, not bytes, so a queue of very large log
    entries can still take much memory before any entry is evicted.
    """

    def __init__(
        self,
        name: str,
        *,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        max_queued_rows: int = DEFAULT_MAX_QUEUED_ROWS,
        max_queued_records: int = DEFAULT_MAX_QUEUED_RECORDS,
    ) -> None:
        if flush_interval_s <= 0:
            raise ValueError(f"flush_interval_s: expected seconds > 0, got {flush_interval_s!r}")
        if batch_rows < 1:
            raise ValueError(f"batch_rows: expected an integer >= 1, got {batch_rows!r}")
        if max_queued_rows < 1:
            raise ValueError(
                f"max_queued_rows: expected an integer >= 1, got {max_queued_rows!r}"
            )
        if max_queued_records < max_queued_rows:
            raise ValueError(
                f"max_queued_records: expected at least max_queued_rows ({max_queued_rows}),"
                f" got {max_queued_records!r}"
            )
        self.name = name
        self._flush_interval_s = flush_interval_s
        self._batch_rows = batch_rows
        self._max_queued_rows = max_queued_rows
        self._max_queued_records = max_queued_records

        # Every queued row carries a sequence number, so that flush() can wait
        # for "everything queued before me" across both queues.
        self._lock = threading.Lock()
        self._work_ready = threading.Condition(self._lock)
        self._committed = threading.Condition(self._lock)
        self._records: collections.deque[tuple[int, InvocationRecord]] = collections.deque()
        self._logs: collections.deque[tuple[int, LogEntry]] = collections.deque()
        self._last_seq = 0
        self._done_seq = 0
        self._urgent = 0  # flush() calls waiting; the writer skips its batching delay
        self._state = WriterState.NEW
        self._stopped = threading.Event()  # wakes the writer from a retry backoff
        self._sink: BatchSink | None = None
        self._thread: threading.Thread | None = None

        self._written_records = 0
        self._written_logs = 0
        self._dropped_logs = 0
        self._dropped_records = 0
        self._failed_records = 0
        self._failed_logs = 0

    # -- called from any thread, usually the event loop ---------------------

    def add_record(self, record: InvocationRecord) -> None:
        """Queue a record under a brief lock; never touches the backend."""
        with self._lock:
            self._check_accepting("invocation record", record.request_id)
            self._last_seq += 1
            self._records.append((self._last_seq, record))
            queued = len(self._records) + len(self._logs)
            if queued > self._max_queued_rows:
                self._make_room_for_record()
            self._wake_writer(queued)

    def add_log(self, entry: LogEntry) -> None:
        """Queue a log entry under a brief lock; never touches the backend."""
        with self._lock:
            self._check_accepting("log entry", entry.request_id)
            self._last_seq += 1
            self._logs.append((self._last_seq, entry))
            queued = len(self._records) + len(self._logs)
            if queued > self._max_queued_rows:
                # The new entry itself is evicted when it is the only log queued.
                self._logs.popleft()
                self._dropped_logs += 1
            self._wake_writer(queued)

    def counters(self) -> WriterCounters:
        """Return a snapshot of the queue lengths and the drop counters."""
        with self._lock:
            return WriterCounters(
                queued_records=len(self._records),
                queued_logs=len(self._logs),
                written_records=self._written_records,
                written_logs=self._written_logs,
                dropped_logs=self._dropped_logs,
                dropped_records=self._dropped_records,
                failed_records=self._failed_records,
                failed_logs=self._failed_logs,
            )

    def _check_accepting(self, kind: str, request_id: str) -> None:
        if self._state in (WriterState.CLOSING, WriterState.CLOSED):
            raise StoreClosed(
                f"store {self.name} is {self._state.value}: cannot add the {kind}"
                f" of request {request_id!r}"
            )

    def _make_room_for_record(self) -> None:
        if self._logs:
            self._logs.popleft()
            self._dropped_logs += 1
            return
        if len(self._records) > self._max_queued_records:
            self._records.pop()
            self._dropped_records += 1

    def _wake_writer(self, queued: int) -> None:
        # The idle writer waits for the first row; a filling writer waits for
        # a full batch. Other appends need no wake-up.
        if queued == 1 or queued == self._batch_rows:
            self._work_ready.notify()

    # -- lifecycle ----------------------------------------------------------

    def start(self, sink: BatchSink) -> None:
        """Start the writer thread, which owns `sink` from now on."""
        with self._lock:
            if self._state is not WriterState.NEW:
                raise StoreError(
                    f"store {self.name} cannot start: it is {self._state.value}, expected new"
                )
            self._sink = sink
            self._thread = threading.Thread(
                target=self._run, name=f"squall-store-writer[{self.name}]", daemon=True
            )
            self._state = WriterState.RUNNING
        self._thread.start()

    def flush(self, timeout_s: float | None = None) -> bool:
        """Block until every row queued before the call is written or given up.

        Returns False if `timeout_s` passed first. Raises StoreError when the
        writer was never started or has stopped with rows still queued.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._lock:
            target = self._last_seq
            if self._done_seq >= target:
                return True
            if self._state is WriterState.NEW:
                raise StoreError(f"store {self.name} cannot flush: it is not started")
            self._urgent += 1
            self._work_ready.notify()
            try:
                return self._wait_done(target, deadline)
            finally:
                self._urgent -= 1

    def _wait_done(self, target: int, deadline: float | None) -> bool:
        while self._done_seq < target:
            if self._thread is None or not self._thread.is_alive():
                raise StoreError(
                    f"store {self.name} cannot flush: its writer thread has stopped"
                    f" with {len(self._records)} records and {len(self._logs)} log entries queued"
                )
            # Wake up now and then to notice a writer thread that died.
            wait_s = 1.0
            if deadline is not None:
                wait_s = min(wait_s, deadline - time.monotonic())
                if wait_s <= 0:
                    return False
            self._committed.wait(wait_s)
        return True

    def close(self, timeout_s: float = DEFAULT_CLOSE_TIMEOUT_S) -> None:
        """Reject new rows, flush for at most `timeout_s`, then stop the writer.

        Rows still queued after `timeout_s` are dropped and logged as an error.
        Closing twice does nothing.
        """
        with self._lock:
            if self._state is WriterState.CLOSED or self._state is WriterState.CLOSING:
                return
            never_started = self._state is WriterState.NEW
            self._state = WriterState.CLOSING

        # Step 1: let the writer drain what is queued.
        if never_started:
            self._abandon_queue("it was never started")
        else:
            try:
                flushed = self.flush(timeout_s)
            except StoreError:
                logger.exception("store %s: flush on close failed", self.name)
            else:
                if not flushed:
                    logger.error(
                        "store %s: flush on close timed out after %.1f s", self.name, timeout_s
                    )

        # Step 2: stop the writer; it drops whatever the flush left behind.
        with self._lock:
            self._state = WriterState.CLOSED
            self._work_ready.notify()
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    def _abandon_queue(self, reason: str) -> None:
        with self._lock:
            records = len(self._records)
            logs = len(self._logs)
            self._records.clear()
            self._logs.clear()
            self._failed_records += records
            self._failed_logs += logs
            self._done_seq = self._last_seq
            self._committed.notify_all()
        if records or logs:
            logger.error(
                "store %s: dropped %d invocation records and %d log entries because %s",
                self.name,
                records,
                logs,
                reason,
            )

    # -- the writer thread --------------------------------------------------

    def _run(self) -> None:
        sink = self._sink
        if sink is None:  # start() sets it before starting the thread
            return
        reporter = _DropReporter(self.name, self._max_queued_rows)
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    break
                records, logs = batch
                self._write_batch(sink, records, logs)
                self._mark_done()
                reporter.report(self.counters(), final=False)
        finally:
            self._abandon_queue("the store closed before they were written")
            reporter.report(self.counters(), final=True)
            try:
                sink.close()
            except Exception:
                logger.exception("store %s: closing the writer connection failed", self.name)

    def _next_batch(self) -> tuple[list[InvocationRecord], list[LogEntry]] | None:
        """Wait for rows and take up to one batch of each kind; None means stop."""
        with self._lock:
            self._work_ready.wait_for(
                lambda: self._records or self._logs or self._stop_requested()
            )
            if self._stop_requested():
                return None

            # Step 1: let a batch build up, unless someone is waiting on a flush.
            self._work_ready.wait_for(
                lambda: self._urgent > 0
                or self._state is not WriterState.RUNNING
                or len(self._records) + len(self._logs) >= self._batch_rows,
                timeout=self._flush_interval_s,
            )
            if self._stop_requested():
                return None

            # Step 2: take at most one batch of each kind, oldest first.
            records = _take(self._records, self._batch_rows)
            logs = _take(self._logs, self._batch_rows)
            return records, logs

    def _stop_requested(self) -> bool:
        return self._state is WriterState.CLOSED

    def _mark_done(self) -> None:
        # Every row older than the oldest one still queued has been taken
        # (and written or given up) or evicted.
        with self._lock:
            heads = [queue[0][0] for queue in (self._records, self._logs) if queue]
            self._done_seq = min(heads) - 1 if heads else self._last_seq
            self._committed.notify_all()

    def _write_batch(
        self, sink: BatchSink, records: list[InvocationRecord], logs: list[LogEntry]
    ) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                sink.write(records, logs)
            except TransientWriteError as exc:
                if self._give_up_retrying():
                    self._count_failed(records, logs, exc)
                    return
                backoff_s = min(_RETRY_BACKOFF_MAX_S, 0.01 * 2**attempt)
                if attempt == 1 or attempt % 10 == 0:
                    logger.warning(
                        "store %s: writing %d invocation records and %d log entries failed"
                        " (attempt %d), retrying: %s",
                        self.name,
                        len(records),
                        len(logs),
                        attempt,
                        exc,
                    )
                self._stopped.wait(backoff_s)
                continue
            except Exception:
                logger.warning(
                    "store %s: batch of %d invocation records and %d log entries failed;"
                    " writing them one at a time to find the bad rows",
                    self.name,
                    len(records),
                    len(logs),
                    exc_info=True,
                )
                self._write_one_at_a_time(sink, records, logs)
                return
            with self._lock:
                self._written_records += len(records)
                self._written_logs += len(logs)
            if attempt > 1:
                logger.info("store %s: write succeeded after %d attempts", self.name, attempt)
            return

    def _give_up_retrying(self) -> bool:
        with self._lock:
            return self._stop_requested()

    def _write_one_at_a_time(
        self, sink: BatchSink, records: list[InvocationRecord], logs: list[LogEntry]
    ) -> None:
        failed_records: list[InvocationRecord] = []
        failed_logs: list[LogEntry] = []
        first_error: Exception | None = None
        for record in records:
            try:
                sink.write([record], [])
            except Exception as exc:
                failed_records.append(record)
                first_error = first_error or exc
        for entry in logs:
            try:
                sink.write([], [entry])
            except Exception as exc:
                failed_logs.append(entry)
                first_error = first_error or exc

        with self._lock:
            self._written_records += len(records) - len(failed_records)
            self._written_logs += len(logs) - len(failed_logs)
        if first_error is not None:
            self._count_failed(failed_records, failed_logs, first_error)

    def _count_failed(
        self, records: list[InvocationRecord], logs: list[LogEntry], error: Exception
    ) -> None:
        with self._lock:
            self._failed_records += len(records)
            self._failed_logs += len(logs)
        request_ids = [record.request_id for record in records]
        request_ids += [entry.request_id for entry in logs]
        ids_text = ", ".join(request_ids[:_MAX_IDS_IN_MESSAGE])
        if len(request_ids) > _MAX_IDS_IN_MESSAGE:
            ids_text += f", and {len(request_ids) - _MAX_IDS_IN_MESSAGE} more"
        logger.error(
            "store %s: dropped %d invocation records and %d log entries that could not"
            " be written (request ids: %s): %r",
            self.name,
            len(records),
            len(logs),
            ids_text,
            error,
        )


_Row = TypeVar("_Row")


def _take(queue: collections.deque[tuple[int, _Row]], limit: int) -> list[_Row]:
    count = min(limit, len(queue))
    return [queue.popleft()[1] for _ in range(count)]


class _DropReporter:
    """Logger of queue evictions and rejections.

    It logs at most once per `_REPORT_INTERVAL_S`, and once more on close.
    """

    def __init__(self, store_name: str, max_queued_rows: int) -> None:
        self._store_name = store_name
        self._max_queued_rows = max_queued_rows
        self._reported_logs = 0
        self._reported_records = 0
        self._last_report = 0.0

    def report(self, counters: WriterCounters, *, final: bool) -> None:
        new_logs = counters.dropped_logs - self._reported_logs
        new_records = counters.dropped_records - self._reported_records
        over_bound = counters.queued_records > self._max_queued_rows
        if not new_logs and not new_records and not over_bound:
            return

        now = time.monotonic()
        if not final and now - self._last_report < _REPORT_INTERVAL_S:
            return
        self._last_report = now
        self._reported_logs = counters.dropped_logs
        self._reported_records = counters.dropped_records

        if over_bound:
            logger.warning(
                "store %s: %d invocation records queued, past the queue bound of %d rows;"
                " the backend is not keeping up",
                self._store_name,
                counters.queued_records,
                self._max_queued_rows,
            )
        if new_logs:
            logger.warning(
                "store %s: write queue full, dropped the %d oldest queued log entries"
                " (%d since start)",
                self._store_name,
                new_logs,
                counters.dropped_logs,
            )
        if new_records:
            logger.error(
                "store %s: record queue at its hard limit, dropped %d new invocation records"
                " (%d since start)",
                self._store_name,
                new_records,
                counters.dropped_records,
            )
