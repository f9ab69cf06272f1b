"""The gateway: one ASGI app in front of every function.

A request goes to the management API (`/_squall/api/...`), the Lambda
Invoke API (`/2015-03-31/functions/...`), or else through the router to a
function as an API Gateway event.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from squall.dispatcher.dispatcher import Invocation, InvocationResult, new_request_id
from squall.errors import FunctionNotFound, SquallError, Throttled
from squall.gateway import code_download, invoke_api, lambda_functions, management, objects_api, services_api, sigv4
from squall.gateway.apigw import (
    MAX_REQUEST_HEAD_BYTES,
    GatewayError,
    HttpResponse,
    RoutedRequest,
    binary_response_allowed,
    build_event,
    error_response,
    integration_timeout_s,
    map_response,
    request_id_header,
    request_head_bytes,
)
from squall.gateway.apigw_common import (
    MAX_REST_URL_CHARS,
    add_http_api_cors_headers,
    http_api_preflight_response,
    rest_preflight_response,
    rest_url_length,
)
from squall.gateway.http import BodyTooLarge, Receive, Send, header, read_body, respond, respond_json
from squall.gateway.router import METRICS_PATH, RESERVED_SEGMENTS, Router
from squall.manifest.spec import DEFAULT_ROUTE, ApiType
from squall.observability import tracing
from squall.runtime.protocol import MAX_REQUEST_BYTES

if TYPE_CHECKING:
    from squall.observability import Metrics
    from squall.server import Platform

logger = logging.getLogger(__name__)


class GatewayApp:
    """The ASGI application the HTTP server runs."""

    def __init__(self, platform: Platform, token: str | None, metrics: Metrics | None = None) -> None:
        self._platform = platform
        self._token = token.encode() if token else None
        self._management = management.ManagementApi(platform)
        self._invoke_api = invoke_api.InvokeApi(platform.dispatcher, platform.async_invoker)
        self._services = services_api.ServicesApi(platform.hub)
        self._objects = objects_api.ObjectsApi(platform.hub)
        self._metrics = metrics
        # Invocations that outlived the integration timeout or their client,
        # held so that the event loop does not drop them before they end.
        self._abandoned: set[asyncio.Future[InvocationResult]] = set()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        path: str = scope["path"]
        # Squall's own paths come first. The router rejects function routes on
        # them (router.RESERVED_SEGMENTS), because those would never be called.
        if path.startswith(services_api.PREFIX) or path.startswith(objects_api.PREFIX):
            if not self._authorised(scope):
                await respond_json(send, 401, {"error": {"type": "Unauthorized", "message": _token_help(scope)}})
            elif path.startswith(objects_api.PREFIX):
                await self._objects(scope, receive, send)
            else:
                await self._services(scope, receive, send)
        elif path == METRICS_PATH and scope["method"] == "GET" and self._metrics is not None:
            if self._authorised(scope):
                body = await self._metrics.render()
                headers = [
                    (b"content-type", self._metrics.content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                ]
                await respond(send, 200, headers, body)
            else:
                await respond_json(send, 401, {"error": {"type": "Unauthorized", "message": _token_help(scope)}})
        elif path == "/ui" or path.startswith("/ui/"):
            # Imported on first use, so the dashboard loads only when a browser requests it.
            from squall.dashboard import serve_dashboard, serve_with_sign_in

            if self._token is None:
                await serve_dashboard(self._platform, scope, receive, send)
            else:
                # A browser cannot send the Bearer header, so the dashboard also accepts its own sign-in cookie.
                bearer = self._authorised(scope)
                await serve_with_sign_in(self._platform, self._token, scope, receive, send, bearer=bearer)
        elif path.startswith(code_download.PREFIX):
            await self._code_download(scope, send)
        elif path.startswith(management.PREFIX):
            if self._authorised(scope):
                await self._management(scope, receive, send)
            else:
                await respond_json(send, 401, {"error": {"type": "Unauthorized", "message": _token_help(scope)}})
        elif path.startswith((invoke_api.PREFIX, invoke_api.RECURSION_PREFIX)) or path == invoke_api.LIST_PATH:
            if self._token is not None and not self._authorised(scope) and sigv4.is_signed(scope):
                # An AWS SDK client signs with the token as its secret access key.
                await self._lambda_api_signed(scope, receive, send)
            elif self._authorised(scope):
                # Tracing: a server span, the parent of the invocation's span.
                if tracing.enabled:
                    await tracing.serve_traced(self._invoke_api, scope, receive, send)
                else:
                    await self._invoke_api(scope, receive, send)
            else:
                error = invoke_api.ApiError(403, "UnrecognizedClientException", _token_help(scope, _LAMBDA_TOKEN_HELP))
                await invoke_api.send_api_error(send, error, new_request_id())
        elif path.startswith(invoke_api.API_VERSION_PREFIX):
            # Another operation of the Lambda API's version that Invoke belongs to.
            await invoke_api.send_api_error(send, invoke_api.unsupported(scope["method"], path), new_request_id())
        elif path.startswith(_RESERVED_PREFIXES) or path in _RESERVED_ROOTS:
            # The router rejects function routes on these paths, so a greedy or
            # $default route must not take them either.
            await respond_json(send, 404, {"error": {"type": "NotFound", "message": f"Squall serves nothing at {path}"}})
        else:
            # Tracing: a server span whose parent is the request's traceparent header.
            if tracing.enabled:
                await tracing.serve_traced(self._route, scope, receive, send)
            else:
                await self._route(scope, receive, send)

    async def _code_download(self, scope: dict[str, Any], send: Send) -> None:
        """Send a function version's code as a zip file, to a request with a valid signature or the server's token."""
        path: str = scope["path"]
        named = code_download.target(path)
        if named is None or scope["method"] != "GET":
            await respond_json(send, 404, {"error": {"type": "NotFound", "message": f"Squall serves nothing at {path}"}})
            return
        signed = code_download.signature_valid(path, scope.get("query_string", b""))
        if not signed and not (self._token is not None and self._authorised(scope)):
            await code_download.send_denied(send, "Request has expired or its signature does not match")
            return
        function, version = named
        try:
            root = await lambda_functions.code_root(self._platform.dispatcher, function, version)
        except FunctionNotFound:
            await respond_json(send, 404, {"error": {"type": "NotFound", "message": f"version {version} of function {function} is not deployed"}})
            return
        await code_download.send_package(send, path, root)

    async def _lambda_api_signed(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """Serve a Lambda API request signed with SigV4, once its signature proves the token."""
        try:
            body = await read_body(receive, _MAX_SIGNED_BODY_BYTES)
        except BodyTooLarge:
            error = invoke_api.ApiError(
                413, "RequestEntityTooLargeException",
                f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation",
            )
            await invoke_api.send_api_error(send, error, new_request_id())
            return
        token = (self._token or b"").decode()
        expired = sigv4.expiry_problem(scope)
        if expired is not None:
            error = invoke_api.ApiError(403, "InvalidSignatureException", f"{expired}; check this machine's clock")
            await invoke_api.send_api_error(send, error, new_request_id())
            return
        settings = self._platform.dispatcher.settings
        wrong_region = sigv4.region_problem(scope, settings.region)
        if wrong_region is not None:
            message = (f"{wrong_region}: this server runs as region {settings.region}, so set the client's region to it"
                       f" (region_name=\"{settings.region}\" in boto3, AWS_DEFAULT_REGION, or the AWS CLI's --region)")
            await invoke_api.send_api_error(send, invoke_api.ApiError(403, "InvalidSignatureException", message),
                                            new_request_id())
            return
        if not sigv4.verify(scope, body, token, settings.region, "lambda"):
            error = invoke_api.ApiError(403, "InvalidSignatureException", _SIGNATURE_HELP)
            await invoke_api.send_api_error(send, error, new_request_id())
            return

        replayed = False

        async def receive_body() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        if tracing.enabled:
            await tracing.serve_traced(self._invoke_api, scope, receive_body, send)
        else:
            await self._invoke_api(scope, receive_body, send)

    def _authorised(self, scope: dict[str, Any]) -> bool:
        if self._token is None:
            return True
        value = header(scope, b"authorization") or b""
        scheme, _, credential = value.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credential.strip(), self._token)

    async def _route(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        router = self._platform.router
        # One id per request, also for the gateway's own errors, as API Gateway
        # gives every request one.
        request_id = new_request_id()
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        if scope["method"] == "OPTIONS" and router.has_http_api_cors:
            if await _answer_preflight(scope, send, path, request_id, router):
                return
        match = router.match(scope["method"], path)
        if match is None and path.startswith(invoke_api.OTHER_API_PREFIXES):
            # A Lambda API operation other than those Squall serves, as an AWS SDK calls it.
            await invoke_api.send_api_error(send, invoke_api.unsupported(scope["method"], path), request_id)
            return
        if match is None or match.event.path == DEFAULT_ROUTE or match.resource == _ROOT_GREEDY:
            # An AWS SDK client of another service, such as boto3's SQS client,
            # gets no route, or only a catch-all that was never meant for it.
            service = signed_service(scope)
            if service is not None and service not in _SERVED_SIGNING_NAMES:
                await _send_other_service_error(send, scope, service, request_id)
                return
        if match is None:
            api = router.unmatched_api(path)
            await _send(send, error_response(GatewayError.NOT_FOUND, api), api, request_id)
            return
        if match.preflight:
            # A REST API's OPTIONS mock method, which calls no function.
            origin = header(scope, b"origin")
            answer = rest_preflight_response(match.cors, None if origin is None else origin.decode("latin-1"))
            await _send(send, answer, ApiType.REST, request_id)
            return
        if tracing.enabled:
            tracing.name_route(scope["method"], match.event.path)

        # The API type decides the gateway's own responses, the payload version the event.
        api = match.event.api
        try:
            body = await read_body(receive, MAX_REQUEST_BYTES)
        except BodyTooLarge:
            await _send(send, error_response(GatewayError.PAYLOAD_TOO_LARGE, api), api, request_id)
            return

        event = build_event(scope, body, match, request_id, int(time.time() * 1000))
        if len(event) > _EVENTS_CHECKED_OVER_BYTES:
            # Only a large event can come from a request over a size limit,
            # so a small one costs this comparison alone.
            too_large = _size_error(scope, event, api)
            if too_large is not None:
                await _send(send, error_response(too_large, api), api, request_id)
                return
        traceparent = tracing.current_traceparent() if tracing.enabled else None
        invocation = Invocation(
            match.function, event, "http", request_id, qualifier=match.event.qualifier, traceparent=traceparent
        )
        try:
            limit_s = integration_timeout_s(api)
            if self._ends_within(match.function, match.event.qualifier, limit_s):
                result = await self._platform.dispatcher.invoke(invocation)
            else:
                result = await self._invoke_within(invocation, limit_s)
        except Throttled:
            await _send(send, error_response(GatewayError.THROTTLED, api), api, request_id)
            return
        except asyncio.CancelledError:
            # The server's graceful shutdown ran out of time. The client gets
            # the response the gateway sends when it stops waiting.
            logger.warning("route %s: the server stopped waiting for function %s (request id %s)",
                           match.route_key, match.function, request_id)
            await _send(send, error_response(GatewayError.INTEGRATION_TIMEOUT, api), api, request_id)
            return
        except FunctionNotFound:
            if match.event.qualifier is None:
                await _send(send, error_response(GatewayError.NOT_FOUND, api), api, request_id)
                return
            # The route exists but its version or alias does not, as when API
            # Gateway's integration names a missing alias: a server-side error.
            logger.warning(
                "route %s invokes version or alias %r of function %s, which does not exist (request id %s): %s",
                match.route_key, match.event.qualifier, match.function, request_id,
                qualifier_hint(match.function, match.event.qualifier),
            )
            await _send(send, error_response(GatewayError.FUNCTION_ERROR, api), api, request_id)
            return
        except SquallError as error:
            # The function's instances could not start, such as a published
            # version whose environment names a secret that no longer exists.
            logger.error("route %s: function %s failed before it ran (request id %s): %s",
                         match.route_key, match.function, request_id, error)
            await _send(send, error_response(GatewayError.FUNCTION_ERROR, api), api, request_id)
            return

        if result is None:
            answer = error_response(GatewayError.INTEGRATION_TIMEOUT, api)
            logger.warning(
                "route %s: function %s did not respond within the %g s integration timeout (request id %s); "
                "returning %d while the invocation continues",
                match.route_key, match.function, integration_timeout_s(api), request_id, answer.status,
            )
        elif result.error_type is not None:
            # A handler error, a crash and the function's own timeout alike.
            answer = error_response(GatewayError.FUNCTION_ERROR, api)
        else:
            binary_allowed = binary_response_allowed(scope, match) if match.event.payload == "1.0" else None
            answer = map_response(
                match.event.payload, result.payload, RoutedRequest(match.function, match.route_key, request_id), api,
                binary_allowed,
            )
            if not answer.body and scope["method"] == "HEAD":
                # The function's response to HEAD has no body, so the length of that
                # empty body would misstate what GET sends (RFC 9110, 8.6): none is sent.
                answer.headers[:] = [pair for pair in answer.headers if pair[0] != b"content-length"]
            if match.cors is not None:
                # Only an HTTP API route has a configuration here. A request
                # without an Origin costs this check and one header lookup.
                # NOTE: the function's own CORS headers then go out, where
                # API Gateway documents that it ignores them.
                origin = header(scope, b"origin")
                if origin is not None:
                    add_http_api_cors_headers(answer, match.cors, origin.decode("latin-1"))
        await _send(send, answer, api, request_id)

    def _ends_within(self, function: str, qualifier: str | None, limit_s: float) -> bool:
        """Tell whether an unqualified call surely ends before `limit_s`, so the gateway need not time it.

        A call may wait for the concurrency gate and for an instance, each up
        to the function's timeout, and then for the init and the run. An init
        past its limit adds a second wait for an instance and a second init
        within the run's timeout. With the default 3 s timeout that sum stays
        under the limit, which spares most calls a task and a timer (about
        5 µs, measured with uvloop).
        """
        if qualifier is not None:
            return False
        dispatcher = self._platform.dispatcher
        try:
            timeout_s = dispatcher.pool(function).spec.timeout_s
        except FunctionNotFound:
            return True  # the call fails at once
        return 4 * timeout_s + dispatcher.settings.init_timeout_s <= limit_s

    async def _invoke_within(self, invocation: Invocation, limit_s: float) -> InvocationResult | None:
        """Invoke the function and return its result, or None when it takes longer than `limit_s` seconds.

        The invocation is not cancelled after `limit_s`. As behind API Gateway,
        it runs on to its own timeout, and its logs and record are kept.
        Raises what the dispatcher raises (Throttled, FunctionNotFound).
        """
        loop = asyncio.get_running_loop()
        invoking = loop.create_task(self._platform.dispatcher.invoke(invocation))
        # The request waits on a plain future that the invocation's end or the
        # timer completes, so neither the timeout nor a client that disconnects
        # cancels the invocation. Measured with uvloop on an AMD EPYC, by a loop
        # of 50,000 awaits of a trivial coroutine: about 5 µs added per request,
        # against about 10 µs for asyncio.timeout around asyncio.shield.
        waiter: asyncio.Future[None] = loop.create_future()
        invoking.add_done_callback(lambda _: _wake(waiter))
        timer = loop.call_later(limit_s, _wake, waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if self._platform.stopping:
                # The stop's grace period ended, so the call is cut and its log and record show it cut,
                # not a success the client never saw.
                invoking.cancel()
            else:
                self._keep_running(invoking, invocation)
            raise
        finally:
            timer.cancel()

        if not invoking.done():
            self._keep_running(invoking, invocation)
            return None
        return invoking.result()

    def _keep_running(self, invoking: asyncio.Future[InvocationResult], invocation: Invocation) -> None:
        """Hold an invocation no request waits for any more until it ends, and log how it failed, if it did."""
        self._abandoned.add(invoking)

        def forget(done: asyncio.Future[InvocationResult]) -> None:
            self._abandoned.discard(done)
            if done.cancelled():
                return
            error = done.exception()
            if error is not None:
                logger.warning("invocation %s of function %s, which no request waited for any more, failed: %r",
                               invocation.request_id, invocation.function, error)

        invoking.add_done_callback(forget)


# An event contains the method, the protocol and every header value, and the
# request target: a v1 event the path as sent, a v2 event the decoded path
# twice, and the query raw (v2) or decoded (v1). Decoding leaves at least a
# third of the bytes, so an event is at least a third as large as the request
# line and header values it came from. An event of this size or smaller
# therefore comes from a request within the quota.
# NOTE: a v2 event drops empty cookies and the spaces around them, so a
# Cookie header made mostly of ";" and spaces can pass unchecked.
_EVENTS_CHECKED_OVER_BYTES = MAX_REQUEST_HEAD_BYTES // 3


def _size_error(scope: dict[str, Any], event: bytes, api: ApiType) -> GatewayError | None:
    """Return the error for a request over API Gateway's header quota or an event over Lambda's 6 MB, else None."""
    if api is ApiType.REST and rest_url_length(scope) > MAX_REST_URL_CHARS:
        return GatewayError.URL_TOO_LONG
    if request_head_bytes(scope, api) > MAX_REQUEST_HEAD_BYTES:
        return GatewayError.HEADERS_TOO_LARGE
    if len(event) > MAX_REQUEST_BYTES:
        # Lambda's 6 MB limit applies to the event, which base64 and the
        # headers make larger than the body.
        return GatewayError.PAYLOAD_TOO_LARGE
    return None


# Signing names of requests that Squall serves: the Lambda API, and
# API Gateway's own name for calls to an API with IAM authorization.
_SERVED_SIGNING_NAMES = frozenset({"lambda", "execute-api"})
_ROOT_GREEDY = "/{proxy+}"


def signed_service(scope: dict[str, Any]) -> str | None:
    """Return the AWS service a request's Signature Version 4 names ("sqs", "s3", ...), or None when it is not signed."""
    value = header(scope, b"authorization")
    if value is None or not value.startswith(b"AWS4-HMAC-SHA256 "):
        return None
    # Credential=KEY/DATE/REGION/SERVICE/aws4_request
    credential = value.partition(b"Credential=")[2].partition(b",")[0].split(b"/")
    return credential[3].decode("latin-1") if len(credential) == 5 else None


