"""The HTTP events of a serverless.yml function: `http` (REST API) and `httpApi` (HTTP API)."""

from __future__ import annotations

from typing import Any

from squall.manifest.serverless_common import Warnings
from squall.manifest.serverless_keys import (
    FRAMEWORK_HTTP_API_EVENT_KEYS,
    FRAMEWORK_HTTP_EVENT_KEYS,
    check_keys,
    misspelling_hint,
)
from squall.manifest.spec import (
    DEFAULT_CORS_HEADERS,
    DEFAULT_ROUTE,
    HTTP_METHODS,
    MAX_CORS_MAX_AGE_S,
    ApiType,
    CorsConfig,
    HttpEvent,
)
from squall.manifest.squall_events import read_binary_media_types
from squall.manifest.validate import KeyPath, ManifestSource, check_http_path, expected

REST_PAYLOAD = "1.0"
HTTP_API_PAYLOAD = "2.0"
# `authorizer` and `private` are read only to warn that Squall serves the route without them.
_HTTP_EVENT_KEYS = frozenset({"method", "path", "authorizer", "private"})
_REST_EVENT_KEYS = _HTTP_EVENT_KEYS | {"cors"}
# The keys of provider.httpApi.cors and of an http event's cors (Serverless Framework v3).
_HTTP_API_CORS_KEYS = frozenset(
    {"allowedOrigins", "allowedHeaders", "allowedMethods", "allowCredentials", "exposedResponseHeaders", "maxAge"}
)
_REST_CORS_KEYS = frozenset({"origin", "origins", "headers", "methods", "allowCredentials", "maxAge", "cacheControl"})
_PAYLOAD_RULE = 'a payload format version, "1.0" or "2.0"'


def read_payload_version(source: ManifestSource, key: KeyPath, value: Any) -> str:
    """Read an `httpApi.payload` setting; YAML reads an unquoted 1.0 as a number, which counts too."""
    text = str(value) if isinstance(value, (str, float)) else None
    if text not in ("1.0", "2.0"):
        raise source.error(key, expected(_PAYLOAD_RULE, value))
    return text


def read_http_api_settings(
    source: ManifestSource, key: KeyPath, settings: Any, warnings: Warnings, default: str
) -> str:
    """Read a provider's or function's `httpApi` settings and return the payload version its routes use.

    The provider's `cors` is read by read_http_api_cors.
    """
    if settings is None:
        return default
    if not isinstance(settings, dict):
        raise source.error(key, expected("a mapping of HTTP API settings, such as {payload: '1.0'}", settings))
    provider_level = key[0] == "provider"
    warnings.unsupported_keys(key, settings, {"payload", "cors"} if provider_level else {"payload"})
    if "payload" in settings:
        return read_payload_version(source, (*key, "payload"), settings["payload"])
    return default


