"""The message-level SQL of the SQLite queue store: enqueue, deliver, redrive, expire.

Every function runs inside the caller's open transaction.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid

from squall.services.queues import receipts
from squall.services.queues.model import (
    DEDUPLICATION_INTERVAL_S,
    Queue,
    ReceivedMessage,
    SentMessage,
)
from squall.services.queues.outgoing import Outgoing
from squall.services.queues.rows import MESSAGE_COLUMNS, received_message

logger = logging.getLogger(__name__)


def enqueue(
    conn: sqlite3.Connection, queue: Queue, outgoing: Outgoing, now: float, sender_id: str
) -> SentMessage:
    """Insert a validated message, or return the first send of a FIFO duplicate."""
    if queue.fifo:
        conn.execute(
            "DELETE FROM deduplication WHERE queue = ? AND expires_at <= ?", (queue.name, now)
        )
        duplicate = conn.execute(
            "SELECT message_id, sequence_number FROM deduplication"
            " WHERE queue = ? AND dedup_id = ?",
            (queue.name, outgoing.dedup_id),
        ).fetchone()
        if duplicate is not None:
            # The digests describe this request, because clients such as
            # boto3 check them against what they sent.
            return SentMessage(
                message_id=duplicate["message_id"],
                md5_of_body=outgoing.md5_of_body,
                md5_of_message_attributes=outgoing.md5_of_attributes,
                sequence_number=duplicate["sequence_number"],
            )

    message_id = str(uuid.uuid4())
    sequence_number = next_sequence_number(conn, queue.name) if queue.fifo else None
    delay_s = queue.settings.delay_s if outgoing.delay_s is None else outgoing.delay_s
    conn.execute(
        "INSERT INTO messages (queue, message_id, body, attributes, md5_of_body,"
        " md5_of_attributes, group_id, dedup_id, sequence_number, sender_id, sent_at,"
        " enqueued_at, visible_at, trace_header) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            queue.name,
            message_id,
            outgoing.body,
            outgoing.attributes_json,
            outgoing.md5_of_body,
            outgoing.md5_of_attributes,
            outgoing.group_id,
            outgoing.dedup_id,
            sequence_number,
            sender_id,
            now,
            now,
            now + delay_s,
            outgoing.trace_header,
        ),
    )
    if queue.fifo:
        conn.execute(
            "INSERT INTO deduplication (queue, dedup_id, message_id, sequence_number,"
            " expires_at) VALUES (?, ?, ?, ?, ?)",
            (
                queue.name,
                outgoing.dedup_id,
                message_id,
                sequence_number,
                now + DEDUPLICATION_INTERVAL_S,
            ),
        )
    return SentMessage(
        message_id=message_id,
        md5_of_body=outgoing.md5_of_body,
        md5_of_message_attributes=outgoing.md5_of_attributes,
        sequence_number=sequence_number,
    )


def expire(conn: sqlite3.Connection, queue: Queue, now: float) -> None:
    """Delete the queue's messages that are older than its retention period."""
    expired = conn.execute(
        "DELETE FROM messages WHERE queue = ? AND enqueued_at <= ?",
        (queue.name, now - queue.settings.retention_s),
    ).rowcount
    if expired:
        logger.info(
            "queue %s: %d messages expired after the retention of %d s",
            queue.name,
            expired,
            queue.settings.retention_s,
        )


def next_sequence_number(conn: sqlite3.Connection, name: str) -> str:
    """Return the next FIFO sequence number of the queue `name`."""
    value = conn.execute(
        "UPDATE queues SET last_sequence = last_sequence + 1 WHERE name = ?"
        " RETURNING last_sequence",
        (name,),
    ).fetchone()[0]
    # Zero-padded to SQS's 20 digits, so that text order is numeric order.
    return f"{value:020d}"


