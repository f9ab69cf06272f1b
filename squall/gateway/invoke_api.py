"""The Lambda Invoke REST API: `POST /2015-03-31/functions/{name}/invocations`.

Responses carry the headers and error shapes that AWS's own clients parse,
so `boto3.client("lambda", endpoint_url=...)` works unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from squall.dispatcher.dispatcher import Dispatcher, Invocation, new_request_id
from squall.errors import FunctionNotFound, SquallError, Throttled
from squall.events.async_invoke import (
    MAX_CHAIN_INVOCATIONS,
    RECURSIVE_INVOCATION,
    AsyncInvoker,
    StoppedLoopWarnings,
    chain_trace_header,
    recursive_loop_message,
    terminates_loops,
)
from squall.services.errors import StorageFull
from squall.gateway import lambda_functions
from squall.gateway.http import BodyTooLarge, Receive, Send, header, read_body, respond, respond_json
from squall.runtime.protocol import MAX_REQUEST_BYTES

# AWS raised the payload limit of asynchronous invocations from 256 KB to 1 MB in 2025.
MAX_ASYNC_REQUEST_BYTES = 1024 * 1024

logger = logging.getLogger(__name__)

API_VERSION_PREFIX = "/2015-03-31/"
PREFIX = "/2015-03-31/functions/"
LIST_PATH = "/2015-03-31/functions"  # ListFunctions
# The path prefixes of the Lambda API's other versions, under which Squall serves no operation
# (event source mappings, concurrency, layers, account settings, function URLs, ...).
OTHER_API_PREFIXES = tuple(
    f"/{version}/"
    for version in ("2014-11-13", "2016-08-19", "2017-03-31", "2017-10-31", "2018-10-31", "2019-09-25",
                    "2019-09-30", "2020-04-22", "2020-06-30", "2021-10-31", "2021-11-15")
)
SUFFIX = "/invocations"
# GetFunctionRecursionConfig and PutFunctionRecursionConfig use RECURSION_PREFIX + NAME + RECURSION_SUFFIX.
RECURSION_PREFIX = "/2024-08-31/functions/"
RECURSION_SUFFIX = "/recursion-config"
# In the order that AWS's ValidationException for an unknown invocation type lists them (seen in 2017).
INVOCATION_TYPES = ("DryRun", "RequestResponse", "Event")
LATEST = "$LATEST"
LOG_TYPES = ("None", "Tail")  # as the Lambda API model lists them; the case counts
# The Invoke API reference allows a client context of up to 3,583 bytes of base64.
MAX_CLIENT_CONTEXT_BYTES = 3583

# Constraints on Invoke's FunctionName (from the Lambda API model in botocore
# 1.44) and Qualifier (as AWS's ValidationException quotes it in 2025). The
# patterns stay as AWS spells them because its messages quote them. A bare
# name of 65 to 256 characters passes them, and AWS returns
# ResourceNotFoundException for it because no function can have such a name.
_FUNCTION_NAME_GROUPS = re.compile(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?(?P<region>(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(?P<account>\d{12}:)?(function:)?"
    r"(?P<name>[a-zA-Z0-9-_\.]+)(:(?P<qualifier>\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
FUNCTION_NAME_PATTERN = re.sub(r"\?P<\w+>", "", _FUNCTION_NAME_GROUPS.pattern)
MAX_FUNCTION_NAME_CHARS = 256
QUALIFIER_PATTERN = r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"
_QUALIFIER_RE = re.compile(QUALIFIER_PATTERN)
MAX_QUALIFIER_CHARS = 128

VALIDATION = "ValidationException"
QUALIFIER_MISMATCH = "The derived qualifier from the function name does not match the specified qualifier."


class ApiError(Exception):
    """An error returned in AWS's JSON error shape."""

    def __init__(self, status: int, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}


