"""The gateway: one ASGI app in front of every function.

A request goes to the management API (`/_squall/api/...`), the Lambda
Invoke API (`/2015-03-31/functions/...`), or else through the router to a
function as an API Gateway event.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import TYPE_CHECKING, Any

from squall.dispatcher.dispatcher import Invocation, new_request_id
from squall.errors import FunctionNotFound, Throttled
from squall.gateway import invoke_api, management, objects_api, services_api
from squall.gateway.apigw import GatewayError, HttpResponse, build_event, error_response, map_response
from squall.gateway.http import BodyTooLarge, Receive, Send, header, read_body, respond, respond_json
from squall.metering.records import Outcome
from squall.observability import tracing
from squall.runtime.protocol import MAX_REQUEST_BYTES

if TYPE_CHECKING:
    from squall.observability import Metrics
    from squall.server import Platform

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"  # Prometheus's default scrape path


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

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        path: str = scope["path"]
        if path.startswith(services_api.PREFIX) or path.startswith(objects_api.PREFIX):
            if not self._authorised(scope):
                await respond_json(send, 401, {"error": {"type": "Unauthorized", "message": _TOKEN_HELP}})
            elif path.startswith(objects_api.PREFIX):
                await self._objects(scope, receive, send)
            else:
                await self._services(scope, receive, send)
        elif path == METRICS_PATH and scope["method"] == "GET" and self._metrics is not None:
            # NOTE: this route hides a function routed at GET /metrics.
            if self._authorised(scope):
                body = await self._metrics.render()
                headers = [
                    (b"content-type", self._metrics.content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                ]
                await respond(send, 200, headers, body)
            else:
                await respond_json(send, 401, {"error": {"type": "Unauthorized", "message": _TOKEN_HELP}})
        elif path == "/ui" or path.startswith("/ui/"):
            # NOTE: like /metrics, the dashboard hides a function routed under /ui.
            # Imported on first use, so the dashboard loads only when a browser requests it.
            from squall.dashboard import serve_dashboard, serve_with_sign_in

            if self._token is None:
                await serve_dashboard(self._platform, scope, receive, send)
            else:
                # A browser cannot send the Bearer header, so the dashboard also accepts its own sign-in cookie.
                bearer = self._authorised(scope)
                await serve_with_sign_in(self._platform, self._token, scope, receive, send, bearer=bearer)
        elif path.startswith(management.PREFIX):
            if self._authorised(scope):
                await self._management(scope, receive, send)
            else:
                await respond_json(send, 401, {"error": {"type": "Unauthorized", "message": _TOKEN_HELP}})
        elif path.startswith(invoke_api.PREFIX):
            if self._authorised(scope):
                # Tracing: a server span, the parent of the invocation's span.
                if tracing.enabled:
                    await tracing.serve_traced(self._invoke_api, scope, receive, send)
                else:
                    await self._invoke_api(scope, receive, send)
            else:
                error = invoke_api.ApiError(403, "UnrecognizedClientException", _TOKEN_HELP)
                await invoke_api.send_api_error(send, error, new_request_id())
        else:
            # Tracing: a server span whose parent is the request's traceparent header.
            if tracing.enabled:
                await tracing.serve_traced(self._route, scope, receive, send)
            else:
                await self._route(scope, receive, send)

    def _authorised(self, scope: dict[str, Any]) -> bool:
        if self._token is None:
            return True
        value = header(scope, b"authorization") or b""
        scheme, _, credential = value.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credential.strip(), self._token)

    async def _route(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        router = self._platform.router
        raw_path = scope.get("raw_path")
        match = router.match(scope["method"], raw_path.decode("latin-1") if raw_path else scope["path"])
        if match is None:
            await _send(send, error_response(GatewayError.NOT_FOUND, router.default_payload))
            return
        if tracing.enabled:
            tracing.name_route(scope["method"], match.event.path)

        version = match.event.payload
        try:
            body = await read_body(receive, MAX_REQUEST_BYTES)
        except BodyTooLarge:
            await _send(send, error_response(GatewayError.PAYLOAD_TOO_LARGE, version))
            return

        request_id = new_request_id()
        event = build_event(scope, body, match, request_id, int(time.time() * 1000))
        try:
            traceparent = tracing.current_traceparent() if tracing.enabled else None
            invocation = Invocation(
                match.function, event, "http", request_id, qualifier=match.event.qualifier, traceparent=traceparent
            )
            result = await self._platform.dispatcher.invoke(invocation)
        except Throttled:
            await _send(send, error_response(GatewayError.THROTTLED, version))
            return
        except FunctionNotFound:
            if match.event.qualifier is None:
                await _send(send, error_response(GatewayError.NOT_FOUND, version))
                return
            # The route exists but its version or alias does not, as when API
            # Gateway's integration names a missing alias: a server-side error.
            logger.warning("route %s %s invokes version or alias %r of function %s, which does not exist: %s",
                           scope["method"], match.event.path, match.event.qualifier, match.function,
                           qualifier_hint(match.function, match.event.qualifier))
            await _send(send, error_response(GatewayError.FUNCTION_ERROR, version))
            return

        if result.outcome is Outcome.TIMEOUT:
            answer = error_response(GatewayError.TIMEOUT, version)
        elif result.error_type is not None:
            answer = error_response(GatewayError.FUNCTION_ERROR, version)
        else:
            answer = map_response(version, result.payload)
        if version == "2.0":
            answer.headers.append((b"apigw-requestid", request_id.encode()))
        await _send(send, answer)


def qualifier_hint(function: str, qualifier: str) -> str:
    """Return how to create a missing version or alias, for messages."""
    if qualifier.isdigit():
        return f"publish versions with `squall publish {function}` until version {qualifier} exists"
    return f"create the alias with `squall alias set {function} {qualifier} VERSION`"


_TOKEN_HELP = (
    "this server requires a token: send 'Authorization: Bearer <token>' with the value of the "
    "'token' file in the server's data folder (or set SQUALL_TOKEN for the squall CLI)"
)


async def _send(send: Send, answer: HttpResponse) -> None:
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
