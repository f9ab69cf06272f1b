"""Reader of Squall's own manifest format, squall.yml.

A JSON Schema (Draft 2020-12) checks the structure. Each schema node carries
an `x-expected` phrase, which turns a validation error into a message such as
`squall.yml: functions.greet.timeout_s: expected whole seconds between 1 and
900, got "fast"`. Checks a schema cannot express (handler files, path syntax,
route conflicts, routes under Squall's own paths, provisioned within
reserved) run after it. One error lists every mistake, in the order the keys
appear in the file: the schema's first, and only when the structure is
valid, since the other checks read it.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from functools import cache
from typing import TYPE_CHECKING, Any

from squall.deploy.layers import (
    FUNCTION_LAYERS_SCHEMA,
    LAYERS_SCHEMA,
    check_function_layers,
    read_squall_layers,
)
from squall.errors import ManifestError
from squall.manifest.spec import (
    DEFAULT_KEEP_ALIVE_S,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    HTTP_METHODS,
    MAX_MEMORY_MB,
    MAX_TIMEOUT_S,
    MIN_MEMORY_MB,
    PAYLOAD_VERSIONS,
    DEFAULT_CORS_HEADERS,
    MAX_CORS_MAX_AGE_S,
    CorsConfig,
    FunctionSpec,
    RecursiveLoop,
    HttpEvent,
    LayerSpec,
    ObjectTrigger,
    Resources,
    ServiceSpec,
    Trigger,
)
from squall.manifest.resource_checks import (
    attribute_name_problem,
    bucket_name_problem,
    dead_letter_cycle,
    dead_letter_cycle_problem,
    dead_letter_problem,
    deduplication_problem,
    object_overlap_problem,
    sort_key_problem,
)
from squall.manifest.squall_events import (
    ASYNC_FUNCTION_PROPERTIES,
    BINARY_MEDIA_TYPES_SCHEMA,
    QUALIFIER_SCHEMA,
    RESOURCES_SCHEMA,
    TRIGGER_SCHEMAS,
    binary_media_types_of,
    build_async_config,
    build_resources,
    build_trigger,
    qualifier_of,
)
from squall.manifest.validate import (
    ENVIRONMENT_NAME_PATTERN,
    ENVIRONMENT_NAME_RULE,
    FUNCTION_NAME_PATTERN,
    FUNCTION_NAME_RULE,
    HANDLER_PATTERN,
    HANDLER_RULE,
    SERVICE_NAME_PATTERN,
    SERVICE_NAME_RULE,
    KeyPath,
    ManifestProblems,
    ManifestSource,
    Route,
    check_environment_names,
    check_handler,
    check_http_path,
    check_routes,
    check_secret_references,
    combine_errors,
    describe,
    dotted,
    environment_value,
    expected,
)

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

logger = logging.getLogger(__name__)

_METHODS_TEXT = ", ".join(HTTP_METHODS[:-1]) + " or " + HTTP_METHODS[-1]
# squall.yml spells Lambda's RecursiveLoop values in lower case, as its other keys.
_RECURSIVE_LOOP_VALUES = {setting.value.lower(): setting for setting in RecursiveLoop}

_NAMES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "x-expected": "a non-empty string"},
    "x-expected": 'a list of strings, such as ["https://example.com"]',
}
# The CORS settings shared by an HTTP API (http_api.cors) and a REST route (an http event's cors).
_CORS_PROPERTIES: dict[str, Any] = {
    "allow_origins": _NAMES_SCHEMA,
    "allow_headers": _NAMES_SCHEMA,
    "allow_methods": _NAMES_SCHEMA,
    "allow_credentials": {"type": "boolean", "x-expected": "true or false"},
}
_HTTP_API_CORS_SCHEMA: dict[str, Any] = {
    "type": ["object", "boolean"],
    "x-expected": "true, or a mapping of allow_origins, allow_headers, allow_methods, allow_credentials, "
    "expose_headers and max_age_s",
    "additionalProperties": False,
    "properties": {
        **_CORS_PROPERTIES,
        "expose_headers": _NAMES_SCHEMA,
        "max_age_s": {
            "type": "integer",
            "minimum": -1,
            "maximum": MAX_CORS_MAX_AGE_S,
            "x-expected": f"whole seconds from -1 (no caching) to {MAX_CORS_MAX_AGE_S}",
        },
    },
}
_REST_CORS_SCHEMA: dict[str, Any] = {
    "type": ["object", "boolean"],
    "x-expected": "true, or a mapping of allow_origins, allow_headers, allow_methods, allow_credentials, "
    "max_age_s and cache_control",
    "additionalProperties": False,
    "properties": {
        **_CORS_PROPERTIES,
        "max_age_s": {"type": "integer", "minimum": 0, "x-expected": "whole seconds, 0 or more"},
        "cache_control": {"type": "string", "minLength": 1, "x-expected": 'a Cache-Control value, such as "max-age=600"'},
    },
}

_HTTP_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-expected": 'a mapping with "method", "path" and optionally "payload", "qualifier", "binary_media_types" '
    'and "cors"',
    "required": ["method", "path"],
    "additionalProperties": False,
    "properties": {
        "method": {
            "type": "string",
            "pattern": "(?i)^(?:" + "|".join(HTTP_METHODS) + ")$",
            "x-expected": f"an HTTP method ({_METHODS_TEXT})",
        },
        "path": {
            "type": "string",
            "pattern": "^/",
            "x-expected": 'a path starting with "/", such as "/hello/{name}"',
        },
        "qualifier": QUALIFIER_SCHEMA,
        "payload": {
            # YAML reads an unquoted 1.0 as a number, so numbers are accepted too.
            "enum": [*PAYLOAD_VERSIONS, *(float(version) for version in PAYLOAD_VERSIONS)],
            "x-expected": '"1.0" (REST API proxy event) or "2.0" (HTTP API event)',
        },
        "binary_media_types": BINARY_MEDIA_TYPES_SCHEMA,
        "cors": _REST_CORS_SCHEMA,
    },
}

_EVENT_KINDS = ("http", *TRIGGER_SCHEMAS)

_FUNCTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-expected": "a mapping of function settings with at least a handler",
    "required": ["handler"],
    "additionalProperties": False,
    "properties": {
        "handler": {"type": "string", "pattern": HANDLER_PATTERN, "x-expected": HANDLER_RULE},
        "memory_mb": {
            "type": "integer",
            "minimum": MIN_MEMORY_MB,
            "maximum": MAX_MEMORY_MB,
            "x-expected": f"whole megabytes between {MIN_MEMORY_MB} and {MAX_MEMORY_MB}",
        },
        "timeout_s": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_TIMEOUT_S,
            "x-expected": f"whole seconds between 1 and {MAX_TIMEOUT_S}",
        },
        "environment": {
            "type": "object",
            "x-expected": "a mapping of environment variable names to values",
            "propertyNames": {
                "pattern": ENVIRONMENT_NAME_PATTERN,
                "x-expected": f"variable names of {ENVIRONMENT_NAME_RULE}",
            },
            "additionalProperties": {
                "type": ["string", "number", "boolean"],
                "x-expected": "a string, number or boolean",
            },
        },
        "reserved_concurrency": {
            "type": "integer",
            "minimum": 0,
            "x-expected": "a whole number of instances, 0 or more",
        },
        "provisioned": {
            "type": "integer",
            "minimum": 0,
            "x-expected": "a whole number of instances, 0 or more",
        },
        "keep_alive_s": {
            "type": "integer",
            "minimum": 1,
            "x-expected": "whole seconds, 1 or more",
        },
        "max_queue": {
            "type": "integer",
            "minimum": 0,
            "x-expected": "a whole number of queued calls, 0 or more",
        },
        "recursive_loop": {
            "enum": list(_RECURSIVE_LOOP_VALUES),
            "x-expected": " or ".join(_RECURSIVE_LOOP_VALUES),
        },
        "events": {
            "type": "array",
            "x-expected": "a list of events",
            "items": {
                "type": "object",
                "x-expected": "an event mapping with one key: " + ", ".join(_EVENT_KINDS),
                "minProperties": 1,
                "maxProperties": 1,
                "additionalProperties": False,
                "properties": {"http": _HTTP_EVENT_SCHEMA, **TRIGGER_SCHEMAS},
            },
        },
        **ASYNC_FUNCTION_PROPERTIES,
        "layers": FUNCTION_LAYERS_SCHEMA,
    },
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "x-expected": 'a mapping with the keys "service", "functions" and optionally "resources"',
    "required": ["service", "functions"],
    "additionalProperties": False,
    "properties": {
        "service": {
            "type": "string",
            "pattern": SERVICE_NAME_PATTERN,
            "x-expected": f"a service name of {SERVICE_NAME_RULE}",
        },
        "functions": {
            "type": "object",
            "minProperties": 1,
            "x-expected": "a mapping of function names to function settings, with at least one",
            "propertyNames": {
                "pattern": FUNCTION_NAME_PATTERN,
                "x-expected": f"function names of {FUNCTION_NAME_RULE}",
            },
            "additionalProperties": _FUNCTION_SCHEMA,
        },
        "resources": RESOURCES_SCHEMA,
        "layers": LAYERS_SCHEMA,
        "http_api": {
            "type": "object",
            "x-expected": "a mapping of HTTP API settings, such as {cors: true}",
            "additionalProperties": False,
            "properties": {"cors": _HTTP_API_CORS_SCHEMA},
        },
    },
}


@cache
def _validator() -> Draft202012Validator:
    # jsonschema takes about 0.1 s to import, which serverless.yml users and
    # commands that never read a manifest should not pay.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(SCHEMA)


def parse_squall_yml(document: Any, source: ManifestSource) -> ServiceSpec:
    """Translate a parsed squall.yml into a ServiceSpec, raising one ManifestError that lists every mistake."""
    if document is None:
        raise source.error((), f"the file is empty, expected {SCHEMA['x-expected']}")
    _check_string_keys(source, document, ())
    _check_schema(source, document)

    problems = ManifestProblems(source, document)
    layers: dict[str, LayerSpec] = {}
    with problems.collect() as layers_read:
        layers = read_squall_layers(source, document.get("layers"))
    http_api_cors = None
    with problems.collect():
        http_api_cors = _read_cors(source, ("http_api", "cors"), (document.get("http_api") or {}).get("cors"))
    functions: dict[str, FunctionSpec] = {}
    routes: list[Route] = []
    for name, settings in document["functions"].items():
        function, function_routes = _build_function(problems, name, settings, http_api_cors)
        routes.extend(function_routes)
        # A function's layers are checked against the declared ones, so not when those failed.
        if "layers" in settings and not layers_read.failed:
            with problems.collect():
                versions = check_function_layers(source, ("functions", name, "layers"), settings["layers"], layers)
                if function is not None:
                    function = dataclasses.replace(function, layers=versions)
        if function is not None:
            functions[name] = function
    check_routes(problems, routes)
    resources = Resources()
    with problems.collect() as resources_read:
        resources = build_resources(source, document.get("resources"))
    if not resources_read.failed:
        _check_resources(problems, document.get("resources") or {}, resources)
    _check_object_triggers(problems, document["functions"], functions, (document.get("resources") or {}).get("buckets"))
    problems.raise_if_any()

    return ServiceSpec(
        service=document["service"],
        root=source.root,
        manifest_path=source.path,
        functions=functions,
        resources=resources,
        layers=tuple(layers.values()),
    )


def _check_resources(problems: ManifestProblems, settings: dict[str, Any], resources: Resources) -> None:
    """Record each declared queue, bucket or table that its service would reject when a deploy creates it."""
    _check_queues(problems, resources)
    for bucket in resources.buckets:
        problem = bucket_name_problem(bucket.name)
        if problem is not None:
            problems.add(problems.source.error(("resources", "buckets", bucket.name), problem))
    _check_tables(problems, settings.get("tables") or {}, resources)


def _check_queues(problems: ManifestProblems, resources: Resources) -> None:
    source = problems.source
    order = [queue.name for queue in resources.queues]
    targets = {queue.name: queue.dead_letter_queue for queue in resources.queues}
    for queue in resources.queues:
        key: KeyPath = ("resources", "queues", queue.name)
        problem = deduplication_problem(queue.name, queue.content_based_deduplication)
        if problem is not None:
            problems.add(source.error((*key, "content_based_deduplication"), problem))
        if queue.dead_letter_queue is None:
            continue
        problem = dead_letter_problem(queue.name, queue.dead_letter_queue)
        cycle = dead_letter_cycle(queue.name, targets)
        # A cycle is reported once, at the queue of it that comes first in the file.
        if problem is None and cycle is not None and min(cycle, key=order.index) == queue.name:
            problem = dead_letter_cycle_problem(cycle)
        if problem is not None:
            problems.add(source.error((*key, "dead_letter", "queue"), problem))


def _check_tables(problems: ManifestProblems, tables: dict[str, Any], resources: Resources) -> None:
    source = problems.source
    for table in resources.tables:
        key: KeyPath = ("resources", "tables", table.name)
        written = tables.get(table.name) or {}
        for role, setting, attribute in (
            ("partition key", "partition_key", table.partition_key),
            ("sort key", "sort_key", table.sort_key),
        ):
            if attribute is None:
                continue
            # A key is written as its attribute name, or as a mapping with "name" and "type".
            name_key = (*key, setting, "name") if isinstance(written.get(setting), dict) else (*key, setting)
            problem = attribute_name_problem(role, attribute[0])
            if problem is None and setting == "sort_key":
                problem = sort_key_problem(table.partition_key[0], attribute[0])
            if problem is not None:
                problems.add(source.error(name_key, problem))
        if table.ttl_attribute is not None:
            problem = attribute_name_problem("TTL", table.ttl_attribute)
            if problem is not None:
                problems.add(source.error((*key, "ttl_attribute"), problem))


def _check_object_triggers(
    problems: ManifestProblems, settings: dict[str, Any], functions: dict[str, FunctionSpec], buckets: Any
) -> None:
    """Record each object trigger on a bucket name S3 rejects, or whose filter overlaps an earlier one's.

    Only functions that were read without a mistake are checked. Their
    object triggers are in the order of their `objects` events. The name of
    a bucket under resources.buckets (`buckets`) is checked there instead.
    """
    source = problems.source
    declared = set(buckets or ())
    seen: list[tuple[str, ObjectTrigger]] = []
    for name, function in functions.items():
        keys = [
            ("functions", name, "events", index, "objects")
            for index, event in enumerate(settings[name].get("events", []))
            if "objects" in event
        ]
        triggers = [trigger for trigger in function.triggers if isinstance(trigger, ObjectTrigger)]
        for key, trigger in zip(keys, triggers, strict=True):
            problem = None if trigger.bucket in declared else bucket_name_problem(trigger.bucket)
            if problem is not None:
                problems.add(source.error((*key, "bucket"), problem))
                continue
            for first_where, first in seen:
                problem = object_overlap_problem(first_where, first, trigger)
                if problem is not None:
                    problems.add(source.error(key, problem))
                    break
            seen.append((dotted(key), trigger))


def _check_string_keys(source: ManifestSource, value: Any, key: KeyPath) -> None:
    # YAML reads `1:` or `true:` as a number or boolean key. Rejecting those
    # first keeps every dict key in an error path a string, so that an int in
    # a path always means a list index.
    if isinstance(value, dict):
        for child_key, child in value.items():
            if not isinstance(child_key, str):
                raise source.error(
                    key, f"key {describe(child_key)} is not a string, expected a quoted key"
                )
            _check_string_keys(source, child, (*key, child_key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _check_string_keys(source, child, (*key, index))


def _check_schema(source: ManifestSource, document: Any) -> None:
    explained = [_explain(error) for error in _validator().iter_errors(document)]
    if not explained:
        return
    errors = [source.error(key, message) for key, message in explained]
    # Missing handler modules come in the same error, so that one round of fixes covers them too.
    reported = {key for key, _ in explained}
    functions = document.get("functions") if isinstance(document, dict) else None
    for name, settings in functions.items() if isinstance(functions, dict) else ():
        key = ("functions", name, "handler")
        if isinstance(settings, dict) and isinstance(settings.get("handler"), str) and key not in reported:
            try:
                check_handler(source, key, settings["handler"], has_layers=bool(settings.get("layers")))
            except ManifestError as error:
                errors.append(error)
    raise combine_errors(document, errors)


def _explain(error: ValidationError) -> tuple[KeyPath, str]:
    """Turn one schema error into the key path it is about and a message."""
    key: KeyPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance: Any = error.instance
    required: Any = error.validator_value

    if error.validator == "additionalProperties" and "properties" in schema:
        valid = list(schema["properties"])
        unknown = next(name for name in instance if name not in schema["properties"])
        close = difflib.get_close_matches(unknown, valid, n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        return (*key, unknown), f"unknown key{hint}, expected one of: {', '.join(valid)}"

    if error.validator == "required":
        missing = next(name for name in required if name not in instance)
        valid_form = schema["properties"][missing]["x-expected"]
        return (*key, missing), f"missing, expected {valid_form}"

    if "propertyNames" in error.absolute_schema_path and key[-1:] == ("environment",) and isinstance(instance, str):
        # The error is about one variable: name it in the path, as the other manifests do.
        key = (*key, instance)
    if "x-expected" in schema:
        return key, expected(schema["x-expected"], instance)
    return key, error.message


def _read_cors(source: ManifestSource, key: KeyPath, settings: Any) -> CorsConfig | None:
    """Return the CORS configuration of a schema-checked `cors` setting, or None for none (false or absent).

    `true` allows every origin, the Serverless Framework's default headers,
    and the methods of the API's routes (REST: of the route's path).
    """
    if settings is None or settings is False:
        return None
    if settings is True:
        settings = {}
    origins = tuple(settings.get("allow_origins", ("*",)))
    if settings.get("allow_credentials") and "*" in origins:
        # API Gateway rejects this for an HTTP API, and browsers reject the response for a REST API.
        raise source.error(
            (*key, "allow_origins"),
            expected('origins without "*" when allow_credentials is true, as browsers require', list(origins)),
        )
    methods = settings.get("allow_methods")
    for index, method in enumerate(methods or ()):
        if method.upper() not in HTTP_METHODS and method != "*":
            raise source.error((*key, "allow_methods", index), expected(f"an HTTP method ({_METHODS_TEXT}) or *", method))
    return CorsConfig(
        allow_origins=origins,
        allow_headers=tuple(settings.get("allow_headers", DEFAULT_CORS_HEADERS)),
        allow_methods=None if methods is None else tuple(method.upper() for method in methods),
        allow_credentials=bool(settings.get("allow_credentials", False)),
        expose_headers=tuple(settings.get("expose_headers", ())),
        max_age_s=settings.get("max_age_s"),
        cache_control=settings.get("cache_control"),
    )


def _build_function(
    problems: ManifestProblems, name: str, settings: dict[str, Any], http_api_cors: CorsConfig | None = None
) -> tuple[FunctionSpec | None, list[Route]]:
    """Check one function's settings and return its spec (None after a mistake) with its valid routes.

    `http_api_cors` is the service's `http_api.cors`, which its HTTP API routes (payload "2.0") get.
    """
    source = problems.source
    key: KeyPath = ("functions", name)
    problems_before = len(problems)
    handler = ""
    with problems.collect():
        handler = check_handler(source, (*key, "handler"), settings["handler"], has_layers=bool(settings.get("layers")))

    reserved = settings.get("reserved_concurrency")
    provisioned = settings.get("provisioned", 0)
    if reserved is not None and provisioned > reserved:
        problems.add(
            source.error((*key, "provisioned"), expected(f"at most reserved_concurrency ({int(reserved)})", provisioned))
        )

    events: list[HttpEvent] = []
    routes: list[Route] = []
    triggers: list[Trigger] = []
    for index, event in enumerate(settings.get("events", [])):
        kind, options = next(iter(event.items()))
        with problems.collect():
            if kind != "http":
                triggers.append(build_trigger(source, (*key, "events", index, kind), kind, options))
                continue
            http = options
            path = check_http_path(source, (*key, "events", index, "http", "path"), http["path"])
            payload = http.get("payload", "2.0")
            if not isinstance(payload, str):
                payload = f"{float(payload):.1f}"
            binary_media_types = binary_media_types_of(source, (*key, "events", index, "http"), http, payload)
            cors = http_api_cors
            if payload == "1.0":
                cors = _read_cors(source, (*key, "events", index, "http", "cors"), http.get("cors"))
            elif "cors" in http:
                raise source.error(
                    (*key, "events", index, "http", "cors"),
                    'only a REST route (payload "1.0") takes cors: set an HTTP API\'s CORS for all its routes '
                    "with the service's http_api.cors",
                )
            events.append(
                HttpEvent(
                    method=http["method"].upper(),
                    path=path,
                    payload=payload,
                    qualifier=qualifier_of(http),
                    binary_media_types=binary_media_types,
                    cors=cors,
                )
            )
            routes.append(Route(events[-1], name, (*key, "events", index, "http")))

    environment = _read_environment(problems, (*key, "environment"), settings.get("environment", {}))
    if len(problems) > problems_before:
        return None, routes

    max_queue = settings.get("max_queue")
    function = FunctionSpec(
        name=name,
        handler=handler,
        memory_mb=int(settings.get("memory_mb", DEFAULT_MEMORY_MB)),
        timeout_s=int(settings.get("timeout_s", DEFAULT_TIMEOUT_S)),
        environment=environment,
        reserved_concurrency=None if reserved is None else int(reserved),
        provisioned=int(provisioned),
        keep_alive_s=int(settings.get("keep_alive_s", DEFAULT_KEEP_ALIVE_S)),
        max_queue=None if max_queue is None else int(max_queue),
        http=tuple(events),
        triggers=tuple(triggers),
        async_config=build_async_config(settings),
        recursive_loop=_RECURSIVE_LOOP_VALUES[settings.get("recursive_loop", "terminate")],
    )
    return function, routes


def _read_environment(problems: ManifestProblems, key: KeyPath, variables: dict[str, Any]) -> dict[str, str]:
    source = problems.source
    with problems.collect():
        check_environment_names(source, key, variables)
    environment: dict[str, str] = {}
    for name, value in variables.items():
        # One call per variable, so that every invalid secret reference is listed.
        with problems.collect():
            environment |= check_secret_references(source, key, {name: environment_value(value)})
    return environment
