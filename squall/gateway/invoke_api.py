"""The Lambda Invoke REST API: `POST /2015-03-31/functions/{name}/invocations`.

Responses carry the headers and error shapes that AWS's own clients parse,
so `boto3.client("lambda", endpoint_url=...)` works unchanged.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from squall.dispatcher.dispatcher import Dispatcher, Invocation, new_request_id
from squall.errors import FunctionNotFound, Throttled
from squall.events.async_invoke import AsyncInvoker
from squall.services.errors import StorageFull
from squall.gateway.http import BodyTooLarge, Receive, Send, header, read_body, respond, respond_json
from squall.runtime.protocol import MAX_REQUEST_BYTES

# AWS raised the payload limit of asynchronous invocations from 256 KB to 1 MB in 2025.
MAX_ASYNC_REQUEST_BYTES = 1024 * 1024

logger = logging.getLogger(__name__)

PREFIX = "/2015-03-31/functions/"
SUFFIX = "/invocations"
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LATEST = "$LATEST"


class ApiError(Exception):
    """An error returned in AWS's JSON error shape."""

    def __init__(self, status: int, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}


# AWS spells the message key of these errors with a capital M, and of the
# others in lower case, as its recorded responses show.
_CAPITALISED_MESSAGE = frozenset({"ResourceNotFoundException", "ServiceException"})


async def send_api_error(send: Send, error: ApiError, request_id: str) -> None:
    key = "Message" if error.code in _CAPITALISED_MESSAGE else "message"
    body = {"Type": "User", key: error.message, **error.extra}
    headers = [(b"x-amzn-errortype", error.code.encode()), (b"x-amzn-requestid", request_id.encode())]
    await respond_json(send, error.status, body, headers)


def split_function_name(raw: str) -> tuple[str, str | None]:
    """Return (name, qualifier) from a name, `name:qualifier`, or a function ARN."""
    if raw.startswith("arn:"):
        parts = raw.split(":")
        if len(parts) not in (7, 8) or parts[5] != "function":
            raise ApiError(
                400,
                "ValidationException",
                f"1 validation error detected: Value '{raw}' at 'functionName' failed to satisfy constraint: "
                "Member must be a function name or a function ARN",
            )
        return parts[6], parts[7] if len(parts) == 8 else None
    parts = raw.split(":")
    if len(parts) in (3, 4) and parts[0].isdigit() and parts[1] == "function":
        # A partial ARN: ACCOUNT:function:NAME[:QUALIFIER].
        return parts[2], parts[3] if len(parts) == 4 else None
    name, _, qualifier = raw.partition(":")
    return name, qualifier or None


class InvokeApi:
    """Serves the Invoke operation for every deployed function."""

    def __init__(self, dispatcher: Dispatcher, async_invoker: AsyncInvoker) -> None:
        self._dispatcher = dispatcher
        self._async = async_invoker

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        try:
            await self._invoke(scope, receive, send, request_id)
        except ApiError as error:
            await send_api_error(send, error, request_id)

    async def _invoke(self, scope: dict[str, Any], receive: Receive, send: Send, request_id: str) -> None:
        path: str = scope["path"]
        if scope["method"] != "POST" or not path.endswith(SUFFIX):
            raise ApiError(404, "ResourceNotFoundException", f"No operation at {scope['method']} {path}")
        raw_name = unquote(path[len(PREFIX) : -len(SUFFIX)])
        name, qualifier = split_function_name(raw_name)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        qualifier = query.get("Qualifier", [qualifier])[0] or None

        arn = self._dispatcher.arn(name)
        try:
            # Checked before the body is read, so an unknown version or alias costs no upload.
            self._dispatcher.resolve_version(name, qualifier)
        except FunctionNotFound:
            raise ApiError(404, "ResourceNotFoundException", f"Function not found: {arn}:{qualifier or LATEST}") from None

        invocation_type = (header(scope, b"x-amz-invocation-type") or b"RequestResponse").decode("latin-1")
        if invocation_type not in INVOCATION_TYPES:
            raise ApiError(
                400,
                "InvalidParameterValueException",
                f"Invalid InvocationType {invocation_type!r}: expected one of {', '.join(INVOCATION_TYPES)}",
            )
        log_type = (header(scope, b"x-amz-log-type") or b"None").decode("latin-1")

        limit = MAX_ASYNC_REQUEST_BYTES if invocation_type == "Event" else MAX_REQUEST_BYTES
        try:
            payload = await read_body(receive, limit)
        except BodyTooLarge:
            raise ApiError(
                413,
                "RequestEntityTooLargeException",
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            ) from None
        if payload:
            try:
                orjson.loads(payload)
            except orjson.JSONDecodeError as error:
                raise ApiError(
                    400,
                    "InvalidRequestContentException",
                    f"Could not parse request body into json: Could not parse payload into json: {error}",
                ) from None

        client_context = _client_context(scope)
        if invocation_type == "DryRun":
            await respond(send, 204, [(b"x-amzn-requestid", request_id.encode()), (b"content-length", b"0")], b"")
            return

        invocation = Invocation(
            function=name,
            payload=payload,
            trigger="event" if invocation_type == "Event" else "invoke",
            request_id=request_id,
            client_context=client_context,
            log_tail=log_type == "Tail",
            qualifier=qualifier,
        )
        if invocation_type == "Event":
            try:
                await self._async.accept(invocation)
            except FunctionNotFound:
                raise ApiError(404, "ResourceNotFoundException", f"Function not found: {arn}:{qualifier or LATEST}") from None
            except StorageFull as error:
                raise ApiError(500, "ServiceException", str(error)) from None
            await respond(send, 202, [(b"x-amzn-requestid", request_id.encode()), (b"content-length", b"0")], b"")
            return

        try:
            result = await self._dispatcher.invoke(invocation)
        except FunctionNotFound:
            raise ApiError(404, "ResourceNotFoundException", f"Function not found: {arn}:{qualifier or LATEST}") from None
        except Throttled:
            raise ApiError(
                429,
                "TooManyRequestsException",
                "Rate Exceeded.",
                {"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"},
            ) from None

        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(result.payload)).encode()),
            (b"x-amzn-requestid", request_id.encode()),
            (b"x-amz-executed-version", result.executed_version.encode()),
        ]
        if result.function_error:
            headers.append((b"x-amz-function-error", result.function_error.encode()))
        if result.log_tail is not None:
            headers.append((b"x-amz-log-result", base64.b64encode(result.log_tail)))
        await respond(send, 200, headers, result.payload)


def _client_context(scope: dict[str, Any]) -> Any:
    raw = header(scope, b"x-amz-client-context")
    if not raw:
        return None
    try:
        return orjson.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, orjson.JSONDecodeError):
        raise ApiError(
            400,
            "InvalidRequestContentException",
            "Client context must be a valid Base64-encoded JSON object.",
        ) from None
