"""The event sources and asynchronous settings of an AWS::Serverless::Function.

Each entry of a function's `Events` becomes an HTTP route or one of Squall's
triggers: Api (REST API, payload 1.0), HttpApi (payload 2.0 by default), SQS,
S3, Schedule, ScheduleV2, DynamoDB and Kinesis. `EventInvokeConfig` and
`DeadLetterQueue` become the function's AsyncConfig. An `AWS::Events::Rule`
resource with a `ScheduleExpression` that targets a function of the template
becomes a schedule of that function. Everything else is reported.
"""

from __future__ import annotations

import json
import logging
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from squall.events.filters import MAX_FILTERS, InvalidFilterPattern, check_pattern, check_record_fields
from squall.manifest.sam_intrinsics import (
    Evaluator,
    PropertyReader,
    Warnings,
    check_defined_keys,
    name_from_arn,
    unknown_key_error,
)
from squall.manifest.sam_resources import RESOURCE_PROPERTIES, RULE_TYPE, TemplateResource
from squall.manifest.serverless_keys import closest_key
from squall.manifest.spec import (
    ApiType,
    DEFAULT_ASYNC_RETRIES,
    DEFAULT_MAX_EVENT_AGE_S,
    DEFAULT_ROUTE,
    HTTP_METHODS,
    MAX_CORS_MAX_AGE_S,
    MIN_MAX_EVENT_AGE_S,
    PAYLOAD_VERSIONS,
    AsyncConfig,
    CorsConfig,
    Destination,
    HttpEvent,
    ObjectTrigger,
    QueueTrigger,
    ScheduleTrigger,
    StreamTrigger,
    TableStreamTrigger,
    Trigger,
)
from squall.manifest.resource_checks import object_overlap_problem
from squall.manifest.squall_events import BUCKET_NAME_PATTERN, QUEUE_NAME_PATTERN
from squall.manifest.validate import (
    FUNCTION_NAME_RE,
    KeyPath,
    ManifestProblems,
    ManifestSource,
    Route,
    check_destination_queue,
    check_http_path,
    check_queue_batch,
    describe,
    dotted,
    expected,
)

logger = logging.getLogger(__name__)

# The event types Squall translates, for messages.
_EVENT_TYPES_TEXT = "Api, HttpApi, SQS, S3, Schedule, ScheduleV2, DynamoDB or Kinesis"
# Every event type SAM defines for AWS::Serverless::Function (SAM specification, 2025).
SAM_EVENT_TYPES = frozenset({
    "AlexaSkill", "Api", "CloudWatchEvent", "CloudWatchLogs", "Cognito", "DocumentDB", "DynamoDB", "EventBridgeRule",
    "HttpApi", "IoTRule", "Kinesis", "MQ", "MSK", "S3", "SNS", "SQS", "Schedule", "ScheduleV2", "SelfManagedKafka",
})

_RECORD_SOURCE_PROPERTIES = frozenset({
    "BatchSize", "BisectBatchOnFunctionError", "DestinationConfig", "Enabled", "FilterCriteria", "FunctionResponseTypes",
    "KmsKeyArn", "MaximumBatchingWindowInSeconds", "MaximumRecordAgeInSeconds", "MaximumRetryAttempts", "MetricsConfig",
    "ParallelizationFactor", "StartingPosition", "StartingPositionTimestamp", "Stream", "TumblingWindowInSeconds",
})
# The properties SAM defines for each event type Squall reads (SAM developer
# guide, "EventSource" and its pages per type, 2025). SAM rejects any other.
SAM_EVENT_PROPERTIES: dict[str, frozenset[str]] = {
    "Api": frozenset({
        "Auth", "Method", "Path", "RequestModel", "RequestParameters", "ResponseTransferMode", "RestApiId",
        "TimeoutInMillis",
    }),
    "HttpApi": frozenset({"ApiId", "Auth", "Method", "Path", "PayloadFormatVersion", "RouteSettings", "TimeoutInMillis"}),
    "SQS": frozenset({
        "BatchSize", "Enabled", "FilterCriteria", "FunctionResponseTypes", "KmsKeyArn", "MaximumBatchingWindowInSeconds",
        "MetricsConfig", "ProvisionedPollerConfig", "Queue", "ScalingConfig",
    }),
    "S3": frozenset({"Bucket", "Events", "Filter"}),
    "Schedule": frozenset({
        "DeadLetterConfig", "Description", "Enabled", "Input", "Name", "RetryPolicy", "Schedule", "State",
    }),
    "ScheduleV2": frozenset({
        "DeadLetterConfig", "Description", "EndDate", "FlexibleTimeWindow", "GroupName", "Input", "KmsKeyArn", "Name",
        "OmitName", "PermissionsBoundary", "RetryPolicy", "RoleArn", "ScheduleExpression", "ScheduleExpressionTimezone",
        "StartDate", "State",
    }),
    "DynamoDB": _RECORD_SOURCE_PROPERTIES,
    "Kinesis": _RECORD_SOURCE_PROPERTIES,
}
# The keys of one entry of Events.
_EVENT_KEYS = ("Properties", "Type")

# The stage of the REST API SAM creates for Api events when a template names none.
SAM_REST_STAGE = "Prod"

_QUEUE_NAME_RE = re.compile(QUEUE_NAME_PATTERN)
_BUCKET_NAME_RE = re.compile(BUCKET_NAME_PATTERN)
_METHODS_TEXT = ", ".join(HTTP_METHODS) + " (any case)"

# Lambda's limits for event source mappings.
_MAX_BATCH_SIZE = 10_000
_MAX_BATCH_WINDOW_S = 300

