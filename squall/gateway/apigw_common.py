"""Pieces shared by the API Gateway payload 1.0 and 2.0 translations.

Contains the HTTP response record, API Gateway's own error responses, and the
helpers both event builders use to read an ASGI HTTP scope.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import unquote_plus

from squall.manifest.spec import ApiType, CorsConfig

logger = logging.getLogger(__name__)

# Squall runs no AWS account or API, but the events carry these fields, and
# Powertools' models require them to be strings.
ACCOUNT_ID = "000000000000"
API_ID = "squall"
STAGE = "$default"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Media types sent as text in a payload 2.0 event. Others are base64-encoded.
_TEXT_MEDIA_TYPES = frozenset(
    {
        "application/json",
        "application/javascript",
        "application/ecmascript",
        "application/xml",
        "application/yaml",
        "application/x-yaml",
        "application/graphql",
    }
)

# Headers of a function's response that describe the connection, not the
# content. The server frames the body itself, as API Gateway does.
_DROPPED_RESPONSE_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})

JSON_CONTENT_TYPE = (b"content-type", b"application/json")

# Statuses whose responses carry no content (RFC 9110, 15.3.5, 15.3.6, 15.4.5).
_WITHOUT_CONTENT = frozenset({204, 205, 304})

# An HTTP header name is an RFC 9110 token.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """An HTTP response ready for ASGI: lower-case header names, content-length included."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class GatewayError(Enum):
    """Failures the gateway responds to itself instead of the function."""

    NOT_FOUND = "not_found"  # no route matches the request
    # The handler raised, the instance crashed, or the function ran past its
    # own timeout: Lambda reports each as an Unhandled function error.
    FUNCTION_ERROR = "function_error"
    MALFORMED_RESPONSE = "malformed_response"  # the result is not a valid proxy response
    # API Gateway stopped waiting for the function (INTEGRATION_TIMEOUT_REST_S
    # or INTEGRATION_TIMEOUT_HTTP_API_S), which may still be running.
    INTEGRATION_TIMEOUT = "integration_timeout"
    THROTTLED = "throttled"  # the function is at its concurrency cap and queue limit
    PAYLOAD_TOO_LARGE = "payload_too_large"  # the request body, or the event built from it, exceeds the invocation limit
    HEADERS_TOO_LARGE = "headers_too_large"  # the header values (and request line) exceed MAX_REQUEST_HEAD_BYTES
    URL_TOO_LONG = "url_too_long"  # a REST API's URL exceeds MAX_REST_URL_CHARS


# How long API Gateway waits for a Lambda integration before it responds to
# the client with INTEGRATION_TIMEOUT, from its quotas pages. REST APIs wait
# 29 s by default, and since June 2024 Regional and private REST APIs may
# raise it through a quota request. HTTP APIs wait 30 s, not adjustable.
# The function keeps running after that, up to its own timeout. Tests shorten these.
INTEGRATION_TIMEOUT_REST_S = 29.0
INTEGRATION_TIMEOUT_HTTP_API_S = 30.0


def integration_timeout_s(api: ApiType) -> float:
    """Return how long an API of this type waits for the function, in seconds.

    Read at each call, so that a test that shortens the module constants
    affects requests already being served.
    """
    if api is ApiType.REST:
        return INTEGRATION_TIMEOUT_REST_S
    return INTEGRATION_TIMEOUT_HTTP_API_S


# Response headers that carry the API Gateway request id (the event's
# requestContext.requestId): REST APIs send x-amzn-RequestId, HTTP APIs
# apigw-requestid, whatever their payload version. Names are lower case, as
# every header the gateway sends.
_REQUEST_ID_HEADERS = {ApiType.REST: b"x-amzn-requestid", ApiType.HTTP: b"apigw-requestid"}


def request_id_header(api: ApiType, request_id: str) -> tuple[bytes, bytes]:
    """Return the header that names the request id on a response of an API of this type."""
    return _REQUEST_ID_HEADERS[api], request_id.encode("ascii")


