"""Frames exchanged between the server and an instance over their socketpair.

A frame is a 9-byte header (kind, metadata length, body length; little-endian)
followed by the metadata, a small JSON object, and the body, raw bytes that
are never parsed by the side that only forwards them (payloads and results).
"""

from __future__ import annotations

import enum
import os
import struct
import time

HEADER = struct.Struct("<BII")
HEADER_SIZE = HEADER.size

# AWS limits a synchronous request and response to 6 MB (6,291,456 bytes);
# the response limit AWS reports in its error message is 6,291,556 bytes.
MAX_REQUEST_BYTES = 6 * 1024 * 1024
MAX_RESPONSE_BYTES = 6_291_556

# The most of one invocation's (or one init's) output that its log keeps.
MAX_LOG_BYTES = 256 * 1024
# Of those, the bytes kept from the end of longer output.
KEPT_TAIL_BYTES = 32 * 1024

# Generous bound on one frame, so a broken instance cannot make the server
# buffer without end: the largest result plus room for its metadata.
MAX_FRAME_BYTES = MAX_RESPONSE_BYTES + 1024 * 1024


class Kind(enum.IntEnum):
    """The kind of content a frame carries."""

    # server -> instance: metadata {id, timeout_ms, arn, client_context?, cognito_identity?, traceparent?, trace_header?}, body = event.
    # cognito_identity is {cognito_identity_id, cognito_identity_pool_id}; the server sends none yet.
    INVOKE = 1
    READY = 2  # instance -> server: metadata {init_ms, max_rss_kb}
    INIT_ERROR = 3  # instance -> server: body = Lambda error JSON; the instance then exits
    RESULT = 4  # instance -> server: metadata {error_type?, fatal?, max_rss_kb}, body = result or error JSON


def encode(kind: Kind, meta: bytes, body: bytes = b"") -> bytes:
    """Return one frame as bytes."""
    return HEADER.pack(kind, len(meta), len(body)) + meta + body


def read_kept_output(fd: int, size: int) -> bytes:
    """Read the part of a log file's first `size` bytes that a log keeps.

    Output up to MAX_LOG_BYTES is kept whole. Longer output keeps its start
    and its last KEPT_TAIL_BYTES, where a failing handler's error usually is,
    around a note of how much was cut. Both cuts fall on character
    boundaries when the output is UTF-8.
    """
    if size <= MAX_LOG_BYTES:
        return os.pread(fd, size, 0)
    head = _without_cut_character_at_end(os.pread(fd, MAX_LOG_BYTES - KEPT_TAIL_BYTES, 0))
    tail = _without_cut_character_at_start(os.pread(fd, KEPT_TAIL_BYTES, size - KEPT_TAIL_BYTES))
    # The end resumes at a line's start when one begins soon after the cut.
    newline = tail.find(b"\n", 0, 1024)
    if newline >= 0:
        tail = tail[newline + 1 :]
    cut = size - len(head) - len(tail)
    return head + f"\n[squall: {cut} of {size} bytes of output cut here]\n".encode() + tail


def _without_cut_character_at_end(data: bytes) -> bytes:
    """Drop a UTF-8 sequence that the end of `data` leaves incomplete: at most 3 bytes."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte, so the last character starts further back
        if _utf8_length(byte) > back:
            return data[:-back]
        break
    return data


def _without_cut_character_at_start(data: bytes) -> bytes:
    """Drop the continuation bytes of a character that began before `data`: at most 3."""
    start = 0
    while start < min(3, len(data)) and data[start] & 0xC0 == 0x80:
        start += 1
    return data[start:]


def _utf8_length(lead: int) -> int:
    """Return the length of the UTF-8 sequence that starts with the byte `lead`."""
    if lead >= 0xF0:
        return 4
    if lead >= 0xE0:
        return 3
    if lead >= 0xC0:
        return 2
    return 1


def utc_stamp(moment: float) -> str:
    """Format a Unix time as Lambda's log lines do: 2026-12-05T06:47:16.123Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment * 1000) % 1000:03d}Z"