# S3 event names Squall's object store produces, and those it never does.
_S3_EVENTS_SQUALL_PRODUCES = frozenset(
    {"s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Copy", "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete"}
)
_S3_EVENTS_NEVER_PRODUCED = frozenset(
    {"s3:ObjectCreated:Post", "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:DeleteMarkerCreated"}
)

_STARTING_POSITIONS = {"LATEST": "latest", "TRIM_HORIZON": "trim_horizon"}
_DESTINATION_SERVICES = {"SQS": "sqs", "Lambda": "lambda"}
_OTHER_DESTINATION_TYPES = ("SNS", "EventBridge", "S3Bucket", "S3")


@dataclass
class FunctionEvents:
    """The translation of a function's Events section."""

    routes: list[Route] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)
    # On-failure destinations of stream triggers, which Squall keeps once per function.
    stream_failures: list[tuple[Destination, KeyPath]] = field(default_factory=list)
    # The S3 events read so far, by their key paths, which a later one's filter must not overlap.
    object_triggers: list[tuple[KeyPath, ObjectTrigger]] = field(default_factory=list)


@dataclass(frozen=True)
class EventReader:
    """Translates the Events of one function."""

    evaluator: Evaluator
    warnings: Warnings
    function: str
    # The stage of each AWS::Serverless::Api of the template, by logical id.
    rest_stages: dict[str, str] = field(default_factory=dict)
    # The stage of each AWS::Serverless::HttpApi by logical id; None is its "$default" stage.
    http_stages: dict[str, str | None] = field(default_factory=dict)
    # The BinaryMediaTypes of each AWS::Serverless::Api by logical id.
    rest_binary_media_types: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The BinaryMediaTypes of the REST API SAM creates for Api events without a RestApiId (Globals.Api's).
    implicit_rest_binary_media_types: tuple[str, ...] = ()
    # The Cors of each AWS::Serverless::Api, and of the REST API SAM creates (Globals.Api's).
    rest_cors: dict[str, CorsConfig | None] = field(default_factory=dict)
    implicit_rest_cors: CorsConfig | None = None
    # The CorsConfiguration of each AWS::Serverless::HttpApi, and of the HTTP API SAM creates (Globals.HttpApi's).
    http_cors: dict[str, CorsConfig | None] = field(default_factory=dict)
    implicit_http_cors: CorsConfig | None = None

    @property
    def source(self) -> ManifestSource:
        return self.evaluator.source

    def read(self, events: Any, key: KeyPath, problems: ManifestProblems) -> FunctionEvents:
        """Translate the function's Events mapping, {Name: {Type, Properties}}, recording each event's mistake in `problems`."""
        found = FunctionEvents()
        if events is None:
            return found
        if not isinstance(events, dict):
            problems.add(self.source.error(key, expected("a mapping of event names to {Type, Properties}", events)))
            return found

        for name, event in events.items():
            event_key = (*key, str(name))
            with problems.collect():
                if isinstance(event, dict) and "Type" not in event:
                    raise self.source.error((*event_key, "Type"), f"missing, expected an event type: {_EVENT_TYPES_TEXT}")
                if not isinstance(event, dict) or not isinstance(event.get("Type"), str):
                    raise self.source.error(event_key, expected('a mapping with "Type" and "Properties"', event))
                self._check_event_keys(event_key, event)
                properties = event.get("Properties") or {}
                if not isinstance(properties, dict):
                    raise self.source.error((*event_key, "Properties"), expected("a mapping of event properties", properties))
                read = PropertyReader(self.evaluator, properties, (*event_key, "Properties"))
                self._read_one(event["Type"], read, event_key, found)
        return found

    def _check_event_keys(self, key: KeyPath, event: dict[Any, Any]) -> None:
        """Reject a key beside Type and Properties, which SAM rejects; a property written there is named as one."""
        kind = event["Type"]
        for name in event:
            if name in _EVENT_KEYS:
                continue
            hint = ""
            if name in SAM_EVENT_PROPERTIES.get(kind, ()):
                hint = f"; {name} is a property of {kind} events, so it belongs under Properties"
            raise unknown_key_error(self.source, key, name, _EVENT_KEYS, "an event", hint)

    def _read_one(self, kind: str, read: PropertyReader, key: KeyPath, found: FunctionEvents) -> None:
        if kind in SAM_EVENT_PROPERTIES:
            check_defined_keys(self.source, read.base, read.mapping, SAM_EVENT_PROPERTIES[kind], f"{kind} events")
        if kind == "Api":
            self._known(read, {"Path", "Method", "RestApiId"})
            stage, binary_media_types = self._rest_api(read)
            api = _ref_target(read.mapping.get("RestApiId"))
            event = HttpEvent(
                self._method(read, required=True),
                self._path(read, required=True),
                "1.0",
                stage,
                binary_media_types=binary_media_types,
                cors=self.rest_cors.get(api) if api is not None else self.implicit_rest_cors,
            )
            found.routes.append(Route(event, self.function, key))
        elif kind == "HttpApi":
            self._http_api(read, key, found)
        elif kind == "SQS":
            found.triggers.append(self._sqs(read))
        elif kind == "S3":
            trigger = self._s3(read)
            if trigger is not None:
                self._check_overlap(key, trigger, found)
                found.triggers.append(trigger)
                found.object_triggers.append((key, trigger))
        elif kind == "Schedule":
            found.triggers.append(self._schedule(read))
        elif kind == "ScheduleV2":
            found.triggers.append(self._schedule_v2(read, str(key[-1])))
        elif kind in ("DynamoDB", "Kinesis"):
            self._record_source(kind, read, key, found)
        elif kind in ("EventBridgeRule", "CloudWatchEvent"):
            self.warnings.add(
                key,
                f"{kind} events match event patterns, which Squall does not support yet, ignored; for a schedule "
                "use an event of Type Schedule or ScheduleV2",
            )
        elif kind in SAM_EVENT_TYPES:
            self.warnings.add((*key, "Type"), f"event type {describe(kind)} is not supported by Squall yet, ignored")
        else:
            # SAM rejects an event type it does not define.
            meant = closest_key(kind, SAM_EVENT_TYPES)
            hint = f' (did you mean "{meant}"?)' if meant else ""
            raise self.source.error((*key, "Type"), f"unknown event type {describe(kind)}{hint}, expected one of: {_EVENT_TYPES_TEXT}")

    def _rest_api(self, read: PropertyReader) -> tuple[str, tuple[str, ...]]:
        """Return the stage and binary media types of an Api event's REST API: its RestApiId's, or SAM's own API's.

        SAM's own API is served under "Prod" and takes the binary media types of Globals.Api.
        """
        if not read.has("RestApiId"):
            return SAM_REST_STAGE, self.implicit_rest_binary_media_types
        target = read.mapping["RestApiId"]
        api = target.get("Ref") if isinstance(target, dict) else None
        if not isinstance(api, str) or api not in self.rest_stages:
            declared = ", ".join(sorted(self.rest_stages)) or "none is declared"
            # Name the Ref's target, not the mapping it is written as.
            received = f"!Ref {api}" if isinstance(api, str) else describe(target)
            raise self.source.error(
                read.key("RestApiId"),
                f"expected !Ref of an AWS::Serverless::Api of this template ({declared}), got {received}",
            )
        return self.rest_stages[api], self.rest_binary_media_types.get(api, ())

    def _known(self, read: PropertyReader, known: set[str]) -> None:
        """List each key of `read` outside `known` as not supported; callers first reject the keys SAM does not define."""
        for name in read.mapping:
            if name not in known:
                self.warnings.unsupported((*read.base, str(name)))

    def _check_nested(self, read: PropertyReader, defined: set[str], setting: str) -> None:
        """Reject a key of a nested setting (ScalingConfig, DestinationConfig, ...) that SAM does not define."""
        check_defined_keys(self.source, read.base, read.mapping, defined, setting)

    # HTTP --------------------------------------------------------------------

    def _method(self, read: PropertyReader, required: bool) -> str:
        method = read.value("Method")
        if method is None:
            if required:
                raise self.source.error(read.key("Method"), f"missing, expected an HTTP method: {_METHODS_TEXT}")
            return "ANY"
        if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
            raise self.source.error(read.key("Method"), expected(f"an HTTP method: {_METHODS_TEXT}", method))
        return method.upper()

    def _path(self, read: PropertyReader, required: bool) -> str:
        path = read.value("Path")
        if path is None and required:
            raise self.source.error(read.key("Path"), 'missing, expected a path such as "/hello/{name}"')
        return check_http_path(self.source, read.key("Path"), path)

    def _http_stage(self, read: PropertyReader) -> str | None:
        """Return the stage of an HttpApi event's API: its ApiId's StageName, or None for SAM's own API's "$default"."""
        if not read.has("ApiId"):
            return None
        target = read.mapping["ApiId"]
        api = target.get("Ref") if isinstance(target, dict) else None
        if not isinstance(api, str) or api not in self.http_stages:
            declared = ", ".join(sorted(self.http_stages)) or "none is declared"
            received = f"!Ref {api}" if isinstance(api, str) else describe(target)
            raise self.source.error(
                read.key("ApiId"),
                f"expected !Ref of an AWS::Serverless::HttpApi of this template ({declared}), got {received}",
            )
        return self.http_stages[api]

    def _http_api(self, read: PropertyReader, key: KeyPath, found: FunctionEvents) -> None:
        self._known(read, {"Path", "Method", "PayloadFormatVersion", "ApiId"})
        stage = self._http_stage(read)
        api = _ref_target(read.mapping.get("ApiId"))
        cors = self.http_cors.get(api) if api is not None else self.implicit_http_cors
        payload = read.value("PayloadFormatVersion")
        if payload is None:
            payload = "2.0"
        elif isinstance(payload, float):
            payload = f"{payload:.1f}"  # YAML reads an unquoted 1.0 as a number
        if payload not in PAYLOAD_VERSIONS:
            raise self.source.error(read.key("PayloadFormatVersion"), expected('"1.0" or "2.0"', payload))

        method = self._method(read, required=False)
        if not read.has("Path"):
            # Without a path the function serves the API's $default route: every
            # request no other route matches.
            found.routes.append(
                Route(
                    HttpEvent("ANY", DEFAULT_ROUTE, payload, stage=stage, api=ApiType.HTTP, cors=cors), self.function, key
                )
            )
            return
        event = HttpEvent(method, self._path(read, required=True), payload, stage=stage, api=ApiType.HTTP, cors=cors)
        found.routes.append(Route(event, self.function, key))

    # Queues and buckets ----------------------------------------------------

    def _sqs(self, read: PropertyReader) -> QueueTrigger:
        self._known(
            read,
            {"Queue", "BatchSize", "MaximumBatchingWindowInSeconds", "ScalingConfig", "Enabled", "FunctionResponseTypes",
             "FilterCriteria"},
        )
        queue = self.queue_name(read, "Queue")
        concurrency: int | None = None
        scaling = read.value("ScalingConfig")
        if scaling is not None:
            if not isinstance(scaling, dict):
                raise self.source.error(read.key("ScalingConfig"), expected('a mapping with "MaximumConcurrency"', scaling))
            scaling_read = PropertyReader(self.evaluator, scaling, read.key("ScalingConfig"))
            self._check_nested(scaling_read, {"MaximumConcurrency"}, "ScalingConfig")
            if scaling_read.has("MaximumConcurrency"):
                # Lambda's range for the maximum concurrency of an SQS event source.
                concurrency = scaling_read.integer("MaximumConcurrency", 2, 2, 1000, "a whole number of concurrent batches")
        report_failures = self._function_response_types(read)
        batch_size = read.integer("BatchSize", 10, 1, _MAX_BATCH_SIZE, "a whole number of messages")
        batch_window_s = read.integer("MaximumBatchingWindowInSeconds", 0, 0, _MAX_BATCH_WINDOW_S, "whole seconds")
        check_queue_batch(
            self.source, read.key("BatchSize"), batch_size, batch_window_s, "MaximumBatchingWindowInSeconds", queue=queue
        )
        return QueueTrigger(
            queue=queue,
            batch_size=batch_size,
            batch_window_s=float(batch_window_s),
            max_concurrency=concurrency,
            enabled=read.boolean("Enabled", True),
            report_batch_item_failures=report_failures,
            filter_patterns=self._filter_criteria(read),
        )

    def _filter_criteria(self, read: PropertyReader, data_key: str | None = None) -> tuple[str, ...]:
        """Read FilterCriteria, {Filters: [{Pattern: JSON text}]}, as Lambda's event source mapping takes it.

        `data_key` is the record field a pattern must give as an object
        ("dynamodb" or "data" for streams), None for queues.
        """
        criteria = read.value("FilterCriteria")
        if criteria is None:
            return ()
        key = read.key("FilterCriteria")
        if not isinstance(criteria, dict):
            raise self.source.error(key, expected('a mapping with "Filters"', criteria))
        criteria_read = PropertyReader(self.evaluator, criteria, key)
        self._check_nested(criteria_read, {"Filters"}, "FilterCriteria")
        filters = criteria_read.value("Filters")
        filters_key = (*key, "Filters")
        if not filters:
            return ()  # an empty FilterCriteria filters nothing
        if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
            raise self.source.error(filters_key, expected(f"a list of up to {MAX_FILTERS} {{Pattern: JSON text}}", filters))
        patterns = []
        for index, entry in enumerate(filters):
            entry_key = (*filters_key, index)
            if not isinstance(entry, dict):
                raise self.source.error(entry_key, expected('a mapping with "Pattern"', entry))
            entry_read = PropertyReader(self.evaluator, entry, entry_key)
            self._check_nested(entry_read, {"Pattern"}, "Filters")
            _check_pattern_is_text(self.source, (*entry_key, "Pattern"), entry_read.value("Pattern"))
            pattern = entry_read.string("Pattern", "a filter pattern")
            if pattern is None:
                raise self.source.error(
                    (*entry_key, "Pattern"), 'missing, expected JSON text such as \'{"body": {"kind": ["order"]}}\''
                )
            try:
                patterns.append(check_pattern(pattern, data_key))
                check_record_fields(patterns[-1], data_key)
            except InvalidFilterPattern as error:
                where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.path)
                raise self.source.error((*entry_key, "Pattern"), f"invalid at pattern{where}: {error.message}") from None
        return tuple(patterns)

    def _function_response_types(self, read: PropertyReader) -> bool:
        """Return whether the event turns on ReportBatchItemFailures, which Lambda needs to read batchItemFailures."""
        types = read.value("FunctionResponseTypes")
        key = read.key("FunctionResponseTypes")
        if types is None:
            return False
        if not isinstance(types, list):
            raise self.source.error(key, expected("a list such as [ReportBatchItemFailures]", types))
        for index, item in enumerate(types):
            # Lambda defines this one response type.
            if item != "ReportBatchItemFailures":
                raise self.source.error((*key, index), expected('"ReportBatchItemFailures", the one response type', item))
        return bool(types)

    def queue_name(self, read: PropertyReader, name: str) -> str:
        """Read a queue given by its ARN (`!GetAtt Queue.Arn`), as SAM passes it to EventSourceArn."""
        written = read.mapping.get(name)
        target = written.get("Ref") if isinstance(written, dict) and len(written) == 1 else None
        if isinstance(target, str) and target not in self.evaluator.parameters:
            # On AWS, Ref of a queue returns its URL, which the event source mapping rejects as an ARN.
            raise self.source.error(
                read.key(name),
                f"!Ref {target} gives the queue's URL on AWS, not the ARN SAM needs as the event source, "
                f"expected !GetAtt {target}.Arn",
            )
        value = read.value(name)
        if value is None:
            raise self.source.error(read.key(name), "missing, expected the queue's ARN, such as !GetAtt MyQueue.Arn")
        queue = name_from_arn(value, "sqs") if isinstance(value, str) else None
        if queue is None:
            raise self.source.error(read.key(name), expected("the ARN of a queue, such as !GetAtt MyQueue.Arn", value))
        return queue

    def _s3(self, read: PropertyReader) -> ObjectTrigger | None:
        self._known(read, {"Bucket", "Events", "Filter"})
        bucket = read.value("Bucket")
        if isinstance(bucket, str):
            bucket = name_from_arn(bucket, "s3") or bucket
        if not isinstance(bucket, str) or not _BUCKET_NAME_RE.match(bucket):
            raise self.source.error(
                read.key("Bucket"), expected("a bucket of this template, such as !Ref UploadsBucket", bucket)
            )

        names = read.value("Events")
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
            raise self.source.error(read.key("Events"), expected('an S3 event such as "s3:ObjectCreated:*", or a list', names))
        listed = isinstance(read.value("Events"), list)
        events: list[str] = []
        for index, name in enumerate(names):
            event_key = (*read.key("Events"), index) if listed else read.key("Events")
            if name in _S3_EVENTS_SQUALL_PRODUCES:
                events.append(name)
            elif name in _S3_EVENTS_NEVER_PRODUCED:
                self.warnings.add(event_key, f"{name} is never produced by Squall's object store, so it never fires")
            else:
                self.warnings.add(event_key, f"{name} is not supported by Squall, ignored")
        if not events:
            self.warnings.add(read.key("Events"), "none of these events is produced by Squall, so the trigger is left out")
            return None

        prefix, suffix = self._s3_filter(read)
        return ObjectTrigger(bucket=bucket, events=tuple(events), prefix=prefix, suffix=suffix)

    def _check_overlap(self, key: KeyPath, trigger: ObjectTrigger, found: FunctionEvents) -> None:
        """Reject an S3 event whose filter overlaps that of an earlier S3 event of the function.

        NOTE: the events of two functions are compared only by the deploy and
        `squall plan`, which name the functions' Events and not the events.
        """
        for first_key, first in found.object_triggers:
            problem = object_overlap_problem(dotted(first_key), first, trigger)
            if problem is not None:
                raise self.source.error(key, problem)

    def _s3_filter(self, read: PropertyReader) -> tuple[str, str]:
        config = read.value("Filter")
        if config is None:
            return "", ""
        key = read.key("Filter")
        rules = config.get("S3Key", {}).get("Rules") if isinstance(config, dict) and isinstance(config.get("S3Key"), dict) else None
        if not isinstance(rules, list):
            raise self.source.error(key, expected("a mapping S3Key: {Rules: [{Name: prefix or suffix, Value}]}", config))
        rules_key = (*key, "S3Key", "Rules")
        found: dict[str, str] = {}
        for index, rule in enumerate(rules):
            if not isinstance(rule, dict) or not isinstance(rule.get("Value"), str):
                raise self.source.error((*rules_key, index), expected("a mapping with Name and Value", rule))
            # S3 accepts the rule names in any case.
            name = str(rule.get("Name", "")).lower()
            if name not in ("prefix", "suffix") or name in found:
                raise self.source.error(
                    (*rules_key, index, "Name"), expected('"prefix" or "suffix", each at most once', rule.get("Name"))
                )
            found[name] = rule["Value"]
        return found.get("prefix", ""), found.get("suffix", "")

    # Schedules -------------------------------------------------------------

    def _schedule(self, read: PropertyReader) -> ScheduleTrigger:
        self._known(read, {"Schedule", "Input", "Enabled", "State", "Description", "Name"})
        if read.has("Enabled") and read.has("State"):
            raise self.source.error(read.key("State"), "Enabled and State are both set, expected only one of them")
        enabled = read.boolean("Enabled", True)
        if read.has("State"):
            enabled = self._state(read)
        return schedule_trigger(
            self.evaluator.source, read.key("Schedule"), read.string("Schedule", "a schedule expression"),
            "UTC", None, self._input(read, "Input"), enabled, read.string("Name", "a rule name"),
        )

    def _schedule_v2(self, read: PropertyReader, event_name: str) -> ScheduleTrigger:
        self._known(
            read,
            {
                "ScheduleExpression", "ScheduleExpressionTimezone", "Input", "State", "Description",
                "FlexibleTimeWindow", "Name", "GroupName",
            },
        )
        window = read.value("FlexibleTimeWindow")
        if window is not None and (not isinstance(window, dict) or window.get("Mode", "OFF") != "OFF"):
            self.warnings.add(
                read.key("FlexibleTimeWindow"), "flexible time windows are not supported, the schedule fires on time"
            )
        timezone = read.string("ScheduleExpressionTimezone", "an IANA time zone name") or "UTC"
        return schedule_trigger(
            self.source, read.key("ScheduleExpression"), read.string("ScheduleExpression", "a schedule expression"),
            timezone, read.key("ScheduleExpressionTimezone"), self._input(read, "Input"),
            self._state(read) if read.has("State") else True,
            # SAM names an unnamed schedule after the function's logical id and the event's name.
            read.string("Name", "a schedule name") or f"{self.function}{event_name}",
            read.string("GroupName", "a schedule group name") or "default",
        )

    def _state(self, read: PropertyReader) -> bool:
        state = read.value("State")
        if state in ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"):
            return True
        if state == "DISABLED":
            return False
        raise self.source.error(read.key("State"), expected('"ENABLED" or "DISABLED"', state))

    def _input(self, read: PropertyReader, name: str) -> object:
        return parse_input(self.source, read.key(name), read.value(name))

    # Record streams --------------------------------------------------------

    def _record_source(self, kind: str, read: PropertyReader, key: KeyPath, found: FunctionEvents) -> None:
        self._known(
            read,
            {"Stream", "StartingPosition", "BatchSize", "MaximumBatchingWindowInSeconds", "MaximumRetryAttempts",
             "BisectBatchOnFunctionError", "DestinationConfig", "Enabled", "FunctionResponseTypes", "FilterCriteria"},
        )
        service, what = ("dynamodb", "table stream") if kind == "DynamoDB" else ("kinesis", "stream")
        stream_value = read.value("Stream")
        example = "!GetAtt MyTable.StreamArn" if kind == "DynamoDB" else "!GetAtt MyStream.Arn"
        source = name_from_arn(stream_value, service) if isinstance(stream_value, str) else None
        if source is None:
            raise self.source.error(read.key("Stream"), expected(f"the ARN of a {what}, such as {example}", stream_value))
        if kind == "DynamoDB" and "/stream/" not in stream_value:
            raise self.source.error(
                read.key("Stream"), expected(f"the ARN of a table's stream, such as {example}", stream_value)
            )

        position = read.value("StartingPosition")
        if position is None:
            raise self.source.error(read.key("StartingPosition"), 'missing, expected "LATEST" or "TRIM_HORIZON"')
        if position not in _STARTING_POSITIONS:
            raise self.source.error(
                read.key("StartingPosition"),
                expected('"LATEST" or "TRIM_HORIZON" (AT_TIMESTAMP is not supported by Squall)', position),
            )
        settings = {
            "batch_size": read.integer("BatchSize", 100, 1, _MAX_BATCH_SIZE, "a whole number of records"),
            "starting_position": _STARTING_POSITIONS[position],
            "batch_window_s": float(
                read.integer("MaximumBatchingWindowInSeconds", 0, 0, _MAX_BATCH_WINDOW_S, "whole seconds")
            ),
            "max_retries": read.integer("MaximumRetryAttempts", -1, -1, _MAX_BATCH_SIZE, "a whole number of retries"),
            "bisect_on_error": read.boolean("BisectBatchOnFunctionError", False),
            "report_batch_item_failures": self._function_response_types(read),
            "filter_patterns": self._filter_criteria(read, "dynamodb" if kind == "DynamoDB" else "data"),
        }

        destination = read.value("DestinationConfig")
        if destination is not None:
            on_failure = destination.get("OnFailure") if isinstance(destination, dict) else None
            if not isinstance(on_failure, dict):
                raise self.source.error(read.key("DestinationConfig"), expected('a mapping with "OnFailure"', destination))
            self._check_nested(PropertyReader(self.evaluator, destination, read.key("DestinationConfig")), {"OnFailure"},
                               "DestinationConfig")
            failure_read = PropertyReader(self.evaluator, on_failure, (*read.key("DestinationConfig"), "OnFailure"))
            self._check_nested(failure_read, {"Destination", "Type"}, "OnFailure")
            target = self.destination(failure_read, allowed=("SQS",))
            if target is not None:
                found.stream_failures.append((target, failure_read.base))

        if not read.boolean("Enabled", True):
            # Squall's record triggers cannot be paused, so a disabled one is left out.
            self.warnings.add(read.key("Enabled"), "a disabled stream trigger is left out: Squall cannot pause one")
            return
        if kind == "DynamoDB":
            found.triggers.append(TableStreamTrigger(table=source, **settings))
        else:
            found.triggers.append(StreamTrigger(stream=source, **settings))

    # Destinations ----------------------------------------------------------

    def destination(
        self, read: PropertyReader, allowed: tuple[str, ...], target: str = "Destination"
    ) -> Destination | None:
        """Read {Type, Destination}; None, with a warning, for a type Squall cannot deliver to.

        `target` names the property with the ARN, "TargetArn" in a DeadLetterQueue.
        """
        kind = read.value("Type")
        target_key = read.key(target)
        target_value = read.value(target)
        if kind in _OTHER_DESTINATION_TYPES:
            self.warnings.add(read.key("Type"), f"{kind} destinations are not supported by Squall yet, ignored")
            return None
        if target_value is None:
            if kind == "SQS":
                raise self.source.error(
                    target_key,
                    "missing: Squall does not create the queue SAM would generate, expected the ARN of a queue "
                    "declared in the template, such as !GetAtt FailedEvents.Arn",
                )
            raise self.source.error(target_key, "missing, expected the ARN of a queue or function")
        if not isinstance(target_value, str):
            raise self.source.error(target_key, expected("an ARN", target_value))

        if kind is None:
            # Type is optional in SAM, so the ARN's service decides it.
            service = next((name for name, arn_service in _DESTINATION_SERVICES.items()
                            if name_from_arn(target_value, arn_service) is not None), None)
            if service is None:
                raise self.source.error(target_key, expected("the ARN of a queue or function", target_value))
            kind = service
        if kind not in _DESTINATION_SERVICES or kind not in allowed:
            valid = " or ".join(f'"{name}"' for name in allowed)
            raise self.source.error(read.key("Type"), expected(valid, kind))

        if kind == "SQS":
            name = name_from_arn(target_value, "sqs") or (target_value if _QUEUE_NAME_RE.match(target_value) else None)
            if name is None:
                raise self.source.error(target_key, expected("the ARN of a queue", target_value))
            return Destination("queue", check_destination_queue(self.source, target_key, name))
        name = name_from_arn(target_value, "lambda") or (target_value if FUNCTION_NAME_RE.match(target_value) else None)
        if name is None:
            raise self.source.error(target_key, expected("the ARN of a function", target_value))
        return Destination("function", name)

    def async_config(self, invoke_config: Any, key: KeyPath) -> AsyncConfig:
        """Read EventInvokeConfig: retries, maximum event age and destinations of asynchronous invocations."""
        if invoke_config is None:
            return AsyncConfig()
        if not isinstance(invoke_config, dict):
            raise self.source.error(key, expected("a mapping of asynchronous invocation settings", invoke_config))
        read = PropertyReader(self.evaluator, invoke_config, key)
        self._check_nested(read, {"MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"}, "EventInvokeConfig")

        destinations: dict[str, Destination | None] = {"OnSuccess": None, "OnFailure": None}
        config = invoke_config.get("DestinationConfig")
        if config is not None:
            if not isinstance(config, dict):
                raise self.source.error(read.key("DestinationConfig"), expected("a mapping with OnSuccess and OnFailure", config))
            config_read = PropertyReader(self.evaluator, config, read.key("DestinationConfig"))
            self._check_nested(config_read, set(destinations), "DestinationConfig")
            for name in destinations:
                entry = config.get(name)
                if entry is None:
                    continue
                if not isinstance(entry, dict):
                    raise self.source.error(config_read.key(name), expected('a mapping with "Type" and "Destination"', entry))
                entry_read = PropertyReader(self.evaluator, entry, config_read.key(name))
                self._check_nested(entry_read, {"Type", "Destination"}, name)
                destinations[name] = self.destination(entry_read, allowed=("SQS", "Lambda"))

        return AsyncConfig(
            max_retry_attempts=read.integer(
                "MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES, 0, DEFAULT_ASYNC_RETRIES, "a whole number of retries"
            ),
            max_event_age_s=read.integer(
                "MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_S, MIN_MAX_EVENT_AGE_S, DEFAULT_MAX_EVENT_AGE_S,
                "whole seconds",
            ),
            on_success=destinations["OnSuccess"],
            on_failure=destinations["OnFailure"],
        )