# AWS spells the message key of these errors with a capital M, and of the
# others in lower case, as its recorded responses show. The Lambda API model
# in botocore 1.44 spells RecursiveInvocationException's with a capital M too.
_CAPITALISED_MESSAGE = frozenset({"ResourceNotFoundException", "ServiceException", RECURSIVE_INVOCATION})


async def send_api_error(send: Send, error: ApiError, request_id: str) -> None:
    key = "Message" if error.code in _CAPITALISED_MESSAGE else "message"
    # AWS checks request parameters against the API model before Lambda
    # receives them, and those errors carry only a message, without Lambda's "Type".
    # Lambda's own errors name the side at fault in "Type": the caller, or the service (5xx).
    fault = "Service" if error.status >= 500 else "User"
    body: dict[str, Any] = {key: error.message} if error.code == VALIDATION else {"Type": fault, key: error.message}
    body.update(error.extra)
    headers = [(b"x-amzn-errortype", error.code.encode()), (b"x-amzn-requestid", request_id.encode())]
    await respond_json(send, error.status, body, headers)


def constraint_violation(field: str, value: str, constraint: str) -> str:
    """Return one clause of a ValidationException message in AWS's words."""
    return f"Value '{value}' at '{field}' failed to satisfy constraint: Member must {constraint}"


def validation_error(violations: list[str]) -> ApiError:
    """Build the 400 ValidationException that lists every violated constraint of a request."""
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    return ApiError(400, VALIDATION, f"{count} validation {noun} detected: " + "; ".join(violations))


def function_name_violations(raw: str) -> list[str]:
    """Return the clauses for each of Invoke's length and pattern constraints that a FunctionName violates."""
    return _violations("functionName", raw, MAX_FUNCTION_NAME_CHARS, _FUNCTION_NAME_GROUPS, FUNCTION_NAME_PATTERN)


def qualifier_violations(qualifier: str) -> list[str]:
    """Return the clauses for each of Invoke's length and pattern constraints that a Qualifier parameter violates."""
    return _violations("qualifier", qualifier, MAX_QUALIFIER_CHARS, _QUALIFIER_RE, QUALIFIER_PATTERN)


def _violations(field: str, value: str, max_chars: int, pattern: re.Pattern[str], pattern_text: str) -> list[str]:
    violations = []
    if not value:
        violations.append(constraint_violation(field, value, "have length greater than or equal to 1"))
    if len(value) > max_chars:
        violations.append(constraint_violation(field, value, f"have length less than or equal to {max_chars}"))
    if pattern.fullmatch(value) is None:
        violations.append(constraint_violation(field, value, f"satisfy regular expression pattern: {pattern_text}"))
    return violations


def split_function_name(raw: str) -> tuple[str, str | None]:
    """Return (name, qualifier) from a name, `name:qualifier`, or a full or partial function ARN.

    Raises ApiError (400 ValidationException) when `raw` matches none of these forms.
    """
    violations = function_name_violations(raw)
    match = _FUNCTION_NAME_GROUPS.fullmatch(raw)
    if violations or match is None:
        raise validation_error(violations)
    return match["name"], match["qualifier"]


def target_of(
    raw_name: str, qualifier_parameter: str | None, invocation_type: str, log_type: str = "None"
) -> tuple[str, str | None]:
    """Validate the request parameters that name the target, and return its (function, qualifier).

    Every violated constraint goes into one ValidationException, as AWS lists
    them. A qualifier in the name must equal the Qualifier parameter when both
    are given, or the request fails with InvalidParameterValueException.
    """
    # NOTE: AWS lists the qualifier's violations before the function name's,
    # as recorded in 2025. The invocation type's place in that list is a guess.
    violations = qualifier_violations(qualifier_parameter) if qualifier_parameter is not None else []
    violations += function_name_violations(raw_name)
    if invocation_type not in INVOCATION_TYPES:
        allowed = ", ".join(INVOCATION_TYPES)
        violations.append(constraint_violation("invocationType", invocation_type, f"satisfy enum value set: [{allowed}]"))
    if log_type not in LOG_TYPES:
        allowed = ", ".join(LOG_TYPES)
        violations.append(constraint_violation("logType", log_type, f"satisfy enum value set: [{allowed}]"))
    if violations:
        raise validation_error(violations)

    name, name_qualifier = split_function_name(raw_name)
    if name_qualifier is not None and qualifier_parameter is not None and name_qualifier != qualifier_parameter:
        raise ApiError(400, "InvalidParameterValueException", QUALIFIER_MISMATCH)
    return name, name_qualifier if qualifier_parameter is None else qualifier_parameter