# The squall SDK's class for each AWS service that Squall has a counterpart of.
_SDK_COUNTERPARTS = {"sqs": "Queue", "s3": "Bucket", "dynamodb": "Table", "kinesis": "Stream"}


async def _send_other_service_error(send: Send, scope: dict[str, Any], service: str, request_id: str) -> None:
    """Send a request signed for another AWS service an error that its SDK client can read and show."""
    counterpart = _SDK_COUNTERPARTS.get(service)
    hint = (
        f"use the squall SDK's {counterpart} (from squall import {counterpart}) for Squall's own"
        if counterpart
        else "Squall has no counterpart of it"
    )
    message = f"Squall does not serve the AWS {service} API, only Lambda's; {hint}"
    content_type_sent = header(scope, b"content-type") or b""
    if service == "s3":
        # S3 clients read errors as XML.
        body = (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NotImplemented</Code>"
            f"<Message>{html.escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        ).encode()
        content_type, status = b"application/xml", 501
    elif content_type_sent.startswith(b"application/x-www-form-urlencoded"):
        # Clients of AWS's query protocol (SNS, STS, IAM, ...) read errors as this XML.
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>UnsupportedOperation</Code>"
            f"<Message>{html.escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        content_type, status = b"text/xml", 400
    else:
        body = orjson.dumps({"__type": "UnsupportedOperation", "message": message})
        content_type, status = b"application/x-amz-json-1.0", 400
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
               (b"x-amzn-requestid", request_id.encode())]
    await respond(send, status, headers, body)