def _check_pattern_is_text(source: ManifestSource, key: KeyPath, pattern: Any) -> None:
    """Reject a filter pattern written as a YAML mapping or list, since Lambda takes the pattern as JSON text only.

    The message shows the user's own pattern as the quoted JSON text to write.
    """
    if not isinstance(pattern, (dict, list)):
        return
    text = json.dumps(pattern, ensure_ascii=False, default=str).replace("'", "''")
    raise source.error(
        key,
        f"expected JSON text, got {describe(pattern)}; quote the pattern as a string, such as Pattern: '{text}'",
    )


def parse_input(source: ManifestSource, key: KeyPath, value: Any) -> object:
    """Parse a schedule's Input, which EventBridge takes as JSON text; a mapping is taken as it is."""
    if value is None or isinstance(value, (dict, list)):
        return value
    if not isinstance(value, str):
        raise source.error(key, expected("JSON text such as '{\"job\": \"cleanup\"}'", value))
    try:
        return json.loads(value)
    except ValueError as error:
        raise source.error(key, f"invalid JSON ({error}), expected JSON text such as '{{\"job\": \"cleanup\"}}'") from None


def schedule_trigger(
    source: ManifestSource,
    key: KeyPath,
    expression: str | None,
    timezone: str,
    timezone_key: KeyPath | None,
    event_input: object,
    enabled: bool,
    rule_name: str | None = None,
    scheduler_group: str | None = None,
) -> ScheduleTrigger:
    """Check a schedule expression and time zone and build the trigger."""
    from squall.services.errors import InvalidParameter
    from squall.services.schedules import parse_schedule

    if expression is None:
        raise source.error(key, 'missing, expected a schedule expression such as "rate(5 minutes)"')
    try:
        parse_schedule(expression)
    except InvalidParameter as error:
        raise source.error(key, str(error)) from None
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise source.error(
            timezone_key or key, expected('an IANA time zone name such as "UTC" or "Europe/Berlin"', timezone)
        ) from None
    return ScheduleTrigger(expression=expression, timezone=timezone, input=event_input, enabled=enabled,
                           rule_name=rule_name, scheduler_group=scheduler_group)