def _parse_problem(payload: bytes, error: orjson.JSONDecodeError) -> str:
    """Describe why a payload is not JSON, in AWS's words when it is not UTF-8."""
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as bad:
        if bad.reason == "unexpected end of data":
            return f"Unexpected end of input inside a UTF-8 character at byte {bad.start + 1}"
        kind = "start" if bad.reason == "invalid start byte" else "middle"
        return f"Invalid UTF-8 {kind} byte 0x{payload[bad.start]:02x} at byte {bad.start + 1}"
    return str(error)


def check_reachable(raw_name: str, region: str, account: str) -> None:
    """Raise ApiError (404) when a function ARN names another region or another account than this node's."""
    if ":" not in raw_name:
        return  # a plain name, the common case, names no region or account
    match = _FUNCTION_NAME_GROUPS.fullmatch(raw_name)
    if match is None:
        return
    named_region = (match["region"] or "").rstrip(":")
    if named_region and named_region != region:
        raise ApiError(
            404, "ResourceNotFoundException", f"Functions from '{named_region}' are not reachable in this region ('{region}')"
        )
    named_account = (match["account"] or "").rstrip(":")
    if named_account and named_account != account:
        qualifier = f":{match['qualifier']}" if match["qualifier"] else f":{LATEST}"
        raise ApiError(
            404,
            "ResourceNotFoundException",
            f"Function not found: arn:aws:lambda:{region}:{named_account}:function:{match['name']}{qualifier}",
        )


# Recursive loop detection

# The header AWS SDKs send from inside a function, with the function's _X_AMZN_TRACE_ID.
TRACE_HEADER = b"x-amzn-trace-id"