async def _answer_preflight(scope: dict[str, Any], send: Send, path: str, request_id: str, router: Router) -> bool:
    """Send an HTTP API's response to a preflight request without calling a function; return False when it is not one.

    A preflight request is an OPTIONS request with Origin and
    Access-Control-Request-Method headers. Only an HTTP API with a CORS
    configuration responds to it (see Router.http_api_preflight).
    """
    origin = header(scope, b"origin")
    requested = header(scope, b"access-control-request-method")
    if origin is None or requested is None:
        return False
    cors = router.http_api_preflight(requested.decode("latin-1").strip().upper(), path)
    if cors is None:
        return False
    answer = http_api_preflight_response(cors, origin.decode("latin-1"))
    await _send(send, answer, ApiType.HTTP, request_id)
    return True


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def qualifier_hint(function: str, qualifier: str) -> str:
    """Return how to create a missing version or alias, for messages."""
    if qualifier.isdigit():
        return f"publish versions with `squall publish {function}` until version {qualifier} exists"
    return f"create the alias with `squall alias set {function} {qualifier} VERSION`"


# Paths under the reserved first segments that no branch above serves, such
# as "/_squall/other", get the gateway's own 404.
_RESERVED_PREFIXES = tuple(f"/{segment}/" for segment in RESERVED_SEGMENTS)
_RESERVED_ROOTS = frozenset(f"/{segment}" for segment in RESERVED_SEGMENTS)

