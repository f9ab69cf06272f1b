"""Validation, sizes and MD5 digests of queue names and messages, as SQS defines them."""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

from squall.services.errors import InvalidParameter
from squall.services.queues.errors import (
    BatchEntryIdsNotDistinct,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidMessageContents,
    TooManyEntriesInBatchRequest,
)
from squall.services.queues.model import (
    FIFO_SUFFIX,
    MAX_BATCH_ENTRIES,
    MAX_MESSAGE_ATTRIBUTES,
    AttributeType,
    MessageAttribute,
)

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_MAX_QUEUE_NAME = 80
_BATCH_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
# Group and deduplication ids: 1 to 128 characters, letters, digits and ASCII punctuation.
_GROUP_OR_DEDUP_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")
# The characters SQS accepts in a body and in string attribute values:
# #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF.
_INVALID_CHARACTER = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_VALID_CHARACTERS_TEXT = "#x9, #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD, #x10000 to #x10FFFF"

# NOTE: SQS documents AWSTraceHeader as an X-Ray trace header, without a
# pattern or length limit. This check keeps out only what no header contains.
_TRACE_HEADER = re.compile(r"[!-~]{1,2048}")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_DATA_TYPE = re.compile(r"(String|Number|Binary)(\.[A-Za-z0-9_.-]+)?")
_MAX_DATA_TYPE = 256
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NUMBER_MAX_DIGITS = 38
_NUMBER_MIN_EXPONENT = -128
_NUMBER_MAX_EXPONENT = 126

# Transport type bytes in SQS's MD5 of message attributes.
_TRANSPORT_STRING = 1
_TRANSPORT_BINARY = 2


def validate_queue_name(name: object) -> str:
    """Return `name` if it is a valid queue name, else raise InvalidParameter."""
    valid = False
    if isinstance(name, str) and len(name) <= _MAX_QUEUE_NAME:
        base = name[: -len(FIFO_SUFFIX)] if name.endswith(FIFO_SUFFIX) else name
        valid = _QUEUE_NAME.fullmatch(base) is not None
    if not valid:
        raise InvalidParameter(
            f"queue name {name!r} is invalid: use 1 to 80 characters from A-Z, a-z, 0-9,"
            f" '-' and '_' (a FIFO queue name ends in '.fifo', counted in the 80)"
        )
    return str(name)


def validate_batch_entry_id(entry_id: object) -> str:
    """Return `entry_id` if it is a valid batch entry id, else raise InvalidBatchEntryId."""
    if not isinstance(entry_id, str) or _BATCH_ENTRY_ID.fullmatch(entry_id) is None:
        raise InvalidBatchEntryId(
            f"batch entry id {entry_id!r} is invalid: use 1 to 80 characters from"
            f" A-Z, a-z, 0-9, '-' and '_'"
        )
    return entry_id


def validate_group_or_dedup_id(parameter: str, value: object) -> str:
    """Return a message group or deduplication id if valid, else raise InvalidParameter."""
    if not isinstance(value, str) or _GROUP_OR_DEDUP_ID.fullmatch(value) is None:
        raise InvalidParameter(
            f"{parameter} {value!r} is invalid: use 1 to 128 characters from letters,"
            f" digits and ASCII punctuation"
        )
    return value


def validate_body(body: object) -> str:
    """Return `body` if SQS would accept it as a message body, else raise."""
    if not isinstance(body, str) or not body:
        raise InvalidParameter(f"message body {body!r} is invalid: expected a non-empty string")
    _check_characters("message body", body)
    return body


def validate_trace_header(value: object) -> str:
    """Return an AWSTraceHeader value if it is printable ASCII without spaces, else raise InvalidParameter."""
    if not isinstance(value, str) or _TRACE_HEADER.fullmatch(value) is None:
        raise InvalidParameter(
            f"trace header {value!r} is invalid: expected an X-Ray trace header such as"
            " 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1', in printable ASCII without spaces"
        )
    return value


def validate_attributes(attributes: Mapping[str, MessageAttribute] | None) -> None:
    """Raise InvalidParameter unless `attributes` are valid SQS message attributes."""
    if attributes is None:
        return
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise InvalidParameter(
            f"message has {len(attributes)} message attributes, but at most"
            f" {MAX_MESSAGE_ATTRIBUTES} are allowed"
        )
    for name, attribute in attributes.items():
        _validate_attribute_name(name)
        _validate_attribute_value(name, attribute)


def message_size(body: str, attributes: Mapping[str, MessageAttribute] | None) -> int:
    """Return the size SQS counts against its limit.

    The size is that of the UTF-8 body plus every attribute's name, data type and value.
    """
    size = len(body.encode("utf-8"))
    for name, attribute in (attributes or {}).items():
        size += len(name.encode("utf-8")) + len(attribute.data_type.encode("utf-8"))
        size += len(_attribute_value_bytes(attribute))
    return size


def md5_of_body(body: str) -> str:
    """Return the hex MD5 of the UTF-8 body, as SQS's MD5OfMessageBody."""
    return hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest()