def rule_schedules(
    evaluator: Evaluator, warnings: Warnings, rule: TemplateResource, functions: set[str]
) -> list[tuple[str, ScheduleTrigger]]:
    """Read an AWS::Events::Rule: each target that is a function of the template gets the rule's schedule."""
    source = evaluator.source
    read = PropertyReader(evaluator, rule.properties, rule.properties_key)
    check_defined_keys(
        source, read.base, read.mapping, RESOURCE_PROPERTIES[RULE_TYPE], RULE_TYPE, warnings,
        {"ScheduleExpression", "State", "Targets", "Description", "Name"},
    )
    if not read.has("ScheduleExpression"):
        warnings.add(
            rule.key, f"{RULE_TYPE} without ScheduleExpression matches event patterns, which Squall does not support yet, ignored"
        )
        return []

    expression = read.string("ScheduleExpression", "a schedule expression")
    state = read.value("State") or "ENABLED"
    if state not in ("ENABLED", "DISABLED"):
        raise source.error(read.key("State"), expected('"ENABLED" or "DISABLED"', state))
    targets = rule.properties.get("Targets") or []
    if not isinstance(targets, list):
        raise source.error(read.key("Targets"), expected("a list of targets with Arn and Id", targets))

    # CloudFormation names an unnamed rule after the stack and its logical id (plus a random suffix).
    rule_name = read.string("Name", "a rule name") or f"{evaluator.stack_name}-{rule.logical_id}"
    schedules: list[tuple[str, ScheduleTrigger]] = []
    for index, target in enumerate(targets):
        target_key = (*read.key("Targets"), index)
        if not isinstance(target, dict):
            raise source.error(target_key, expected("a target mapping with Arn and Id", target))
        target_read = PropertyReader(evaluator, target, target_key)
        warnings.unsupported_keys(target_key, target, {"Arn", "Id", "Input"})
        target_arn = target_read.value("Arn")
        function = name_from_arn(target_arn, "lambda") if isinstance(target_arn, str) else None
        if function not in functions:
            warnings.add(
                (*target_key, "Arn"), "only functions of this template can be targets in Squall, this target is ignored"
            )
            continue
        trigger = schedule_trigger(
            source, read.key("ScheduleExpression"), expression, "UTC", None,
            parse_input(source, target_read.key("Input"), target_read.value("Input")), state == "ENABLED", rule_name,
        )
        schedules.append((function, trigger))
    return schedules


