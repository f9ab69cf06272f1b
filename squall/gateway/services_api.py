"""The data services' HTTP API: `POST /_squall/api/services/{service}/{operation}` with JSON arguments.

The SDK and the CLI use it. A success returns `{"result": ...}`. A failure
returns the error's HTTP status with `{"error": {"type": CODE, "message": ...}}`,
where CODE is the service error's stable code.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from squall.gateway.http import BodyTooLarge, Receive, Send, read_body, respond_json
from squall.services.errors import ServiceError
from squall.services.hub import ServiceHub

logger = logging.getLogger(__name__)

PREFIX = "/_squall/api/services/"
# A queue batch or a table item is far below this; objects have their own streamed routes.
MAX_BODY_BYTES = 8 * 1024 * 1024


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"type": code, "message": message}}


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
            result = await self._hub.call(service, operation, values)
        except ServiceError as error:
            code = self._hub.error_code(service, error.code)
            await respond_json(send, error.status, _error(code, error.message))
            return
        except Exception as error:  # noqa: BLE001 - one failed call must not take the server down
            logger.exception("%s.%s failed", service, operation)
            await respond_json(send, 500, _error("InternalError", f"{service}.{operation} failed: {error}"))
            return
        await respond_json(send, 200, {"result": result})
