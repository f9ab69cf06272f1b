"""A serverless.yml function's event sources and destinations, translated to Squall triggers.

`sqs`, `s3`, `schedule`, `stream` and the schedule form of `eventBridge`
become QueueTrigger, ObjectTrigger, ScheduleTrigger, TableStreamTrigger and
StreamTrigger. Defaults are the Framework's where they differ from Lambda's:
a stream event reads 10 records from TRIM_HORIZON unless its settings state otherwise.
"""

from __future__ import annotations

import json
import logging
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from squall.manifest.serverless_common import Warnings, check_number
from squall.manifest.resource_checks import bucket_name_problem, object_overlap_problem
from squall.manifest.serverless_resources import BUCKET_TYPE, Catalog, check_catalog_resources, queue_name_from_arn
from squall.manifest.serverless_resources import intrinsic_text as _shown
from squall.manifest.spec import (
    DEFAULT_ASYNC_RETRIES,
    DEFAULT_MAX_EVENT_AGE_S,
    MIN_MAX_EVENT_AGE_S,
    AsyncConfig,
    Destination,
    ObjectTrigger,
    QueueTrigger,
    ScheduleTrigger,
    StreamTrigger,
    TableStreamTrigger,
    Trigger,
)
from squall.events.filters import MAX_FILTERS
from squall.manifest.squall_events import BUCKET_NAME_PATTERN, BUCKET_NAME_RULE, filter_patterns_of
from squall.manifest.validate import (
    KeyPath,
    ManifestSource,
    check_destination_queue,
    check_queue_batch,
    describe,
    dotted,
    expected,
)

logger = logging.getLogger(__name__)

TRIGGER_EVENT_TYPES = ("sqs", "s3", "schedule", "stream", "eventBridge")

_ARN_RE = re.compile(r"^arn:aws[a-z-]*:([a-z0-9-]+):([^:]*):([^:]*):(.+)$")
_TABLE_STREAM_RESOURCE_RE = re.compile(r"^table/([^/]+)/stream/.+$")
_KINESIS_RESOURCE_RE = re.compile(r"^stream/([^/]+)$")
_LAMBDA_RESOURCE_RE = re.compile(r"^function:([^:]+)(?::[^:]+)?$")

_QUEUE_ARN_RULE = "an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME) or Fn::GetAtt [LogicalId, Arn] of a queue under resources.Resources"
_STREAM_ARN_RULE = (
    "a DynamoDB stream or Kinesis stream ARN, or Fn::GetAtt [LogicalId, StreamArn] of a table "
    "or [LogicalId, Arn] of a stream under resources.Resources"
)
_DESTINATION_RULE = (
    "the name of a function of this service, an SQS queue or Lambda function ARN, or "
    "{type, arn} with Fn::GetAtt of a queue under resources.Resources"
)
_S3_EVENT_KINDS = {"s3:ObjectCreated:": "created", "s3:ObjectRemoved:": "removed"}
_DEFAULT_S3_EVENT = "s3:ObjectCreated:*"
_STARTING_POSITIONS = {"LATEST": "latest", "TRIM_HORIZON": "trim_horizon"}
_REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
# EventBridge's rule names, which the Framework's schema for a schedule's name repeats.
_RULE_NAME_RE = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
_RULE_NAME_RULE = "a rule name of 1 to 64 letters, digits, '.', '-' or '_'"