# A signed request's body is read whole to check its signature, so it gets a bound above the Invoke API's own
# limit, which then rejects what is over it with its own error.
_MAX_SIGNED_BODY_BYTES = MAX_REQUEST_BYTES + 1024 * 1024
_SIGNATURE_HELP = (
    "The request signature we calculated does not match the signature you provided. This server requires a "
    "token: sign with it as the secret access key (boto3.client(\"lambda\", endpoint_url=..., "
    "aws_access_key_id=\"squall\", aws_secret_access_key=TOKEN), or AWS_SECRET_ACCESS_KEY=TOKEN for the AWS "
    "CLI), with the value of the 'token' file in the server's data folder, and check this machine's clock"
)
_TOKEN_HELP = (
    "this server requires a token: send 'Authorization: Bearer <token>' with the value of the "
    "'token' file in the server's data folder (or set SQUALL_TOKEN for the squall CLI)"
)
_LAMBDA_TOKEN_HELP = _TOKEN_HELP + ", or sign the request with the token as the secret access key, as an AWS SDK does"
_WRONG_TOKEN_HELP = (
    "this server rejected the bearer token: it does not match the 'token' file in the server's data folder"
)


def _token_help(scope: dict[str, Any], missing: str = _TOKEN_HELP) -> str:
    """Say why a request without the server's token is refused: no bearer token, or a wrong one."""
    scheme, _, _ = (header(scope, b"authorization") or b"").partition(b" ")
    return _WRONG_TOKEN_HELP if scheme.lower() == b"bearer" else missing


async def _send(send: Send, answer: HttpResponse, api: ApiType, request_id: str) -> None:
    """Send a response of an API of this type, with its request id header."""
    answer.headers.append(request_id_header(api, request_id))
    await respond(send, answer.status, answer.headers, answer.body)


async def _lifespan(receive: Receive, send: Send) -> None:
    # The server starts and stops the platform itself; lifespan events only
    # need a reply.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
