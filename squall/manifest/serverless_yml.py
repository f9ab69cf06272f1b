"""Reader of Serverless Framework (v3 and v4) manifests, serverless.yml.

Squall reads the part of a serverless.yml that describes Python functions
behind API Gateway: the service name, the provider's runtime, memory, timeout
and environment, and each function's handler, settings and `http`/`httpApi`
events. Every other key is listed once in `ServiceSpec.warnings` and ignored,
never silently dropped and never an error, so that an existing project loads
as it is. Variables such as `${opt:stage}` are not resolved: a value that
contains one is used as written (with a warning) where that can work, and is
an error where it cannot, as in a memory size.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import yaml

from squall.manifest.spec import (
    HTTP_METHODS,
    MAX_MEMORY_MB,
    MAX_TIMEOUT_S,
    MIN_MEMORY_MB,
    FunctionSpec,
    HttpEvent,
    ServiceSpec,
)
from squall.manifest.validate import (
    ENVIRONMENT_NAME_RE,
    ENVIRONMENT_NAME_RULE,
    FUNCTION_NAME_RE,
    FUNCTION_NAME_RULE,
    HANDLER_RULE,
    SERVICE_NAME_RE,
    SERVICE_NAME_RULE,
    KeyPath,
    ManifestSource,
    Route,
    StrictLoader,
    check_handler,
    check_http_path,
    check_int,
    check_routes_unique,
    describe,
    dotted,
    environment_value,
    expected,
)

logger = logging.getLogger(__name__)

# The Serverless Framework's defaults for AWS functions, as the v3 guide to
# functions states them. They differ from Lambda's 128 MB and 3 s, and a
# service moved to Squall keeps the limits it had.
# NOTE: taken from the v3 documentation, not checked against v4.
SERVERLESS_DEFAULT_MEMORY_MB = 1024
SERVERLESS_DEFAULT_TIMEOUT_S = 6

# Without a runtime the Serverless Framework would deploy Node.js; Squall runs
# Python only, and check_handler confirms that the handler is a .py file.
DEFAULT_RUNTIME = "python3"
_PYTHON_RUNTIME_RE = re.compile(r"^python3(?:\.\d+)?$")
_RUNTIME_RULE = 'a Python runtime such as "python3.12"'

_MEMORY_RULE = f"whole megabytes between {MIN_MEMORY_MB} and {MAX_MEMORY_MB}"
_TIMEOUT_RULE = f"whole seconds between 1 and {MAX_TIMEOUT_S}"
_COUNT_RULE = "a whole number of instances, 0 or more"
_UNRESOLVED = " (Squall does not resolve ${...} variables yet)"

_TOP_LEVEL_KEYS = frozenset({"service", "provider", "functions"})
_PROVIDER_KEYS = frozenset({"name", "runtime", "memorySize", "timeout", "environment"})
_FUNCTION_KEYS = frozenset(
    {
        "handler",
        "runtime",
        "memorySize",
        "timeout",
        "environment",
        "reservedConcurrency",
        "provisionedConcurrency",
        "events",
    }
)
_HTTP_EVENT_KEYS = frozenset({"method", "path"})

REST_PAYLOAD = "1.0"
HTTP_API_PAYLOAD = "2.0"


@dataclass(frozen=True)
class CloudFormationTag:
    """A CloudFormation short-form function such as `!Ref Bucket`, kept unevaluated."""

    tag: str
    value: Any

    def __str__(self) -> str:
        return f"!{self.tag} {describe(self.value)}"


class ServerlessLoader(StrictLoader):
    """The strict YAML loader, plus CloudFormation tags, which serverless.yml allows."""


def _construct_cloudformation_tag(
    loader: yaml.SafeLoader, suffix: str, node: yaml.Node
) -> CloudFormationTag:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(
            None, None, f"unexpected YAML node for the tag !{suffix}", node.start_mark
        )
    return CloudFormationTag(suffix, value)


ServerlessLoader.add_multi_constructor("!", _construct_cloudformation_tag)


@dataclass
class _Warnings:
    """Warnings keyed by the dotted key path, so each key is listed once."""

    by_key: dict[str, str] = field(default_factory=dict)

    def add(self, key: KeyPath, message: str) -> None:
        self.by_key.setdefault(dotted(key), f"{dotted(key)}: {message}")

    def unsupported(self, key: KeyPath, kind: str | None = None) -> None:
        subject = f"{kind} not" if kind else "not"
        self.add(key, f"{subject} supported by Squall yet, ignored")

    def unsupported_keys(self, key: KeyPath, mapping: dict[Any, Any], known: Iterable[str]) -> None:
        for name in mapping:
            if name not in known:
                self.unsupported((*key, str(name)))

    def variable_used_as_written(self, key: KeyPath, value: str) -> None:
        self.add(
            key,
            f"{describe(value)} contains a variable that Squall does not resolve yet, "
            "so it is used as written",
        )


@dataclass(frozen=True)
class _ProviderDefaults:
    runtime: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]


def _has_variable(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and "${" in value


def parse_serverless_yml(document: Any, source: ManifestSource) -> ServiceSpec:
    """Translate a parsed serverless.yml into a ServiceSpec, raising ManifestError if invalid."""
    if document is None:
        raise source.error((), "the file is empty, expected a serverless.yml service")
    if not isinstance(document, dict):
        raise source.error((), expected("a mapping with service, provider and functions", document))

    warnings = _Warnings()
    warnings.unsupported_keys((), document, _TOP_LEVEL_KEYS)
    service = _read_service(source, document, warnings)
    defaults = _read_provider(source, document.get("provider"), warnings)

    functions_value = document.get("functions")
    if not isinstance(functions_value, dict) or not functions_value:
        raise source.error(
            ("functions",),
            expected(
                "a mapping of function names to function settings, with at least one",
                functions_value,
            ),
        )

    functions: dict[str, FunctionSpec] = {}
    routes: list[Route] = []
    for name, settings in functions_value.items():
        if not isinstance(name, str) or not FUNCTION_NAME_RE.match(name):
            raise source.error(
                ("functions",), expected(f"function names of {FUNCTION_NAME_RULE}", name)
            )
        function, function_routes = _read_function(source, name, settings, defaults, warnings)
        functions[name] = function
        routes.extend(function_routes)
    check_routes_unique(source, routes)

    spec = ServiceSpec(
        service=service,
        root=source.root,
        manifest_path=source.path,
        functions=functions,
        warnings=tuple(warnings.by_key.values()),
    )
    for warning in spec.warnings:
        logger.debug("%s: %s", source.display, warning)
    return spec


def _read_service(source: ManifestSource, document: dict[Any, Any], warnings: _Warnings) -> str:
    service = document.get("service")
    if _has_variable(service):
        warnings.variable_used_as_written(("service",), service)
        return service
    if not isinstance(service, str) or not SERVICE_NAME_RE.match(service):
        raise source.error(
            ("service",), expected(f"a service name of {SERVICE_NAME_RULE}", service)
        )
    return service


def _read_provider(source: ManifestSource, provider: Any, warnings: _Warnings) -> _ProviderDefaults:
    key: KeyPath = ("provider",)
    if provider is None:
        provider = {}
    if not isinstance(provider, dict):
        raise source.error(
            key, expected("a mapping of provider settings, such as name: aws", provider)
        )
    warnings.unsupported_keys(key, provider, _PROVIDER_KEYS)

    name = provider.get("name", "aws")
    if _has_variable(name):
        warnings.variable_used_as_written((*key, "name"), name)
    elif name != "aws":
        raise source.error((*key, "name"), expected('"aws"', name))

    runtime = _read_runtime(source, (*key, "runtime"), provider.get("runtime", DEFAULT_RUNTIME))
    memory_mb = _read_whole_number(
        source,
        (*key, "memorySize"),
        provider.get("memorySize", SERVERLESS_DEFAULT_MEMORY_MB),
        MIN_MEMORY_MB,
        MAX_MEMORY_MB,
        _MEMORY_RULE,
    )
    timeout_s = _read_whole_number(
        source,
        (*key, "timeout"),
        provider.get("timeout", SERVERLESS_DEFAULT_TIMEOUT_S),
        1,
        MAX_TIMEOUT_S,
        _TIMEOUT_RULE,
    )
    environment = _read_environment(
        source, (*key, "environment"), provider.get("environment"), warnings
    )
    return _ProviderDefaults(runtime, memory_mb, timeout_s, environment)


def _read_function(
    source: ManifestSource,
    name: str,
    settings: Any,
    defaults: _ProviderDefaults,
    warnings: _Warnings,
) -> tuple[FunctionSpec, list[Route]]:
    key: KeyPath = ("functions", name)
    if not isinstance(settings, dict):
        raise source.error(
            key, expected("a mapping of function settings with at least a handler", settings)
        )
    warnings.unsupported_keys(key, settings, _FUNCTION_KEYS)

    handler = settings.get("handler")
    if handler is None:
        hint = " (container images are not supported)" if "image" in settings else ""
        raise source.error((*key, "handler"), f"missing{hint}, expected {HANDLER_RULE}")
    if _has_variable(handler):
        raise source.error((*key, "handler"), expected(HANDLER_RULE + _UNRESOLVED, handler))
    check_handler(source, (*key, "handler"), handler)

    runtime = defaults.runtime
    if "runtime" in settings:
        runtime = _read_runtime(source, (*key, "runtime"), settings["runtime"])
    memory_mb = defaults.memory_mb
    if "memorySize" in settings:
        memory_mb = _read_whole_number(
            source,
            (*key, "memorySize"),
            settings["memorySize"],
            MIN_MEMORY_MB,
            MAX_MEMORY_MB,
            _MEMORY_RULE,
        )
    timeout_s = defaults.timeout_s
    if "timeout" in settings:
        timeout_s = _read_whole_number(
            source, (*key, "timeout"), settings["timeout"], 1, MAX_TIMEOUT_S, _TIMEOUT_RULE
        )
    # A function's variables override the provider's ones of the same name.
    environment = defaults.environment | _read_environment(
        source, (*key, "environment"), settings.get("environment"), warnings
    )

    reserved, provisioned = _read_concurrency(source, key, settings)
    routes = _read_events(source, name, settings.get("events"), warnings)
    function = FunctionSpec(
        name=name,
        handler=handler,
        memory_mb=memory_mb,
        timeout_s=timeout_s,
        environment=environment,
        reserved_concurrency=reserved,
        provisioned=provisioned,
        http=tuple(route.event for route in routes),
        runtime=runtime,
    )
    return function, routes


def _read_concurrency(
    source: ManifestSource, key: KeyPath, settings: dict[Any, Any]
) -> tuple[int | None, int]:
    """Return a function's reserved concurrency (None: no cap) and provisioned instances."""
    reserved: int | None = None
    if settings.get("reservedConcurrency") is not None:
        reserved = _read_whole_number(
            source,
            (*key, "reservedConcurrency"),
            settings["reservedConcurrency"],
            0,
            None,
            _COUNT_RULE,
        )
    provisioned = 0
    if settings.get("provisionedConcurrency") is not None:
        provisioned = _read_whole_number(
            source,
            (*key, "provisionedConcurrency"),
            settings["provisionedConcurrency"],
            0,
            None,
            _COUNT_RULE,
        )
    if reserved is not None and provisioned > reserved:
        raise source.error(
            (*key, "provisionedConcurrency"),
            expected(f"at most reservedConcurrency ({reserved})", provisioned),
        )
    return reserved, provisioned