def _names(source: ManifestSource, key: KeyPath, value: Any) -> tuple[str, ...]:
    """Read a list of strings, or one string, as the Framework takes both for its CORS lists."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item for item in items):
        raise source.error(key, expected('a list of strings, such as ["https://example.com"]', value))
    return tuple(items)


def _methods(source: ManifestSource, key: KeyPath, value: Any) -> tuple[str, ...]:
    methods = tuple(method.upper() for method in _names(source, key, value))
    for method in methods:
        if method not in HTTP_METHODS and method != "*":
            raise source.error(key, expected("HTTP methods (" + ", ".join(HTTP_METHODS) + ") or *", value))
    return methods


def _max_age(source: ManifestSource, key: KeyPath, value: Any, minimum: int, maximum: int | None) -> int:
    # The Framework also takes a number written as a string, such as '600'.
    number = int(value) if isinstance(value, str) and value.strip().lstrip("-").isdigit() else value
    if isinstance(number, bool) or not isinstance(number, int) or number < minimum or (maximum and number > maximum):
        limit = f"from {minimum} to {maximum}" if maximum else f"{minimum} or more"
        raise source.error(key, expected(f"whole seconds {limit}", value))
    return number


def read_http_api_cors(source: ManifestSource, key: KeyPath, settings: Any, warnings: Warnings) -> CorsConfig | None:
    """Read `provider.httpApi.cors`: true for the Framework's defaults, or a mapping of settings.

    Unset allowed methods are OPTIONS and those of the HTTP API's routes,
    which the router fills in (allow_methods None).
    """
    if settings is None or settings is False:
        return None
    if settings is True:
        return CorsConfig(allow_origins=("*",), allow_headers=DEFAULT_CORS_HEADERS)
    if not isinstance(settings, dict):
        raise source.error(key, expected("true, or a mapping such as {allowedOrigins: [https://example.com]}", settings))
    check_keys(warnings, key, settings, _HTTP_API_CORS_KEYS, _HTTP_API_CORS_KEYS)
    origins = ("*",)
    if "allowedOrigins" in settings:
        origins = _names(source, (*key, "allowedOrigins"), settings["allowedOrigins"])
    headers = DEFAULT_CORS_HEADERS
    if "allowedHeaders" in settings:
        headers = _names(source, (*key, "allowedHeaders"), settings["allowedHeaders"])
    methods = None
    if "allowedMethods" in settings:
        methods = _methods(source, (*key, "allowedMethods"), settings["allowedMethods"])
    expose: tuple[str, ...] = ()
    if "exposedResponseHeaders" in settings:
        expose = _names(source, (*key, "exposedResponseHeaders"), settings["exposedResponseHeaders"])
    max_age = None
    if settings.get("maxAge") is not None:
        max_age = _max_age(source, (*key, "maxAge"), settings["maxAge"], -1, MAX_CORS_MAX_AGE_S)
    credentials = settings.get("allowCredentials", False)
    if not isinstance(credentials, bool):
        raise source.error((*key, "allowCredentials"), expected("true or false", credentials))
    if credentials and "*" in origins:
        # API Gateway rejects the configuration: "allow-credentials is not supported if 'allow-origin' is *".
        raise source.error(
            (*key, "allowedOrigins"),
            expected('origins without "*" when allowCredentials is true, as API Gateway requires', list(origins)),
        )
    return CorsConfig(origins, headers, methods, credentials, expose, max_age)


def read_rest_cors(
    source: ManifestSource, key: KeyPath, settings: Any, method: str, warnings: Warnings
) -> CorsConfig | None:
    """Read an `http` event's `cors`, whose OPTIONS mock method allows OPTIONS and the event's method by default.

    As the Framework reads it: `origin` (default "*", with commas between
    several) or an `origins` list, `headers` (default DEFAULT_CORS_HEADERS),
    `methods` (OPTIONS and the event's method are always added),
    `allowCredentials`, `maxAge` and `cacheControl`.
    """
    if settings is None or settings is False:
        return None
    if settings is True:
        settings = {}
    if not isinstance(settings, dict):
        raise source.error(key, expected("true, or a mapping such as {origin: 'https://example.com'}", settings))
    check_keys(warnings, key, settings, _REST_CORS_KEYS, _REST_CORS_KEYS)
    if "origins" in settings:
        origins = _names(source, (*key, "origins"), settings["origins"])
    else:
        origin = settings.get("origin", "*")
        if not isinstance(origin, str) or not origin:
            raise source.error((*key, "origin"), expected('an origin such as "https://example.com", or "*"', origin))
        origins = tuple(part.strip() for part in origin.split(","))
    headers = DEFAULT_CORS_HEADERS
    if "headers" in settings:
        headers = _names(source, (*key, "headers"), settings["headers"])
    methods: tuple[str, ...] = ()
    if "methods" in settings:
        methods = _methods(source, (*key, "methods"), settings["methods"])
    for added in ("OPTIONS", method):
        if added not in methods:
            methods += (added,)
    max_age = None
    if settings.get("maxAge") is not None:
        max_age = _max_age(source, (*key, "maxAge"), settings["maxAge"], 0, None)
    cache_control = settings.get("cacheControl")
    if cache_control is not None and not isinstance(cache_control, str):
        raise source.error((*key, "cacheControl"), expected('a Cache-Control value, such as "max-age=600"', cache_control))
    return CorsConfig(
        allow_origins=origins,
        allow_headers=headers,
        allow_methods=methods,
        allow_credentials=bool(settings.get("allowCredentials")),
        max_age_s=max_age,
        cache_control=cache_control,
    )


def read_api_gateway_settings(source: ManifestSource, key: KeyPath, settings: Any, warnings: Warnings) -> tuple[str, ...]:
    """Read `provider.apiGateway`, the settings of the REST API of `http` events, and return its binaryMediaTypes."""
    if settings is None:
        return ()
    if not isinstance(settings, dict):
        raise source.error(key, expected("a mapping of REST API settings, such as {binaryMediaTypes: ['image/png']}", settings))
    warnings.unsupported_keys(key, settings, {"binaryMediaTypes"})
    return read_binary_media_types(source, (*key, "binaryMediaTypes"), settings.get("binaryMediaTypes"))


def _warn_unprotected(key: KeyPath, config: Any, warnings: Warnings) -> None:
    if not isinstance(config, dict):
        return
    if config.get("authorizer") is not None:
        warnings.add(
            (*key, "authorizer"),
            "Squall has no authorizers: the route is served to every caller that reaches the server",
        )
    if config.get("private"):
        warnings.add((*key, "private"), "Squall has no API keys: the route is served without one")


def _split_method_and_path(
    source: ManifestSource, key: KeyPath, config: Any, framework_keys: frozenset[str]
) -> tuple[Any, Any]:
    """Split the string form of an event ("GET /hello") or read its mapping form."""
    if isinstance(config, str):
        parts = config.split()
        if len(parts) != 2:
            raise source.error(key, expected('"METHOD path", such as "GET /hello"', config))
        return parts[0], parts[1]

    if not isinstance(config, dict):
        raise source.error(key, expected('"METHOD path" or a mapping with method and path', config))
    for required in ("method", "path"):
        if required not in config:
            hint = misspelling_hint(config, required, framework_keys)
            raise source.error((*key, required), f"missing, expected the route's {required}{hint}")
    return config["method"], config["path"]


def _field_key(key: KeyPath, config: Any, part: str) -> KeyPath:
    """Return the key of the method or path: its own key in the mapping form, else the event's."""
    return (*key, part) if isinstance(config, dict) else key


def _read_method(source: ManifestSource, key: KeyPath, method: Any, star_means_any: bool) -> str:
    if star_means_any and method == "*":
        return "ANY"
    rule = "an HTTP method (" + ", ".join(HTTP_METHODS) + ")"
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        raise source.error(key, expected(rule, method))
    return method.upper()


def _read_path(source: ManifestSource, key: KeyPath, path: Any, strip_trailing: bool) -> str:
    if not isinstance(path, str):
        raise source.error(key, expected('a path such as "/hello/{name}"', path))
    # The Serverless Framework accepts "users/{id}" for "/users/{id}".
    if strip_trailing:
        path = path.strip("/")
    return check_http_path(source, key, "/" + path.lstrip("/"))


def read_rest_event(
    source: ManifestSource,
    key: KeyPath,
    config: Any,
    warnings: Warnings,
    stage: str | None = None,
    binary_media_types: tuple[str, ...] = (),
) -> list[HttpEvent]:
    """Read an `http` event: a REST API route under `stage` with a payload 1.0 proxy event.

    `binary_media_types` are the REST API's (provider.apiGateway.binaryMediaTypes).
    """
    if isinstance(config, dict):
        check_keys(warnings, key, config, _REST_EVENT_KEYS, FRAMEWORK_HTTP_EVENT_KEYS)
    _warn_unprotected(key, config, warnings)
    method, path = _split_method_and_path(source, key, config, FRAMEWORK_HTTP_EVENT_KEYS)
    method = _read_method(source, _field_key(key, config, "method"), method, star_means_any=False)
    cors = None
    if isinstance(config, dict) and "cors" in config:
        cors = read_rest_cors(source, (*key, "cors"), config["cors"], method, warnings)
    return [
        HttpEvent(
            method=method,
            # Serverless removes a trailing "/" from REST API paths.
            path=_read_path(source, _field_key(key, config, "path"), path, strip_trailing=True),
            payload=REST_PAYLOAD,
            stage=stage,
            api=ApiType.REST,
            binary_media_types=binary_media_types,
            cors=cors,
        )
    ]


def read_http_api_event(
    source: ManifestSource,
    key: KeyPath,
    config: Any,
    warnings: Warnings,
    payload: str = HTTP_API_PAYLOAD,
    cors: CorsConfig | None = None,
) -> list[HttpEvent]:
    """Read an `httpApi` event: an HTTP API route whose events have the `payload` format, 2.0 by default.

    `cors` is the HTTP API's CORS configuration, from `provider.httpApi.cors`.
    """
    if config == "*":
        return _catch_all("ANY", payload, cors)
    if isinstance(config, dict):
        check_keys(warnings, key, config, _HTTP_EVENT_KEYS, FRAMEWORK_HTTP_API_EVENT_KEYS)
    _warn_unprotected(key, config, warnings)
    method, path = _split_method_and_path(source, key, config, FRAMEWORK_HTTP_API_EVENT_KEYS)

    method = _read_method(source, _field_key(key, config, "method"), method, star_means_any=True)
    if path == "*":
        return _catch_all(method, payload, cors)
    path_key = _field_key(key, config, "path")
    if isinstance(path, str) and not path.startswith("/"):
        # The Framework's schema requires "METHOD /path" for an HTTP API route.
        raise source.error(path_key, expected('a path starting with "/", such as "/users/{id}"', path))
    path = _read_path(source, path_key, path, strip_trailing=False)
    return [HttpEvent(method=method, path=path, payload=payload, api=ApiType.HTTP, cors=cors)]


def _catch_all(method: str, payload: str, cors: CorsConfig | None) -> list[HttpEvent]:
    # Any method on any path is the HTTP API's default route, which receives
    # every request no other route matches. One method on any path is no
    # route API Gateway has: it becomes "/{proxy+}", which does not match "/"
    # itself, plus "/" on its own.
    if method == "ANY":
        return [HttpEvent(method=method, path=DEFAULT_ROUTE, payload=payload, api=ApiType.HTTP, cors=cors)]
    return [
        HttpEvent(method=method, path="/", payload=payload, api=ApiType.HTTP, cors=cors),
        HttpEvent(method=method, path="/{proxy+}", payload=payload, api=ApiType.HTTP, cors=cors),
    ]
