"""Browser sign-in to the dashboard of a server that requires a token.

A browser cannot send `Authorization: Bearer` when a person opens `/ui`, so
the operator pastes the token once into the form at `/ui/login`, and the
browser then carries a session cookie. The cookie contains an HMAC keyed by
the token, never the token itself. The browser sends it to `/ui` only, and
only this module accepts it, so it opens neither the management API nor the
Invoke API.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from squall.gateway.http import BodyTooLarge, Receive, Send, header, read_body

from squall.dashboard import pages
from squall.dashboard.handler import HTML_TYPE, JSON_TYPE, error_body, send_response, serve_dashboard
from squall.dashboard.queries import DashboardSources

logger = logging.getLogger(__name__)

PREFIX = pages.PREFIX
SIGN_IN_PATH = pages.SIGN_IN_PATH
SIGN_OUT_PATH = pages.SIGN_OUT_PATH
COOKIE_NAME = "squall_dashboard"
# A copied or leaked cookie stops working after this long, even though the token stays the same.
SESSION_MAX_AGE_S = 12 * 3600
# A session issued just before the clock stepped back (an NTP correction) stays valid.
_CLOCK_SKEW_S = 300
_SESSION_LABEL = b"squall dashboard session"
# A token that Squall generates is 43 characters, so the limit only stops a client from sending megabytes.
_MAX_FORM_BYTES = 4096
_MAX_NEXT_CHARS = 2048
# The sign-in page links this stylesheet. Every other file needs credentials, as the pages do.
_PUBLIC_FILES = frozenset({f"{pages.STATIC}/dashboard.css"})
_REJECTED_LOG_INTERVAL_S = 60.0
# RFC 9110 requires this header on a 401. Browsers show no prompt for the Bearer scheme.
_WWW_AUTHENTICATE = (b"www-authenticate", b'Bearer realm="squall"')

_TOKEN_HELP = (
    "this server requires a token: sign in at /ui/login with the value of the 'token' file in the "
    "server's data folder, or send it in an 'Authorization: Bearer <token>' header"
)


def session_cookie_value(token: bytes, issued_at: int) -> str:
    """Derive the cookie value of a session issued at `issued_at` (Unix seconds) from the server's token.

    The value is `ISSUED_AT.HMAC`, where the HMAC-SHA256 is keyed by the token, so
    it proves that its sender knew the token without containing it.
    """
    message = _SESSION_LABEL + b" issued at " + str(issued_at).encode()
    return f"{issued_at}.{hmac.new(token, message, hashlib.sha256).hexdigest()}"


def has_valid_session(scope: dict[str, Any], token: bytes, now: float) -> bool:
    """Tell whether the request carries a session cookie issued for `token` that has not expired at `now`."""
    return any(_is_valid_session(value, token, now) for value in _cookie_values(scope, COOKIE_NAME.encode()))


def redirect_target(requested: str | None) -> str:
    """Return the dashboard path to send a browser to after signing in: `requested` when it is safe, else `/ui`.

    Only a path under `/ui` (with its query) is kept, other than the sign-in and
    sign-out paths. An absolute URL, a scheme-relative `//host`, a backslash, a
    character outside printable ASCII, or a `.` or `..` segment falls back to
    `/ui`, so the form cannot redirect anywhere outside the dashboard.
    """
    if not requested or len(requested) > _MAX_NEXT_CHARS:
        return PREFIX
    # Printable ASCII without the backslash, which browsers read as "/" in a URL.
    if any(not "\x21" <= character <= "\x7e" or character == "\\" for character in requested):
        return PREFIX
    parts = urlsplit(requested)
    if parts.scheme or parts.netloc or not requested.startswith(PREFIX):
        return PREFIX
    if parts.path != PREFIX and not parts.path.startswith(PREFIX + "/"):
        return PREFIX
    # Browsers resolve "." and "..", also when percent-encoded as %2e, before they send the request.
    if any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
        return PREFIX
    if parts.path in (SIGN_IN_PATH, SIGN_OUT_PATH):
        return PREFIX
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def serve_with_sign_in(
    platform: DashboardSources,
    token: bytes,
    scope: dict[str, Any],
    receive: Receive,
    send: Send,
    *,
    bearer: bool,
) -> None:
    """Serve one request under `/ui` on a server that requires `token`.

    `bearer` is True when the request carried the token in its Authorization
    header. A request with that header or a valid session cookie gets the
    dashboard. Without either, a browser asking for a page gets the sign-in form
    and any other request a JSON 401, both with status 401.
    """
    path: str = scope["path"]
    if path == SIGN_IN_PATH:
        await _sign_in(token, scope, receive, send, bearer=bearer)
        return
    if path == SIGN_OUT_PATH:
        await _sign_out(scope, send)
        return

    session = has_valid_session(scope, token, time.time())
    if bearer or session or (path in _PUBLIC_FILES and scope["method"] in ("GET", "HEAD")):
        await serve_dashboard(platform, scope, receive, send, sign_out=session)
    elif _wants_page(scope):
        await _send_form(scope, send, _current_path(scope), problem=None)
    else:
        body = error_body("Unauthorized", _TOKEN_HELP)
        await send_response(send, scope["method"], 401, JSON_TYPE, body, [_WWW_AUTHENTICATE])


async def _sign_in(token: bytes, scope: dict[str, Any], receive: Receive, send: Send, *, bearer: bool) -> None:
    method: str = scope["method"]
    if method in ("GET", "HEAD"):
        requested = _query(scope.get("query_string", b"")).get("next")
        if bearer or has_valid_session(scope, token, time.time()):
            await _redirect(scope, send, redirect_target(requested))
        else:
            await _send_form(scope, send, redirect_target(requested), problem=None)
        return
    if method != "POST":
        message = f"{method} {SIGN_IN_PATH}: the sign-in form accepts GET, HEAD and POST"
        body = error_body("MethodNotAllowed", message)
        await send_response(send, method, 405, JSON_TYPE, body, [(b"allow", b"GET, HEAD, POST")])
        return

    try:
        form = _query(await read_body(receive, _MAX_FORM_BYTES))
    except BodyTooLarge:
        message = f"the sign-in form exceeds {_MAX_FORM_BYTES} bytes; send only the fields token and next"
        await send_response(send, method, 413, JSON_TYPE, error_body("RequestEntityTooLarge", message))
        return
    target = redirect_target(form.get("next"))
    entered = form.get("token", "").strip().encode()
    if not entered:
        await _send_form(scope, send, target, problem="No token entered: paste the contents of the token file.")
        return
    if not hmac.compare_digest(entered, token):
        _rejected.add(_client(scope), time.time())
        problem = "That token is not valid: paste the whole contents of the token file in the server's data folder."
        await _send_form(scope, send, target, problem=problem)
        return

    logger.info("dashboard sign-in from %s", _client(scope))
    cookie = _cookie(scope, session_cookie_value(token, int(time.time())), SESSION_MAX_AGE_S)
    await _redirect(scope, send, target, cookie)


async def _sign_out(scope: dict[str, Any], send: Send) -> None:
    method: str = scope["method"]
    if method != "POST":
        message = f"{method} {SIGN_OUT_PATH}: sign out with POST, as the dashboard's sign-out button does"
        body = error_body("MethodNotAllowed", message)
        await send_response(send, method, 405, JSON_TYPE, body, [(b"allow", b"POST")])
        return
    # Clearing needs no credentials: it only removes the cookie of the browser that sends this request.
    await _redirect(scope, send, PREFIX, _cookie(scope, "", 0))


class _RejectedSignIns:
    """Counts wrong tokens, so that a flood of them logs one line a minute instead of one per request."""

    def __init__(self) -> None:
        self._count = 0
        self._logged_at = float("-inf")

    def add(self, client: str, now: float) -> None:
        self._count += 1
        if now - self._logged_at < _REJECTED_LOG_INTERVAL_S:
            return
        logger.warning(
            "dashboard sign-in rejected a wrong token from %s (%d wrong tokens since the last such message)",
            client,
            self._count,
        )
        self._count = 0
        self._logged_at = now


_rejected = _RejectedSignIns()


async def _send_form(scope: dict[str, Any], send: Send, next_path: str, problem: str | None) -> None:
    body = pages.sign_in_page(next_path, problem).encode()
    await send_response(send, scope["method"], 401, HTML_TYPE, body, [_WWW_AUTHENTICATE])


async def _redirect(scope: dict[str, Any], send: Send, location: str, cookie: bytes | None = None) -> None:
    # 303 makes the browser follow a POST with a GET, so reloading the page does not post the form again.
    headers = [(b"location", location.encode())]
    if cookie is not None:
        headers.append((b"set-cookie", cookie))
    await send_response(send, scope["method"], 303, HTML_TYPE, b"", headers)


def _cookie(scope: dict[str, Any], value: str, max_age_s: int) -> bytes:
    attributes = [f"{COOKIE_NAME}={value}", f"Path={PREFIX}", f"Max-Age={max_age_s}", "HttpOnly", "SameSite=Strict"]
    # NOTE: behind a proxy that ends TLS, the scheme here is http, so the cookie lacks Secure.
    if scope.get("scheme") == "https":
        attributes.append("Secure")
    return "; ".join(attributes).encode()


def _is_valid_session(value: bytes, token: bytes, now: float) -> bool:
    issued_text, separator, _ = value.partition(b".")
    if not separator or not issued_text.isdigit() or len(issued_text) > 12:
        return False
    issued_at = int(issued_text)
    if not now - SESSION_MAX_AGE_S <= issued_at <= now + _CLOCK_SKEW_S:
        return False
    return hmac.compare_digest(value, session_cookie_value(token, issued_at).encode())


def _cookie_values(scope: dict[str, Any], name: bytes) -> Iterator[bytes]:
    # HTTP/2 clients may split cookies over several headers, so every cookie header is read.
    for key, value in scope["headers"]:
        if key != b"cookie":
            continue
        for pair in value.split(b";"):
            cookie_name, separator, cookie_value = pair.strip().partition(b"=")
            if separator and cookie_name == name:
                yield cookie_value.strip(b'"')


def _wants_page(scope: dict[str, Any]) -> bool:
    """Tell whether a browser is opening a dashboard page, as opposed to a script or the page's data request."""
    if scope["method"] not in ("GET", "HEAD"):
        return False
    route = scope["path"][len(PREFIX) :].lstrip("/")
    if route.startswith(("data/", "static/")):
        return False
    return b"text/html" in (header(scope, b"accept") or b"")


def _current_path(scope: dict[str, Any]) -> str:
    query: bytes = scope.get("query_string", b"")
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    return redirect_target(path + (f"?{query.decode('latin-1')}" if query else ""))


def _query(encoded: bytes) -> dict[str, str]:
    values = parse_qs(encoded.decode("latin-1"))
    return {key: items[-1] for key, items in values.items()}


def _client(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "an unknown client"
