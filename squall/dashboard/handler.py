"""The dashboard's ASGI handler: pages under `/ui`, their data under `/ui/data/`, files under `/ui/static/`.

On a server that requires a token, `squall.dashboard.signin` checks the
request's credentials before a request gets here.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import orjson

from squall.gateway.http import Receive, Send, respond

from squall.dashboard import pages, payloads
from squall.dashboard.queries import DashboardSources, read_function, read_overview
from squall.dashboard.series import Window

PREFIX = pages.PREFIX
HTML_TYPE = b"text/html; charset=utf-8"
JSON_TYPE = b"application/json"
# The files under static/ that are served, with their content types; nothing else is.
STATIC_FILES: dict[str, bytes] = {
    "uPlot.iife.min.js": b"text/javascript; charset=utf-8",
    "uPlot.min.css": b"text/css; charset=utf-8",
    "uPlot.LICENSE": b"text/plain; charset=utf-8",
    "dashboard.js": b"text/javascript; charset=utf-8",
    "dashboard.css": b"text/css; charset=utf-8",
}
# Everything comes from Squall itself. uPlot styles elements through the CSSOM
# (element.style), which a style-src without 'unsafe-inline' allows. The empty
# data: icon keeps browsers from asking for /favicon.ico, which a function may own.
# form-action does not fall back to default-src, so it is set for the sign-in and sign-out forms.
_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class Dashboard:
    """Serves the dashboard of one platform. With `sign_out`, pages show a sign-out button."""

    def __init__(self, platform: DashboardSources, sign_out: bool = False) -> None:
        self._platform = platform
        self._sign_out = sign_out

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        if method not in ("GET", "HEAD"):
            message = f"{method} {path}: the dashboard only serves GET and HEAD"
            allow = [(b"allow", b"GET, HEAD")]
            await send_response(send, method, 405, JSON_TYPE, error_body("MethodNotAllowed", message), allow)
            return

        route = path[len(PREFIX) :].strip("/")
        if route.startswith("static/"):
            await self._static(send, method, route[len("static/") :])
            return

        responder = _Responder(send, method, json=route.startswith("data/"))
        try:
            window = Window.parse(_query(scope).get("window"))
        except ValueError as error:
            await responder.send_problem(400, "InvalidParameterValue", f"query parameter window: {error}")
            return

        now = time.time()
        if route in ("", "data/overview"):
            overview = await read_overview(self._platform, window, now)
            data = payloads.overview_data(overview)
            await responder.send_page(data, lambda: pages.overview_page(overview, data, self._sign_out))
            return

        name = _function_name(route)
        if name is None:
            pages_known = f"{PREFIX} and {PREFIX}/functions/NAME"
            await responder.send_problem(404, "NotFound", f"no dashboard page at {path}; the pages are {pages_known}")
            return
        detail = await read_function(self._platform, name, window, now)
        if detail is None:
            message = f"function not found: {name!r} is not deployed and has no stored records or logs"
            await responder.send_problem(404, "FunctionNotFound", message)
            return
        data = payloads.function_data(detail)
        await responder.send_page(data, lambda: pages.function_page(detail, data, self._sign_out))

    async def _static(self, send: Send, method: str, name: str) -> None:
        content_type = STATIC_FILES.get(name)
        if content_type is None:
            message = f"no dashboard file {name!r}; the files are {', '.join(STATIC_FILES)}"
            await send_response(send, method, 404, JSON_TYPE, error_body("NotFound", message))
            return
        # The files change only with Squall's version, so a browser may keep them for a while.
        await send_response(send, method, 200, content_type, static_file(name), cache_control=b"public, max-age=600")


@dataclass(frozen=True, slots=True)
class _Responder:
    """Sends a page as HTML, or its data as JSON for a request under /ui/data/."""

    send: Send
    method: str
    json: bool

    async def send_page(self, data: dict[str, Any], render: Callable[[], str]) -> None:
        if self.json:
            await send_response(self.send, self.method, 200, JSON_TYPE, orjson.dumps(data))
        else:
            await send_response(self.send, self.method, 200, HTML_TYPE, render().encode())

    async def send_problem(self, status: int, kind: str, message: str) -> None:
        if self.json:
            await send_response(self.send, self.method, status, JSON_TYPE, error_body(kind, message))
        else:
            title = "Not found" if status == 404 else "Bad request"
            await send_response(self.send, self.method, status, HTML_TYPE, pages.message_page(title, message).encode())


async def serve_dashboard(
    platform: DashboardSources, scope: dict[str, Any], receive: Receive, send: Send, sign_out: bool = False
) -> None:
    """Serve one request under `/ui` for `platform` after the caller has checked the credentials.

    `sign_out` adds a sign-out button to the pages, for a browser signed in with a cookie.
    """
    await Dashboard(platform, sign_out)(scope, receive, send)


@functools.cache
def static_file(name: str) -> bytes:
    """Return the bytes of a file under static/; they are read once per process."""
    return resources.files("squall.dashboard").joinpath("static", name).read_bytes()


def _function_name(route: str) -> str | None:
    for prefix in ("functions/", "data/functions/"):
        if route.startswith(prefix):
            name = route[len(prefix) :]
            if name and "/" not in name:
                return name
    return None


def _query(scope: dict[str, Any]) -> dict[str, str]:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {key: items[-1] for key, items in values.items()}


def error_body(kind: str, message: str) -> bytes:
    """Return the JSON body of an error, in the shape the management API uses."""
    return orjson.dumps({"error": {"type": kind, "message": message}})


async def send_response(
    send: Send,
    method: str,
    status: int,
    content_type: bytes,
    body: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
    cache_control: bytes = b"no-store",
) -> None:
    """Send a whole response with the dashboard's security headers, and no body to a HEAD request."""
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", cache_control),
        *_SECURITY_HEADERS,
    ]
    if extra:
        headers.extend(extra)
    # HEAD gets the headers GET would, with no body.
    await respond(send, status, headers, b"" if method == "HEAD" else body)
