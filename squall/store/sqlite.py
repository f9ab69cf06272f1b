"""The embedded store: one SQLite file in WAL mode.

WAL lets one writer and any number of readers work at once, so the store
uses three kinds of connection, each used by one thread at a time:

- the background writer's, which inserts records and logs in batches;
- the registry's, for the rare deploy and remove, with `synchronous=FULL`
  because losing a deployed service to a power cut is worse than a slower
  deploy;
- a pool of read-only connections for `records`, `logs` and `services`,
  which the server calls from worker threads;
- a maintenance connection for provisioned-usage periods and for deleting
  old rows, one short transaction per call so that the writer is never
  kept waiting long.

Records and logs use `synchronous=NORMAL`: a commit survives a crash of the
process, and only the last commits can be lost on power failure.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from squall.metering.log_search import LogFilter
from squall.metering.records import InvocationRecord, LogEntry, Outcome, ProvisionedUsage
from squall.store.base import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_CLOSE_TIMEOUT_S,
    DEFAULT_FLUSH_INTERVAL_S,
    DEFAULT_MAX_QUEUED_RECORDS,
    DEFAULT_MAX_QUEUED_ROWS,
    BackgroundWriter,
    ServiceEntry,
    StoreError,
    TransientWriteError,
    WriterCounters,
)

logger = logging.getLogger(__name__)


# Each entry upgrades the schema by one version: _MIGRATIONS[0] creates
# version 1 from an empty file. Append new entries; never edit old ones.
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE invocation_records (
        id INTEGER PRIMARY KEY,
        request_id TEXT NOT NULL,
        function TEXT NOT NULL,
        version TEXT NOT NULL,
        trigger TEXT NOT NULL,
        started_at REAL NOT NULL,
        duration_ms REAL NOT NULL,
        billed_ms INTEGER NOT NULL,
        memory_mb INTEGER NOT NULL,
        max_memory_mb INTEGER NOT NULL,
        init_ms REAL,
        cold INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        error_type TEXT
    );
    CREATE INDEX invocation_records_function_started
        ON invocation_records (function, started_at);
    CREATE INDEX invocation_records_started ON invocation_records (started_at);

    -- AUTOINCREMENT so that an id is never reused, even after old rows are
    -- deleted: a follower polling with after_id must never see an id go back.
    CREATE TABLE logs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        function TEXT NOT NULL,
        request_id TEXT NOT NULL,
        time REAL NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX logs_function_id ON logs (function, id);
    CREATE INDEX logs_request_id ON logs (request_id);
    CREATE INDEX logs_time ON logs (time);

    CREATE TABLE services (
        name TEXT PRIMARY KEY,
        folder TEXT NOT NULL,
        manifest TEXT NOT NULL,
        saved_at REAL NOT NULL
    );
    """,
    # Version 2: request ids are random, so their index took every insert to
    # a random page, and the cost per invocation grew with the table (from
    # 14 to 35 us at 350,000 rows). A lookup by request id now scans the
    # function's entries instead.
    """
    DROP INDEX IF EXISTS logs_request_id;
    """,
    # Version 3: provisioned instance time, for cost reports, and the running
    # size of the log texts, so that size-based retention never has to sum
    # the whole table. The size starts from the rows already stored.
    """
    CREATE TABLE provisioned_usage (
        id INTEGER PRIMARY KEY,
        function TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL NOT NULL,
        instances INTEGER NOT NULL,
        memory_mb INTEGER NOT NULL
    );
    CREATE INDEX provisioned_usage_ended ON provisioned_usage (ended_at);

    CREATE TABLE log_size (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        bytes INTEGER NOT NULL
    );
    INSERT INTO log_size (id, bytes)
        SELECT 1, coalesce(sum(length(CAST(text AS BLOB))), 0) FROM logs;
    """,
)

SCHEMA_VERSION = len(_MIGRATIONS)

# How long a connection waits for another connection's lock before SQLite
# reports SQLITE_BUSY. The writer retries after that, so this only bounds one
# attempt. In WAL mode readers do not wait for the writer.
_BUSY_TIMEOUT_S = 1.0

_RECORD_COLUMNS = (
    "request_id, function, version, trigger, started_at, duration_ms, billed_ms,"
    " memory_mb, max_memory_mb, init_ms, cold, outcome, error_type"
)
_INSERT_RECORD = (
    f"INSERT INTO invocation_records ({_RECORD_COLUMNS}) VALUES ({', '.join('?' * 13)})"
)
_INSERT_LOG = "INSERT INTO logs (function, request_id, time, text) VALUES (?, ?, ?, ?)"
_ADD_LOG_BYTES = "UPDATE log_size SET bytes = bytes + ? WHERE id = 1"
_USAGE_COLUMNS = "function, started_at, ended_at, instances, memory_mb"

