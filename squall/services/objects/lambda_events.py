"""The S3 notification event a Lambda function receives for an object change, and trigger filters."""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from squall.services.objects.errors import InvalidArgument
from squall.services.objects.model import EventKind, EventName, ObjectEvent

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "000000000000"
DEFAULT_CONFIGURATION_ID = "squall"

_VALID_KINDS = (
    "'created', 'removed', 's3:ObjectCreated:*', 's3:ObjectRemoved:*', or an event name such as"
    " 's3:ObjectCreated:Put', 's3:ObjectCreated:Copy' or 's3:ObjectRemoved:Delete' ('s3:' is optional)"
)


def encode_key(key: str) -> str:
    """URL-encode an object key as S3 writes it in notifications: a space becomes '+', '/' stays.

    A handler gets the key back with `urllib.parse.unquote_plus`.
    """
    # NOTE: S3 documents the form encoding ("red flower.jpg" becomes
    # "red+flower.jpg") but not its exact set of unescaped characters; this
    # keeps letters, digits, '_.-~' and '/'.
    return urllib.parse.quote_plus(key, safe="/")


def s3_event(
    record: ObjectEvent,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    configuration_id: str = DEFAULT_CONFIGURATION_ID,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """Build the S3 notification event (event version 2.1) that Lambda receives for one change.

    A created object carries its size and ETag (without quotes, as S3 sends
    it in events); a removal carries only its key and sequencer.
    `configuration_id` is the name of the trigger. The request ids are
    derived from the event, so the same record always gives the same event.
    """
    s3_object: dict[str, Any] = {"key": encode_key(record.key)}
    if record.kind is EventKind.CREATED:
        s3_object["size"] = record.size
        s3_object["eTag"] = (record.etag or "").strip('"')
    s3_object["sequencer"] = record.sequencer

    host_digest = hashlib.sha256(f"{record.bucket}/{record.key}/{record.seq}".encode()).digest()
    event_record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": _format_time(record.time),
        "eventName": record.name.value,
        "userIdentity": {"principalId": f"AWS:{account_id}"},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {
            "x-amz-request-id": format(record.seq, "016X"),
            "x-amz-id-2": base64.b64encode(host_digest).decode("ascii"),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": record.bucket,
                "ownerIdentity": {"principalId": account_id},
                "arn": f"arn:aws:s3:::{record.bucket}",
            },
            "object": s3_object,
        },
    }
    return {"Records": [event_record]}


def _format_time(epoch_s: float) -> str:
    # S3 writes ISO 8601 in UTC with milliseconds: 2019-09-03T19:37:27.192Z.
    moment = datetime.fromtimestamp(epoch_s, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def validate_event_kinds(kinds: Iterable[str]) -> frozenset[EventKind | EventName]:
    """Parse a trigger's event kinds into what they select; raise `InvalidArgument` for an unknown one.

    Accepted forms: 'created' and 'removed', S3's wildcards
    's3:ObjectCreated:*' and 's3:ObjectRemoved:*', and exact event names
    such as 's3:ObjectCreated:Put'. The 's3:' prefix is optional.
    """
    if isinstance(kinds, str):
        raise InvalidArgument(f"event kinds {kinds!r} are invalid: expected a set of kinds, each {_VALID_KINDS}")
    selected: set[EventKind | EventName] = set()
    for kind in kinds:
        selected.add(_parse_kind(kind))
    return frozenset(selected)


def _parse_kind(kind: object) -> EventKind | EventName:
    if isinstance(kind, str):
        for member in EventKind:
            if kind == member.value:
                return member
        name = kind.removeprefix("s3:")
        if name == "ObjectCreated:*":
            return EventKind.CREATED
        if name == "ObjectRemoved:*":
            return EventKind.REMOVED
        for event_name in EventName:
            if name == event_name.value:
                return event_name
    raise InvalidArgument(f"event kind {kind!r} is invalid: use {_VALID_KINDS}")


def matches(record: ObjectEvent, kinds: Iterable[str], prefix: str = "", suffix: str = "") -> bool:
    """Return whether a trigger with these filters fires for `record`.

    An empty `kinds` selects every event. `prefix` and `suffix` are matched
    against the key as stored, not URL-encoded, so a space is written as a
    space (S3's own filter rules want the encoded form, '+').
    """
    selected = validate_event_kinds(kinds)
    if selected and record.kind not in selected and record.name not in selected:
        return False
    return record.key.startswith(prefix) and record.key.endswith(suffix)