# HTTP API: 404 and 500 bodies are the ones the HTTP API developer guide
# shows, and an HTTP API sends them whichever payload version its routes use.
# REST API: status codes are the defaults of its gateway response types
# (MISSING_AUTHENTICATION_TOKEN 403, INTEGRATION_TIMEOUT 504, THROTTLED 429,
# REQUEST_TOO_LARGE 413). A function error or a response in the wrong format
# is a 502 ("Handling Lambda errors with an API Gateway API", Lambda developer
# guide), and a function that runs past its own timeout is a function error
# to Lambda (Sandbox.Timedout).
# NOTE: the 413 and 503 message texts are from observed API Gateway responses,
# not from its documentation.
_ERRORS: dict[tuple[GatewayError, ApiType], tuple[int, bytes]] = {
    (GatewayError.NOT_FOUND, ApiType.HTTP): (404, b'{"message":"Not Found"}'),
    (GatewayError.FUNCTION_ERROR, ApiType.HTTP): (500, b'{"message":"Internal Server Error"}'),
    (GatewayError.MALFORMED_RESPONSE, ApiType.HTTP): (500, b'{"message":"Internal Server Error"}'),
    (GatewayError.INTEGRATION_TIMEOUT, ApiType.HTTP): (503, b'{"message":"Service Unavailable"}'),
    (GatewayError.THROTTLED, ApiType.HTTP): (429, b'{"message":"Too Many Requests"}'),
    (GatewayError.PAYLOAD_TOO_LARGE, ApiType.HTTP): (413, b'{"message":"Request Entity Too Large"}'),
    (GatewayError.HEADERS_TOO_LARGE, ApiType.HTTP): (413, b'{"message":"Request Entity Too Large"}'),
    # An HTTP API counts its URL in the request line's quota, so only a REST API sends this one.
    (GatewayError.URL_TOO_LONG, ApiType.HTTP): (414, b'{"message":"Request-URI Too Long"}'),
    (GatewayError.NOT_FOUND, ApiType.REST): (403, b'{"message":"Missing Authentication Token"}'),
    (GatewayError.FUNCTION_ERROR, ApiType.REST): (502, b'{"message": "Internal server error"}'),
    (GatewayError.MALFORMED_RESPONSE, ApiType.REST): (502, b'{"message": "Internal server error"}'),
    (GatewayError.INTEGRATION_TIMEOUT, ApiType.REST): (504, b'{"message": "Endpoint request timed out"}'),
    (GatewayError.THROTTLED, ApiType.REST): (429, b'{"message":"Too Many Requests"}'),
    (GatewayError.PAYLOAD_TOO_LARGE, ApiType.REST): (413, b'{"message":"Request Too Long"}'),
    (GatewayError.HEADERS_TOO_LARGE, ApiType.REST): (413, b'{"message":"Request Too Long"}'),
    (GatewayError.URL_TOO_LONG, ApiType.REST): (414, b'{"message":"Request-URI Too Long"}'),
}

# API Gateway's quota on a request's size without its body, not adjustable:
# for an HTTP API the total of the request line and the header values, for a
# REST API the total of the header values (its quotas pages). Header names
# do not count, by the quotas' wording.
# NOTE: AWS does not document its response past the quota. Squall sends the
# 413 of the REST API's REQUEST_TOO_LARGE gateway response type, and an HTTP
# API's 413 for a request too large.
MAX_REQUEST_HEAD_BYTES = 10240

# A Regional REST API's quota on the length of its URL, in characters, not
# adjustable (its quotas pages). Squall counts "https://", the Host header,
# the path as sent and the query.
# NOTE: AWS does not document the response past this quota either. Squall
# sends 414, which API Gateway documents for a URI that makes a method's ARN
# too long.
MAX_REST_URL_CHARS = 10240


def rest_url_length(scope: dict[str, Any]) -> int:
    """Return the length of a REST API request's URL: scheme, host, path and query."""
    host = next((value for name, value in scope.get("headers") or () if name == b"host"), b"")
    length = len("https://") + len(host) + len(scope.get("raw_path") or scope["path"].encode("utf-8"))
    query = scope.get("query_string")
    if query:
        length += 1 + len(query)
    return length