class Delivery:
    """One receive call's walk over the candidate messages of a queue.

    A candidate whose receive count would pass the dead-letter policy's
    max_receive_count moves to `dead_letter` instead of being delivered.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        source: Queue,
        dead_letter: Queue | None,
        now: float,
        timeout_s: int,
        max_messages: int,
    ) -> None:
        self.conn = conn
        self.source = source
        self.dead_letter = dead_letter
        self.now = now
        self.timeout_s = timeout_s
        self.max_messages = max_messages
        self.received: list[ReceivedMessage] = []

    def in_visibility_order(self) -> None:
        """Deliver visible messages, the longest-visible first."""
        # With a zero visibility timeout a delivered message stays visible,
        # so `seen` keeps the next query from returning it again.
        seen: set[int] = set()
        while len(self.received) < self.max_messages:
            rows = self.conn.execute(
                "SELECT seq, receive_count FROM messages WHERE queue = ? AND visible_at <= ?"
                " ORDER BY visible_at, seq LIMIT ?",
                (self.source.name, self.now, self.max_messages + len(seen)),
            ).fetchall()
            fresh = [row for row in rows if row["seq"] not in seen]
            if not fresh:
                return
            for row in fresh:
                seen.add(row["seq"])
                self._take(row["seq"], row["receive_count"])
                if len(self.received) >= self.max_messages:
                    return

    def from_groups(self) -> None:
        """Deliver each group's messages in order, skipping groups whose first message is hidden."""
        heads = self.conn.execute(
            "SELECT group_id, MIN(seq) AS head FROM messages WHERE queue = ?"
            " GROUP BY group_id ORDER BY head",
            (self.source.name,),
        ).fetchall()
        for head in heads:
            if len(self.received) >= self.max_messages:
                return
            self._from_group(head["group_id"])

    def _from_group(self, group_id: str) -> None:
        after_seq = -1
        while len(self.received) < self.max_messages:
            rows = self.conn.execute(
                "SELECT seq, visible_at, receive_count FROM messages"
                " WHERE queue = ? AND group_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (self.source.name, group_id, after_seq, self.max_messages),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                # A hidden message (in flight or delayed) blocks the rest of its group.
                if row["visible_at"] > self.now:
                    return
                after_seq = row["seq"]
                self._take(row["seq"], row["receive_count"])
                if len(self.received) >= self.max_messages:
                    return

    def _take(self, seq: int, receive_count: int) -> None:
        policy = self.source.settings.dead_letter
        if (
            policy is not None
            and self.dead_letter is not None
            and receive_count + 1 > policy.max_receive_count
        ):
            _move_to_dead_letter(self.conn, self.source, self.dead_letter, seq, self.now)
            return
        self.received.append(_deliver(self.conn, self.source, seq, self.now, self.timeout_s))


def _deliver(
    conn: sqlite3.Connection, queue: Queue, seq: int, now: float, timeout_s: int
) -> ReceivedMessage:
    nonce = receipts.new_nonce()
    conn.execute(
        "UPDATE messages SET receive_count = receive_count + 1, visible_at = ?,"
        " first_received_at = COALESCE(first_received_at, ?), received_at = ?,"
        " receipt_nonce = ? WHERE seq = ?",
        (now + timeout_s, now, now, nonce, seq),
    )
    row = conn.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE seq = ?", (seq,)).fetchone()
    return received_message(row, receipts.make(queue.name, row["message_id"], nonce))


def _move_to_dead_letter(
    conn: sqlite3.Connection, source: Queue, target: Queue, seq: int, now: float
) -> None:
    message = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE seq = ?", (seq,)
    ).fetchone()
    conn.execute("DELETE FROM messages WHERE seq = ?", (seq,))
    sequence_number = next_sequence_number(conn, target.name) if target.fifo else None
    # A standard queue keeps the original enqueue time for retention, but a FIFO
    # dead-letter queue restarts it, as SQS documents. The receive count
    # carries over, as in the events Lambda delivers from a dead-letter queue.
    enqueued_at = now if target.fifo else message["enqueued_at"]
    conn.execute(
        "INSERT INTO messages (queue, message_id, body, attributes, md5_of_body,"
        " md5_of_attributes, group_id, dedup_id, sequence_number, sender_id, sent_at,"
        " enqueued_at, visible_at, receive_count, first_received_at, dead_letter_source,"
        " trace_header) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            target.name,
            message["message_id"],
            message["body"],
            message["attributes"],
            message["md5_of_body"],
            message["md5_of_attributes"],
            message["group_id"],
            message["dedup_id"],
            sequence_number,
            message["sender_id"],
            message["sent_at"],
            enqueued_at,
            now,
            message["receive_count"],
            message["first_received_at"],
            source.arn,
            message["trace_header"],
        ),
    )
    logger.info(
        "moved message %s from queue %s to dead-letter queue %s after %d receives",
        message["message_id"],
        source.name,
        target.name,
        message["receive_count"],
    )
