"""The internal specification every manifest format translates to."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

DEFAULT_MEMORY_MB = 128
MIN_MEMORY_MB = 128
MAX_MEMORY_MB = 10240
DEFAULT_TIMEOUT_S = 3
MAX_TIMEOUT_S = 900
DEFAULT_KEEP_ALIVE_S = 600
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
PAYLOAD_VERSIONS = ("1.0", "2.0")
# The path of an HTTP API's default route, which receives every request that
# no other route matches, whatever its method and path.
DEFAULT_ROUTE = "$default"
# Lambda's alias name pattern: letters, digits, "-" and "_", up to 128, not all digits.
ALIAS_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")


class ApiType(Enum):
    """The type of API Gateway API a route belongs to.

    It decides the gateway's own responses (errors, the request id header,
    the integration timeout), while the payload version decides the event.
    """

    HTTP = "http"  # an HTTP API, with payload 2.0 or 1.0 events
    REST = "rest"  # a REST API, whose Lambda proxy events are payload 1.0


# The headers the Serverless Framework allows when a `cors` setting names
# none, for `http` and `httpApi` events alike (Framework v3).
DEFAULT_CORS_HEADERS = (
    "Content-Type", "X-Amz-Date", "Authorization", "X-Api-Key", "X-Amz-Security-Token", "X-Amz-User-Agent",
    "X-Amzn-Trace-Id",
)
# The largest Access-Control-Max-Age an HTTP API's CORS configuration takes, in seconds (one day).
MAX_CORS_MAX_AGE_S = 86400


@dataclass(frozen=True)
class CorsConfig:
    """A CORS configuration of a route's API, as API Gateway applies it.

    On an HTTP API route the gateway responds to preflight requests itself and
    adds the CORS headers to the function's responses. On a REST route it
    responds to every OPTIONS request on the route's path, as the OPTIONS
    method with a mock integration that the Serverless Framework and SAM add
    does. The function must then set the CORS headers of its own responses.
    """

    # "*" allows every origin. A REST API's entries may contain "*" as a
    # wildcard ("https://*.example.com"), and its first entry is the
    # Access-Control-Allow-Origin of a request whose origin matches none.
    allow_origins: tuple[str, ...] = ("*",)
    allow_headers: tuple[str, ...] = ()  # empty: no Access-Control-Allow-Headers header
    # None: the methods of the API's routes, as the Serverless Framework and SAM fill them in.
    allow_methods: tuple[str, ...] | None = None
    allow_credentials: bool = False
    expose_headers: tuple[str, ...] = ()  # HTTP API only
    max_age_s: int | None = None  # None: no Access-Control-Max-Age header
    cache_control: str | None = None  # REST only: the Cache-Control of the preflight response


@dataclass(frozen=True)
class HttpEvent:
    """One HTTP route that invokes a function.

    `path` uses API Gateway's template syntax ("/hello/{name}", "/v1/{proxy+}");
    `method` is one of HTTP_METHODS; `payload` is the API Gateway payload
    format version: "2.0" for an HTTP API, "1.0" for a REST API proxy or an
    HTTP API that sends payload 1.0 events.
    """

    method: str
    path: str
    payload: str = "2.0"
    # The stage the event names. A REST route is served at its path and under
    # "/STAGE". An HTTP API route with a stage is served only under "/STAGE",
    # and its events' paths start with it. None gives "$default", at the root.
    stage: str | None = None
    # The version number or alias the route invokes; None runs $LATEST.
    qualifier: str | None = None
    # The API the route belongs to. None takes it from `payload`: a REST API
    # for "1.0", an HTTP API for "2.0". After construction it is never None.
    api: ApiType | None = None
    # The REST API's binaryMediaTypes, such as ("image/png", "*/*"). Request
    # bodies of these Content-Types reach the function base64-encoded, and a
    # base64 response goes out as binary only when the request's first Accept
    # media type is among them. Empty for HTTP API routes, which have none.
    binary_media_types: tuple[str, ...] = ()
    # The CORS configuration of the route's API, or None when it has none.
    cors: CorsConfig | None = None

    def __post_init__(self) -> None:
        if self.api is None:
            api = ApiType.REST if self.payload == "1.0" else ApiType.HTTP
            # The dataclass is frozen, so the default is set as its own __init__ would set it.
            object.__setattr__(self, "api", api)


class RecursiveLoop(Enum):
    """What happens to a call that recursive loop detection finds in a loop, as Lambda's RecursiveLoop setting names it."""

    TERMINATE = "Terminate"  # the call is stopped, as by default on Lambda
    ALLOW = "Allow"  # the call runs


