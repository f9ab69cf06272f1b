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
from squall.manifest.spec import DEFAULT_ROUTE, HTTP_METHODS, ApiType, HttpEvent
from squall.manifest.squall_events import read_binary_media_types
from squall.manifest.validate import KeyPath, ManifestSource, check_http_path, expected

REST_PAYLOAD = "1.0"
HTTP_API_PAYLOAD = "2.0"
# `authorizer` and `private` are read only to warn that Squall serves the route without them.
_HTTP_EVENT_KEYS = frozenset({"method", "path", "authorizer", "private"})
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
    """Read a provider's or function's `httpApi` settings and return the payload version its routes use."""
    if settings is None:
        return default
    if not isinstance(settings, dict):
        raise source.error(key, expected("a mapping of HTTP API settings, such as {payload: '1.0'}", settings))
    warnings.unsupported_keys(key, settings, {"payload"})
    if "payload" not in settings:
        return default
    return read_payload_version(source, (*key, "payload"), settings["payload"])


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
        check_keys(warnings, key, config, _HTTP_EVENT_KEYS, FRAMEWORK_HTTP_EVENT_KEYS)
    _warn_unprotected(key, config, warnings)
    method, path = _split_method_and_path(source, key, config, FRAMEWORK_HTTP_EVENT_KEYS)
    return [
        HttpEvent(
            method=_read_method(
                source, _field_key(key, config, "method"), method, star_means_any=False
            ),
            # Serverless removes a trailing "/" from REST API paths.
            path=_read_path(source, _field_key(key, config, "path"), path, strip_trailing=True),
            payload=REST_PAYLOAD,
            stage=stage,
            api=ApiType.REST,
            binary_media_types=binary_media_types,
        )
    ]


def read_http_api_event(
    source: ManifestSource, key: KeyPath, config: Any, warnings: Warnings, payload: str = HTTP_API_PAYLOAD
) -> list[HttpEvent]:
    """Read an `httpApi` event: an HTTP API route whose events have the `payload` format, 2.0 by default."""
    if config == "*":
        return _catch_all("ANY", payload)
    if isinstance(config, dict):
        check_keys(warnings, key, config, _HTTP_EVENT_KEYS, FRAMEWORK_HTTP_API_EVENT_KEYS)
    _warn_unprotected(key, config, warnings)
    method, path = _split_method_and_path(source, key, config, FRAMEWORK_HTTP_API_EVENT_KEYS)

    method = _read_method(source, _field_key(key, config, "method"), method, star_means_any=True)
    if path == "*":
        return _catch_all(method, payload)
    path_key = _field_key(key, config, "path")
    if isinstance(path, str) and not path.startswith("/"):
        # The Framework's schema requires "METHOD /path" for an HTTP API route.
        raise source.error(path_key, expected('a path starting with "/", such as "/users/{id}"', path))
    path = _read_path(source, path_key, path, strip_trailing=False)
    return [HttpEvent(method=method, path=path, payload=payload, api=ApiType.HTTP)]


def _catch_all(method: str, payload: str) -> list[HttpEvent]:
    # Any method on any path is the HTTP API's default route, which receives
    # every request no other route matches. One method on any path is no
    # route API Gateway has: it becomes "/{proxy+}", which does not match "/"
    # itself, plus "/" on its own.
    if method == "ANY":
        return [HttpEvent(method=method, path=DEFAULT_ROUTE, payload=payload, api=ApiType.HTTP)]
    return [
        HttpEvent(method=method, path="/", payload=payload, api=ApiType.HTTP),
        HttpEvent(method=method, path="/{proxy+}", payload=payload, api=ApiType.HTTP),
    ]
