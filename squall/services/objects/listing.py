"""ListObjectsV2 paging, shared by every backend that can read keys in order.

A backend supplies one primitive, `FetchObjects`: the objects whose keys lie
in a range, in UTF-8 binary order, at most `limit` of them. This module turns
it into S3's listing: a prefix, common prefixes under a delimiter (each
counted once toward max_keys and never split across pages), start_after and
an opaque continuation token.

Python compares strings by code point, which is the same order as comparing
their UTF-8 bytes, so the bounds computed here agree with a store that sorts
keys as bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from squall.services.objects.errors import InvalidArgument
from squall.services.objects.model import MAX_LIST_KEYS, ObjectInfo

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


@dataclass(frozen=True)
class ListPosition:
    """The point a listing continues from: keys after `key`, or from `key` on when `inclusive`."""

    key: str
    inclusive: bool


# fetch(lower, upper, limit): objects with lower <= key (or lower < key) and key < upper, in key order.
FetchObjects = Callable[[ListPosition | None, str | None, int], Sequence[ObjectInfo]]


@dataclass(frozen=True)
class ListPage:
    """The entries of one page, and where the next page starts (None when nothing follows)."""

    contents: tuple[ObjectInfo, ...]
    common_prefixes: tuple[str, ...]
    next_position: ListPosition | None


def validate_list_options(prefix: object, delimiter: object, max_keys: object) -> int:
    """Check the listing options and return max_keys capped at S3's 1000."""
    if not isinstance(prefix, str):
        raise InvalidArgument(f"prefix {prefix!r} is invalid: expected a string ('' for all keys)")
    if delimiter is not None and not isinstance(delimiter, str):
        raise InvalidArgument(f"delimiter {delimiter!r} is invalid: expected a string such as '/' or None")
    if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 0:
        raise InvalidArgument(f"max_keys {max_keys!r} is invalid: expected an integer from 0 to {MAX_LIST_KEYS}")
    return min(max_keys, MAX_LIST_KEYS)


def start_position(continuation_token: str | None, start_after: str | None) -> ListPosition | None:
    """Return where a listing starts; a continuation token takes precedence over start_after, as in S3."""
    if continuation_token is not None:
        return decode_token(continuation_token)
    if start_after is None or start_after == "":
        return None
    if not isinstance(start_after, str):
        raise InvalidArgument(f"start_after {start_after!r} is invalid: expected a key or None")
    return ListPosition(start_after, inclusive=False)


def list_page(
    fetch: FetchObjects,
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    start: ListPosition | None,
) -> ListPage:
    """Collect up to `max_keys` objects and common prefixes after `start`."""
    upper = key_successor(prefix) if prefix else None
    lower = start
    if prefix and (lower is None or lower.key < prefix):
        lower = ListPosition(prefix, inclusive=True)
    contents: list[ObjectInfo] = []
    common_prefixes: list[str] = []

    # S3 returns IsTruncated false for MaxKeys=0; a token here would send a
    # client that follows tokens round in circles.
    if max_keys == 0:
        return ListPage((), (), None)

    while len(contents) + len(common_prefixes) < max_keys:
        wanted = max_keys - len(contents) - len(common_prefixes)
        batch = fetch(lower, upper, wanted)
        jumped = False
        for info in batch:
            common = _common_prefix(info.key, prefix, delimiter)
            if common is None:
                contents.append(info)
                lower = ListPosition(info.key, inclusive=False)
                continue

            # Every key under a common prefix collapses into one entry, so the
            # listing skips past all of them with a new query.
            common_prefixes.append(common)
            following = key_successor(common)
            if following is None:
                return ListPage(tuple(contents), tuple(common_prefixes), None)
            lower = ListPosition(following, inclusive=True)
            jumped = True
            break

        if not jumped and len(batch) < wanted:
            return ListPage(tuple(contents), tuple(common_prefixes), None)

    more = fetch(lower, upper, 1)
    return ListPage(tuple(contents), tuple(common_prefixes), lower if more else None)


def _common_prefix(key: str, prefix: str, delimiter: str | None) -> str | None:
    if not delimiter:
        return None
    cut = key.find(delimiter, len(prefix))
    if cut < 0:
        return None
    return key[: cut + len(delimiter)]


def key_successor(prefix: str) -> str | None:
    """Return the smallest string above every string that starts with `prefix`, or None if there is none."""
    characters = list(prefix)
    while characters:
        code = ord(characters.pop()) + 1
        if code > _MAX_CODE_POINT:
            continue
        if code in _SURROGATES:
            # UTF-8 cannot encode surrogates, so no key contains one.
            code = _SURROGATES.stop
        return "".join(characters) + chr(code)
    return None


def encode_token(position: ListPosition) -> str:
    """Encode a position as an opaque continuation token (URL-safe base64 of JSON)."""
    payload = json.dumps({"k": position.key, "i": position.inclusive}, ensure_ascii=False)
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")


def decode_token(token: str) -> ListPosition:
    """Decode a token from `encode_token`; raise `InvalidArgument` for anything else."""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
    except (AttributeError, TypeError, ValueError, binascii.Error, UnicodeError):
        payload = None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("k"), str)
        or not isinstance(payload.get("i"), bool)
    ):
        raise InvalidArgument(
            f"continuation token {token!r} is invalid: pass the next_continuation_token of the previous page unchanged"
        )
    return ListPosition(payload["k"], payload["i"])
