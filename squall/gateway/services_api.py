"""The data services' HTTP API: `POST /_squall/api/services/{service}/{operation}` with JSON arguments.

The SDK and the CLI use it. A success returns `{"result": ...}`. A failure
returns the error's HTTP status with `{"error": {"type": CODE, "message": ...}}`,
where CODE is the service error's stable code.

While tracing is on, a write that sends a W3C `traceparent` header stores it
with what it writes, so the function that the write triggers joins the
writer's trace. While tracing is off the header is not read.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson

from squall.gateway.http import BodyTooLarge, Receive, Send, header, read_body, respond_json
from squall.observability import tracing
from squall.services.errors import ServiceError
from squall.services.hub import ServiceHub

logger = logging.getLogger(__name__)

PREFIX = "/_squall/api/services/"
# A queue batch or a table item is far below this; objects have their own streamed routes.
MAX_BODY_BYTES = 8 * 1024 * 1024


# W3C Trace Context: version-traceid-parentid-flags in lower-case hex. A
# version above 00 may append fields after a dash, which are kept as sent.
_TRACEPARENT = re.compile(r"(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(-[ -~]*)?")
_MAX_TRACEPARENT_LENGTH = 512


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"type": code, "message": message}}


def request_traceparent(scope: dict[str, Any]) -> str | None:
    """Return the request's `traceparent` header while tracing is on, or None when off, missing or invalid.

    The W3C Trace Context specification has a receiver ignore an invalid
    value, so the function that the write triggers starts a trace of its own.
    """
    if not tracing.enabled:
        return None
    raw = header(scope, b"traceparent")
    if raw is None or len(raw) > _MAX_TRACEPARENT_LENGTH:
        return None
    value = raw.decode("latin-1").strip()
    if _TRACEPARENT.fullmatch(value) is None or (value.startswith("00-") and len(value) != 55):
        return None
    return value


class ServicesApi:
    """Parses a call, runs it on the hub, and maps service errors to HTTP statuses."""

    def __init__(self, hub: ServiceHub) -> None:
        self._hub = hub

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        parts = scope["path"][len(PREFIX) :].strip("/").split("/")
        if scope["method"] != "POST" or len(parts) != 2:
            await respond_json(
                send, 404, _error("NotFound", f"expected POST {PREFIX}SERVICE/OPERATION, got {scope['method']} {scope['path']}")
            )
            return
        service, operation = parts
        try:
            body = await read_body(receive, MAX_BODY_BYTES)
        except BodyTooLarge:
            await respond_json(send, 413, _error("LimitExceeded", f"request body exceeds {MAX_BODY_BYTES} bytes"))
            return
        try:
            values = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError as error:
            await respond_json(send, 400, _error("InvalidParameterValue", f"request body is not valid JSON: {error}"))
            return
        if not isinstance(values, dict):
            await respond_json(send, 400, _error("InvalidParameterValue", "request body must be a JSON object of arguments"))
            return

        try:
            result = await self._hub.call(service, operation, values, request_traceparent(scope))
        except ServiceError as error:
            code = self._hub.error_code(service, error.code)
            await respond_json(send, error.status, _error(code, error.message))
            return
        except Exception as error:  # noqa: BLE001 - one failed call must not take the server down
            logger.exception("%s.%s failed", service, operation)
            await respond_json(send, 500, _error("InternalError", f"{service}.{operation} failed: {error}"))
            return
        await respond_json(send, 200, {"result": result})