def request_head_bytes(scope: dict[str, Any], api: ApiType) -> int:
    """Return the bytes of a request that count toward MAX_REQUEST_HEAD_BYTES for an API of this type.

    Those are the header values, and for an HTTP API also the request line
    ("GET /path?query HTTP/1.1").
    """
    values = sum(len(value) for _, value in scope.get("headers") or ())
    if api is ApiType.REST:
        return values

    target = len(scope.get("raw_path") or scope["path"].encode("utf-8"))
    query = scope.get("query_string")
    if query:
        target += 1 + len(query)  # "?" and the query
    protocol = len("HTTP/") + len(scope.get("http_version", "1.1"))
    line = len(scope["method"]) + 1 + target + 1 + protocol
    return line + values


@dataclass(frozen=True, slots=True)
class RoutedRequest:
    """The function, route key and request id of one request, named in warnings about the function's result."""

    function: str
    route_key: str
    request_id: str


def describe_request(request: RoutedRequest | None) -> str:
    """Return the function, route key and request id of a request as text for a log message."""
    if request is None:
        return "function, route and request id not given"
    return f"function {request.function!r}, route {request.route_key!r}, request id {request.request_id}"


def error_response(kind: GatewayError, api: ApiType) -> HttpResponse:
    """Build API Gateway's own response to a failure, as an API of this type sends it."""
    status, body = _ERRORS[(kind, api)]
    return HttpResponse(status, [JSON_CONTENT_TYPE, (b"content-length", str(len(body)).encode())], body)


class MalformedResponse(ValueError):
    """Raised inside the response mappers when a function's response breaks the proxy format."""


# --- request side -----------------------------------------------------------

# The last second formatted and its text, replaced as one tuple so that a
# reader never sees the text of another second.
_last_request_time: tuple[int, str] = (-1, "")


def format_request_time(now_ms: int) -> str:
    """Format a time as API Gateway's requestTime: "04/Mar/2020:19:15:17 +0000" (always UTC)."""
    global _last_request_time
    second = now_ms // 1000
    cached_second, text = _last_request_time
    if cached_second == second:
        return text

    t = time.gmtime(second)
    # Month names are spelled out here because strftime's %b follows the locale.
    text = f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    _last_request_time = (second, text)
    return text


def read_headers(scope: dict[str, Any]) -> dict[str, list[str]]:
    """Group the scope's headers by lower-case name, values in arrival order.

    Also adds the X-Forwarded-* headers that API Gateway adds, because
    adapters such as Mangum read them to rebuild the request URL. The client
    address is appended to X-Forwarded-For. X-Forwarded-Proto and
    X-Forwarded-Port are set unless a proxy in front of Squall set them.
    """
    headers: dict[str, list[str]] = {}
    for raw_name, raw_value in scope.get("headers") or ():
        name = raw_name.decode("latin-1").lower()
        try:
            # API Gateway passes UTF-8 header values on as the characters they encode.
            value = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            value = raw_value.decode("latin-1")
        values = headers.get(name)
        if values is None:
            headers[name] = [value]
        else:
            values.append(value)

    client = scope.get("client")
    if client:
        forwarded = headers.get("x-forwarded-for")
        if forwarded:
            forwarded[-1] = f"{forwarded[-1]}, {client[0]}"
        else:
            headers["x-forwarded-for"] = [client[0]]
    if "x-forwarded-proto" not in headers:
        headers["x-forwarded-proto"] = [scope.get("scheme") or "http"]
    server = scope.get("server")
    if server and server[1] is not None and "x-forwarded-port" not in headers:
        headers["x-forwarded-port"] = [str(server[1])]
    return headers


def parse_query(query_string: bytes) -> dict[str, list[str]]:
    """Decode a query string into values per key, in order, keeping blank values.

    "+" becomes a space, as API Gateway decodes query parameters the way
    HTML forms encode them.
    """
    params: dict[str, list[str]] = {}
    if not query_string:
        return params
    text = query_string.decode("latin-1")
    needs_decoding = "%" in text or "+" in text
    for pair in text.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        if needs_decoding:
            key = unquote_plus(key)
            value = unquote_plus(value)
        values = params.get(key)
        if values is None:
            params[key] = [value]
        else:
            values.append(value)
    return params


