"""Shard ids, hash key ranges and sequence numbers, computed as Kinesis does.

Kinesis maps every record to a 128-bit hash key, either the MD5 digest of its
partition key read as a big-endian integer or an explicit hash key, and each
shard owns one contiguous range of that key space. A stream created with N
shards splits the space evenly: shard i starts at i * floor(2**128 / N), and
the last shard also takes the remainder up to 2**128 - 1.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

HASH_KEY_SPACE = 2**128
MAX_HASH_KEY = HASH_KEY_SPACE - 1

_SHARD_ID = re.compile(r"shardId-(\d{12})")

# A sequence number is 56 decimal digits, as long as the ones Kinesis issues:
#   "49" | stream serial (12) | stream-wide counter (36) | shard index (6)
# The counter comes before the shard index, so within one shard the numbers
# increase with the counter, and because every number has the same length
# they compare the same way as strings and as integers. The stream serial
# differs between a stream and a later stream of the same name, so a number
# kept from the deleted stream is rejected instead of pointing into the new one.
_SEQUENCE_PREFIX = "49"
_SERIAL_DIGITS = 12
_COUNTER_DIGITS = 36
_SHARD_DIGITS = 6
SEQUENCE_NUMBER_DIGITS = len(_SEQUENCE_PREFIX) + _SERIAL_DIGITS + _COUNTER_DIGITS + _SHARD_DIGITS


class SequenceParts(NamedTuple):
    """The fields encoded in one sequence number."""

    stream_serial: int
    counter: int
    shard_index: int


def shard_id(index: int) -> str:
    """Format the Kinesis shard id of the shard at `index` (0-based)."""
    return f"shardId-{index:012d}"


def parse_shard_id(text: str) -> int | None:
    """Return the 0-based index in a shard id, or None when `text` is not one."""
    match = _SHARD_ID.fullmatch(text)
    if match is None:
        return None
    return int(match.group(1))


def hash_key_range(index: int, shard_count: int) -> tuple[int, int]:
    """Return the first and last hash key (inclusive) of shard `index` of `shard_count`."""
    width = HASH_KEY_SPACE // shard_count
    start = index * width
    end = MAX_HASH_KEY if index == shard_count - 1 else start + width - 1
    return start, end


def shard_for_hash_key(hash_key: int, shard_count: int) -> int:
    """Return the index of the shard whose range contains `hash_key`."""
    width = HASH_KEY_SPACE // shard_count
    # Keys in the remainder above shard_count * width belong to the last shard.
    return min(hash_key // width, shard_count - 1)


def partition_key_hash(partition_key: str) -> int:
    """Return the hash key of a partition key: its UTF-8 MD5 digest as a big-endian integer."""
    digest = hashlib.md5(partition_key.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest, "big")


def encode_sequence_number(stream_serial: int, counter: int, shard_index: int) -> str:
    """Format a sequence number from its fields; see the layout above."""
    return (
        f"{_SEQUENCE_PREFIX}{stream_serial:0{_SERIAL_DIGITS}d}"
        f"{counter:0{_COUNTER_DIGITS}d}{shard_index:0{_SHARD_DIGITS}d}"
    )


def decode_sequence_number(text: str) -> SequenceParts | None:
    """Return the fields of a sequence number, or None when `text` is not one Squall issued."""
    if len(text) != SEQUENCE_NUMBER_DIGITS or not text.isascii() or not text.isdigit():
        return None
    if not text.startswith(_SEQUENCE_PREFIX):
        return None
    serial_end = len(_SEQUENCE_PREFIX) + _SERIAL_DIGITS
    counter_end = serial_end + _COUNTER_DIGITS
    return SequenceParts(
        stream_serial=int(text[len(_SEQUENCE_PREFIX) : serial_end]),
        counter=int(text[serial_end:counter_end]),
        shard_index=int(text[counter_end:]),
    )