def _ref_target(target: Any) -> str | None:
    """Return the logical id a `!Ref` names, or None for no `!Ref`."""
    api = target.get("Ref") if isinstance(target, dict) else None
    return api if isinstance(api, str) else None


# The keys SAM defines in an AWS::Serverless::HttpApi's CorsConfiguration.
_HTTP_API_CORS_KEYS = ("AllowCredentials", "AllowHeaders", "AllowMethods", "AllowOrigins", "ExposeHeaders", "MaxAge")
# The keys SAM defines in an AWS::Serverless::Api's Cors.
_REST_CORS_KEYS = ("AllowCredentials", "AllowHeaders", "AllowMethods", "AllowOrigin", "MaxAge")


def read_http_api_cors(source: ManifestSource, key: KeyPath, value: Any) -> CorsConfig | None:
    """Read a resolved CorsConfiguration of an AWS::Serverless::HttpApi or Globals.HttpApi.

    As SAM translates it: true allows every origin, a string names the one
    origin allowed, and a mapping sets the API's CORS configuration. Unset
    headers and methods send no Access-Control-Allow-Headers or -Methods.
    """
    if value is None or value is False:
        return None
    if value is True:
        return CorsConfig(allow_origins=("*",), allow_methods=())
    if isinstance(value, str) and value:
        return CorsConfig(allow_origins=(value,), allow_methods=())
    if not isinstance(value, dict):
        raise source.error(key, expected("true, an origin, or a mapping such as {AllowOrigins: [https://example.com]}", value))
    check_defined_keys(source, key, value, _HTTP_API_CORS_KEYS, "CorsConfiguration")

    def names(name: str) -> tuple[str, ...]:
        items = value.get(name, [])
        if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
            raise source.error((*key, name), expected('a list of strings, such as ["https://example.com"]', items))
        return tuple(items)

    origins = names("AllowOrigins")
    credentials = value.get("AllowCredentials", False)
    if not isinstance(credentials, bool):
        raise source.error((*key, "AllowCredentials"), expected("true or false", credentials))
    if credentials and "*" in origins:
        # API Gateway rejects the configuration: "allow-credentials is not supported if 'allow-origin' is *".
        raise source.error(
            (*key, "AllowOrigins"), expected('origins without "*" when AllowCredentials is true, as API Gateway requires', list(origins))
        )
    max_age = value.get("MaxAge")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or not -1 <= max_age <= MAX_CORS_MAX_AGE_S):
        raise source.error((*key, "MaxAge"), expected(f"whole seconds from -1 to {MAX_CORS_MAX_AGE_S}", max_age))
    return CorsConfig(
        allow_origins=origins,
        allow_headers=names("AllowHeaders"),
        allow_methods=tuple(method.upper() for method in names("AllowMethods")),
        allow_credentials=credentials,
        expose_headers=names("ExposeHeaders"),
        max_age_s=max_age,
    )


