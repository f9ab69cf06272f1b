"""The SDK's connection to a Squall server: JSON calls to the data services' HTTP API.

It uses only the standard library, so importing it inside an instance adds
little to a cold start. Inside a function it finds the server through the
SQUALL_ENDPOINT and SQUALL_TOKEN variables the platform sets; elsewhere pass
them, or set the same variables.

Inside a traced invocation the runtime sets TRACEPARENT, and every request
carries it as a W3C `traceparent` header, so that a stream record, table
change or object change it writes brings the function it triggers into the
same trace.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from typing import Any
from urllib.parse import quote, urlsplit

from squall.services.errors import ServiceError

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT_S = 60.0
TRACEPARENT_VARIABLE = "TRACEPARENT"
# The runtime sets the invocation's X-Ray trace header here, as Lambda does.
XRAY_TRACE_VARIABLE = "_X_AMZN_TRACE_ID"


class RemoteError(ServiceError):
    """Raised when the server rejects a call; `code` and `status` are the server's."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class Client:
    """A connection to one Squall server, safe to share between threads (one HTTP connection per thread)."""

    def __init__(self, endpoint: str | None = None, token: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.endpoint = (endpoint or os.environ.get("SQUALL_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        self.token = token if token is not None else os.environ.get("SQUALL_TOKEN")
        self.timeout_s = timeout_s
        parts = urlsplit(self.endpoint)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"endpoint {self.endpoint!r} is invalid: expected http://HOST:PORT")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._local = threading.local()

    def call(self, service: str, operation: str, **arguments: Any) -> Any:
        """Run one operation and return its result; raises RemoteError with the server's code."""
        body = json.dumps({name: value for name, value in arguments.items() if value is not None}).encode()
        headers = {"Content-Type": "application/json", **trace_headers()}
        status, _, data = self.request("POST", f"/_squall/api/services/{service}/{operation}", body, headers)
        answer = json.loads(data) if data else {}
        if status != 200:
            error = answer.get("error", {}) if isinstance(answer, dict) else {}
            raise RemoteError(error.get("type", "Error"), error.get("message", f"HTTP {status}"), status)
        return answer.get("result")

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """Send one request and return (status, headers in lower case, body); retries once on a dropped connection."""
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (1, 2):
            connection = self._connection()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, data
            except (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest) as error:
                # A kept-alive connection the server closed: open a new one once.
                connection.close()
                self._local.connection = None
                if isinstance(error, ConnectionRefusedError):
                    raise ConnectionRefusedError(
                        f"no Squall server is listening at {self.endpoint}: start one with `squall up`,"
                        " or name a running one in SQUALL_ENDPOINT"
                    ) from None
                if attempt == 2 or not isinstance(body, (bytes, type(None))):
                    raise
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout_s)
            self._local.connection = connection
        return connection


def trace_headers() -> dict[str, str]:
    """Return the `traceparent` header of the current invocation's trace, or no headers outside a traced one."""
    traceparent = os.environ.get(TRACEPARENT_VARIABLE)
    return {"traceparent": traceparent} if traceparent else {}


def xray_trace_header() -> str | None:
    """Return the current invocation's X-Ray trace header, or None outside an invocation.

    Its Lineage field counts the invocations of a chain of calls, so a queue
    message or object change that carries it lets the server stop a function
    that keeps triggering itself.
    """
    return os.environ.get(XRAY_TRACE_VARIABLE) or None


def path_segment(value: str) -> str:
    """Quote a name or key for use in a URL path, keeping slashes."""
    return quote(value, safe="/")


_default: Client | None = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """Return the client built from the environment, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default