def _read_runtime(source: ManifestSource, key: KeyPath, runtime: Any) -> str:
    if _has_variable(runtime):
        raise source.error(key, expected(_RUNTIME_RULE + _UNRESOLVED, runtime))
    if not isinstance(runtime, str) or not _PYTHON_RUNTIME_RE.match(runtime):
        raise source.error(key, expected(_RUNTIME_RULE, runtime))
    return runtime


def _read_whole_number(
    source: ManifestSource, key: KeyPath, value: Any, low: int, high: int | None, rule: str
) -> int:
    if _has_variable(value):
        raise source.error(key, expected(rule + _UNRESOLVED, value))
    return check_int(source, key, value, low, high, rule)


def _read_environment(
    source: ManifestSource, key: KeyPath, variables: Any, warnings: _Warnings
) -> dict[str, str]:
    if variables is None:
        return {}
    if _has_variable(variables):
        warnings.add(
            key,
            f"{describe(variables)} is a variable that Squall does not resolve yet, "
            "so none of these environment variables are set",
        )
        return {}
    if not isinstance(variables, dict):
        raise source.error(
            key, expected("a mapping of environment variable names to values", variables)
        )

    environment: dict[str, str] = {}
    for name, value in variables.items():
        if not isinstance(name, str) or not ENVIRONMENT_NAME_RE.match(name):
            raise source.error(key, expected(f"variable names of {ENVIRONMENT_NAME_RULE}", name))
        value_key = (*key, name)
        if isinstance(value, (CloudFormationTag, dict)):
            warnings.add(
                value_key,
                "CloudFormation functions such as Ref, Fn::GetAtt and Fn::Sub are not "
                "supported by Squall yet, so the variable is not set",
            )
            continue
        if value is None or not isinstance(value, (str, int, float, bool)):
            raise source.error(value_key, expected("a string, number or boolean", value))
        if _has_variable(value):
            warnings.variable_used_as_written(value_key, value)
        environment[name] = environment_value(value)
    return environment


