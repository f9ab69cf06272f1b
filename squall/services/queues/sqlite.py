"""The embedded queue store: one SQLite file in WAL mode.

One connection behind a lock serves every thread. Each public method runs in
one `BEGIN IMMEDIATE` transaction and commits before it returns. With
`synchronous=NORMAL` a commit survives a crash of the process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from squall.services.errors import InvalidParameter, ServiceError, StorageFull
from squall.services.queues import receipts
from squall.services.queues.errors import (
    BatchRequestTooLong,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
)
from squall.services.queues.messages import check_batch_ids, check_range, validate_queue_name
from squall.services.queues.model import (
    DEFAULT_MAX_MESSAGE_BYTES,
    MAX_MESSAGES_PER_RECEIVE,
    MAX_VISIBILITY_TIMEOUT_S,
    BatchEntry,
    BatchEntryFailure,
    DeadLetterPolicy,
    DeleteBatchResult,
    DeleteEntry,
    MessageAttribute,
    Queue,
    QueueSettings,
    QueueStats,
    ReceivedMessage,
    SendBatchResult,
    SentMessage,
)
from squall.services.queues.outgoing import Outgoing, prepare_message
from squall.services.queues.rows import SCHEMA, add_missing_columns
from squall.services.queues.sqlite_messages import Delivery, enqueue, expire

logger = logging.getLogger(__name__)

_BUSY_TIMEOUT_S = 5.0


class SqliteQueues:
    """The `Queues` store in one SQLite file.

    `clock` returns epoch seconds, and tests pass a fake one to move time.
    `region` and `account_id` form the queues' ARNs, and the account id is
    each message's SenderId. `max_size_bytes` caps the file: a write past it
    raises StorageFull exactly as a full disk does.
    """

    def __init__(
        self,
        path: Path,
        clock: Callable[[], float] = time.time,
        *,
        region: str = "us-east-1",
        account_id: str = "000000000000",
        max_size_bytes: int | None = None,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._region = region
        self._account_id = account_id
        self._lock = threading.Lock()
        self._closed = False
        # Warn once per source queue whose dead-letter queue is gone, not per message.
        self._missing_dead_letter_warned: set[str] = set()

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            str(self.path),
            check_same_thread=False,
            isolation_level=None,
            timeout=_BUSY_TIMEOUT_S,
        )
        self._conn.row_factory = sqlite3.Row
        try:
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise ServiceError(
                    f"queue store {self.path}: journal_mode is {mode!r} after asking for 'wal';"
                    " put the file on a local file system"
                )
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(SCHEMA)
            add_missing_columns(self._conn)
            if max_size_bytes is not None:
                page_size = self._conn.execute("PRAGMA page_size").fetchone()[0]
                self._conn.execute(f"PRAGMA max_page_count={max(1, max_size_bytes // page_size)}")
        except BaseException:
            self._conn.close()
            raise

    # -- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        """Close the connection. Closing twice does nothing, and any other later call raises."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    # -- queues ----------------------------------------------------------------

    def create_queue(self, name: str, settings: QueueSettings | None = None) -> Queue:
        """Create a queue, or return it when it exists with the same settings.

        Raises QueueNameExists when it exists with other settings, and
        InvalidParameter for a bad name or a dead-letter target that is
        missing, the queue itself, or of the other queue type.
        """
        validate_queue_name(name)
        settings = QueueSettings() if settings is None else settings
        if not isinstance(settings, QueueSettings):
            raise InvalidParameter(
                f"queue {name!r}: settings: expected QueueSettings, got {settings!r}"
            )
        fifo = _is_fifo(name)
        if settings.content_based_deduplication and not fifo:
            raise InvalidParameter(
                f"queue {name!r}: content_based_deduplication is valid only for FIFO queues,"
                " whose name ends in '.fifo'"
            )

        with self._write() as conn:
            existing = self._find_queue(conn, name)
            if existing is not None:
                if existing.settings == settings:
                    return existing
                raise QueueNameExists(
                    f"queue {name!r} already exists with other settings ({describe_settings(existing.settings)});"
                    f" requested: {describe_settings(settings)}; delete it first (`squall queue delete {name}`)"
                    " or use the same settings"
                )
            if settings.dead_letter is not None:
                self._check_dead_letter_target(conn, name, settings.dead_letter)
            now = self._clock()
            conn.execute(
                "INSERT INTO queues (name, settings, created_at) VALUES (?, ?, ?)",
                (name, json.dumps(dataclasses.asdict(settings)), now),
            )
        logger.info("created queue %s", name)
        return Queue(name=name, arn=self._arn(name), settings=settings, created_at=now)

    def update_queue(self, name: str, settings: QueueSettings) -> Queue:
        """Change an existing queue's settings, as SQS's SetQueueAttributes does.

        Messages already sent keep their place; new settings apply from the
        next send or receive. Raises QueueDoesNotExist, and InvalidParameter
        as create_queue does for the same settings.
        """
        if not isinstance(settings, QueueSettings):
            raise InvalidParameter(f"queue {name!r}: settings: expected QueueSettings, got {settings!r}")
        if settings.content_based_deduplication and not _is_fifo(name):
            raise InvalidParameter(
                f"queue {name!r}: content_based_deduplication is valid only for FIFO queues,"
                " whose name ends in '.fifo'"
            )
        with self._write() as conn:
            existing = self._queue(conn, name)
            if settings.dead_letter is not None:
                self._check_dead_letter_target(conn, name, settings.dead_letter)
            conn.execute(
                "UPDATE queues SET settings = ? WHERE name = ?",
                (json.dumps(dataclasses.asdict(settings)), name),
            )
        logger.info("changed the settings of queue %s", name)
        return dataclasses.replace(existing, settings=settings)

    def get_queue(self, name: str) -> Queue:
        """Return the queue `name`, or raise QueueDoesNotExist."""
        with self._read() as conn:
            return self._queue(conn, name)

    def list_queues(self, prefix: str = "") -> list[Queue]:
        """Return the queues whose name starts with `prefix`, ordered by name."""
        if not isinstance(prefix, str):
            raise InvalidParameter(f"queue name prefix: expected a string, got {prefix!r}")
        with self._read() as conn:
            rows = conn.execute(
                "SELECT name, settings, created_at FROM queues"
                " WHERE substr(name, 1, ?) = ? ORDER BY name",
                (len(prefix), prefix),
            ).fetchall()
        return [self._queue_from_row(row) for row in rows]

    def delete_queue(self, name: str) -> None:
        """Delete a queue, its messages and its deduplication history."""
        with self._write() as conn:
            self._queue(conn, name)
            conn.execute("DELETE FROM messages WHERE queue = ?", (name,))
            conn.execute("DELETE FROM deduplication WHERE queue = ?", (name,))
            conn.execute("DELETE FROM queues WHERE name = ?", (name,))
        logger.info("deleted queue %s", name)

    def purge(self, name: str) -> None:
        """Delete every message of a queue, in flight or not.

        FIFO deduplication history stays, as in SQS, so a resend within five
        minutes of the first send is still dropped.
        """
        with self._write() as conn:
            self._queue(conn, name)
            purged = conn.execute("DELETE FROM messages WHERE queue = ?", (name,)).rowcount
        logger.info("purged queue %s: %d messages deleted", name, purged)

    # -- sending ---------------------------------------------------------------

    def send(
        self,
        queue: str,
        body: str,
        delay_s: int | None = None,
        attributes: Mapping[str, MessageAttribute] | None = None,
        group_id: str | None = None,
        dedup_id: str | None = None,
        *,
        trace_header: str | None = None,
    ) -> SentMessage:
        """Enqueue one message and return its id and MD5 digests.

        `trace_header`, an X-Ray trace header, becomes the message's
        AWSTraceHeader system attribute.
        Raises LimitExceeded when the body and attributes are over the
        queue's max_message_bytes, InvalidParameter (or a subclass) for an
        invalid body, attribute, delay or id, and MissingParameter for a
        FIFO send without a group id.
        """
        with self._write() as conn:
            target = self._queue(conn, queue)
            outgoing = prepare_message(target, body, delay_s, attributes, group_id, dedup_id, trace_header)
            return enqueue(conn, target, outgoing, self._clock(), self._account_id)

    def send_batch(
        self, queue: str, entries: Sequence[BatchEntry], *, trace_header: str | None = None
    ) -> SendBatchResult:
        """Enqueue up to 10 messages, where an invalid entry fails alone, as in SQS.

        `trace_header` becomes the AWSTraceHeader system attribute of each message.

        The whole request is rejected when it is empty, has more than 10
        entries, or repeats or misuses an entry id. It is also rejected when
        its valid messages add up to more than the batch limit. That limit is
        the queue's max_message_bytes, but at least 256 KiB, so that a small
        message limit does not shrink the batch.
        """
        check_batch_ids([entry.id for entry in entries])
        successful: dict[str, SentMessage] = {}
        failed: dict[str, BatchEntryFailure] = {}

        with self._write() as conn:
            target = self._queue(conn, queue)
            prepared: list[tuple[str, Outgoing]] = []
            for entry in entries:
                try:
                    prepared.append(
                        (
                            entry.id,
                            prepare_message(
                                target,
                                entry.body,
                                entry.delay_s,
                                entry.attributes,
                                entry.group_id,
                                entry.dedup_id,
                                trace_header,
                            ),
                        )
                    )
                except ServiceError as error:
                    failed[entry.id] = BatchEntryFailure(code=error.code, message=error.message)

            limit = max(target.settings.max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES)
            total = sum(outgoing.size for _, outgoing in prepared)
            if total > limit:
                raise BatchRequestTooLong(
                    f"batch for queue {queue!r} is {total} bytes (bodies and message attributes),"
                    f" but the limit is {limit} bytes: split it into smaller batches"
                )

            now = self._clock()
            for entry_id, outgoing in prepared:
                successful[entry_id] = enqueue(conn, target, outgoing, now, self._account_id)
        return SendBatchResult(successful=successful, failed=failed)

    # -- receiving ---------------------------------------------------------------

    def receive(
        self, queue: str, max_messages: int = 1, visibility_timeout_s: int | None = None
    ) -> list[ReceivedMessage]:
        """Return up to `max_messages` (1 to 10) visible messages and hide them.

        Each returned message stays invisible for `visibility_timeout_s`
        (default: the queue's setting) and gets a new receipt handle. A
        message whose receive count would pass its dead-letter policy's
        max_receive_count is moved to the dead-letter queue instead. In a
        FIFO queue, messages of one group come in order, and a group with a
        message in flight delivers nothing until that message is deleted or
        visible again.
        """
        check_range("max_messages", max_messages, 1, MAX_MESSAGES_PER_RECEIVE)
        if visibility_timeout_s is not None:
            check_range("visibility_timeout_s", visibility_timeout_s, 0, MAX_VISIBILITY_TIMEOUT_S)

        with self._write() as conn:
            source = self._queue(conn, queue)
            now = self._clock()
            expire(conn, source, now)
            timeout_s = (
                source.settings.visibility_timeout_s
                if visibility_timeout_s is None
                else visibility_timeout_s
            )
            dead_letter = self._dead_letter_queue(conn, source)
            deliver = Delivery(conn, source, dead_letter, now, timeout_s, max_messages)
            if source.fifo:
                deliver.from_groups()
            else:
                deliver.in_visibility_order()
            return deliver.received

    # -- deleting and visibility ----------------------------------------------------

    def delete(self, queue: str, receipt_handle: str) -> None:
        """Delete the message the receipt handle was issued for.

        As in SQS, a handle from an earlier receive of the message, or of a
        message already deleted, succeeds without deleting anything. A
        malformed handle or one from another queue raises
        ReceiptHandleIsInvalid.
        """
        message_id, nonce = receipts.parse(queue, receipt_handle)
        with self._write() as conn:
            self._queue(conn, queue)
            self._delete_message(conn, queue, message_id, nonce)

    def delete_batch(self, queue: str, entries: Sequence[DeleteEntry]) -> DeleteBatchResult:
        """Delete up to 10 messages by receipt handle, where a bad handle fails its entry alone."""
        check_batch_ids([entry.id for entry in entries])
        successful: list[str] = []
        failed: dict[str, BatchEntryFailure] = {}
        with self._write() as conn:
            self._queue(conn, queue)
            for entry in entries:
                try:
                    message_id, nonce = receipts.parse(queue, entry.receipt_handle)
                except ReceiptHandleIsInvalid as error:
                    failed[entry.id] = BatchEntryFailure(code=error.code, message=error.message)
                    continue
                self._delete_message(conn, queue, message_id, nonce)
                successful.append(entry.id)
        return DeleteBatchResult(successful=tuple(successful), failed=failed)

    def change_visibility(self, queue: str, receipt_handle: str, timeout_s: int) -> None:
        """Make a received message visible `timeout_s` seconds (0 to 43200) from now.

        Raises ReceiptHandleIsInvalid when the handle is malformed, from
        another queue, or not from the message's latest receive, and
        InvalidParameter when the new timeout would end more than 12 hours
        after that receive.
        """
        check_range("timeout_s", timeout_s, 0, MAX_VISIBILITY_TIMEOUT_S)
        message_id, nonce = receipts.parse(queue, receipt_handle)
        with self._write() as conn:
            self._queue(conn, queue)
            row = conn.execute(
                "SELECT seq, received_at FROM messages"
                " WHERE queue = ? AND message_id = ? AND receipt_nonce = ?",
                (queue, message_id, nonce),
            ).fetchone()
            if row is None:
                raise ReceiptHandleIsInvalid(
                    f"receipt handle {receipt_handle!r} of queue {queue!r} is not current: the"
                    " message was deleted, moved or received again, so use the latest handle"
                )
            now = self._clock()
            deadline = row["received_at"] + MAX_VISIBILITY_TIMEOUT_S
            if now + timeout_s > deadline:
                raise InvalidParameter(
                    f"visibility timeout {timeout_s} s for message {message_id} of queue"
                    f" {queue!r} is invalid: a message may stay invisible at most"
                    f" {MAX_VISIBILITY_TIMEOUT_S} s after its receive, so at most"
                    f" {max(0, int(deadline - now))} s remain"
                )
            conn.execute(
                "UPDATE messages SET visible_at = ? WHERE seq = ?", (now + timeout_s, row["seq"])
            )

    def _delete_message(
        self, conn: sqlite3.Connection, queue: str, message_id: str, nonce: str
    ) -> None:
        deleted = conn.execute(
            "DELETE FROM messages WHERE queue = ? AND message_id = ? AND receipt_nonce = ?",
            (queue, message_id, nonce),
        ).rowcount
        if not deleted:
            logger.debug("queue %s: receipt handle of message %s is stale", queue, message_id)

    # -- metrics -------------------------------------------------------------------

    def stats(self, queue: str) -> QueueStats:
        """Return the queue's visible, in-flight and delayed counts and its oldest message's age."""
        with self._read() as conn:
            source = self._queue(conn, queue)
            now = self._clock()
            row = conn.execute(
                "SELECT"
                " COALESCE(SUM(visible_at <= :now), 0) AS visible,"
                " COALESCE(SUM(visible_at > :now AND receipt_nonce IS NOT NULL), 0)"
                "   AS in_flight,"
                " COALESCE(SUM(visible_at > :now AND receipt_nonce IS NULL), 0) AS delayed,"
                " MIN(enqueued_at) AS oldest"
                " FROM messages WHERE queue = :queue AND enqueued_at > :cutoff",
                {"now": now, "queue": queue, "cutoff": now - source.settings.retention_s},
            ).fetchone()
        oldest = row["oldest"]
        return QueueStats(
            visible=row["visible"],
            in_flight=row["in_flight"],
            delayed=row["delayed"],
            oldest_age_s=None if oldest is None else max(0.0, now - oldest),
        )

    def next_visible_at(self, queue: str) -> float | None:
        """Return when the next message becomes receivable (epoch seconds), or None if none.

        The time may be in the past, when a message is receivable now. In a
        FIFO queue only the first message of each group counts, because the
        ones behind it wait for it.
        """
        with self._read() as conn:
            source = self._queue(conn, queue)
            cutoff = self._clock() - source.settings.retention_s
            if source.fifo:
                sql = (
                    "SELECT MIN(visible_at) FROM messages WHERE seq IN"
                    " (SELECT MIN(seq) FROM messages WHERE queue = ? AND enqueued_at > ?"
                    "  GROUP BY group_id)"
                )
            else:
                sql = "SELECT MIN(visible_at) FROM messages WHERE queue = ? AND enqueued_at > ?"
            value = conn.execute(sql, (queue, cutoff)).fetchone()[0]
        return None if value is None else float(value)

    # -- internals -------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._check_open()
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as error:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                if _is_disk_full(error):
                    raise StorageFull(
                        f"queue store {self.path}: the disk is full, so nothing was written:"
                        " free some space and retry"
                    ) from error
                raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._check_open()
            yield self._conn

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"queue store {self.path} is closed")

    def _arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self._region}:{self._account_id}:{name}"

    def _find_queue(self, conn: sqlite3.Connection, name: str) -> Queue | None:
        row = conn.execute(
            "SELECT name, settings, created_at FROM queues WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else self._queue_from_row(row)

    def _queue(self, conn: sqlite3.Connection, name: str) -> Queue:
        validate_queue_name(name)
        queue = self._find_queue(conn, name)
        if queue is None:
            raise QueueDoesNotExist(name)
        return queue

    def _queue_from_row(self, row: sqlite3.Row) -> Queue:
        stored = json.loads(row["settings"])
        dead_letter = stored.pop("dead_letter")
        settings = QueueSettings(
            **stored,
            dead_letter=None if dead_letter is None else DeadLetterPolicy(**dead_letter),
        )
        return Queue(
            name=row["name"],
            arn=self._arn(row["name"]),
            settings=settings,
            created_at=row["created_at"],
        )

    def _check_dead_letter_target(
        self, conn: sqlite3.Connection, name: str, policy: DeadLetterPolicy
    ) -> None:
        target = policy.target
        validate_queue_name(target)
        if target == name:
            raise InvalidParameter(
                f"queue {name!r}: its dead-letter queue is the queue itself: name another queue"
            )
        if self._find_queue(conn, target) is None:
            raise InvalidParameter(
                f"queue {name!r}: dead-letter queue {target!r} does not exist: create it first"
            )
        if _is_fifo(target) != _is_fifo(name):
            kind = "FIFO" if _is_fifo(name) else "standard"
            raise InvalidParameter(
                f"queue {name!r}: dead-letter queue {target!r} must be a {kind} queue"
                " like the queue itself"
            )

    def _dead_letter_queue(self, conn: sqlite3.Connection, source: Queue) -> Queue | None:
        policy = source.settings.dead_letter
        if policy is None:
            return None
        target = self._find_queue(conn, policy.target)
        if target is None and source.name not in self._missing_dead_letter_warned:
            self._missing_dead_letter_warned.add(source.name)
            logger.warning(
                "queue %s: dead-letter queue %s no longer exists, so messages stay in the queue"
                " past max_receive_count %d",
                source.name,
                policy.target,
                policy.max_receive_count,
            )
        return target

def _is_fifo(name: str) -> bool:
    return name.endswith(".fifo")


def _is_disk_full(error: BaseException) -> bool:
    if isinstance(error, sqlite3.OperationalError):
        code = getattr(error, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "database or disk is full" in str(error)
    if isinstance(error, OSError):
        return error.errno == errno.ENOSPC
    return False


def describe_settings(settings: QueueSettings) -> str:
    """Describe queue settings in words, for messages: "visibility timeout 30 s, retention 345600 s, ..."."""
    parts = [
        f"visibility timeout {settings.visibility_timeout_s} s",
        f"retention {settings.retention_s} s",
        f"delay {settings.delay_s} s",
        f"max message {settings.max_message_bytes} bytes",
        f"receive wait {settings.receive_wait_s} s",
    ]
    if settings.dead_letter is not None:
        policy = settings.dead_letter
        parts.append(f"dead-letter queue {policy.target!r} after {policy.max_receive_count} receives")
    if settings.content_based_deduplication:
        parts.append("content-based deduplication")
    return ", ".join(parts)