# Lambda's defaults for asynchronous invocation: two retries, six hours.
DEFAULT_ASYNC_RETRIES = 2
DEFAULT_MAX_EVENT_AGE_S = 6 * 3600
MIN_MAX_EVENT_AGE_S = 60


@dataclass(frozen=True)
class QueueTrigger:
    """Deliver batches of a queue's messages, deleting each batch once the handler succeeds."""

    queue: str
    batch_size: int = 10
    batch_window_s: float = 0.0  # wait up to this long to fill a batch
    max_concurrency: int | None = None  # concurrent batches; None: up to the function's own cap
    enabled: bool = True
    qualifier: str | None = None  # the version or alias it invokes; None runs $LATEST
    # Whether a batchItemFailures result keeps only the listed messages, as
    # Lambda's ReportBatchItemFailures does; otherwise a success deletes the batch.
    report_batch_item_failures: bool = True
    # Lambda event filter patterns, each as compact JSON text (see
    # squall.events.filters). A record reaches the function when it matches
    # one of them, and every record does when there are none.
    filter_patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObjectTrigger:
    """Invoke the function asynchronously for each matching change in a bucket."""

    bucket: str
    events: tuple[str, ...] = ("created", "removed")
    prefix: str = ""
    suffix: str = ""
    qualifier: str | None = None  # the version or alias it invokes; None runs $LATEST


@dataclass(frozen=True)
class TableStreamTrigger:
    """Deliver a table's change records in order per item."""

    table: str
    batch_size: int = 100
    starting_position: str = "latest"  # or "trim_horizon"
    batch_window_s: float = 0.0
    max_retries: int = -1  # -1: retry until the record leaves the stream, as Lambda's default
    bisect_on_error: bool = False
    qualifier: str | None = None  # the version or alias it invokes; None runs $LATEST
    # Whether a batchItemFailures result resumes at the first failed record, as
    # Lambda's ReportBatchItemFailures does; otherwise a success checkpoints the batch.
    report_batch_item_failures: bool = True
    # Lambda event filter patterns, each as compact JSON text (see
    # squall.events.filters). A record reaches the function when it matches
    # one of them, and every record does when there are none.
    filter_patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class StreamTrigger:
    """Deliver a stream's records in order per shard, checkpointing after each success."""

    stream: str
    batch_size: int = 100
    starting_position: str = "latest"  # or "trim_horizon"
    batch_window_s: float = 0.0
    max_retries: int = -1
    bisect_on_error: bool = False
    qualifier: str | None = None  # the version or alias it invokes; None runs $LATEST
    # Whether a batchItemFailures result resumes at the first failed record, as
    # Lambda's ReportBatchItemFailures does; otherwise a success checkpoints the batch.
    report_batch_item_failures: bool = True
    # Lambda event filter patterns, each as compact JSON text (see
    # squall.events.filters). A record reaches the function when it matches
    # one of them, and every record does when there are none.
    filter_patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScheduleTrigger:
    """Invoke the function asynchronously on an EventBridge rate or cron schedule."""

    expression: str
    timezone: str = "UTC"
    input: object = None  # a constant event in place of the Scheduled Event, as EventBridge's Input
    enabled: bool = True
    qualifier: str | None = None  # the version or alias it invokes; None runs $LATEST
    rule_name: str | None = None  # the rule or schedule the Scheduled Event names; None: one Squall derives
    # The group of an EventBridge Scheduler schedule, whose event differs a little from a rule's; None for a rule.
    scheduler_group: str | None = None


Trigger = QueueTrigger | ObjectTrigger | TableStreamTrigger | StreamTrigger | ScheduleTrigger