def domain_name(headers: dict[str, list[str]], scope: dict[str, Any]) -> str:
    """Return the host the client addressed, without its port."""
    hosts = headers.get("host")
    if hosts:
        host = hosts[-1]
    else:
        server = scope.get("server")
        host = server[0] if server else "localhost"
    if host.startswith("["):
        # An IPv6 literal such as "[::1]:8000" keeps its brackets.
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    return host.partition(":")[0]


def source_ip(scope: dict[str, Any]) -> str:
    """Return the address of the TCP peer, which is what API Gateway puts in sourceIp."""
    client = scope.get("client")
    # A Unix-socket or test scope has no client; Powertools still needs an IP.
    return client[0] if client else "127.0.0.1"


def body_as_text_v2(body: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """Return (body, isBase64Encoded) for a payload 2.0 event.

    HTTP APIs send textual media types as text and base64-encode the rest,
    form posts included. Squall's rule: text when the media type is text/*,
    a JSON, XML or JavaScript type (a "+json" or "+xml" suffix counts), or
    absent, and the bytes are valid UTF-8; base64 otherwise.
    """
    if not body:
        return None, False
    if content_type is not None and not _is_text_media_type(content_type):
        return base64.b64encode(body).decode("ascii"), True
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def body_as_text_v1(
    body: bytes, content_type: str | None = None, binary_media_types: tuple[str, ...] = ()
) -> tuple[str | None, bool]:
    """Return (body, isBase64Encoded) for a REST API's payload 1.0 event.

    A REST API base64-encodes a body whose Content-Type matches one of its
    `binary_media_types` and sends any other body as text.
    """
    if not body:
        return None, False
    if binary_media_types and is_binary_media_type(request_media_type(content_type), binary_media_types):
        return base64.b64encode(body).decode("ascii"), True
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        # NOTE: a REST API would pass these bytes on as text, which corrupts
        # them. Squall base64-encodes them instead, so that they arrive intact.
        return base64.b64encode(body).decode("ascii"), True


def _is_text_media_type(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type.startswith("text/") or media_type in _TEXT_MEDIA_TYPES:
        return True
    return media_type.endswith("+json") or media_type.endswith("+xml")


# --- binary media types of REST APIs ----------------------------------------

# The media type a REST API assumes for a request without a Content-Type
# ("Method request behavior for payloads without mapping templates", API
# Gateway developer guide).
# NOTE: AWS documents this default for choosing mapping templates. Squall
# assumes binaryMediaTypes use it too, and likewise for a missing Accept.
DEFAULT_REST_MEDIA_TYPE = "application/json"


def request_media_type(content_type: str | None) -> str:
    """Return the media type of a Content-Type value, lower-case and without parameters."""
    if content_type is None:
        return DEFAULT_REST_MEDIA_TYPE
    return content_type.partition(";")[0].strip().lower()


def first_accept_media_type(accept: str | None) -> str:
    """Return the first media type of an Accept value, lower-case and without parameters such as ";q=0.9".

    A REST API reads only that one to decide whether a response goes out as
    binary: "image/webp,image/*,*/*;q=0.8" gives "image/webp".
    """
    if accept is None:
        return DEFAULT_REST_MEDIA_TYPE
    return accept.partition(",")[0].partition(";")[0].strip().lower()


def is_binary_media_type(media_type: str, binary_media_types: tuple[str, ...]) -> bool:
    """Tell whether a lower-case media type matches one of a REST API's binaryMediaTypes.

    An entry matches its own media type in any case, and "*" in it matches
    any characters, so "image/*" matches "image/png" and "*/*" matches every
    media type, "*/*" itself included.
    """
    return _binary_media_types_pattern(binary_media_types).fullmatch(media_type) is not None


@functools.lru_cache(maxsize=256)
def _binary_media_types_pattern(binary_media_types: tuple[str, ...]) -> re.Pattern[str]:
    # One pattern per route's list, compiled once, since every request of
    # the route tests against it.
    alternatives = [re.escape(entry.lower()).replace(r"\*", ".*") for entry in binary_media_types]
    return re.compile("|".join(alternatives) if alternatives else "(?!)")


# --- response side ----------------------------------------------------------


def header_name(name: str) -> str:
    """Return a header name from a function's response, or raise MalformedResponse."""
    if _HEADER_NAME.fullmatch(name) is None:
        raise MalformedResponse(f"header name {name!r}: expected letters, digits and !#$%&'*+-.^_`|~ only")
    return name


def header_value(name: str, value: object) -> str:
    """Return a header value from a function's response as text, or raise MalformedResponse."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = str(value)
    else:
        raise MalformedResponse(f"header {name!r}: expected a string, got {type(value).__name__}")
    if "\r" in text or "\n" in text or "\0" in text:
        raise MalformedResponse(f"header {name!r}: value contains a line break or NUL")
    return text


def encode_header(text: str) -> bytes:
    # UTF-8 for every value, so a client decodes all of them the same way.
    return text.encode("utf-8")


def decode_body(result: dict[str, Any], binary_allowed: bool = True) -> bytes:
    """Return the bytes of the response body, decoding base64 when flagged and `binary_allowed`.

    Without `binary_allowed` a body flagged isBase64Encoded goes out as the
    base64 text itself, as from a REST API whose binaryMediaTypes do not
    match the request's Accept header.
    """
    body = result.get("body")
    is_base64 = result.get("isBase64Encoded")
    if is_base64 is not None and not isinstance(is_base64, bool):
        raise MalformedResponse(f"isBase64Encoded: expected true or false, got {is_base64!r}")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse(f"body: expected a string, got {type(body).__name__}")
    if is_base64 and binary_allowed:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as error:
            raise MalformedResponse(f"body: isBase64Encoded is true but the body is not valid base64: {error}") from None
    return body.encode("utf-8")


def status_code(result: dict[str, Any], digits_allowed: bool = False) -> int:
    """Return the response's statusCode, or raise MalformedResponse when it is not an HTTP status.

    `digits_allowed` also takes the status as a string of digits ("201"),
    which a REST API accepts.
    """
    status = result.get("statusCode")
    if digits_allowed and isinstance(status, str) and status.isascii() and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int):
        raise MalformedResponse(f"statusCode: expected an integer from 200 to 599, got {status!r}")
    if 100 <= status <= 199:
        # A 1xx status cannot end an HTTP exchange: the client would wait for another one.
        raise MalformedResponse(f"statusCode: expected an integer from 200 to 599, got {status} (an informational status)")
    if not 200 <= status <= 599:
        raise MalformedResponse(f"statusCode: expected an integer from 200 to 599, got {status}")
    return status


def finish_response(status: int, headers: list[tuple[str, str]], body: bytes) -> HttpResponse:
    """Encode the headers, drop framing headers and add content-type and content-length.

    A 204, 205 or 304 response goes out without the function's body, because
    HTTP forbids content in them (RFC 9110, 15.3.5, 15.3.6, 15.4.5): sent, it
    would be read as the start of the next response on the connection.
    """
    encoded: list[tuple[bytes, bytes]] = []
    has_content_type = False
    for name, value in headers:
        lower = name.lower()
        if lower in _DROPPED_RESPONSE_HEADERS:
            continue
        if lower == "content-type":
            has_content_type = True
        encoded.append((encode_header(lower), encode_header(value)))
    if not has_content_type:
        # NOTE: REST APIs send application/json when the function sets no
        # content type; Squall assumes HTTP APIs do the same.
        encoded.append(JSON_CONTENT_TYPE)
    if status in _WITHOUT_CONTENT:
        if status == 205:
            # The one status without content that may carry Content-Length: 0.
            encoded.append((b"content-length", b"0"))
        return HttpResponse(status, encoded, b"")
    encoded.append((b"content-length", str(len(body)).encode()))
    return HttpResponse(status, encoded, body)


# --- CORS ------------------------------------------------------------------

def allowed_origin(cors: CorsConfig, origin: str) -> str | None:
    """Return the Access-Control-Allow-Origin an HTTP API sends for a request's Origin, or None when it is not allowed.

    "*" allows every origin and is sent as such. "https://*" and "http://*"
    allow every origin of that scheme, as the HTTP API developer guide lists
    them. Any other entry allows the origin it names, compared without regard
    to case. Those send the request's own Origin back.
    NOTE: the guide does not say whether an entry may contain a wildcard
    elsewhere ("https://*.example.com"); Squall compares such an entry as text.
    """
    lowered = origin.lower()
    for entry in cors.allow_origins:
        if entry == "*":
            return "*"
        entry = entry.lower()
        if entry in ("https://*", "http://*"):
            if lowered.startswith(entry[:-1]) and len(lowered) > len(entry) - 1:
                return origin
        elif entry == lowered:
            return origin
    return None


def http_api_preflight_response(cors: CorsConfig, origin: str) -> HttpResponse:
    """Build an HTTP API's own response to a preflight request, which never reaches a function.

    The response carries the CORS headers only when the origin is allowed.
    NOTE: the HTTP API developer guide documents neither the status (204)
    nor the response to an origin that is not allowed (no CORS headers).
    Both are what API Gateway is reported to send.
    NOTE: the guide does not say whether API Gateway compares the requested
    method and headers with the allowed lists either. Squall does not, and
    sends the lists as configured, so the browser rejects what they leave out.
    """
    allow_origin = allowed_origin(cors, origin)
    if allow_origin is None:
        return HttpResponse(204, [], b"")
    headers = [(b"access-control-allow-origin", encode_header(allow_origin))]
    if cors.allow_credentials:
        headers.append((b"access-control-allow-credentials", b"true"))
    if cors.allow_methods:
        headers.append((b"access-control-allow-methods", encode_header(",".join(cors.allow_methods))))
    if cors.allow_headers:
        headers.append((b"access-control-allow-headers", encode_header(",".join(cors.allow_headers))))
    if cors.max_age_s is not None:
        headers.append((b"access-control-max-age", str(cors.max_age_s).encode()))
    return HttpResponse(204, headers, b"")


def add_http_api_cors_headers(response: HttpResponse, cors: CorsConfig, origin: str) -> None:
    """Replace the CORS headers of a function's response with those of the HTTP API's configuration, in place.

    API Gateway ignores the CORS headers a function returns when its API has
    a CORS configuration, and adds the configured ones for an allowed origin.
    """
    headers = [pair for pair in response.headers if not pair[0].startswith(b"access-control-")]
    allow_origin = allowed_origin(cors, origin)
    if allow_origin is not None:
        headers.append((b"access-control-allow-origin", encode_header(allow_origin)))
        if cors.allow_credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        if cors.expose_headers:
            headers.append((b"access-control-expose-headers", encode_header(",".join(cors.expose_headers))))
    response.headers[:] = headers


def rest_preflight_response(cors: CorsConfig, origin: str | None) -> HttpResponse:
    """Build the response of the OPTIONS mock method that a REST API's CORS setting adds, for any OPTIONS request.

    `cors.allow_methods` is already filled in (see squall.gateway.router).
    Access-Control-Allow-Origin is the first allowed origin, or the
    request's Origin when it matches one of several, as the Serverless
    Framework's response template sets it.
    NOTE: SAM's mock sends the body "{}"; Squall sends none for both.
    """
    allow_origin = cors.allow_origins[0] if cors.allow_origins else "*"
    if origin is not None and len(cors.allow_origins) > 1 and _rest_origin_pattern(cors.allow_origins).fullmatch(origin):
        allow_origin = origin
    headers = [(b"access-control-allow-origin", encode_header(allow_origin))]
    if cors.allow_headers:
        headers.append((b"access-control-allow-headers", encode_header(",".join(cors.allow_headers))))
    if cors.allow_methods:
        headers.append((b"access-control-allow-methods", encode_header(",".join(cors.allow_methods))))
    if cors.allow_credentials:
        headers.append((b"access-control-allow-credentials", b"true"))
    if cors.max_age_s is not None:
        headers.append((b"access-control-max-age", str(cors.max_age_s).encode()))
    if cors.cache_control is not None:
        headers.append((b"cache-control", encode_header(cors.cache_control)))
    headers += [JSON_CONTENT_TYPE, (b"content-length", b"0")]
    return HttpResponse(200, headers, b"")


@functools.lru_cache(maxsize=64)
def _rest_origin_pattern(origins: tuple[str, ...]) -> re.Pattern[str]:
    # "*" in an entry matches one or more characters, as in the Serverless
    # Framework's template for several origins ("https://*.example.com").
    alternatives = [re.escape(origin).replace(r"\*", ".+") for origin in origins]
    return re.compile("|".join(alternatives))
