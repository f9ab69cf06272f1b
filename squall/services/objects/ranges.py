"""HTTP Range requests against an object, resolved the way S3 resolves them.

S3 serves one range per request. It ignores a Range header it cannot use
(bad syntax, a first byte after the last, several ranges) and returns the
whole object, as RFC 9110 allows. It rejects with 416 InvalidRange only a
well-formed range that selects no byte: one that starts at or past the end
of the object, a suffix of zero bytes, or any range of an empty object.
"""

from __future__ import annotations

import re

from squall.services.objects.errors import InvalidArgument, InvalidRange
from squall.services.objects.model import ByteRange

_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.IGNORECASE)


def parse_range(header: str, size: int) -> ByteRange | None:
    """Resolve a Range header value (`bytes=a-b`, `bytes=a-` or `bytes=-n`) against an object of `size` bytes.

    Returns None when the whole object is to be served because S3 would
    ignore the header. The end of a range past the object is cut to its
    last byte, and a suffix longer than the object selects all of it.
    Raises `InvalidRange` when no byte of the object is in the range.
    """
    match = _RANGE.fullmatch(header)
    if match is None:
        return None
    first_text, last_text = match.groups()

    if not first_text:
        if not last_text:
            return None
        suffix = int(last_text)
        # NOTE: RFC 9110 calls a zero-length suffix unsatisfiable. S3 is
        # assumed to respond the same way to "bytes=-0"; not checked against S3.
        if suffix == 0 or size == 0:
            raise _unsatisfiable(header, size)
        return ByteRange(max(0, size - suffix), size - 1)

    first = int(first_text)
    last = int(last_text) if last_text else None
    if last is not None and last < first:
        return None
    if first >= size:
        raise _unsatisfiable(header, size)
    end = size - 1 if last is None else min(last, size - 1)
    return ByteRange(first, end)


def resolve_range(byte_range: str | ByteRange | None, size: int) -> ByteRange | None:
    """Turn `get`'s byte_range argument into the range to serve, or None for the whole object."""
    if byte_range is None:
        return None
    if isinstance(byte_range, str):
        return parse_range(byte_range, size)
    if not isinstance(byte_range, ByteRange) or byte_range.start < 0 or byte_range.end < byte_range.start:
        raise InvalidArgument(
            f"byte range {byte_range!r} is invalid: expected a Range header value such as 'bytes=0-99'"
            " or a ByteRange with 0 <= start <= end"
        )
    if byte_range.start >= size:
        raise _unsatisfiable(f"bytes={byte_range.start}-{byte_range.end}", size)
    return ByteRange(byte_range.start, min(byte_range.end, size - 1))


def _unsatisfiable(header: str, size: int) -> InvalidRange:
    return InvalidRange(
        f"range {header.strip()!r} is not satisfiable for an object of {size} bytes:"
        " the first byte must be before the end of the object",
        size,
    )