class InvokeApi:
    """Serves the Invoke operation for every deployed function."""

    def __init__(self, dispatcher: Dispatcher, async_invoker: AsyncInvoker) -> None:
        self._dispatcher = dispatcher
        self._async = async_invoker
        self._stopped_loops = StoppedLoopWarnings()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        try:
            await self._invoke(scope, receive, send, request_id)
        except ApiError as error:
            await send_api_error(send, error, request_id)

    def _recursion_config(self, method: str, path: str) -> dict[str, str]:
        """Serve GetFunctionRecursionConfig; the setting itself is the manifest's, so a PUT is unsupported."""
        if not path.endswith(RECURSION_SUFFIX):
            raise unsupported(method, path)
        if method != "GET":
            raise ApiError(
                400, "UnsupportedOperationException",
                f"Squall's Lambda API does not serve PutFunctionRecursionConfig ({method} {unquote(path)}); set"
                " recursive_loop: allow or terminate in squall.yml (RecursiveLoop in a SAM template) and deploy",
            )
        raw_name = unquote(path[len(RECURSION_PREFIX) : -len(RECURSION_SUFFIX)])
        name, _ = target_of(raw_name, None, "RequestResponse")
        settings = self._dispatcher.settings
        check_reachable(raw_name, settings.region, settings.account_id)
        try:
            spec = self._dispatcher.pool(self._dispatcher.function_name(name)).spec
        except FunctionNotFound:
            raise ApiError(404, "ResourceNotFoundException", f"Function not found: {self._dispatcher.arn(name)}") from None
        return {"RecursiveLoop": spec.recursive_loop.value}

    async def _describe(self, scope: dict[str, Any], send: Send, request_id: str) -> None:
        answer = await _describe_answer(self._dispatcher, scope)
        await respond_json(send, 200, answer, [(b"x-amzn-requestid", request_id.encode())])

    async def _invoke(self, scope: dict[str, Any], receive: Receive, send: Send, request_id: str) -> None:
        path: str = scope["path"]
        if path.startswith(RECURSION_PREFIX):
            answer = self._recursion_config(scope["method"], path)
            await respond_json(send, 200, answer, [(b"x-amzn-requestid", request_id.encode())])
            return
        if scope["method"] == "GET":
            await self._describe(scope, send, request_id)
            return
        if scope["method"] != "POST" or not path.endswith(SUFFIX):
            raise unsupported(scope["method"], path)
        raw_name = unquote(path[len(PREFIX) : -len(SUFFIX)])
        # Blank values are kept, so that an empty Qualifier fails the minimum length of 1 in the Invoke API model.
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        qualifier_parameter = query["Qualifier"][0] if "Qualifier" in query else None
        invocation_type = (header(scope, b"x-amz-invocation-type") or b"RequestResponse").decode("latin-1")
        log_type = (header(scope, b"x-amz-log-type") or b"None").decode("latin-1")
        name, qualifier = target_of(raw_name, qualifier_parameter, invocation_type, log_type)
        settings = self._dispatcher.settings
        check_reachable(raw_name, settings.region, settings.account_id)

        # Errors name the function as the caller did, and the call runs under its name on this node.
        arn = self._dispatcher.arn(name)
        name = self._dispatcher.function_name(name)
        try:
            # Checked before the body is read, so an unknown version or alias costs no upload.
            self._dispatcher.resolve_version(name, qualifier)
        except FunctionNotFound:
            raise ApiError(404, "ResourceNotFoundException", f"Function not found: {arn}:{qualifier or LATEST}") from None

        limit = MAX_ASYNC_REQUEST_BYTES if invocation_type == "Event" else MAX_REQUEST_BYTES
        # A synchronous payload must be smaller than the limit, as AWS's error message puts it, and an
        # asynchronous one at most the limit, the "maximum payload size" of the Invoke API reference.
        largest = limit if invocation_type == "Event" else limit - 1
        try:
            payload = await read_body(receive, largest)
        except BodyTooLarge:
            if invocation_type == "Event":
                # AWS names the payload's size here, as in "264496 byte payload is too large for the Event
                # invocation type (limit 262144 bytes)"; the body is not read whole, so its Content-Length gives it.
                length = (header(scope, b"content-length") or b"").decode("latin-1")
                size = length if length.isdigit() else f"more than {limit}"
                message = f"{size} byte payload is too large for the Event invocation type (limit {limit} bytes)"
            else:
                message = f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            raise ApiError(413, "RequestEntityTooLargeException", message) from None
        if payload:
            try:
                orjson.loads(payload)
            except orjson.JSONDecodeError as error:
                raise ApiError(
                    400,
                    "InvalidRequestContentException",
                    f"Could not parse request body into json: Could not parse payload into json: {_parse_problem(payload, error)}",
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
        # Only calls made from inside a function, by an AWS SDK, usually carry this header.
        trace_header = header(scope, TRACE_HEADER)
        if trace_header is not None:
            # botocore percent-encodes the "|" between Lineage entries.
            count, invocation.trace_header = chain_trace_header(unquote(trace_header.decode("latin-1")), name)
            if count > MAX_CHAIN_INVOCATIONS and terminates_loops(self._dispatcher, name):
                await self._stop_loop(invocation, invocation_type, count, send)
                return

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
        except asyncio.CancelledError:
            # The server is stopping and its graceful shutdown ran out of time.
            logger.warning("invocation %s of %s: the server stopped before it ended", request_id, name)
            raise ApiError(500, "ServiceException", "The server stopped before the invocation ended.") from None
        except FunctionNotFound:
            raise ApiError(404, "ResourceNotFoundException", f"Function not found: {arn}:{qualifier or LATEST}") from None
        except Throttled as error:
            # Lambda names the limit: the function's reserved concurrency, or the
            # account's (here the node's memory budget).
            reason = "ConcurrentInvocationLimitExceeded" if error.node_limit else "ReservedFunctionConcurrentInvocationLimitExceeded"
            raise ApiError(429, "TooManyRequestsException", "Rate Exceeded.", {"Reason": reason}) from None
        except SquallError as error:
            # The function's instances could not start, such as a published
            # version whose environment names a secret that no longer exists.
            logger.error("invocation %s of %s failed before it ran: %s", request_id, name, error)
            raise ApiError(500, "ServiceException", str(error)) from None

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

    async def _stop_loop(self, invocation: Invocation, invocation_type: str, count: int, send: Send) -> None:
        """Stop a call in a recursive loop: a synchronous caller gets RecursiveInvocationException.

        An asynchronous caller gets 202, as for any accepted event, but the
        event never runs: it goes to the function's on-failure destination and
        dead-letter queue when they are set, and is dropped otherwise.
        """
        message = recursive_loop_message(invocation.function, count)
        self._stopped_loops.warn(invocation.function, f"request {invocation.request_id}", count, invocation.trace_header)
        if invocation_type == "Event":
            await self._async.stop_recursive(invocation, RECURSIVE_INVOCATION, message)
            await respond(send, 202, [(b"x-amzn-requestid", invocation.request_id.encode()), (b"content-length", b"0")], b"")
            return
        raise ApiError(400, RECURSIVE_INVOCATION, message)


# The largest MaxItems Lambda's list operations take.
MAX_LIST_ITEMS = 10_000
# ListFunctions and ListVersionsByFunction return at most this many per call, whatever MaxItems requests.
MAX_PAGE_FUNCTIONS = 50

# Lambda API operations that clients often call next to Invoke, by method and the path's last segment.
_OTHER_OPERATIONS = {
    ("GET", ""): "ListFunctions",
    ("GET", "configuration"): "GetFunctionConfiguration",
    ("GET", "concurrency"): "GetFunctionConcurrency",
    ("POST", ""): "CreateFunction",
    ("POST", "versions"): "PublishVersion",
    ("POST", "aliases"): "CreateAlias",
    ("PUT", "code"): "UpdateFunctionCode",
    ("PUT", "configuration"): "UpdateFunctionConfiguration",
    ("DELETE", None): "DeleteFunction",
    ("GET", None): "GetFunction",
}


# Other operations by method and a pattern of their path (any API version),
# with what to do instead, for the ones Squall's manifest covers.
_CONCURRENCY_HINT = (
    "set reserved_concurrency in squall.yml (reservedConcurrency in serverless.yml, ReservedConcurrentExecutions"
    " in SAM) and deploy"
)
_EVENT_SOURCE_HINT = "declare the trigger under the function's events in the manifest and deploy"
_ELSEWHERE_OPERATIONS: tuple[tuple[str, re.Pattern[str], str, str], ...] = (
    ("PUT", re.compile(r"/[\d-]+/functions/[^/]+/concurrency"), "PutFunctionConcurrency", _CONCURRENCY_HINT),
    ("DELETE", re.compile(r"/[\d-]+/functions/[^/]+/concurrency"), "DeleteFunctionConcurrency", _CONCURRENCY_HINT),
    ("GET", re.compile(r"/[\d-]+/functions/[^/]+/concurrency"), "GetFunctionConcurrency",
     "get_function returns the reserved concurrency under Concurrency"),
    ("GET", re.compile(r"/[\d-]+/event-source-mappings/?"), "ListEventSourceMappings", _EVENT_SOURCE_HINT),
    ("POST", re.compile(r"/[\d-]+/event-source-mappings/?"), "CreateEventSourceMapping", _EVENT_SOURCE_HINT),
    ("POST", re.compile(r"/[\d-]+/tags/.+"), "TagResource", "Squall keeps no tags"),
    ("GET", re.compile(r"/[\d-]+/tags/.+"), "ListTags", "Squall keeps no tags"),
    ("DELETE", re.compile(r"/[\d-]+/tags/.+"), "UntagResource", "Squall keeps no tags"),
    ("GET", re.compile(r"/[\d-]+/account-settings/?"), "GetAccountSettings",
     "Squall has no account; `squall ls` shows the functions and their settings"),
    ("GET", re.compile(r"/[\d-]+/layers/?"), "ListLayers", "a function's layers are in get_function's Layers"),
    ("POST", re.compile(r"/2021-11-15/functions/[^/]+/response-streaming-invocations"), "InvokeWithResponseStream",
     "Squall does not stream responses: call invoke, which returns the whole payload"),
    ("POST", re.compile(r"/2014-11-13/functions/[^/]+/invoke-async/?"), "InvokeAsync",
     'InvokeAsync is deprecated: call invoke with InvocationType="Event"'),
)
_CHANGE_HINT = "deploy changes with `squall deploy`, and publish versions and move aliases with `squall publish` and `squall alias`"


def unsupported(method: str, path: str) -> ApiError:
    """Build the error for a Lambda API request other than Invoke, naming its operation and what to do instead."""
    operation = None
    hint = _CHANGE_HINT if method != "GET" else None
    if path.startswith(PREFIX) or path == LIST_PATH:
        rest = path[len(PREFIX):].rstrip("/")
        segments = rest.split("/") if rest else []
        if not segments:
            last: str | None = ""  # the functions collection itself
        elif len(segments) == 1:
            last = None  # one function
        else:
            last = segments[-1]
        operation = _OTHER_OPERATIONS.get((method, last))
    if operation is None:
        for known_method, pattern, name, advice in _ELSEWHERE_OPERATIONS:
            if method == known_method and pattern.fullmatch(path):
                operation, hint = name, advice
                break
    decoded_path = unquote(path)  # a tagged ARN arrives percent-encoded
    requested = f"{operation} ({method} {decoded_path})" if operation else f"{method} {decoded_path}"
    message = (
        f"Squall's Lambda API serves only Invoke (POST {PREFIX}NAME{SUFFIX}) and the operations that"
        f" describe functions, versions and aliases, not {requested}"
    )
    return ApiError(400, "UnsupportedOperationException", f"{message}; {hint}" if hint else message)


async def _describe_answer(dispatcher: Dispatcher, scope: dict[str, Any]) -> dict[str, Any]:
    """Serve ListFunctions, GetFunction or GetFunctionConfiguration; raise ApiError for any other GET."""
    path: str = scope["path"]
    rest = path[len(PREFIX):].rstrip("/") if path.startswith(PREFIX) else ""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if not rest:
        function_version = query.get("FunctionVersion", [None])[0]
        if function_version not in (None, "ALL"):
            raise ApiError(
                400, "ValidationException",
                f"1 validation error detected: Value '{function_version}' at 'functionVersion' failed to satisfy "
                "constraint: Member must satisfy enum value set: [ALL]",
            )
        if function_version == "ALL":
            # Each version's manifest is read again, so off the event loop.
            listed = await asyncio.to_thread(lambda_functions.list_functions, dispatcher, True)
        else:
            listed = lambda_functions.list_functions(dispatcher)
        return _page(listed, "Functions", query, MAX_PAGE_FUNCTIONS)
    raw_name, _, operation = unquote(rest).partition("/")
    operation, _, alias_name = operation.partition("/")
    if operation not in ("", "configuration", "versions", "aliases") or (alias_name and operation != "aliases"):
        raise unsupported("GET", path)

    qualifier_parameter = query["Qualifier"][0] if "Qualifier" in query else None
    name, qualifier = target_of(raw_name, qualifier_parameter, "RequestResponse")
    settings = dispatcher.settings
    check_reachable(raw_name, settings.region, settings.account_id)
    # The function may be named by the name AWS would deploy it under.
    local_name = dispatcher.function_name(name)
    try:
        if operation == "configuration":
            return await lambda_functions.get_function_configuration(dispatcher, local_name, qualifier)
        if operation == "versions":
            versions = await asyncio.to_thread(lambda_functions.list_versions, dispatcher, local_name)
            return _page(versions, "Versions", query, MAX_PAGE_FUNCTIONS)
        if operation == "aliases" and not alias_name:
            aliases = await asyncio.to_thread(lambda_functions.list_aliases, dispatcher, local_name)
            if "FunctionVersion" in query:
                # As Lambda does: only the aliases that invoke this version.
                chosen = query["FunctionVersion"][0]
                aliases["Aliases"] = [alias for alias in aliases["Aliases"] if alias["FunctionVersion"] == chosen]
            return _page(aliases, "Aliases", query)
        if operation == "aliases":
            alias = await asyncio.to_thread(lambda_functions.get_alias, dispatcher, local_name, alias_name)
            if alias is None:
                raise ApiError(404, "ResourceNotFoundException", f"Alias not found: {dispatcher.arn(name, alias_name)}")
            return alias
        return await lambda_functions.get_function(dispatcher, local_name, qualifier, scope)
    except FunctionNotFound:
        arn = dispatcher.arn(name, qualifier)
        raise ApiError(404, "ResourceNotFoundException", f"Function not found: {arn}") from None


def _page(
    listed: dict[str, Any], key: str, query: dict[str, list[str]], max_page: int = MAX_LIST_ITEMS
) -> dict[str, Any]:
    """Return one page of a list operation's items, from Marker on, with NextMarker when more follow.

    A page contains MaxItems items, and never more than `max_page`. The marker
    is the index of the next item, which Lambda keeps opaque.
    """
    items = listed[key]
    start = 0
    if "Marker" in query:
        marker = query["Marker"][0]
        if not marker.isdigit() or int(marker) > len(items):
            raise ApiError(400, "InvalidParameterValueException", f"Invalid Marker: {marker!r}")
        start = int(marker)
    end = min(len(items), start + max_page)
    if "MaxItems" in query:
        text = query["MaxItems"][0]
        if not text.isdigit() or not 1 <= int(text) <= MAX_LIST_ITEMS:
            raise ApiError(
                400, "ValidationException",
                f"1 validation error detected: Value '{text}' at 'maxItems' failed to satisfy constraint: "
                f"Member must have value between 1 and {MAX_LIST_ITEMS}",
            )
        end = min(end, start + int(text))
    page = {**listed, key: items[start:end]}
    if end < len(items):
        page["NextMarker"] = str(end)
    return page


def _client_context(scope: dict[str, Any]) -> Any:
    raw = header(scope, b"x-amz-client-context")
    if not raw:
        return None
    if len(raw) > MAX_CLIENT_CONTEXT_BYTES:
        raise ApiError(
            400,
            "InvalidRequestContentException",
            f"Client context must be at most {MAX_CLIENT_CONTEXT_BYTES} bytes of Base64-encoded data;"
            f" this one has {len(raw)} bytes.",
        )
    try:
        # Unpadded base64 is accepted too: the limit of 3,583 bytes is one no padded text can reach.
        decoded = orjson.loads(base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True))
    except (binascii.Error, orjson.JSONDecodeError):
        decoded = None
    # The instance reads `client`, `custom` and `env` keys, so nothing but an object will do.
    if not isinstance(decoded, dict):
        raise ApiError(
            400,
            "InvalidRequestContentException",
            "Client context must be a valid Base64-encoded JSON object.",
        )
    return decoded
