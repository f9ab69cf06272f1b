"""The parts of squall.yml about data services: triggers, destinations and resources.

The schemas here plug into the squall.yml schema, so their errors read the
same way (`x-expected` phrases). The builders turn checked settings into
the specification's dataclasses. The binary media types of REST routes are
here too, because serverless.yml and SAM templates check theirs by the same
rule.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from squall.events.filters import MAX_FILTERS, InvalidFilterPattern, check_pattern, check_record_fields
from squall.manifest.spec import (
    DEFAULT_ASYNC_RETRIES,
    DEFAULT_MAX_EVENT_AGE_S,
    DEFAULT_STREAM_VIEW_TYPE,
    MIN_MAX_EVENT_AGE_S,
    STREAM_VIEW_TYPES,
    AsyncConfig,
    BucketResource,
    Destination,
    ObjectTrigger,
    QueueResource,
    QueueTrigger,
    Resources,
    ScheduleTrigger,
    StreamResource,
    StreamTrigger,
    TableResource,
    TableStreamTrigger,
    Trigger,
)
from squall.manifest.validate import DESTINATION_QUEUE_RULE, KeyPath, ManifestSource, check_queue_batch, expected

# Name rules, as AWS sets them for SQS queues, S3 buckets, DynamoDB tables
# and Kinesis streams. The services check them again on every request.
QUEUE_NAME_PATTERN = r"^(?=.{1,80}$)[A-Za-z0-9_-]+(\.fifo)?$"
QUEUE_NAME_RULE = "1 to 80 letters, digits, hyphens or underscores, ending in .fifo for a FIFO queue"
BUCKET_NAME_PATTERN = r"^(?=.{3,63}$)(?!.*\.\.)[a-z0-9][a-z0-9.-]*[a-z0-9]$"
BUCKET_NAME_RULE = "3 to 63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit"
TABLE_NAME_PATTERN = r"^[A-Za-z0-9_.-]{3,255}$"
TABLE_NAME_RULE = "3 to 255 letters, digits, dots, hyphens or underscores"
STREAM_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,128}$"
STREAM_NAME_RULE = "1 to 128 letters, digits, dots, hyphens or underscores"
FUNCTION_TARGET_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

# A media type as a REST API's binaryMediaTypes take it: "type/subtype" of
# RFC 9110 token characters, where "*" matches any characters.
MEDIA_TYPE_PATTERN = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+/[A-Za-z0-9!#$%&'*+.^_`|~-]+$"
MEDIA_TYPE_RULE = 'a media type such as "image/png", where * matches any characters ("image/*", "*/*")'
_MEDIA_TYPE_RE = re.compile(MEDIA_TYPE_PATTERN)
_MEDIA_TYPES_RULE = 'a list of media types, such as ["image/png", "application/octet-stream"]'
# The payload version of REST API routes, the only routes with binary media types.
_REST_PAYLOAD = "1.0"

OBJECT_EVENT_KINDS = ("created", "removed")
STARTING_POSITIONS = ("latest", "trim_horizon")


def _integer(low: int, high: int | None, unit: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": low}
    if high is None:
        schema["x-expected"] = f"{unit}, {low} or more"
    else:
        schema["maximum"] = high
        schema["x-expected"] = f"{unit} between {low} and {high}"
    return schema


def _seconds(low: float, high: float) -> dict[str, Any]:
    return {
        "type": "number",
        "minimum": low,
        "maximum": high,
        "x-expected": f"seconds between {low:g} and {high:g}",
    }


def _name(pattern: str, rule: str, what: str) -> dict[str, Any]:
    return {"type": "string", "pattern": pattern, "x-expected": f"a {what} name of {rule}"}


_BOOLEAN: dict[str, Any] = {"type": "boolean", "x-expected": "true or false"}
# The version or alias an HTTP route or a trigger invokes. YAML reads a bare 3 as a number.
QUALIFIER_SCHEMA: dict[str, Any] = {
    "type": ["string", "integer"],
    # Lambda numbers versions from 1, and an alias name is never all digits.
    "minimum": 1,
    "pattern": "^(?:[1-9][0-9]*|(?![0-9]+$)[A-Za-z0-9_-]{1,128}|\\$LATEST)$",
    "x-expected": 'a published version number or an alias name, such as 3 or "live"',
}
# An http event's binary_media_types. binary_media_types_of checks that the route is a REST route.
BINARY_MEDIA_TYPES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "pattern": MEDIA_TYPE_PATTERN, "x-expected": MEDIA_TYPE_RULE},
    "x-expected": _MEDIA_TYPES_RULE,
}
_STARTING_POSITION: dict[str, Any] = {
    "enum": list(STARTING_POSITIONS),
    "x-expected": '"latest" (records added from now on) or "trim_horizon" (every record still kept)',
}
# Lambda's batching limits for each kind of event source mapping.
_MAX_BATCH_SIZE = 10_000
_MAX_BATCH_WINDOW_S = 300
# Lambda event filter patterns: the schema checks the list, and
# filter_patterns_of checks each pattern's rules.
_FILTER_PATTERNS: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_FILTERS,
    "items": {"type": "object", "x-expected": "a filter pattern such as {body: {kind: [order]}}"},
    "x-expected": f"a list of 1 to {MAX_FILTERS} filter patterns, as Lambda's FilterCriteria takes",
}


def _record_source(key: str, name_schema: dict[str, Any]) -> dict[str, Any]:
    """Return the schema of a table_stream or stream trigger; `key` names its source."""
    return {
        "type": "object",
        "x-expected": f'a mapping with "{key}" and optional batching and retry settings',
        "required": [key],
        "additionalProperties": False,
        "properties": {
            key: name_schema,
            "batch_size": _integer(1, _MAX_BATCH_SIZE, "a whole number of records"),
            "starting_position": _STARTING_POSITION,
            "batch_window_s": _seconds(0, _MAX_BATCH_WINDOW_S),
            "max_retries": _integer(-1, _MAX_BATCH_SIZE, "a whole number of retries (-1: until the record expires)"),
            "bisect_on_error": _BOOLEAN,
            "qualifier": QUALIFIER_SCHEMA,
            "filter_patterns": _FILTER_PATTERNS,
        },
    }


TRIGGER_SCHEMAS: dict[str, dict[str, Any]] = {
    "queue": {
        "type": "object",
        "x-expected": 'a mapping with "name" and optional batch_size, batch_window_s, max_concurrency, enabled, filter_patterns',
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": _name(QUEUE_NAME_PATTERN, QUEUE_NAME_RULE, "queue"),
            "batch_size": _integer(1, _MAX_BATCH_SIZE, "a whole number of messages"),
            "batch_window_s": _seconds(0, _MAX_BATCH_WINDOW_S),
            # Lambda's range for the maximum concurrency of an SQS event source.
            "max_concurrency": _integer(2, 1000, "a whole number of concurrent batches"),
            "enabled": _BOOLEAN,
            "qualifier": QUALIFIER_SCHEMA,
            "filter_patterns": _FILTER_PATTERNS,
        },
    },
    "objects": {
        "type": "object",
        "x-expected": 'a mapping with "bucket" and optional events, prefix, suffix',
        "required": ["bucket"],
        "additionalProperties": False,
        "properties": {
            "bucket": _name(BUCKET_NAME_PATTERN, BUCKET_NAME_RULE, "bucket"),
            "events": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"enum": list(OBJECT_EVENT_KINDS), "x-expected": '"created" or "removed"'},
                "x-expected": 'a list of "created" and "removed"',
            },
            "prefix": {"type": "string", "x-expected": "a key prefix such as images/"},
            "suffix": {"type": "string", "x-expected": "a key suffix such as .png"},
            "qualifier": QUALIFIER_SCHEMA,
        },
    },
    "table_stream": _record_source("table", _name(TABLE_NAME_PATTERN, TABLE_NAME_RULE, "table")),
    "stream": _record_source("name", _name(STREAM_NAME_PATTERN, STREAM_NAME_RULE, "stream")),
    "schedule": {
        "type": "object",
        "x-expected": 'a mapping with "expression" and optional timezone, input, enabled',
        "required": ["expression"],
        "additionalProperties": False,
        "properties": {
            "expression": {
                "type": "string",
                "x-expected": 'a schedule expression such as "rate(5 minutes)" or "cron(0 8 * * ? *)"',
            },
            "timezone": {"type": "string", "x-expected": 'an IANA time zone name such as "Europe/Berlin"'},
            "input": {"x-expected": "any value; it replaces the Scheduled Event as the handler's event"},
            "enabled": _BOOLEAN,
            "qualifier": QUALIFIER_SCHEMA,
        },
    },
}

_DESTINATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-expected": 'a mapping with one key, "queue" or "function", naming the destination',
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
    "properties": {
        "queue": {
            "allOf": [
                _name(QUEUE_NAME_PATTERN, QUEUE_NAME_RULE, "queue"),
                {"not": {"type": "string", "pattern": r"\.fifo$"}, "x-expected": DESTINATION_QUEUE_RULE},
            ],
        },
        "function": _name(FUNCTION_TARGET_PATTERN, "1 to 64 letters, digits, hyphens or underscores", "function"),
    },
}

# Function keys about asynchronous invocation, added to the function schema.
ASYNC_FUNCTION_PROPERTIES: dict[str, Any] = {
    "on_failure": _DESTINATION_SCHEMA,
    "on_success": _DESTINATION_SCHEMA,
    "max_retry_attempts": _integer(0, DEFAULT_ASYNC_RETRIES, "a whole number of retries"),
    "max_event_age_s": _integer(MIN_MAX_EVENT_AGE_S, DEFAULT_MAX_EVENT_AGE_S, "whole seconds"),
}

_KEY_TYPE: dict[str, Any] = {"enum": ["S", "N", "B"], "x-expected": '"S" (string), "N" (number) or "B" (binary)'}
_KEY_SCHEMA: dict[str, Any] = {
    "type": ["string", "object"],
    "x-expected": 'an attribute name, or a mapping with "name" and "type" (S, N or B)',
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "x-expected": "an attribute name of 1 to 255 characters"},
        "type": _KEY_TYPE,
    },
}


def _resource_map(pattern: str, rule: str, what: str, settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "x-expected": f"a mapping of {what} names to their settings",
        "propertyNames": {"pattern": pattern, "x-expected": f"{what} names of {rule}"},
        "additionalProperties": settings,
    }


RESOURCES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-expected": "a mapping with queues, buckets, tables and streams",
    "additionalProperties": False,
    "properties": {
        "queues": _resource_map(
            QUEUE_NAME_PATTERN,
            QUEUE_NAME_RULE,
            "queue",
            {
                "type": ["object", "null"],
                "x-expected": "a mapping of queue settings, or nothing for the defaults",
                "additionalProperties": False,
                "properties": {
                    # SQS's ranges for each queue attribute.
                    "visibility_timeout_s": _integer(0, 43_200, "whole seconds"),
                    "retention_s": _integer(60, 1_209_600, "whole seconds"),
                    "delay_s": _integer(0, 900, "whole seconds"),
                    "receive_wait_s": _integer(0, 20, "whole seconds"),
                    "dead_letter": {
                        "type": "object",
                        "x-expected": 'a mapping with "queue" and optionally "max_receive_count"',
                        "required": ["queue"],
                        "additionalProperties": False,
                        "properties": {
                            "queue": _name(QUEUE_NAME_PATTERN, QUEUE_NAME_RULE, "queue"),
                            "max_receive_count": _integer(1, 1000, "a whole number of receives"),
                        },
                    },
                    "content_based_deduplication": _BOOLEAN,
                },
            },
        ),
        "buckets": _resource_map(
            BUCKET_NAME_PATTERN,
            BUCKET_NAME_RULE,
            "bucket",
            {"type": ["object", "null"], "maxProperties": 0, "x-expected": "nothing, or an empty mapping"},
        ),
        "tables": _resource_map(
            TABLE_NAME_PATTERN,
            TABLE_NAME_RULE,
            "table",
            {
                "type": "object",
                "x-expected": 'a mapping with "partition_key" and optionally "sort_key", "ttl_attribute" and '
                '"stream_view_type"',
                "required": ["partition_key"],
                "additionalProperties": False,
                "properties": {
                    "partition_key": _KEY_SCHEMA,
                    "sort_key": _KEY_SCHEMA,
                    "ttl_attribute": {"type": "string", "minLength": 1, "x-expected": "an attribute name"},
                    # What each change record carries besides the keys, as DynamoDB's StreamViewType.
                    "stream_view_type": {
                        "enum": list(STREAM_VIEW_TYPES),
                        "x-expected": '"KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE" or "NEW_AND_OLD_IMAGES"',
                    },
                },
            },
        ),
        "streams": _resource_map(
            STREAM_NAME_PATTERN,
            STREAM_NAME_RULE,
            "stream",
            {
                "type": ["object", "null"],
                "x-expected": "a mapping of stream settings, or nothing for the defaults",
                "additionalProperties": False,
                "properties": {
                    # The stream service's own limit, Kinesis's default quota per stream.
                    "shards": _integer(1, 500, "a whole number of shards"),
                    # Kinesis keeps records between 24 hours and 365 days.
                    "retention_h": _integer(24, 8760, "whole hours"),
                },
            },
        ),
    },
}


def build_trigger(source: ManifestSource, key: KeyPath, kind: str, settings: dict[str, Any]) -> Trigger:
    """Turn one schema-checked trigger mapping into its dataclass."""
    qualifier = qualifier_of(settings)
    if kind == "queue":
        concurrency = settings.get("max_concurrency")
        batch_size = int(settings.get("batch_size", 10))
        # As written, so that a message shows 5 and not 5.0.
        batch_window_s = settings.get("batch_window_s", 0)
        check_queue_batch(
            source, (*key, "batch_size"), batch_size, batch_window_s, "batch_window_s", queue=settings["name"]
        )
        return QueueTrigger(
            queue=settings["name"],
            batch_size=batch_size,
            batch_window_s=float(batch_window_s),
            max_concurrency=None if concurrency is None else int(concurrency),
            enabled=bool(settings.get("enabled", True)),
            qualifier=qualifier,
            filter_patterns=filter_patterns_of(source, key, settings.get("filter_patterns")),
        )
    if kind == "objects":
        return ObjectTrigger(
            bucket=settings["bucket"],
            events=tuple(settings.get("events", OBJECT_EVENT_KINDS)),
            prefix=settings.get("prefix", ""),
            suffix=settings.get("suffix", ""),
            qualifier=qualifier,
        )
    if kind in ("table_stream", "stream"):
        common = {
            "batch_size": int(settings.get("batch_size", 100)),
            "starting_position": settings.get("starting_position", "latest"),
            "batch_window_s": float(settings.get("batch_window_s", 0)),
            "max_retries": int(settings.get("max_retries", -1)),
            "bisect_on_error": bool(settings.get("bisect_on_error", False)),
            "qualifier": qualifier,
            "filter_patterns": filter_patterns_of(
                source, key, settings.get("filter_patterns"), "dynamodb" if kind == "table_stream" else "data"
            ),
        }
        if kind == "table_stream":
            return TableStreamTrigger(table=settings["table"], **common)
        return StreamTrigger(stream=settings["name"], **common)
    return _build_schedule(source, key, settings)


def _build_schedule(source: ManifestSource, key: KeyPath, settings: dict[str, Any]) -> ScheduleTrigger:
    from squall.services.errors import InvalidParameter
    from squall.services.schedules import parse_schedule

    expression = settings["expression"]
    try:
        parse_schedule(expression)
    except InvalidParameter as error:
        raise source.error((*key, "expression"), str(error)) from None
    timezone = settings.get("timezone", "UTC")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise source.error(
            (*key, "timezone"), expected('an IANA time zone name such as "UTC" or "Europe/Berlin"', timezone)
        ) from None
    return ScheduleTrigger(
        expression=expression,
        timezone=timezone,
        input=settings.get("input"),
        enabled=bool(settings.get("enabled", True)),
        qualifier=qualifier_of(settings),
    )


def filter_patterns_of(
    source: ManifestSource,
    key: KeyPath,
    patterns: list[Any] | None,
    data_key: str | None = None,
    name: str = "filter_patterns",
) -> tuple[str, ...]:
    """Check a trigger's filter patterns, listed under `name`, and return them as JSON text.

    `data_key` is the field of a stream record that Lambda filters only as JSON.
    """
    checked = []
    for index, pattern in enumerate(patterns or ()):
        try:
            checked.append(check_pattern(pattern, data_key))
            check_record_fields(checked[-1], data_key)
        except InvalidFilterPattern as error:
            raise source.error((*key, name, index, *error.path), error.message) from None
    return tuple(checked)


def binary_media_types_of(source: ManifestSource, key: KeyPath, http: dict[str, Any], payload: str) -> tuple[str, ...]:
    """Return a schema-checked http event's binary_media_types, which only a REST route (payload "1.0") may have.

    `key` is the event's key path, and `payload` its payload version.
    """
    if "binary_media_types" not in http:
        return ()
    if payload != _REST_PAYLOAD:
        raise source.error(
            (*key, "binary_media_types"),
            f'valid only on a REST API route (payload "1.0"), got it on a route with payload "{payload}". '
            'Set payload: "1.0", or remove the key, since an HTTP API has no binary media types: it '
            "base64-encodes request bodies by their Content-Type and always decodes isBase64Encoded responses",
        )
    return tuple(http["binary_media_types"])


def read_binary_media_types(
    source: ManifestSource, key: KeyPath, value: Any, slash_escaped: bool = False
) -> tuple[str, ...]:
    """Check a binaryMediaTypes list of a serverless.yml or SAM template and return its media types.

    With `slash_escaped`, "~1" in an entry is read as "/", as SAM documents
    for its BinaryMediaTypes ("image~1png").
    """
    if value is None:
        return ()
    if not isinstance(value, list):
        raise source.error(key, expected(_MEDIA_TYPES_RULE, value))
    media_types: list[str] = []
    for index, entry in enumerate(value):
        if isinstance(entry, str) and slash_escaped:
            entry = entry.replace("~1", "/")
        if not isinstance(entry, str) or not _MEDIA_TYPE_RE.match(entry):
            raise source.error((*key, index), expected(MEDIA_TYPE_RULE, value[index]))
        media_types.append(entry)
    return tuple(media_types)


def qualifier_of(settings: dict[str, Any]) -> str | None:
    """Return a schema-checked `qualifier` as text, with None for $LATEST whether or not it was named."""
    qualifier = settings.get("qualifier")
    if qualifier is None or qualifier == "$LATEST":
        return None
    return str(qualifier)


def build_async_config(settings: dict[str, Any]) -> AsyncConfig:
    """Read a function's asynchronous-invocation keys."""
    return AsyncConfig(
        max_retry_attempts=int(settings.get("max_retry_attempts", DEFAULT_ASYNC_RETRIES)),
        max_event_age_s=int(settings.get("max_event_age_s", DEFAULT_MAX_EVENT_AGE_S)),
        on_success=_destination(settings.get("on_success")),
        on_failure=_destination(settings.get("on_failure")),
    )