@dataclass(frozen=True)
class Destination:
    """Where the outcome of an asynchronous invocation goes: a queue or a function."""

    kind: str  # "queue" or "function"
    name: str


@dataclass(frozen=True)
class AsyncConfig:
    """How asynchronous invocations of a function are retried and where their outcome goes."""

    max_retry_attempts: int = DEFAULT_ASYNC_RETRIES
    max_event_age_s: int = DEFAULT_MAX_EVENT_AGE_S
    on_success: Destination | None = None
    on_failure: Destination | None = None  # also receives what stream triggers give up on
    # Lambda's DeadLetterConfig: the name of the queue that gets a dropped event
    # itself, where on_failure gets an invocation record.
    dead_letter_queue: str | None = None

    def destinations(self) -> list[tuple[str, Destination]]:
        """Return each destination that is set, with the name of its setting ("on_failure")."""
        settings = [("on_success", self.on_success), ("on_failure", self.on_failure)]
        if self.dead_letter_queue is not None:
            settings.append(("dead_letter_queue", Destination("queue", self.dead_letter_queue)))
        return [(name, destination) for name, destination in settings if destination is not None]


@dataclass(frozen=True)
class LayerSpec:
    """A layer the service declares: a folder or .zip file in Lambda's layout (see squall.deploy.layers)."""

    name: str
    path: str  # relative to the service folder, with "/" between folders
    digest: str  # of the layer's content; a deploy stores it in DATA/layers/NAME/DIGEST

    @property
    def version(self) -> str:
        """The layer version as functions list it: "name@digest"."""
        return f"{self.name}@{self.digest}"