def _read_events(
    source: ManifestSource, function: str, events: Any, warnings: _Warnings
) -> list[Route]:
    key: KeyPath = ("functions", function, "events")
    if events is None:
        return []
    if not isinstance(events, list):
        raise source.error(key, expected("a list of events", events))

    routes: list[Route] = []
    for index, entry in enumerate(events):
        if not isinstance(entry, dict) or not entry:
            raise source.error(
                (*key, index), expected("an event mapping such as {httpApi: GET /hello}", entry)
            )
        for event_type, config in entry.items():
            event_key = (*key, index, str(event_type))
            if event_type == "http":
                found = _read_rest_event(source, event_key, config, warnings)
            elif event_type == "httpApi":
                found = _read_http_api_event(source, event_key, config, warnings)
            else:
                warnings.unsupported(event_key, "event type")
                continue
            routes.extend(Route(event, function, event_key) for event in found)
    return routes


def _split_method_and_path(source: ManifestSource, key: KeyPath, config: Any) -> tuple[Any, Any]:
    """Split the string form of an event ("GET /hello") or read its mapping form."""
    if isinstance(config, str):
        if _has_variable(config):
            raise source.error(
                key, expected('"METHOD path", such as "GET /hello"' + _UNRESOLVED, config)
            )
        parts = config.split()
        if len(parts) != 2:
            raise source.error(key, expected('"METHOD path", such as "GET /hello"', config))
        return parts[0], parts[1]

    if not isinstance(config, dict):
        raise source.error(key, expected('"METHOD path" or a mapping with method and path', config))
    for required in ("method", "path"):
        if required not in config:
            raise source.error((*key, required), f"missing, expected the route's {required}")
    return config["method"], config["path"]