def _destination(settings: dict[str, str] | None) -> Destination | None:
    if not settings:
        return None
    kind, name = next(iter(settings.items()))
    return Destination(kind=kind, name=name)


def build_resources(source: ManifestSource, settings: dict[str, Any] | None) -> Resources:
    """Turn the schema-checked `resources` section into a Resources record."""
    settings = settings or {}
    queues = []
    for name, options in (settings.get("queues") or {}).items():
        options = options or {}
        dead_letter = options.get("dead_letter") or {}
        if dead_letter.get("queue") == name:
            raise source.error(
                ("resources", "queues", name, "dead_letter", "queue"),
                expected("another queue than the queue itself", name),
            )
        queues.append(
            QueueResource(
                name=name,
                visibility_timeout_s=int(options.get("visibility_timeout_s", 30)),
                retention_s=int(options.get("retention_s", 4 * 24 * 3600)),
                delay_s=int(options.get("delay_s", 0)),
                receive_wait_s=int(options.get("receive_wait_s", 0)),
                dead_letter_queue=dead_letter.get("queue"),
                max_receive_count=int(dead_letter.get("max_receive_count", 5)),
                content_based_deduplication=bool(options.get("content_based_deduplication", False)),
            )
        )
    buckets = [BucketResource(name=name) for name in (settings.get("buckets") or {})]
    tables = [
        TableResource(
            name=name,
            partition_key=_key(options["partition_key"]),
            sort_key=None if options.get("sort_key") is None else _key(options["sort_key"]),
            ttl_attribute=options.get("ttl_attribute"),
            stream_view_type=options.get("stream_view_type", DEFAULT_STREAM_VIEW_TYPE),
        )
        for name, options in (settings.get("tables") or {}).items()
    ]
    streams = [
        StreamResource(
            name=name,
            shards=int((options or {}).get("shards", 1)),
            retention_h=int((options or {}).get("retention_h", 24)),
        )
        for name, options in (settings.get("streams") or {}).items()
    ]
    return Resources(tuple(queues), tuple(buckets), tuple(tables), tuple(streams))


def _key(value: str | dict[str, str]) -> tuple[str, str]:
    if isinstance(value, str):
        return (value, "S")
    return (value["name"], value.get("type", "S"))