@dataclass(frozen=True)
class FunctionSpec:
    """One function of a service, with every default already applied."""

    name: str
    handler: str  # "module.function"; the module may be a dotted or slashed path
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_s: int = DEFAULT_TIMEOUT_S
    environment: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None  # None: no cap but the node's memory budget
    provisioned: int = 0  # instances kept initialised at all times
    keep_alive_s: int = DEFAULT_KEEP_ALIVE_S  # idle time before an instance is reaped
    max_queue: int | None = None  # calls waiting at the cap; None: the dispatcher's default
    http: tuple[HttpEvent, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    async_config: AsyncConfig = field(default_factory=AsyncConfig)
    runtime: str = "python3"
    layers: tuple[str, ...] = ()  # layer versions ("name@digest") in the order the manifest lists them
    # An alias that each deploy moves to a newly published version of changed
    # code, as SAM's AutoPublishAlias does; the function's events invoke it.
    auto_publish_alias: str | None = None
    # The function's own code folder inside the service's, as SAM's CodeUri
    # names it ("src" or "functions/users"); "" is the service folder. The
    # handler is relative to it, and instances run in it.
    code_dir: str = ""
    # The name AWS would give the deployed function, when it differs from the
    # manifest's key: serverless.yml's SERVICE-STAGE-KEY or its `name`
    # setting, or a SAM function's FunctionName. Callers of the Invoke API
    # may name the function by it.
    aws_name: str | None = None
    # Whether a call that recursive loop detection finds in a loop is stopped.
    recursive_loop: RecursiveLoop = RecursiveLoop.TERMINATE

    @property
    def module(self) -> str:
        """The importable module name of the handler ("src/app.greet" -> "src.app")."""
        return self.handler.rsplit(".", 1)[0].replace("/", ".")

    @property
    def attribute(self) -> str:
        """The handler's function name inside its module."""
        return self.handler.rsplit(".", 1)[-1]

    @functools.cached_property
    def json_logs(self) -> bool:
        """Whether the function logs in Lambda's JSON format (AWS_LAMBDA_LOG_FORMAT=JSON); read once per spec."""
        return self.environment.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"

    @property
    def handler_path(self) -> str:
        """The handler relative to the service folder ("src/app.greet" for handler app.greet in code_dir src)."""
        return f"{self.code_dir}/{self.handler}" if self.code_dir else self.handler

    def code_root(self, service_root: Path) -> Path:
        """Return the folder the function's instances import from and run in."""
        return service_root / self.code_dir if self.code_dir else service_root


@dataclass(frozen=True)
class QueueResource:
    """A queue the service declares; FIFO when its name ends in ".fifo"."""

    name: str
    visibility_timeout_s: int = 30
    retention_s: int = 4 * 24 * 3600
    delay_s: int = 0
    receive_wait_s: int = 0
    dead_letter_queue: str | None = None
    max_receive_count: int = 5
    content_based_deduplication: bool = False


@dataclass(frozen=True)
class BucketResource:
    """An object storage bucket the service declares."""

    name: str


# DynamoDB's StreamViewType values: what a table's change records carry besides the keys.
STREAM_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
DEFAULT_STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"


@dataclass(frozen=True)
class TableResource:
    """A table the service declares; key types are "S", "N" or "B".

    `stream_view_type` is one of STREAM_VIEW_TYPES, or None for a table
    without a change stream, such as a CloudFormation table without
    StreamSpecification.
    """

    name: str
    partition_key: tuple[str, str]
    sort_key: tuple[str, str] | None = None
    ttl_attribute: str | None = None
    stream_view_type: str | None = DEFAULT_STREAM_VIEW_TYPE


@dataclass(frozen=True)
class StreamResource:
    """A stream the service declares."""

    name: str
    shards: int = 1
    retention_h: int = 24


@dataclass(frozen=True)
class Resources:
    """The queues, buckets, tables and streams a service declares; a deploy creates the missing ones."""

    queues: tuple[QueueResource, ...] = ()
    buckets: tuple[BucketResource, ...] = ()
    tables: tuple[TableResource, ...] = ()
    streams: tuple[StreamResource, ...] = ()


@dataclass(frozen=True)
class ServiceSpec:
    """A whole deployable folder: its functions and where its code lives."""

    service: str
    root: Path  # folder handler modules are imported from
    manifest_path: Path
    functions: dict[str, FunctionSpec]
    warnings: tuple[str, ...] = ()  # keys that were read but are not understood yet
    resources: Resources = field(default_factory=Resources)
    layers: tuple[LayerSpec, ...] = ()  # every declared layer, used by a function or not
    # Globs choosing the files a deploy copies, in order; "!glob" leaves files out
    # and a later "glob" takes some back, as serverless.yml's package.patterns do.
    package_patterns: tuple[str, ...] = ()

    def function_key(self, function: str, setting: str | None = None) -> str:
        """Return the key path of a function, or of one of its settings, as this service's manifest spells it.

        `setting` is a squall.yml name (handler, runtime, memory_mb, events,
        on_success, on_failure): "functions.api.memory_mb" in a squall.yml,
        "functions.api.memorySize" in a serverless.yml and
        "Resources.Api.Properties.MemorySize" in a SAM template. It may also be
        dead_letter_queue, which only serverless.yml and SAM templates set.
        """
        manifest = self.manifest_path.name
        if manifest.startswith("template."):
            key = f"Resources.{function}.Properties"
            return key if setting is None else f"{key}.{_SAM_SETTINGS.get(setting, setting)}"
        key = f"functions.{function}"
        if setting is None:
            return key
        return f"{key}.{_SERVERLESS_SETTINGS.get(setting, setting)}" if manifest.startswith("serverless.") else f"{key}.{setting}"


# How serverless.yml and SAM templates name the function settings that Squall's messages name.
_SERVERLESS_SETTINGS = {
    "aws_name": "name",
    "memory_mb": "memorySize",
    "on_success": "destinations.onSuccess",
    "on_failure": "destinations.onFailure",
    "dead_letter_queue": "onError",
}
_SAM_SETTINGS = {
    "auto_publish_alias": "AutoPublishAlias",
    "aws_name": "FunctionName",
    "handler": "Handler",
    "runtime": "Runtime",
    "memory_mb": "MemorySize",
    "events": "Events",
    "on_success": "EventInvokeConfig.DestinationConfig.OnSuccess",
    "on_failure": "EventInvokeConfig.DestinationConfig.OnFailure",
    "dead_letter_queue": "DeadLetterQueue.TargetArn",
    "recursive_loop": "RecursiveLoop",
}