def _field_key(key: KeyPath, config: Any, part: str) -> KeyPath:
    """Return the key of the method or path: its own key in the mapping form, else the event's."""
    return (*key, part) if isinstance(config, dict) else key


def _read_method(source: ManifestSource, key: KeyPath, method: Any, star_means_any: bool) -> str:
    if star_means_any and method == "*":
        return "ANY"
    rule = "an HTTP method (" + ", ".join(HTTP_METHODS) + ")"
    if _has_variable(method):
        raise source.error(key, expected(rule + _UNRESOLVED, method))
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        raise source.error(key, expected(rule, method))
    return method.upper()


def _read_path(source: ManifestSource, key: KeyPath, path: Any, strip_trailing: bool) -> str:
    if _has_variable(path):
        raise source.error(key, expected('a path such as "/hello/{name}"' + _UNRESOLVED, path))
    if not isinstance(path, str):
        raise source.error(key, expected('a path such as "/hello/{name}"', path))
    # The Serverless Framework accepts "users/{id}" for "/users/{id}".
    if strip_trailing:
        path = path.strip("/")
    return check_http_path(source, key, "/" + path.lstrip("/"))


def _read_rest_event(
    source: ManifestSource, key: KeyPath, config: Any, warnings: _Warnings
) -> list[HttpEvent]:
    """Read an `http` event: a REST API route with a payload 1.0 proxy event."""
    method, path = _split_method_and_path(source, key, config)
    if isinstance(config, dict):
        warnings.unsupported_keys(key, config, _HTTP_EVENT_KEYS)
    return [
        HttpEvent(
            method=_read_method(
                source, _field_key(key, config, "method"), method, star_means_any=False
            ),
            # Serverless removes a trailing "/" from REST API paths.
            path=_read_path(source, _field_key(key, config, "path"), path, strip_trailing=True),
            payload=REST_PAYLOAD,
        )
    ]


def _read_http_api_event(
    source: ManifestSource, key: KeyPath, config: Any, warnings: _Warnings
) -> list[HttpEvent]:
    """Read an `httpApi` event: an HTTP API route with a payload 2.0 event."""
    if config == "*":
        return _catch_all("ANY")
    method, path = _split_method_and_path(source, key, config)
    if isinstance(config, dict):
        warnings.unsupported_keys(key, config, _HTTP_EVENT_KEYS)

    method = _read_method(source, _field_key(key, config, "method"), method, star_means_any=True)
    if path == "*":
        return _catch_all(method)
    path = _read_path(source, _field_key(key, config, "path"), path, strip_trailing=False)
    return [HttpEvent(method=method, path=path, payload=HTTP_API_PAYLOAD)]


def _catch_all(method: str) -> list[HttpEvent]:
    # An HTTP API's catch-all (its "$default" route) receives every request
    # that no other route matches. Squall has no such route, so it becomes
    # "/{proxy+}", which does not match "/" itself, plus "/" on its own.
    return [
        HttpEvent(method=method, path="/", payload=HTTP_API_PAYLOAD),
        HttpEvent(method=method, path="/{proxy+}", payload=HTTP_API_PAYLOAD),
    ]