# Rows per multi-row INSERT. The sqlite3 module releases the GIL around each
# statement it runs. One statement per row made the writer thread and the
# event loop trade the GIL twice per invocation, and a few statements per
# batch keep that handoff rare. 200 rows of 13 columns stay far below SQLite's
# default limit of 32,766 variables per statement.
_ROWS_PER_STATEMENT = 200

_RecordRow = tuple[
    str, str, str, str, float, float, int, int, int, "float | None", int, str, "str | None"
]


class SqliteStore:
    """A `Store` in one SQLite file, in WAL mode; see the module docstring.

    `path` must name a file on a local disk, because WAL needs shared memory
    between connections. The parent folder is created on `start()`.

    Old rows are deleted only when someone calls the `delete_*` methods
    (`squall.metering.retention` does, in the server). SQLite reuses the
    pages they free, so the file stops growing but does not shrink.
    """

    def __init__(
        self,
        path: Path,
        *,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        max_queued_rows: int = DEFAULT_MAX_QUEUED_ROWS,
        max_queued_records: int = DEFAULT_MAX_QUEUED_RECORDS,
    ) -> None:
        self.path = Path(path)
        self._writer = BackgroundWriter(
            str(self.path),
            flush_interval_s=flush_interval_s,
            batch_rows=batch_rows,
            max_queued_rows=max_queued_rows,
            max_queued_records=max_queued_records,
        )
        self._started = False
        self._closed = False
        self._registry_lock = threading.Lock()
        self._registry_conn: sqlite3.Connection | None = None
        self._readers_lock = threading.Lock()
        self._idle_readers: list[sqlite3.Connection] = []
        self._maintenance_lock = threading.Lock()
        self._maintenance_conn: sqlite3.Connection | None = None

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Create the file if needed, switch it to WAL, upgrade its schema, start the writer.

        Raises StoreError when the file cannot use WAL or was written by a
        newer Squall whose schema this version does not know.
        """
        if self._started:
            raise StoreError(f"store {self.path} is already started")
        self.path.parent.mkdir(parents=True, exist_ok=True)

        # Step 1: WAL is a property of the file, so setting it once is enough.
        conn = self._connect(synchronous="NORMAL")
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"store {self.path}: journal_mode is {mode!r} after asking for 'wal';"
                    " put the file on a local file system that supports shared memory"
                )
            _migrate(conn, self.path)
        except BaseException:
            conn.close()
            raise

        # Step 2: that connection becomes the writer's; the registry and maintenance get their own.
        try:
            self._registry_conn = self._connect(synchronous="FULL")
            self._maintenance_conn = self._connect(synchronous="NORMAL")
        except BaseException:
            conn.close()
            if self._registry_conn is not None:
                self._registry_conn.close()
            raise
        self._writer.start(_SqliteSink(conn))
        self._started = True

    def flush(self, timeout_s: float | None = None) -> bool:
        """Block until every row queued before the call is committed or dropped.

        Returns False if `timeout_s` passed first.
        """
        return self._writer.flush(timeout_s)

    def close(self, timeout_s: float = DEFAULT_CLOSE_TIMEOUT_S) -> None:
        """Flush for at most `timeout_s`, stop the writer, close every connection.

        Closing twice does nothing.
        """
        if self._closed:
            return
        self._closed = True

        # Step 1: drain and stop the writer.
        self._writer.close(timeout_s)

        # Step 2: close idle readers now, and busy ones as they are returned.
        with self._readers_lock:
            idle = self._idle_readers
            self._idle_readers = []
        for conn in idle:
            conn.close()

        # Step 3: close the registry and maintenance connections once no call is using them.
        with self._registry_lock:
            if self._registry_conn is not None:
                self._registry_conn.close()
                self._registry_conn = None
        with self._maintenance_lock:
            if self._maintenance_conn is not None:
                self._maintenance_conn.close()
                self._maintenance_conn = None

    def counters(self) -> WriterCounters:
        """Return the background writer's queue lengths and drop counters."""
        return self._writer.counters()

    # -- writes: queued, never waiting for the database --------------------

    def add_record(self, record: InvocationRecord) -> None:
        """Queue a record; the writer thread commits it within `flush_interval_s`."""
        self._writer.add_record(record)

    def add_log(self, entry: LogEntry) -> None:
        """Queue a log entry; its `id` is ignored and assigned on commit."""
        self._writer.add_log(entry)

    # -- reads: blocking, call them off the event loop ----------------------

    def records(
        self, since: float | None = None, function: str | None = None
    ) -> list[InvocationRecord]:
        """Return committed records with `started_at >= since`, oldest first."""
        conditions: list[str] = []
        params: list[object] = []
        if function is not None:
            conditions.append("function = ?")
            params.append(function)
        if since is not None:
            conditions.append("started_at >= ?")
            params.append(since)
        sql = f"SELECT {_RECORD_COLUMNS} FROM invocation_records"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += " ORDER BY started_at, id"

        with self._reader() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_record_from_row(row) for row in rows]

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

        With `newest`, the entries are the last `limit` matches.
        Raises ValueError when `limit` is not a positive integer.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"logs: limit: expected a positive integer, got {limit!r}")
        conditions: list[str] = []
        params: list[object] = []
        if function is not None:
            conditions.append("function = ?")
            params.append(function)
        if since is not None:
            conditions.append("time >= ?")
            params.append(since)
        if until is not None:
            conditions.append("time <= ?")
            params.append(until)
        if after_id is not None:
            conditions.append("id > ?")
            params.append(after_id)
        if request_id is not None:
            conditions.append("request_id = ?")
            params.append(request_id)
        searching = line_filter is not None and line_filter.active
        if searching and line_filter is not None:
            # instr() rejects most entries inside SQLite; only the rest are split
            # into lines and parsed in Python. Scanning 200,000 entries of about
            # 300 bytes this way took 0.1 s on a developer laptop.
            for hint in line_filter.text_hints():
                conditions.append("instr(text, ?) > 0")
                params.append(hint)
        sql = "SELECT id, function, request_id, time, text FROM logs"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += f" ORDER BY id {'DESC' if newest else 'ASC'}"
        if not searching:
            sql += " LIMIT ?"
            params.append(limit)

        with self._reader() as conn:
            cursor = conn.execute(sql, params)
            if searching and line_filter is not None:
                rows = _first_matches(cursor, line_filter, limit)
            else:
                rows = cursor.fetchall()
        if newest:
            rows.reverse()
        return [
            LogEntry(function=fn, request_id=rid, time=at, text=text, id=row_id)
            for row_id, fn, rid, at, text in rows
        ]

    # -- provisioned usage: blocking, committed on return --------------------

    def add_usage(self, periods: Sequence[ProvisionedUsage]) -> None:
        """Insert provisioned-usage periods in one transaction."""
        if not periods:
            return
        rows = [
            (period.function, period.started_at, period.ended_at, period.instances, period.memory_mb)
            for period in periods
        ]
        with self._maintenance() as conn:
            with _transaction(conn):
                conn.executemany(
                    f"INSERT INTO provisioned_usage ({_USAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?)", rows
                )

    def usage(self, since: float | None = None) -> list[ProvisionedUsage]:
        """Return the periods that end after `since`, oldest first."""
        sql = f"SELECT {_USAGE_COLUMNS} FROM provisioned_usage"
        params: list[object] = []
        if since is not None:
            sql += " WHERE ended_at > ?"
            params.append(since)
        sql += " ORDER BY started_at, id"
        with self._reader() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [
            ProvisionedUsage(
                function=str(function),
                started_at=float(started_at),
                ended_at=float(ended_at),
                instances=int(instances),
                memory_mb=int(memory_mb),
            )
            for function, started_at, ended_at, instances, memory_mb in rows
        ]

    # -- retention: one short transaction per call --------------------------

    def log_bytes(self) -> int:
        """Return the total UTF-8 size of the stored log texts, as kept in the log_size table."""
        with self._reader() as conn:
            row = conn.execute("SELECT bytes FROM log_size WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def delete_logs_before(self, cutoff: float, max_rows: int) -> int:
        """Delete at most `max_rows` of the oldest entries with `time < cutoff`; return how many."""
        _check_batch(max_rows)
        with self._maintenance() as conn:
            with _transaction(conn):
                rows = conn.execute(
                    "SELECT id, length(CAST(text AS BLOB)) FROM logs WHERE time < ? ORDER BY time LIMIT ?",
                    (cutoff, max_rows),
                ).fetchall()
                _delete_logs(conn, rows)
        return len(rows)

    def delete_oldest_logs(self, max_bytes: int, max_rows: int) -> int:
        """Delete up to `max_rows` oldest entries, only as many as bring the logs down to `max_bytes`."""
        _check_batch(max_rows)
        with self._maintenance() as conn:
            with _transaction(conn):
                row = conn.execute("SELECT bytes FROM log_size WHERE id = 1").fetchone()
                excess = (int(row[0]) if row else 0) - max_bytes
                if excess <= 0:
                    return 0
                candidates = conn.execute(
                    "SELECT id, length(CAST(text AS BLOB)) FROM logs ORDER BY id LIMIT ?", (max_rows,)
                ).fetchall()
                chosen = []
                for row_id, size in candidates:
                    if excess <= 0:
                        break
                    chosen.append((row_id, size))
                    excess -= int(size)
                _delete_logs(conn, chosen)
        return len(chosen)

    def delete_records_before(self, cutoff: float, max_rows: int) -> int:
        """Delete at most `max_rows` records started, and usage periods ended, before `cutoff`."""
        _check_batch(max_rows)
        with self._maintenance() as conn:
            with _transaction(conn):
                records = conn.execute(
                    "DELETE FROM invocation_records WHERE id IN (SELECT id FROM invocation_records"
                    " WHERE started_at < ? ORDER BY started_at LIMIT ?)",
                    (cutoff, max_rows),
                ).rowcount
                periods = conn.execute(
                    "DELETE FROM provisioned_usage WHERE id IN (SELECT id FROM provisioned_usage"
                    " WHERE ended_at < ? ORDER BY ended_at LIMIT ?)",
                    (cutoff, max_rows),
                ).rowcount
        return records + periods

    # -- registry: blocking, committed on return ----------------------------

    def save_service(self, name: str, folder: str, manifest: str) -> None:
        """Insert or replace the service `name`."""
        if not name:
            raise ValueError("save_service: name: expected a non-empty service name, got ''")
        with self._registry() as conn:
            conn.execute(
                "INSERT INTO services (name, folder, manifest, saved_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET folder = excluded.folder,"
                " manifest = excluded.manifest, saved_at = excluded.saved_at",
                (name, folder, manifest, time.time()),
            )

    def services(self) -> list[ServiceEntry]:
        """Return every saved service, ordered by name."""
        with self._reader() as conn:
            rows = conn.execute("SELECT name, folder, manifest FROM services ORDER BY name")
            return [ServiceEntry(name, folder, manifest) for name, folder, manifest in rows]

    def remove_service(self, name: str) -> None:
        """Remove the service `name`; a name that is not saved is ignored."""
        with self._registry() as conn:
            conn.execute("DELETE FROM services WHERE name = ?", (name,))

    # -- connections --------------------------------------------------------

    def _connect(self, *, synchronous: str) -> sqlite3.Connection:
        # isolation_level=None: no implicit BEGIN, so each statement commits on
        # its own unless the code opens a transaction itself.
        # check_same_thread=False: each connection is used by one thread at a
        # time, but not always the thread that opened it.
        conn = sqlite3.connect(
            self.path,
            timeout=_BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA synchronous={synchronous}")
        return conn

    def _check_started(self) -> None:
        if not self._started:
            raise StoreError(f"store {self.path} is not started: call start() first")
        if self._closed:
            raise StoreError(f"store {self.path} is closed")

    @contextlib.contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        self._check_started()
        with self._readers_lock:
            conn = self._idle_readers.pop() if self._idle_readers else None
        if conn is None:
            conn = self._connect(synchronous="NORMAL")
            conn.execute("PRAGMA query_only=ON")
        try:
            yield conn
        finally:
            with self._readers_lock:
                keep = not self._closed
                if keep:
                    self._idle_readers.append(conn)
            if not keep:
                conn.close()

    @contextlib.contextmanager
    def _maintenance(self) -> Iterator[sqlite3.Connection]:
        self._check_started()
        with self._maintenance_lock:
            if self._maintenance_conn is None:
                raise StoreError(f"store {self.path} is closed")
            yield self._maintenance_conn

    @contextlib.contextmanager
    def _registry(self) -> Iterator[sqlite3.Connection]:
        self._check_started()
        with self._registry_lock:
            if self._registry_conn is None:
                raise StoreError(f"store {self.path} is closed")
            yield self._registry_conn


class _SqliteSink:
    """The writer thread's connection: one transaction per batch."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def write(self, records: Sequence[InvocationRecord], logs: Sequence[LogEntry]) -> None:
        conn = self._conn
        try:
            # IMMEDIATE takes the write lock up front, so a busy database
            # fails here, before any row is inserted.
            conn.execute("BEGIN IMMEDIATE")
            if records:
                _insert_many(conn, _INSERT_RECORD, [_record_to_row(record) for record in records])
            if logs:
                _insert_many(
                    conn,
                    _INSERT_LOG,
                    [(entry.function, entry.request_id, entry.time, entry.text) for entry in logs],
                )
                added = sum(len(entry.text.encode("utf-8", errors="replace")) for entry in logs)
                conn.execute(_ADD_LOG_BYTES, (added,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            if _is_busy(exc):
                raise TransientWriteError(f"database is busy: {exc}") from exc
            raise
        except BaseException:
            _rollback(conn)
            raise

    def close(self) -> None:
        self._conn.close()


def _first_matches(
    cursor: sqlite3.Cursor, line_filter: LogFilter, limit: int
) -> list[tuple[int, str, str, float, str]]:
    """Read `cursor` until `limit` rows have a matching line, so a search stops early."""
    matches = []
    for row in cursor:
        if line_filter.entry_matches(row[4]):
            matches.append(row)
            if len(matches) >= limit:
                break
    return matches


def _delete_logs(conn: sqlite3.Connection, rows: Sequence[tuple[int, int]]) -> None:
    if not rows:
        return
    conn.executemany("DELETE FROM logs WHERE id = ?", [(row_id,) for row_id, _ in rows])
    conn.execute(_ADD_LOG_BYTES, (-sum(int(size) for _, size in rows),))


def _check_batch(max_rows: int) -> None:
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"max_rows: expected a positive integer, got {max_rows!r}")


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock before any read, so the sizes read
    # inside the transaction cannot change before the delete.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        _rollback(conn)
        raise
    conn.execute("COMMIT")


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _is_busy(exc: sqlite3.Error) -> bool:
    # The primary result code is the low byte of SQLite's extended code.
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return False
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _insert_many(conn: sqlite3.Connection, insert_one: str, rows: Sequence[tuple[object, ...]]) -> None:
    """Run `insert_one` for every row, as multi-row INSERT statements."""
    head, _, values = insert_one.partition(" VALUES ")
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        statement = f"{head} VALUES {', '.join([values] * len(chunk))}"
        conn.execute(statement, [value for row in chunk for value in row])


def _record_to_row(record: InvocationRecord) -> _RecordRow:
    return (
        record.request_id,
        record.function,
        record.version,
        record.trigger,
        record.started_at,
        record.duration_ms,
        record.billed_ms,
        record.memory_mb,
        record.max_memory_mb,
        record.init_ms,
        int(record.cold),
        record.outcome.value,
        record.error_type,
    )


def _record_from_row(row: tuple[object, ...]) -> InvocationRecord:
    (
        request_id,
        function,
        version,
        trigger,
        started_at,
        duration_ms,
        billed_ms,
        memory_mb,
        max_memory_mb,
        init_ms,
        cold,
        outcome,
        error_type,
    ) = row
    return InvocationRecord(
        request_id=str(request_id),
        function=str(function),
        version=str(version),
        trigger=str(trigger),
        started_at=float(started_at),  # type: ignore[arg-type]
        duration_ms=float(duration_ms),  # type: ignore[arg-type]
        billed_ms=int(billed_ms),  # type: ignore[call-overload]
        memory_mb=int(memory_mb),  # type: ignore[call-overload]
        max_memory_mb=int(max_memory_mb),  # type: ignore[call-overload]
        init_ms=None if init_ms is None else float(init_ms),  # type: ignore[arg-type]
        cold=bool(cold),
        outcome=Outcome(outcome),
        error_type=None if error_type is None else str(error_type),
    )


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current = row[0] or 0
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"store {path}: schema version {current} is newer than this Squall"
                f" supports ({SCHEMA_VERSION}); upgrade Squall or use another file"
            )
        for version in range(current, SCHEMA_VERSION):
            # executescript() would commit the open transaction, so run the
            # migration statement by statement instead.
            for statement in _split_statements(_MIGRATIONS[version]):
                conn.execute(statement)
            logger.info("store %s: schema upgraded to version %d", path, version + 1)
        if current != SCHEMA_VERSION:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _split_statements(script: str) -> list[str]:
    # sqlite3.complete_statement reports where a statement really ends, so a
    # semicolon inside a comment or a string does not split it.
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return [statement for statement in statements if not _is_only_comments(statement)]


def _is_only_comments(statement: str) -> bool:
    return all(
        not line.strip() or line.strip().startswith("--") for line in statement.splitlines()
    )