@dataclass
class EventReader:
    """Reads the trigger events of a serverless.yml's functions against its declared resources."""

    source: ManifestSource
    catalog: Catalog
    warnings: Warnings
    provider_buckets: dict[str, str] = field(default_factory=dict)  # provider.s3 key -> bucket name
    # Destinations written as a bare function name, checked once every function is known.
    named_functions: list[tuple[KeyPath, str]] = field(default_factory=list)
    # The schedule rule names read so far, with where each was set: a rule name is unique on its event bus.
    rule_names: dict[str, KeyPath] = field(default_factory=dict)
    # The s3 events read so far, with the S3 event each names, which a later one's filter must not overlap.
    object_events: list[tuple[KeyPath, ObjectTrigger]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The events refer to the declared resources, so those are checked first, once.
        check_catalog_resources(self.source, self.catalog)

    def read(self, key: KeyPath, event_type: str, config: Any, failures: list[tuple[KeyPath, Destination]]) -> list[Trigger]:
        """Return the triggers of one event; a stream's onFailure destination is added to `failures`."""
        if event_type == "sqs":
            return self.sqs(key, config)
        if event_type == "s3":
            return self.s3(key, config)
        if event_type == "schedule":
            return self.schedule(key, config)
        if event_type == "stream":
            return self.stream(key, config, failures)
        return self.event_bridge(key, config)

    # sqs ---------------------------------------------------------------------

    def sqs(self, key: KeyPath, config: Any) -> list[Trigger]:
        if not isinstance(config, dict):
            config = {"arn": config}
            arn_key = key
        else:
            arn_key = (*key, "arn")
            self.warnings.unsupported_keys(
                key,
                config,
                (
                    "arn", "batchSize", "maximumBatchingWindow", "maximumConcurrency", "functionResponseType", "enabled",
                    "filterPatterns",
                ),
            )
        if config.get("arn") is None:
            raise self.source.error(arn_key, f"missing, expected {_QUEUE_ARN_RULE}")
        arn = self.catalog.evaluate(config["arn"])
        queue = queue_name_from_arn(arn) if arn else None
        if queue is None:
            raise self.source.error(arn_key, expected(_QUEUE_ARN_RULE, _shown(config["arn"])))

        report_failures = self._check_response_type(key, config)
        concurrency = config.get("maximumConcurrency")
        batch_size = self._int(key, config, "batchSize", 10, 1, 10_000, "a whole number of messages")
        batch_window_s = self._int(key, config, "maximumBatchingWindow", 0, 0, 300, "whole seconds")
        check_queue_batch(
            self.source, (*key, "batchSize"), batch_size, batch_window_s, "maximumBatchingWindow", queue=queue
        )
        return [
            QueueTrigger(
                queue=queue,
                batch_size=batch_size,
                batch_window_s=batch_window_s,
                max_concurrency=None
                if concurrency is None
                else self._int(key, config, "maximumConcurrency", 0, 2, 1000, "a whole number of concurrent batches"),
                enabled=self._bool(key, config, "enabled", True),
                report_batch_item_failures=report_failures,
                filter_patterns=self._filter_patterns(key, config),
            )
        ]

    # s3 ----------------------------------------------------------------------

    def s3(self, key: KeyPath, config: Any) -> list[Trigger]:
        if not isinstance(config, dict):
            config = {"bucket": config}
            bucket_key = key
        else:
            bucket_key = (*key, "bucket")
            self.warnings.unsupported_keys(key, config, ("bucket", "event", "rules", "existing", "forceDeploy"))
        bucket = self._bucket_name(bucket_key, config.get("bucket"))
        events = self._s3_event(key, config)
        prefix, suffix = self._s3_rules(key, config.get("rules"))
        # S3 compares the event types as written, so s3:ObjectCreated:Put and s3:ObjectCreated:Copy do not overlap.
        written = ObjectTrigger(bucket, (config.get("event", _DEFAULT_S3_EVENT),), prefix, suffix)
        for first_key, first in self.object_events:
            problem = object_overlap_problem(dotted(first_key), first, written)
            if problem is not None:
                raise self.source.error(key, problem)
        self.object_events.append((key, written))

        # The Framework creates the bucket of an s3 event unless it is marked
        # existing; one declared under resources is created from there.
        if not self._bool(key, config, "existing", False):
            self.catalog.add_bucket(bucket)
        return [ObjectTrigger(bucket=bucket, events=events, prefix=prefix, suffix=suffix)]

    def _bucket_name(self, key: KeyPath, value: Any) -> str:
        if value is None:
            raise self.source.error(key, f"missing, expected a bucket name of {BUCKET_NAME_RULE}")
        name = self.catalog.evaluate(value)
        if isinstance(value, str) and value in self.provider_buckets:
            name = self.provider_buckets[value]
        if not self.catalog.refers_to(value, BUCKET_TYPE):
            name = None
        if name is None or not re.match(BUCKET_NAME_PATTERN, name):
            raise self.source.error(key, expected(f"a bucket name of {BUCKET_NAME_RULE}, or Ref of a bucket under resources.Resources", _shown(value)))
        problem = bucket_name_problem(name)
        if problem is not None:
            raise self.source.error(key, problem)
        return name

    def _s3_event(self, key: KeyPath, config: dict[str, Any]) -> tuple[str, ...]:
        event = config.get("event", _DEFAULT_S3_EVENT)
        for prefix, kind in _S3_EVENT_KINDS.items():
            if isinstance(event, str) and event.startswith(prefix) and len(event) > len(prefix):
                if not event.endswith(":*"):
                    self.warnings.add(
                        (*key, "event"),
                        f"{describe(event)} is narrower than Squall's object events, so every "
                        f"{'creation' if kind == 'created' else 'removal'} invokes the function",
                    )
                return (kind,)
        raise self.source.error((*key, "event"), expected('"s3:ObjectCreated:*" or "s3:ObjectRemoved:*" (or one of their subtypes)', event))

    def _s3_rules(self, key: KeyPath, rules: Any) -> tuple[str, str]:
        found = {"prefix": "", "suffix": ""}
        if rules is None:
            return "", ""
        if not isinstance(rules, list):
            raise self.source.error((*key, "rules"), expected("a list such as [{prefix: uploads/}, {suffix: .jpg}]", rules))
        for index, rule in enumerate(rules):
            rule_key = (*key, "rules", index)
            if not isinstance(rule, dict) or len(rule) != 1 or next(iter(rule)) not in found:
                raise self.source.error(rule_key, expected("a mapping with one key, prefix or suffix", rule))
            name, value = next(iter(rule.items()))
            if not isinstance(value, str):
                raise self.source.error((*rule_key, name), expected(f"a key {name} such as uploads/ or .jpg", value))
            if found[name]:
                raise self.source.error((*rule_key, name), expected(f"one {name} rule per event (S3 allows one)", value))
            found[name] = value
        return found["prefix"], found["suffix"]

    # schedule and eventBridge ------------------------------------------------

    def schedule(self, key: KeyPath, config: Any) -> list[Trigger]:
        if not isinstance(config, dict):
            return [self._schedule_trigger(key, config, None, True, "UTC")]
        self.warnings.unsupported_keys(key, config, ("rate", "enabled", "input", "method", "timezone", "name"))
        if "rate" not in config:
            raise self.source.error((*key, "rate"), 'missing, expected a schedule expression such as "rate(5 minutes)" or a list of them')
        rates = config["rate"]
        enabled = self._bool(key, config, "enabled", True)
        event_input = self._schedule_input((*key, "input"), config.get("input"))
        timezone = self._timezone((*key, "timezone"), config.get("timezone", "UTC"))
        rule_name = self._rule_name((*key, "name"), config.get("name"))
        method = config.get("method", "eventBus")
        if method not in ("eventBus", "scheduler"):
            raise self.source.error((*key, "method"), expected('"eventBus" (an EventBridge rule) or "scheduler"', method))
        group = "default" if method == "scheduler" else None
        if isinstance(rates, list):
            if not rates:
                raise self.source.error((*key, "rate"), expected("at least one schedule expression", rates))
            if rule_name is not None and len(rates) > 1:
                # The Framework rejects this too, as each expression becomes a rule of its own.
                raise self.source.error(
                    (*key, "name"),
                    f"a name names one rule, but rate lists {len(rates)} schedule expressions; "
                    "give each expression a schedule event of its own, or leave the name out",
                )
            return [
                self._schedule_trigger((*key, "rate", index), rate, event_input, enabled, timezone, rule_name, group)
                for index, rate in enumerate(rates)
            ]
        return [self._schedule_trigger((*key, "rate"), rates, event_input, enabled, timezone, rule_name, group)]

    def _rule_name(self, key: KeyPath, value: Any) -> str | None:
        """Read a schedule's `name`, the name of its EventBridge rule, which the Scheduled Event's resources carry."""
        if value is None:
            return None
        if not isinstance(value, str) or not _RULE_NAME_RE.match(value):
            raise self.source.error(key, expected(_RULE_NAME_RULE, value))
        first = self.rule_names.setdefault(value, key)
        if first != key:
            # CloudFormation cannot create two EventBridge rules of one name on the default bus.
            raise self.source.error(
                key, f"rule name {describe(value)} is already the name at {dotted(first)}; give each schedule its own name"
            )
        return value

    def event_bridge(self, key: KeyPath, config: Any) -> list[Trigger]:
        if not isinstance(config, dict):
            raise self.source.error(key, expected("a mapping with schedule or pattern", config))
        if "schedule" not in config:
            self.warnings.add(key, "event patterns are not supported by Squall yet, so this event never invokes the function")
            return []
        self.warnings.unsupported_keys(key, config, ("schedule", "input", "enabled"))
        event_input = self._schedule_input((*key, "input"), config.get("input"))
        enabled = self._bool(key, config, "enabled", True)
        return [self._schedule_trigger((*key, "schedule"), config["schedule"], event_input, enabled, "UTC")]

    def _schedule_trigger(
        self,
        key: KeyPath,
        expression: Any,
        event_input: Any,
        enabled: bool,
        timezone: str,
        rule_name: str | None = None,
        scheduler_group: str | None = None,
    ) -> ScheduleTrigger:
        from squall.services.errors import InvalidParameter
        from squall.services.schedules import parse_schedule

        if not isinstance(expression, str):
            raise self.source.error(key, expected('a schedule expression such as "rate(5 minutes)" or "cron(0 12 * * ? *)"', _shown(expression)))
        try:
            parse_schedule(expression)
        except InvalidParameter as error:
            raise self.source.error(key, str(error)) from None
        return ScheduleTrigger(
            expression=expression, timezone=timezone, input=event_input, enabled=enabled, rule_name=rule_name,
            scheduler_group=scheduler_group,
        )

    def _schedule_input(self, key: KeyPath, value: Any) -> Any:
        # EventBridge's Input is JSON text; the Framework also takes a mapping,
        # whose "body" string it parses as JSON.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise self.source.error(key, expected("JSON text or a mapping", value)) from None
        if isinstance(value, dict) and isinstance(value.get("body"), str):
            try:
                return {**value, "body": json.loads(value["body"])}
            except ValueError:
                raise self.source.error((*key, "body"), expected("JSON text", value["body"])) from None
        return value

    def _timezone(self, key: KeyPath, value: Any) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            raise self.source.error(key, expected('an IANA time zone name such as "UTC" or "Europe/Berlin"', value)) from None
        return str(value)

    # stream ------------------------------------------------------------------

    def stream(self, key: KeyPath, config: Any, failures: list[tuple[KeyPath, Destination]]) -> list[Trigger]:
        if not isinstance(config, dict):
            config = {"arn": config}
            arn_key = key
        else:
            arn_key = (*key, "arn")
            self.warnings.unsupported_keys(
                key,
                config,
                (
                    "arn", "type", "batchSize", "startingPosition", "enabled", "batchWindow",
                    "maximumBatchingWindow", "maximumRetryAttempts", "bisectBatchOnFunctionError",
                    "functionResponseType", "destinations", "filterPatterns",
                ),
            )
        kind, name = self._stream_source(arn_key, config.get("arn"))
        declared_type = config.get("type")
        if declared_type is not None and declared_type != kind:
            raise self.source.error((*key, "type"), expected(f'"{kind}", as the arn names a {kind} stream', declared_type))

        position = config.get("startingPosition", "TRIM_HORIZON")
        if position not in _STARTING_POSITIONS:
            raise self.source.error((*key, "startingPosition"), expected('"LATEST" or "TRIM_HORIZON"', position))
        window_key = "batchWindow" if "batchWindow" in config else "maximumBatchingWindow"
        report_failures = self._check_response_type(key, config)
        settings = {
            "report_batch_item_failures": report_failures,
            "batch_size": self._int(key, config, "batchSize", 10, 1, 10_000, "a whole number of records"),
            "starting_position": _STARTING_POSITIONS[position],
            "batch_window_s": self._int(key, config, window_key, 0, 0, 300, "whole seconds"),
            "max_retries": self._int(key, config, "maximumRetryAttempts", -1, -1, 10_000, "a whole number of retries (-1: until the record expires)"),
            "bisect_on_error": self._bool(key, config, "bisectBatchOnFunctionError", False),
            "filter_patterns": self._filter_patterns(key, config, "dynamodb" if kind == "dynamodb" else "data"),
        }
        if config.get("destinations") is not None:
            failures.append(self._stream_failure((*key, "destinations"), config["destinations"]))

        if not self._bool(key, config, "enabled", True):
            self.warnings.add((*key, "enabled"), "false, so Squall creates no trigger for this stream")
            return []
        if kind == "dynamodb":
            return [TableStreamTrigger(table=name, **settings)]
        return [StreamTrigger(stream=name, **settings)]

    def _stream_source(self, key: KeyPath, value: Any) -> tuple[str, str]:
        if value is None:
            raise self.source.error(key, f"missing, expected {_STREAM_ARN_RULE}")
        arn = self.catalog.evaluate(value)
        match = _ARN_RE.match(arn) if arn else None
        if match:
            service, resource = match.group(1), match.group(4)
            table = _TABLE_STREAM_RESOURCE_RE.match(resource)
            if service == "dynamodb" and table:
                return "dynamodb", table.group(1)
            stream = _KINESIS_RESOURCE_RE.match(resource)
            if service == "kinesis" and stream:
                return "kinesis", stream.group(1)
        raise self.source.error(key, expected(_STREAM_ARN_RULE, _shown(value)))

    def _stream_failure(self, key: KeyPath, destinations: Any) -> tuple[KeyPath, Destination]:
        if not isinstance(destinations, dict) or "onFailure" not in destinations:
            raise self.source.error(key, expected("a mapping with onFailure", destinations))
        self.warnings.unsupported_keys(key, destinations, ("onFailure",))
        destination = self.destination((*key, "onFailure"), destinations["onFailure"])
        if destination is None:
            raise self.source.error((*key, "onFailure"), expected("an SQS queue ARN or {type: sqs, arn: Fn::GetAtt [Queue, Arn]}", _shown(destinations["onFailure"])))
        return (*key, "onFailure"), destination

    # destinations ------------------------------------------------------------

    def destination(self, key: KeyPath, value: Any) -> Destination | None:
        """Read a destination; None (with a warning) for a kind Squall cannot deliver to, such as SNS."""
        target = value
        declared_type = None
        if isinstance(value, dict) and "arn" in value:
            self.warnings.unsupported_keys(key, value, ("arn", "type"))
            target, declared_type = value["arn"], value.get("type")
        text = self.catalog.evaluate(target)
        if text is None:
            raise self.source.error(key, expected(_DESTINATION_RULE, _shown(target)))

        match = _ARN_RE.match(text)
        if match is None:
            # Only a plain string names a function, because Ref of a queue or bucket also gives a name.
            if declared_type not in (None, "function") or not isinstance(target, str):
                raise self.source.error(key, expected(_DESTINATION_RULE, _shown(target)))
            return Destination("function", text)
        service, resource = match.group(1), match.group(4)
        if service == "sqs":
            return Destination("queue", check_destination_queue(self.source, key, resource))
        function = _LAMBDA_RESOURCE_RE.match(resource)
        if service == "lambda" and function:
            return Destination("function", function.group(1))
        kind = {"sns": "SNS topics", "events": "EventBridge event buses"}.get(service, f"{service} resources")
        self.warnings.add(key, f"{kind} are not supported by Squall as destinations yet, ignored")
        return None

    # asynchronous invocation -------------------------------------------------

    def async_config(
        self,
        key: KeyPath,
        settings: dict[Any, Any],
        stream_failures: list[tuple[KeyPath, Destination]],
    ) -> AsyncConfig:
        """Read a function's destinations, onError, maximumRetryAttempts and maximumEventAge."""
        source = self.source
        retries = DEFAULT_ASYNC_RETRIES
        if settings.get("maximumRetryAttempts") is not None:
            retries = check_number(
                source, (*key, "maximumRetryAttempts"), settings["maximumRetryAttempts"], 0,
                DEFAULT_ASYNC_RETRIES, f"a whole number of retries between 0 and {DEFAULT_ASYNC_RETRIES}",
            )
        max_age_s = DEFAULT_MAX_EVENT_AGE_S
        if settings.get("maximumEventAge") is not None:
            max_age_s = check_number(
                source, (*key, "maximumEventAge"), settings["maximumEventAge"], MIN_MAX_EVENT_AGE_S,
                DEFAULT_MAX_EVENT_AGE_S, f"whole seconds between {MIN_MAX_EVENT_AGE_S} and {DEFAULT_MAX_EVENT_AGE_S}",
            )

        found: dict[str, Destination | None] = {"onSuccess": None, "onFailure": None}
        destinations = settings.get("destinations")
        if destinations is not None:
            destinations_key = (*key, "destinations")
            if not isinstance(destinations, dict):
                raise source.error(destinations_key, expected("a mapping with onSuccess and/or onFailure", destinations))
            self.warnings.unsupported_keys(destinations_key, destinations, found)
            for outcome in found:
                value = destinations.get(outcome)
                if value is None:
                    continue
                found[outcome] = self.destination((*destinations_key, outcome), value)
                if isinstance(value, str) and not value.startswith("arn:"):
                    self.named_functions.append(((*destinations_key, outcome), value))

        # Squall has one failure destination per function, which also receives
        # the batches a stream trigger gives up on.
        for failure_key, destination in stream_failures:
            if found["onFailure"] is None:
                found["onFailure"] = destination
            elif found["onFailure"] != destination:
                self.warnings.add(
                    failure_key,
                    f"Squall sends failed batches to the function's one failure destination "
                    f"({found['onFailure'].kind} {found['onFailure'].name}), so this one is ignored",
                )
        dead_letter_queue = None
        if settings.get("onError") is not None:
            dead_letter_queue = self._dead_letter_queue((*key, "onError"), settings["onError"])
        return AsyncConfig(retries, max_age_s, found["onSuccess"], found["onFailure"], dead_letter_queue)

    def _dead_letter_queue(self, key: KeyPath, value: Any) -> str | None:
        """Read onError, the function's DeadLetterConfig: a queue name, or None with a warning for an SNS topic."""
        text = self.catalog.evaluate(value)
        match = _ARN_RE.match(text) if text is not None else None
        if match is None or match.group(1) not in ("sqs", "sns"):
            raise self.source.error(key, expected(_QUEUE_ARN_RULE, _shown(value)))
        if match.group(1) == "sns":
            self.warnings.add(key, "SNS topics are not supported by Squall as dead-letter queues yet, ignored")
            return None
        return check_destination_queue(self.source, key, match.group(4))

    # values ------------------------------------------------------------------

    def _int(self, key: KeyPath, config: dict[str, Any], name: str, default: int, low: int, high: int, unit: str) -> int:
        if config.get(name) is None:
            return default
        return check_number(self.source, (*key, name), config[name], low, high, f"{unit} between {low} and {high}")

    def _bool(self, key: KeyPath, config: dict[str, Any], name: str, default: bool) -> bool:
        value = config.get(name, default)
        if not isinstance(value, bool):
            raise self.source.error((*key, name), expected("true or false", value))
        return value

    def _filter_patterns(self, key: KeyPath, config: dict[str, Any], data_key: str | None = None) -> tuple[str, ...]:
        """Read `filterPatterns`, whose pattern objects the Framework passes to FilterCriteria one by one."""
        patterns = config.get("filterPatterns")
        if patterns is None:
            return ()
        if not isinstance(patterns, list) or not 1 <= len(patterns) <= MAX_FILTERS:
            raise self.source.error(
                (*key, "filterPatterns"),
                expected(f"a list of 1 to {MAX_FILTERS} filter patterns such as [{{eventName: [INSERT]}}]", patterns),
            )
        return filter_patterns_of(self.source, key, patterns, data_key, "filterPatterns")

    def _check_response_type(self, key: KeyPath, config: dict[str, Any]) -> bool:
        """Return whether the event turns on ReportBatchItemFailures, which Lambda needs to read batchItemFailures."""
        value = config.get("functionResponseType")
        if value is not None and value != _REPORT_BATCH_ITEM_FAILURES:
            raise self.source.error((*key, "functionResponseType"), expected(f'"{_REPORT_BATCH_ITEM_FAILURES}"', value))
        return value is not None