def md5_of_attributes(attributes: Mapping[str, MessageAttribute] | None) -> str | None:
    """Return SQS's MD5OfMessageAttributes, or None when there are no attributes.

    SQS hashes the attributes in order of their UTF-8 names. For each one it
    encodes the name, the data type, one transport byte (1 for String and
    Number, 2 for Binary) and the value. Every part except the transport
    byte is prefixed by its length as a 4-byte big-endian integer.
    """
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes, key=lambda key: key.encode("utf-8")):
        attribute = attributes[name]
        transport = (
            _TRANSPORT_BINARY
            if attribute.base_type is AttributeType.BINARY
            else _TRANSPORT_STRING
        )
        digest.update(_length_prefixed(name.encode("utf-8")))
        digest.update(_length_prefixed(attribute.data_type.encode("utf-8")))
        digest.update(bytes([transport]))
        digest.update(_length_prefixed(_attribute_value_bytes(attribute)))
    return digest.hexdigest()


def content_dedup_id(body: str) -> str:
    """Return the deduplication id of content-based deduplication: the SHA-256 of the body."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def check_range(parameter: str, value: object, low: int, high: int) -> None:
    """Raise InvalidParameter unless `value` is a whole number from `low` to `high`."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameter(
            f"{parameter}: expected a whole number from {low} to {high}, got {value!r}"
        )


def check_batch_ids(ids: Sequence[object]) -> None:
    """Raise the SQS error for an empty, too long, or badly named batch request."""
    if not ids:
        raise EmptyBatchRequest("batch request has no entries: send 1 to 10 entries")
    if len(ids) > MAX_BATCH_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"batch request has {len(ids)} entries, but at most {MAX_BATCH_ENTRIES} are allowed"
        )
    for entry_id in ids:
        validate_batch_entry_id(entry_id)
    repeated = sorted({str(entry_id) for entry_id in ids if ids.count(entry_id) > 1})
    if repeated:
        raise BatchEntryIdsNotDistinct(
            f"batch entry ids must be distinct, but {', '.join(map(repr, repeated))}"
            " appear more than once"
        )


def _length_prefixed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _attribute_value_bytes(attribute: MessageAttribute) -> bytes:
    if attribute.binary_value is not None:
        return bytes(attribute.binary_value)
    return (attribute.string_value or "").encode("utf-8")


def _check_characters(what: str, text: str) -> None:
    bad = _INVALID_CHARACTER.search(text)
    if bad is not None:
        raise InvalidMessageContents(
            f"{what} contains the invalid character U+{ord(bad.group()):04X} at index"
            f" {bad.start()}. Valid characters are {_VALID_CHARACTERS_TEXT}"
        )


def _validate_attribute_name(name: object) -> None:
    valid = (
        isinstance(name, str)
        and _ATTRIBUTE_NAME.fullmatch(name) is not None
        and not name.startswith(".")
        and not name.endswith(".")
        and ".." not in name
        and not name.lower().startswith(("aws.", "amazon."))
    )
    if not valid:
        raise InvalidParameter(
            f"message attribute name {name!r} is invalid: use 1 to 256 characters from"
            f" A-Z, a-z, 0-9, '_', '-' and '.', with no leading, trailing or double '.',"
            f" and no 'AWS.' or 'Amazon.' prefix"
        )


def _validate_attribute_value(name: str, attribute: object) -> None:
    if not isinstance(attribute, MessageAttribute):
        raise InvalidParameter(
            f"message attribute {name!r}: expected a MessageAttribute, got {attribute!r}"
        )
    data_type = attribute.data_type
    if (
        not isinstance(data_type, str)
        or len(data_type) > _MAX_DATA_TYPE
        or _DATA_TYPE.fullmatch(data_type) is None
    ):
        raise InvalidParameter(
            f"message attribute {name!r}: data type {data_type!r} is invalid: use String,"
            f" Number or Binary, optionally followed by '.' and a custom label"
        )

    if attribute.base_type is AttributeType.BINARY:
        if attribute.string_value is not None or not isinstance(
            attribute.binary_value, (bytes, bytearray)
        ):
            raise InvalidParameter(
                f"message attribute {name!r} of type {data_type!r} needs a binary_value"
                f" (bytes) and no string_value"
            )
        if not attribute.binary_value:
            raise InvalidParameter(
                f"message attribute {name!r} of type {data_type!r} has an empty binary_value"
            )
        return

    value = attribute.string_value
    if attribute.binary_value is not None or not isinstance(value, str):
        raise InvalidParameter(
            f"message attribute {name!r} of type {data_type!r} needs a string_value"
            f" (str) and no binary_value"
        )
    if not value:
        raise InvalidParameter(
            f"message attribute {name!r} of type {data_type!r} has an empty string_value"
        )
    _check_characters(f"message attribute {name!r}", value)
    if attribute.base_type is AttributeType.NUMBER and not _is_sqs_number(value):
        raise InvalidParameter(
            f"message attribute {name!r}: {value!r} is not a valid Number: use a decimal"
            f" number with at most {_NUMBER_MAX_DIGITS} significant digits between"
            f" 10^{_NUMBER_MIN_EXPONENT} and 10^{_NUMBER_MAX_EXPONENT}"
        )


def _is_sqs_number(text: str) -> bool:
    if _NUMBER.fullmatch(text) is None:
        return False
    try:
        number = Decimal(text)
    except InvalidOperation:
        return False
    if number.is_zero():
        return True
    # Trailing zeros are not significant. Count digits by hand, because
    # Decimal.normalize() rounds to the context's 28 digits.
    significant = "".join(map(str, number.as_tuple().digits)).rstrip("0")
    exponent = number.adjusted()
    return (
        len(significant) <= _NUMBER_MAX_DIGITS
        and _NUMBER_MIN_EXPONENT <= exponent <= _NUMBER_MAX_EXPONENT
    )
