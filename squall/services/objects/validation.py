"""Checks of bucket names, keys, metadata and content types, following S3's documented rules."""

from __future__ import annotations

import re
from collections.abc import Mapping

from squall.services.objects.errors import (
    InvalidArgument,
    InvalidBucketName,
    KeyTooLong,
    MetadataTooLarge,
)
from squall.services.objects.model import DEFAULT_CONTENT_TYPE

MAX_KEY_BYTES = 1024
MAX_METADATA_BYTES = 2048

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS_FORM = re.compile(r"\d+\.\d+\.\d+\.\d+")

# S3 reserves these for its own names (access point aliases, Multi-Region
# Access Points, directory and table buckets and so on).
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

# A metadata name becomes the HTTP header x-amz-meta-<name>, so it must be an
# HTTP token (RFC 9110, section 5.6.2).
_HEADER_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# NOTE: AWS documents no pattern or length limit for an X-Ray trace header.
# This check keeps out only what no header contains.
_TRACE_HEADER = re.compile(r"[!-~]{1,2048}")

_BUCKET_RULES = (
    "use 3 to 63 characters from a-z, 0-9, '.' and '-', starting and ending with a letter"
    " or digit, without '..', not in the form of an IP address, and without a reserved"
    " prefix (xn--, sthree-, amzn-s3-demo-) or suffix (-s3alias, --ol-s3, .mrap, --x-s3,"
    " --table-s3)"
)


def validate_bucket_name(name: object) -> str:
    """Return `name` if it follows S3's rules for general purpose buckets; raise `InvalidBucketName` if not."""
    if not isinstance(name, str):
        raise InvalidBucketName(f"bucket name {name!r} is invalid: expected a string; {_BUCKET_RULES}")
    valid = (
        _BUCKET_NAME.fullmatch(name) is not None
        and ".." not in name
        and _IP_ADDRESS_FORM.fullmatch(name) is None
        and not name.startswith(_RESERVED_PREFIXES)
        and not name.endswith(_RESERVED_SUFFIXES)
    )
    if not valid:
        raise InvalidBucketName(f"bucket name {name!r} is invalid: {_BUCKET_RULES}")
    return name


def validate_key(key: object) -> str:
    """Return `key` if it is 1 to 1024 bytes of UTF-8; raise `InvalidArgument` or `KeyTooLong` if not."""
    if not isinstance(key, str):
        raise InvalidArgument(f"object key {key!r} is invalid: expected a string of 1 to {MAX_KEY_BYTES} bytes in UTF-8")
    if not key:
        raise InvalidArgument(f"object key '' is invalid: use 1 to {MAX_KEY_BYTES} bytes in UTF-8")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidArgument(
            f"object key {key!r} is invalid: it contains a character that UTF-8 cannot encode"
            f" ({exc.reason}); use valid Unicode text"
        ) from None
    if size > MAX_KEY_BYTES:
        raise KeyTooLong(
            f"object key {key[:40]!r}... is {size} bytes in UTF-8: use at most {MAX_KEY_BYTES} bytes"
        )
    return key


def validate_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Return user metadata with lowercased names, after checking it as S3 would.

    Names are lowercased because S3 sends them back as lowercase
    x-amz-meta-* headers. The size limit is S3's: the UTF-8 bytes of every
    name and value together, at most 2 KB.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidArgument(f"metadata {metadata!r} is invalid: expected a mapping of string names to string values")

    normalized: dict[str, str] = {}
    total = 0
    for name, value in metadata.items():
        if not isinstance(name, str) or _HEADER_TOKEN.fullmatch(name) is None:
            raise InvalidArgument(
                f"metadata name {name!r} is invalid: use letters, digits and !#$%&'*+-.^_`|~"
                " (the characters of an HTTP header name)"
            )
        if not isinstance(value, str) or _CONTROL_CHARACTERS.search(value):
            raise InvalidArgument(
                f"metadata value {value!r} of {name!r} is invalid: expected a string without control characters"
            )
        lowered = name.lower()
        if lowered in normalized:
            raise InvalidArgument(
                f"metadata name {name!r} is given twice: names are case-insensitive, so use each name once"
            )
        try:
            total += len(lowered.encode("utf-8")) + len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidArgument(
                f"metadata value {value!r} of {name!r} is invalid: it contains a character that UTF-8 cannot encode"
            ) from None
        normalized[lowered] = value

    if total > MAX_METADATA_BYTES:
        raise MetadataTooLarge(
            f"user metadata is {total} bytes (names and values in UTF-8): the maximum is {MAX_METADATA_BYTES}"
        )
    return normalized


def validate_trace_header(trace_header: str | None) -> None:
    """Raise InvalidArgument for a trace header that is not printable ASCII without spaces."""
    if trace_header is not None and (not isinstance(trace_header, str) or _TRACE_HEADER.fullmatch(trace_header) is None):
        raise InvalidArgument(
            f"trace header {trace_header!r} is invalid: expected an X-Ray trace header such as"
            " 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1', in printable ASCII without spaces"
        )


def is_valid_trace_header(value: str) -> bool:
    """Return whether `value` can be kept as an X-Ray trace header (printable ASCII without spaces, at most 2,048 characters)."""
    return _TRACE_HEADER.fullmatch(value) is not None


def validate_content_type(content_type: str | None) -> str:
    """Return the content type to store: `content_type`, or S3's default when it is None."""
    if content_type is None:
        return DEFAULT_CONTENT_TYPE
    if not isinstance(content_type, str) or not content_type or _CONTROL_CHARACTERS.search(content_type):
        raise InvalidArgument(
            f"content type {content_type!r} is invalid: expected a media type such as 'image/png'"
            " without control characters, or None for the default"
        )
    return content_type


def validate_if_match(if_match: str | None) -> str | None:
    """Return `if_match` if it is None or names at least one entity tag, else raise `InvalidArgument`."""
    if if_match is None:
        return None
    if (
        not isinstance(if_match, str)
        or not if_match.replace(",", "").strip()
        or _CONTROL_CHARACTERS.search(if_match)
    ):
        raise InvalidArgument(
            f"if_match {if_match!r} is invalid: expected the object's ETag, such as the one a put or"
            ' head returned (\'"9a0364b9e99bb480dd25e1f0284c8555"\'), or "*" for any existing object'
        )
    return if_match
