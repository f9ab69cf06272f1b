"""Frames exchanged between the server and an instance over their socketpair.

A frame is a 9-byte header (kind, metadata length, body length; little-endian)
followed by the metadata, a small JSON object, and the body, raw bytes that
are never parsed by the side that only forwards them (payloads and results).
"""

from __future__ import annotations

import enum
import struct

HEADER = struct.Struct("<BII")
HEADER_SIZE = HEADER.size

# AWS limits a synchronous request and response to 6 MB (6,291,456 bytes);
# the response limit AWS reports in its error message is 6,291,556 bytes.
MAX_REQUEST_BYTES = 6 * 1024 * 1024
MAX_RESPONSE_BYTES = 6_291_556

# The most of one invocation's (or one init's) output that its log keeps.
MAX_LOG_BYTES = 256 * 1024

# Generous bound on one frame, so a broken instance cannot make the server
# buffer without end: the largest result plus room for its metadata.
MAX_FRAME_BYTES = MAX_RESPONSE_BYTES + 1024 * 1024


class Kind(enum.IntEnum):
    """The kind of content a frame carries."""

    # server -> instance: metadata {id, timeout_ms, arn, client_context?, cognito_identity?, traceparent?}, body = event.
    # cognito_identity is {cognito_identity_id, cognito_identity_pool_id}; the server sends none yet.
    INVOKE = 1
    READY = 2  # instance -> server: metadata {init_ms, max_rss_kb}
    INIT_ERROR = 3  # instance -> server: body = Lambda error JSON; the instance then exits
    RESULT = 4  # instance -> server: metadata {error_type?, fatal?, max_rss_kb}, body = result or error JSON


def encode(kind: Kind, meta: bytes, body: bytes = b"") -> bytes:
    """Return one frame as bytes."""
    return HEADER.pack(kind, len(meta), len(body)) + meta + body


def kept_output(data: bytes, size: int) -> bytes:
    """Return the part of `size` bytes of output that a log keeps, given its first bytes `data`.

    Output over MAX_LOG_BYTES is cut at a character boundary (when it is
    UTF-8) and ends with a note of how much was cut.
    """
    if size <= MAX_LOG_BYTES:
        return data
    data = data[:MAX_LOG_BYTES]
    # Step back over a UTF-8 sequence the cut left incomplete: at most 3 bytes.
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte, so the last character starts further back
        if _utf8_length(byte) > back:
            data = data[:-back]
        break
    return data + f"\n[squall: output cut at {len(data)} of {size} bytes]\n".encode()


def _utf8_length(lead: int) -> int:
    """Return the length of the UTF-8 sequence that starts with the byte `lead`."""
    if lead >= 0xF0:
        return 4
    if lead >= 0xE0:
        return 3
    if lead >= 0xC0:
        return 2
    return 1