def read_rest_cors(source: ManifestSource, key: KeyPath, value: Any) -> CorsConfig | None:
    """Read a resolved Cors of an AWS::Serverless::Api or Globals.Api, which SAM turns into OPTIONS mock methods.

    A string is the allowed origin. In a mapping, AllowOrigin is required.
    Each value is an API Gateway header value in single quotes ("'*'"), as
    SAM passes it on, and AllowCredentials is a boolean. Without
    AllowMethods, a path allows OPTIONS and the methods of its routes.
    """
    if value is None:
        return None
    string_form = isinstance(value, str)
    if string_form:
        value = {"AllowOrigin": value}
    if not isinstance(value, dict):
        raise source.error(key, expected("an origin in single quotes such as \"'*'\", or a mapping with AllowOrigin", value))
    check_defined_keys(source, key, value, _REST_CORS_KEYS, "Cors")
    if "AllowOrigin" not in value:
        raise source.error((*key, "AllowOrigin"), "missing, expected the allowed origin in single quotes, such as \"'*'\"")

    def quoted(name: str) -> str | None:
        text = value.get(name)
        if text is None:
            return None
        if not isinstance(text, str) or not text:
            raise source.error(
                key if string_form else (*key, name),
                expected("a value in single quotes, such as \"'https://example.com'\", as SAM requires", text),
            )
        # NOTE: API Gateway takes only a value in single quotes as a constant
        # header value; Squall also takes one without them as that value.
        if len(text) >= 2 and text[0] == text[-1] == "'":
            return text[1:-1]
        return text

    origin = quoted("AllowOrigin") or "*"
    headers = quoted("AllowHeaders")
    methods = quoted("AllowMethods")
    max_age_text = quoted("MaxAge")
    max_age = None
    if max_age_text is not None:
        if not max_age_text.isdigit():
            raise source.error((*key, "MaxAge"), expected("whole seconds in single quotes, such as \"'600'\"", value["MaxAge"]))
        max_age = int(max_age_text)
    credentials = value.get("AllowCredentials", False)
    if not isinstance(credentials, bool):
        raise source.error((*key, "AllowCredentials"), expected("true or false", credentials))
    if credentials and origin == "*":
        # SAM rejects this: browsers refuse credentials with Access-Control-Allow-Origin "*".
        raise source.error((*key, "AllowOrigin"), expected("an origin other than '*' when AllowCredentials is true", value["AllowOrigin"]))
    # Each value is sent as written, so a list such as 'GET, POST' keeps its spacing.
    return CorsConfig(
        allow_origins=(origin,),
        allow_headers=() if headers is None else (headers,),
        allow_methods=None if methods is None else (methods,),
        allow_credentials=credentials,
        max_age_s=max_age,
    )
