"""Reader of Serverless Framework (v3 and v4) manifests, serverless.yml.

Squall first resolves the file's variables (`${self:...}`, `${env:...}`,
`${opt:stage}`, `${file(...)}`, ...; see serverless_variables), then reads
the service name, the provider's runtime, memory, timeout and environment,
each function's handler, settings, asynchronous-invocation keys and events
(`http`, `httpApi`, `sqs`, `s3`, `schedule`, `stream`, `eventBridge`
schedules), and the queues, buckets, tables and streams of
`resources.Resources`. Every other key is ignored, never silently dropped,
so that an existing project loads as it is: the Framework keys Squall does
not support yet are listed together in one of `ServiceSpec.warnings`, and a
key the Framework does not define has a warning of its own that names the
key it probably misspells.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from squall.deploy.layers import read_serverless_function_layers, read_serverless_layers
from squall.manifest.serverless_common import CloudFormationTag, ServerlessLoader, Warnings, check_number
from squall.manifest.serverless_events import TRIGGER_EVENT_TYPES, EventReader
from squall.manifest.serverless_keys import (
    FRAMEWORK_FUNCTION_KEYS,
    FRAMEWORK_PROVIDER_KEYS,
    FRAMEWORK_EVENT_TYPES,
    FRAMEWORK_TOP_LEVEL_KEYS,
    check_keys,
    closest_key,
    misspelling_hint,
)
from squall.deploy.requirements import REQUIREMENTS_FILE
from squall.manifest.serverless_http import (
    HTTP_API_PAYLOAD,
    REST_PAYLOAD,
    read_api_gateway_settings,
    read_http_api_cors,
    read_http_api_event,
    read_http_api_settings,
    read_rest_event,
)
from squall.manifest.serverless_resources import Catalog, StackContext
from squall.manifest.serverless_template import read_resources
from squall.manifest.serverless_settings import (
    read_environment,
    read_logging,
    read_package,
    read_plugins,
    read_provider_buckets,
)
from squall.manifest.serverless_variables import (
    effective_region,
    effective_stage,
    is_region_name,
    resolve_variables,
    server_region,
)
from squall.manifest.spec import (
    MAX_MEMORY_MB,
    MAX_TIMEOUT_S,
    MIN_MEMORY_MB,
    CorsConfig,
    Destination,
    FunctionSpec,
    LayerSpec,
    ServiceSpec,
    Trigger,
)
from squall.manifest.validate import (
    FUNCTION_NAME_RE,
    FUNCTION_NAME_RULE,
    HANDLER_RULE,
    SERVICE_NAME_RE,
    SERVICE_NAME_RULE,
    KeyPath,
    ManifestProblems,
    ManifestSource,
    Route,
    check_handler,
    check_routes,
    expected,
    names_other_language,
)

__all__ = [
    "HTTP_API_PAYLOAD",
    "REST_PAYLOAD",
    "SERVERLESS_DEFAULT_MEMORY_MB",
    "SERVERLESS_DEFAULT_TIMEOUT_S",
    "CloudFormationTag",
    "ServerlessLoader",
    "parse_serverless_yml",
]

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
_RUNTIME_RULE = 'a Python 3 runtime "python3.N", such as "python3.12" (Squall runs Python 3 functions only)'

_MEMORY_RULE = f"whole megabytes between {MIN_MEMORY_MB} and {MAX_MEMORY_MB}"
_TIMEOUT_RULE = f"whole seconds between 1 and {MAX_TIMEOUT_S}"
_COUNT_RULE = "a whole number of instances, 0 or more"
_EVENT_TYPES = ("http", "httpApi", *TRIGGER_EVENT_TYPES)

# `custom`, `params` and `stages` only hold values for variables, which are
# resolved by the time the keys are read. `frameworkVersion`, `app` and `org`
# name the Framework version and its dashboard, which Squall does not use.
# `useDotenv` is read where a deploy gathers the `${env:}` values (squall.deploy.variables).
_TOP_LEVEL_KEYS = frozenset(
    {"service", "provider", "functions", "resources", "custom", "params", "stages", "plugins", "package", "layers",
     "frameworkVersion", "app", "org", "useDotenv", "configValidationMode"}
)
_VALIDATION_MODES = ("error", "warn", "off")
# The Framework leaves .env files out of the package when `useDotenv` is on, since they may hold secrets.
_DOTENV_PATTERNS = ("!.env", "!.env.*", "!**/.env", "!**/.env.*")
_PROVIDER_KEYS = frozenset(
    {"name", "runtime", "memorySize", "timeout", "environment", "stage", "region", "s3", "httpApi", "logs",
     "apiGateway", "layers"}
)
_FUNCTION_KEYS = frozenset(
    {
        "name",
        "handler",
        "runtime",
        "memorySize",
        "timeout",
        "environment",
        "reservedConcurrency",
        "provisionedConcurrency",
        "events",
        "destinations",
        "maximumRetryAttempts",
        "maximumEventAge",
        "onError",
        "layers",
        "httpApi",
        "logs",
        # serverless-python-requirements' per-function folder, read only to warn about it.
        "module",
        "package",
    }
)
@dataclass(frozen=True)
class _ProviderDefaults:
    runtime: str
    # False when provider.runtime names another language, such as "nodejs20.x".
    python_runtime: bool
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    http_api_payload: str = HTTP_API_PAYLOAD  # provider.httpApi.payload
    rest_binary_media_types: tuple[str, ...] = ()  # provider.apiGateway.binaryMediaTypes
    http_api_cors: CorsConfig | None = None  # provider.httpApi.cors


@dataclass
class _Context:
    """The shared state for reading functions: defaults, declared resources, event reader and warnings.

    `events` is None when the resources or provider.s3 failed to read, so that
    trigger events, which refer to them, are not checked.
    """

    problems: ManifestProblems
    defaults: _ProviderDefaults
    catalog: Catalog
    events: EventReader | None
    warnings: Warnings
    stage: str  # the service's stage, which every REST API (`http`) route is under
    service: str
    defaults_layers: Any = None  # provider.layers as written, which functions without `layers` use

    @property
    def source(self) -> ManifestSource:
        return self.problems.source


# The service name used when the manifest's name is invalid, so that the
# remaining checks can run. It names only the resources of a rejected manifest.
_PLACEHOLDER_SERVICE = "service"


def parse_serverless_yml(
    document: Any,
    source: ManifestSource,
    options: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ServiceSpec:
    """Translate a parsed serverless.yml into a ServiceSpec, raising one ManifestError that lists every mistake.

    `options` replaces the Framework's command-line options for `${opt:...}`
    variables. Its `stage` (default "dev") also names the stack, which unnamed
    resources are named after, and its `region` (default: the server's) is the
    region of the stack's ARNs. `environ` holds the values of `${env:...}`
    variables (default: os.environ).
    """
    if document is None:
        raise source.error((), "the file is empty, expected a serverless.yml service")
    if not isinstance(document, dict):
        raise source.error((), expected("a mapping with service, provider and functions", document))
    document = resolve_variables(document, source, options, environ)
    document = _merge_function_list(document, source)
    problems = ManifestProblems(source, document)

    warnings = Warnings()
    check_keys(warnings, (), document, _TOP_LEVEL_KEYS, FRAMEWORK_TOP_LEVEL_KEYS)
    with problems.collect():
        read_plugins(source, document.get("plugins"), warnings)
    _warn_requirements_file(document.get("custom"), warnings)
    package_patterns: tuple[str, ...] = ()
    with problems.collect():
        package_patterns = read_package(source, ("package",), document.get("package"), warnings, service_level=True)
    if document.get("useDotenv") is True:
        package_patterns += _DOTENV_PATTERNS
    service = _PLACEHOLDER_SERVICE
    with problems.collect():
        service = _read_service(source, document)
    provider = document.get("provider")
    if provider is None:
        provider = {}
    if not isinstance(provider, dict):
        problems.add(
            source.error(("provider",), expected("a mapping of provider settings, such as name: aws", provider))
        )
        provider = {}
    context = StackContext(
        service=service,
        stage=effective_stage(document, options),
        region=effective_region(options),
    )
    catalog = Catalog(context)
    with problems.collect() as resources_read:
        catalog = read_resources(source, document.get("resources"), context, warnings)
    defaults = _read_provider(problems, provider, catalog, warnings)
    events: EventReader | None = None
    with problems.collect():
        buckets = read_provider_buckets(source, provider, warnings)
        if not resources_read.failed:
            events = EventReader(source, catalog, warnings, buckets)
    reader = _Context(problems, defaults, catalog, events, warnings, context.stage, service, provider.get("layers"))

    functions, routes, layers = _read_functions(reader, document)
    check_routes(problems, routes)
    _check_validation_mode(problems, source, document.get("configValidationMode"), warnings)
    problems.raise_if_any()

    spec = ServiceSpec(
        service=service,
        root=source.root,
        manifest_path=source.path,
        functions=functions,
        warnings=warnings.listed(document),
        resources=catalog.to_resources(),
        layers=tuple(layers.values()),
        package_patterns=package_patterns,
    )
    for warning in spec.warnings:
        logger.debug("%s: %s", source.display, warning)
    return spec


def _check_validation_mode(problems: ManifestProblems, source: ManifestSource, mode: Any, warnings: Warnings) -> None:
    """Turn each unknown key into an error under `configValidationMode: error`, as the Framework then stops the deploy."""
    if mode is None:
        return
    if mode not in _VALIDATION_MODES:
        problems.add(source.error(("configValidationMode",), expected('"error", "warn" or "off"', mode)))
        return
    if mode != "error":
        return
    for key, message in warnings.by_key.items():
        text = message.removeprefix(f"{key}: ")
        if text.startswith("unknown key"):
            reason = text.removesuffix(" ignored").rstrip(",")
            if not reason.endswith("?"):
                reason += "."
            problems.add(source.error(tuple(key.split(".")), f"{reason} Rejected because configValidationMode is error"))


def _merge_function_list(document: dict[Any, Any], source: ManifestSource) -> dict[Any, Any]:
    """Merge a `functions` list of mappings into one mapping, as the Framework does for functions kept in several files."""
    value = document.get("functions")
    if not isinstance(value, list) or not value:
        return document  # an empty list is reported as it is written
    merged: dict[Any, Any] = {}
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise source.error(("functions", index), expected("a mapping of function names to function settings", item))
        for name, settings in item.items():
            if name in merged:
                raise source.error(
                    ("functions", index, name),
                    f"function {name!r} is already defined by an earlier item of the list: rename one of them",
                )
            merged[name] = settings
    return {**document, "functions": merged}


def _read_functions(
    reader: _Context, document: dict[Any, Any]
) -> tuple[dict[str, FunctionSpec], list[Route], dict[str, LayerSpec]]:
    """Read the functions and layers, and return the functions without mistakes, every valid route and the layers."""
    problems, source, warnings = reader.problems, reader.source, reader.warnings
    functions: dict[str, FunctionSpec] = {}
    routes: list[Route] = []
    functions_value = document.get("functions")
    if not isinstance(functions_value, dict) or not functions_value:
        typo = misspelling_hint(document, "functions", FRAMEWORK_TOP_LEVEL_KEYS) if functions_value is None else ""
        problems.add(
            source.error(
                ("functions",),
                expected(
                    "a mapping of function names to function settings (or a list of such mappings), with at least one",
                    functions_value,
                )
                + typo,
            )
        )
        return functions, routes, {}

    layers: dict[str, LayerSpec] = {}
    with problems.collect() as layers_read:
        layers = read_serverless_layers(source, document.get("layers"), warnings)
    requirements_layer = _requirements_layer(document.get("custom"))
    provider_layers = (
        _read_provider_layers(reader, document, layers, requirements_layer) if not layers_read.failed else ()
    )
    declared: list[str] = []
    for name, settings in functions_value.items():
        if not isinstance(name, str) or not FUNCTION_NAME_RE.match(name):
            problems.add(source.error(("functions",), expected(f"function names of {FUNCTION_NAME_RULE}", name)))
            continue
        declared.append(name)
        function, function_routes = _read_function(reader, name, settings)
        routes.extend(function_routes)
        # A function's layers are checked against the declared ones, so not when those failed.
        if isinstance(settings, dict) and settings.get("layers") is not None and not layers_read.failed:
            with problems.collect():
                versions = read_serverless_function_layers(
                    source, ("functions", name, "layers"), settings["layers"], layers, warnings, requirements_layer
                )
                if function is not None:
                    function = dataclasses.replace(function, layers=versions)
        elif function is not None and provider_layers:
            # As in the Framework, a function's own `layers` replace provider.layers, even an empty list.
            function = dataclasses.replace(function, layers=provider_layers)
        if function is not None:
            functions[name] = function

    if reader.events is not None:
        for key, target in reader.events.named_functions:
            if target not in declared:
                problems.add(
                    source.error(key, expected("a function of this service (" + ", ".join(declared) + ") or an ARN", target))
                )
    return functions, routes, layers


def _requirements_layer(custom: Any) -> bool:
    """Tell whether serverless-python-requirements is set to make its layer (`custom.pythonRequirements.layer`)."""
    settings = custom.get("pythonRequirements") if isinstance(custom, dict) else None
    layer = settings.get("layer") if isinstance(settings, dict) else None
    return layer is not None and layer is not False


def _read_provider_layers(
    reader: _Context, document: dict[Any, Any], layers: dict[str, LayerSpec], requirements_layer: bool = False
) -> tuple[str, ...]:
    """Return the layer versions of provider.layers, which every function without its own `layers` uses."""
    provider = document.get("provider")
    entries = provider.get("layers") if isinstance(provider, dict) else None
    if entries is None:
        return ()
    versions: tuple[str, ...] = ()
    with reader.problems.collect():
        versions = read_serverless_function_layers(
            reader.source, ("provider", "layers"), entries, layers, reader.warnings, requirements_layer
        )
    return versions


def _read_service(source: ManifestSource, document: dict[Any, Any]) -> str:
    service = document.get("service")
    # v3 also accepts the older form `service: {name: ...}`.
    if isinstance(service, dict) and "name" in service:
        service = service["name"]
    if not isinstance(service, str) or not SERVICE_NAME_RE.match(service):
        raise source.error(
            ("service",), expected(f"a service name of {SERVICE_NAME_RULE}", service)
        )
    return service


def _read_provider_logs(source: ManifestSource, logs: Any, warnings: Warnings) -> dict[str, str]:
    """Return the variables that provider.logs.lambda sets; the logs of API Gateway and others are warned about."""
    key: KeyPath = ("provider", "logs")
    if logs is None:
        return {}
    if not isinstance(logs, dict):
        raise source.error(key, expected("a mapping such as {lambda: {logFormat: JSON}}", logs))
    warnings.unsupported_keys(key, logs, {"lambda"})
    return read_logging(source, (*key, "lambda"), logs.get("lambda"), warnings)


def _other_region_warning(region: Any) -> str:
    """Describe a provider.region that is not the server's region, and how to run the server as it."""
    running = server_region()
    message = (
        f"functions run in the server's region {running} (AWS_REGION and the events' awsRegion), "
        f"not {region!r}, and ${{aws:region}} resolves to {running}; ${{self:provider.region}} still resolves to {region!r}"
    )
    if is_region_name(region):
        message += f". To run them in {region}, start the server with `squall up --region {region}`"
    return message


def _warn_requirements_file(custom: Any, warnings: Warnings) -> None:
    """Warn when serverless-python-requirements is set to read a file other than requirements.txt."""
    settings = custom.get("pythonRequirements") if isinstance(custom, dict) else None
    name = settings.get("fileName") if isinstance(settings, dict) else None
    if name is not None and name != REQUIREMENTS_FILE:
        warnings.add(
            ("custom", "pythonRequirements", "fileName"),
            f"Squall installs the {REQUIREMENTS_FILE} nearest each handler, not {name!r}:"
            f" name that file {REQUIREMENTS_FILE} to have its packages installed",
        )


def _read_provider(
    problems: ManifestProblems, provider: dict[Any, Any], catalog: Catalog, warnings: Warnings
) -> _ProviderDefaults:
    """Read the provider's defaults for functions, using the Framework's default for each invalid value."""
    source = problems.source
    key: KeyPath = ("provider",)
    check_keys(warnings, key, provider, _PROVIDER_KEYS, FRAMEWORK_PROVIDER_KEYS)
    region = provider.get("region")
    if region is not None and region != server_region():
        # ${self:provider.region} resolves to it, but functions run in the server's region.
        warnings.add((*key, "region"), _other_region_warning(region))
    name = provider.get("name", "aws")
    if name != "aws":
        problems.add(source.error((*key, "name"), expected('"aws"', name)))

    runtime = DEFAULT_RUNTIME
    runtime_value = provider.get("runtime", DEFAULT_RUNTIME)
    with problems.collect():
        runtime = _read_runtime(source, (*key, "runtime"), runtime_value)
    memory_mb = SERVERLESS_DEFAULT_MEMORY_MB
    with problems.collect():
        memory_mb = check_number(
            source,
            (*key, "memorySize"),
            provider.get("memorySize", SERVERLESS_DEFAULT_MEMORY_MB),
            MIN_MEMORY_MB,
            MAX_MEMORY_MB,
            _MEMORY_RULE,
        )
    timeout_s = SERVERLESS_DEFAULT_TIMEOUT_S
    with problems.collect():
        timeout_s = check_number(
            source,
            (*key, "timeout"),
            provider.get("timeout", SERVERLESS_DEFAULT_TIMEOUT_S),
            1,
            MAX_TIMEOUT_S,
            _TIMEOUT_RULE,
        )
    environment: dict[str, str] = {}
    with problems.collect():
        environment = read_environment(source, (*key, "environment"), provider.get("environment"), catalog, warnings)
    with problems.collect():
        environment = environment | _read_provider_logs(source, provider.get("logs"), warnings)
    http_api_payload = HTTP_API_PAYLOAD
    with problems.collect():
        http_api_payload = read_http_api_settings(
            source, (*key, "httpApi"), provider.get("httpApi"), warnings, HTTP_API_PAYLOAD
        )
    http_api_cors = None
    http_api = provider.get("httpApi")
    if isinstance(http_api, dict) and "cors" in http_api:
        with problems.collect():
            http_api_cors = read_http_api_cors(source, (*key, "httpApi", "cors"), http_api["cors"], warnings)
    rest_binary_media_types: tuple[str, ...] = ()
    with problems.collect():
        rest_binary_media_types = read_api_gateway_settings(
            source, (*key, "apiGateway"), provider.get("apiGateway"), warnings
        )
    return _ProviderDefaults(
        runtime,
        not names_other_language(runtime_value),
        memory_mb,
        timeout_s,
        environment,
        http_api_payload,
        rest_binary_media_types,
        http_api_cors,
    )


def _read_function(reader: _Context, name: str, settings: Any) -> tuple[FunctionSpec | None, list[Route]]:
    """Check one function's settings and return its spec (None after a mistake) with its valid routes."""
    problems, source, defaults, warnings = reader.problems, reader.source, reader.defaults, reader.warnings
    key: KeyPath = ("functions", name)
    if not isinstance(settings, dict):
        problems.add(source.error(key, expected("a mapping of function settings with at least a handler", settings)))
        return None, []
    problems_before = len(problems)
    check_keys(warnings, key, settings, _FUNCTION_KEYS, FRAMEWORK_FUNCTION_KEYS)
    if "module" in settings:
        warnings.add(
            (*key, "module"),
            "a serverless-python-requirements setting Squall does not read: handlers are found from the service "
            f"folder, so name the handler with its folder, such as {settings['module']}/{settings.get('handler', 'app.handler')}",
        )
    with problems.collect():
        read_package(source, (*key, "package"), settings.get("package"), warnings, service_level=False)

    # The runtime comes first: the handler of a Node.js or Java function names
    # no .py file, and its runtime is the one mistake to report.
    runtime = defaults.runtime
    python_runtime = defaults.python_runtime
    if "runtime" in settings:
        python_runtime = not names_other_language(settings["runtime"])
        with problems.collect():
            runtime = _read_runtime(source, (*key, "runtime"), settings["runtime"])

    handler = settings.get("handler")
    if handler is None:
        hint = " (container images are not supported)" if "image" in settings else ""
        typo = misspelling_hint(settings, "handler", FRAMEWORK_FUNCTION_KEYS)
        problems.add(source.error((*key, "handler"), f"missing{hint}, expected {HANDLER_RULE}{typo}"))
    elif python_runtime:
        with problems.collect():
            # A function's own `layers` replace provider.layers, even an empty list.
            layers = settings["layers"] if "layers" in settings else reader.defaults_layers
            check_handler(source, (*key, "handler"), handler, has_layers=bool(layers))

    memory_mb = defaults.memory_mb
    if "memorySize" in settings:
        with problems.collect():
            memory_mb = check_number(
                source, (*key, "memorySize"), settings["memorySize"], MIN_MEMORY_MB, MAX_MEMORY_MB, _MEMORY_RULE
            )
    timeout_s = defaults.timeout_s
    if "timeout" in settings:
        with problems.collect():
            timeout_s = check_number(source, (*key, "timeout"), settings["timeout"], 1, MAX_TIMEOUT_S, _TIMEOUT_RULE)
    environment = defaults.environment
    with problems.collect():
        # A function's variables override the provider's ones of the same name.
        environment = defaults.environment | read_environment(
            source, (*key, "environment"), settings.get("environment"), reader.catalog, warnings
        )
    with problems.collect():
        # A function's logging settings override the provider's.
        environment = environment | read_logging(source, (*key, "logs"), settings.get("logs"), warnings)

    aws_name = None
    with problems.collect():
        aws_name = _aws_name(reader, key, settings)
    reserved, provisioned = _read_concurrency(problems, key, settings)
    http_api_payload = defaults.http_api_payload
    with problems.collect():
        http_api_payload = read_http_api_settings(
            source, (*key, "httpApi"), settings.get("httpApi"), warnings, defaults.http_api_payload
        )
    routes, triggers, stream_failures = _read_events(reader, name, settings.get("events"), http_api_payload)
    async_config = None
    # Destinations name declared queues and topics, so they are not checked when the resources failed.
    if reader.events is not None:
        with problems.collect():
            async_config = reader.events.async_config(key, settings, stream_failures)
    if len(problems) > problems_before or async_config is None:
        return None, routes

    function = FunctionSpec(
        name=name,
        handler=handler,
        memory_mb=memory_mb,
        timeout_s=timeout_s,
        environment=environment,
        reserved_concurrency=reserved,
        provisioned=provisioned,
        http=tuple(route.event for route in routes),
        triggers=tuple(triggers),
        async_config=async_config,
        runtime=runtime,
        aws_name=aws_name,
    )
    return function, routes


def _aws_name(reader: _Context, key: KeyPath, settings: dict[Any, Any]) -> str | None:
    """Return the name the Framework deploys a function under: its `name` setting, else SERVICE-STAGE-KEY.

    A default longer than Lambda's 64 characters is an error, as the
    Framework's own deploy fails on it.
    """
    name = settings.get("name")
    if name is None:
        default = f"{reader.service}-{reader.stage}-{key[-1]}"
        if not FUNCTION_NAME_RE.match(default):
            raise reader.source.error(
                key,
                f"the name the Framework deploys this function under, {default!r}, is {len(default)} characters "
                f"long, but Lambda allows {FUNCTION_NAME_RULE}; set a shorter one with name:",
            )
        return default
    if not isinstance(name, str) or not FUNCTION_NAME_RE.match(name):
        raise reader.source.error((*key, "name"), expected(f"a function name of {FUNCTION_NAME_RULE}", name))
    return name


def _read_concurrency(
    problems: ManifestProblems, key: KeyPath, settings: dict[Any, Any]
) -> tuple[int | None, int]:
    """Return a function's reserved concurrency (None: no cap) and provisioned instances."""
    source = problems.source
    reserved: int | None = None
    reserved_read = provisioned_read = True
    if settings.get("reservedConcurrency") is not None:
        with problems.collect() as attempt:
            reserved = check_number(
                source, (*key, "reservedConcurrency"), settings["reservedConcurrency"], 0, None, _COUNT_RULE
            )
        reserved_read = not attempt.failed
    provisioned = 0
    if settings.get("provisionedConcurrency") is not None:
        with problems.collect() as attempt:
            provisioned = check_number(
                source, (*key, "provisionedConcurrency"), settings["provisionedConcurrency"], 0, None, _COUNT_RULE
            )
        provisioned_read = not attempt.failed
    if reserved_read and provisioned_read and reserved is not None and provisioned > reserved:
        problems.add(
            source.error(
                (*key, "provisionedConcurrency"), expected(f"at most reservedConcurrency ({reserved})", provisioned)
            )
        )
    return reserved, provisioned


def _read_runtime(source: ManifestSource, key: KeyPath, runtime: Any) -> str:
    if not isinstance(runtime, str) or not _PYTHON_RUNTIME_RE.match(runtime):
        raise source.error(key, expected(_RUNTIME_RULE, runtime))
    return runtime


def _read_events(
    reader: _Context, function: str, events: Any, http_api_payload: str = HTTP_API_PAYLOAD
) -> tuple[list[Route], list[Trigger], list[tuple[KeyPath, Destination]]]:
    """Read a function's events, each checked on its own, and trigger events only when the resources were read."""
    problems, source, warnings = reader.problems, reader.source, reader.warnings
    key: KeyPath = ("functions", function, "events")
    routes: list[Route] = []
    triggers: list[Trigger] = []
    stream_failures: list[tuple[KeyPath, Destination]] = []
    if events is None:
        return routes, triggers, stream_failures
    if not isinstance(events, list):
        problems.add(source.error(key, expected("a list of events", events)))
        return routes, triggers, stream_failures

    for index, entry in enumerate(events):
        if not isinstance(entry, dict) or not entry:
            problems.add(source.error((*key, index), expected("an event mapping such as {httpApi: GET /hello}", entry)))
            continue
        for event_type, config in entry.items():
            event_key = (*key, index, str(event_type))
            if event_type not in ("http", "httpApi") and event_type not in TRIGGER_EVENT_TYPES:
                meant = None if event_type in FRAMEWORK_EVENT_TYPES else closest_key(str(event_type), _EVENT_TYPES)
                if meant is None:
                    warnings.unsupported(event_key, "event type")
                else:
                    warnings.add(event_key, f'unknown event type, did you mean "{meant}"? ignored')
                continue
            if event_type in TRIGGER_EVENT_TYPES:
                if reader.events is not None:
                    with problems.collect():
                        triggers.extend(reader.events.read(event_key, event_type, config, stream_failures))
                continue
            with problems.collect():
                if event_type == "http":
                    # A REST API always has a named stage: the service's stage.
                    found = read_rest_event(
                        source, event_key, config, warnings, reader.stage, reader.defaults.rest_binary_media_types
                    )
                else:
                    found = read_http_api_event(
                        source, event_key, config, warnings, http_api_payload, reader.defaults.http_api_cors
                    )
                routes.extend(Route(event, function, event_key) for event in found)
    return routes, triggers, stream_failures
