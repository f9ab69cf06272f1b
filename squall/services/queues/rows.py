"""The SQLite schema of the queue store and the conversion of its rows."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Mapping

from squall.services.queues.model import TRACE_HEADER_ATTRIBUTE, MessageAttribute, ReceivedMessage

SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_sequence INTEGER NOT NULL DEFAULT 0
);

-- seq orders messages: FIFO order within a group, and send order otherwise.
-- receipt_nonce is NULL until the first receive, and changes on each receive.
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT,
    md5_of_body TEXT NOT NULL,
    md5_of_attributes TEXT,
    group_id TEXT,
    dedup_id TEXT,
    sequence_number TEXT,
    sender_id TEXT NOT NULL,
    sent_at REAL NOT NULL,
    enqueued_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_received_at REAL,
    received_at REAL,
    receipt_nonce TEXT,
    dead_letter_source TEXT,
    trace_header TEXT
);
CREATE INDEX IF NOT EXISTS messages_queue_visible ON messages (queue, visible_at);
CREATE INDEX IF NOT EXISTS messages_queue_group ON messages (queue, group_id, seq);
CREATE INDEX IF NOT EXISTS messages_queue_message ON messages (queue, message_id);
CREATE INDEX IF NOT EXISTS messages_queue_enqueued ON messages (queue, enqueued_at);

-- FIFO deduplication ids seen in the last five minutes, kept after the
-- message itself is deleted.
CREATE TABLE IF NOT EXISTS deduplication (
    queue TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence_number TEXT,
    expires_at REAL NOT NULL,
    PRIMARY KEY (queue, dedup_id)
);
"""

MESSAGE_COLUMNS = (
    "seq, message_id, body, attributes, md5_of_body, md5_of_attributes, group_id, dedup_id,"
    " sequence_number, sender_id, sent_at, enqueued_at, visible_at, receive_count,"
    " first_received_at, received_at, receipt_nonce, dead_letter_source, trace_header"
)


def add_missing_columns(conn: sqlite3.Connection) -> None:
    """Add the columns that a store made by an older Squall lacks."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
    if "trace_header" not in columns:
        conn.execute("ALTER TABLE messages ADD COLUMN trace_header TEXT")


def encode_attributes(attributes: Mapping[str, MessageAttribute] | None) -> str | None:
    """Return message attributes as JSON text, binary values in base64; None when empty."""
    if not attributes:
        return None
    encoded: dict[str, dict[str, str]] = {}
    for name, attribute in attributes.items():
        if attribute.binary_value is not None:
            value = base64.b64encode(bytes(attribute.binary_value)).decode("ascii")
            encoded[name] = {"type": attribute.data_type, "binary": value}
        else:
            encoded[name] = {"type": attribute.data_type, "string": attribute.string_value or ""}
    return json.dumps(encoded)


def decode_attributes(text: str | None) -> dict[str, MessageAttribute]:
    """Return the message attributes that `encode_attributes` stored."""
    if text is None:
        return {}
    decoded: dict[str, MessageAttribute] = {}
    for name, value in json.loads(text).items():
        if "binary" in value:
            decoded[name] = MessageAttribute(
                data_type=value["type"], binary_value=base64.b64decode(value["binary"])
            )
        else:
            decoded[name] = MessageAttribute(data_type=value["type"], string_value=value["string"])
    return decoded


def received_message(row: sqlite3.Row, receipt_handle: str) -> ReceivedMessage:
    """Return a message row, just updated by a receive, as the receive returns it."""
    attributes: dict[str, str] = {}
    if row["dead_letter_source"] is not None:
        attributes["DeadLetterQueueSourceArn"] = row["dead_letter_source"]
    attributes["ApproximateReceiveCount"] = str(row["receive_count"])
    attributes["SentTimestamp"] = str(_epoch_ms(row["sent_at"]))
    attributes["SenderId"] = row["sender_id"]
    attributes["ApproximateFirstReceiveTimestamp"] = str(_epoch_ms(row["first_received_at"]))
    if row["sequence_number"] is not None:
        attributes["SequenceNumber"] = row["sequence_number"]
    if row["group_id"] is not None:
        attributes["MessageGroupId"] = row["group_id"]
    if row["dedup_id"] is not None:
        attributes["MessageDeduplicationId"] = row["dedup_id"]
    if row["trace_header"] is not None:
        attributes[TRACE_HEADER_ATTRIBUTE] = row["trace_header"]
    return ReceivedMessage(
        message_id=row["message_id"],
        receipt_handle=receipt_handle,
        body=row["body"],
        md5_of_body=row["md5_of_body"],
        md5_of_message_attributes=row["md5_of_attributes"],
        message_attributes=decode_attributes(row["attributes"]),
        attributes=attributes,
    )


def _epoch_ms(seconds: float) -> int:
    return int(seconds * 1000)
