"""Browser sign-in to the dashboard of a server that requires a token, over HTTP on the gateway app."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from squall.dashboard.signin import COOKIE_NAME, SESSION_MAX_AGE_S, session_cookie_value
from squall.gateway.app import GatewayApp
from squall.store.sqlite import SqliteStore
from tests.dashboard.conftest import TOKEN, fake_platform

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FUNCTION_PAGE = "/ui/functions/resize?window=6h"


def client_for(store: SqliteStore, token: str | None, scheme: str = "http") -> httpx.AsyncClient:
    app = GatewayApp(fake_platform(store, None), token)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"{scheme}://squall.test")


@pytest.fixture
async def http(store: SqliteStore) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(store, TOKEN) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, token: str = TOKEN, next_path: str = "/ui") -> httpx.Response:
    return await client.post("/ui/login", data={"token": token, "next": next_path}, headers=BROWSER)


def cookie_attributes(response: httpx.Response) -> dict[str, str]:
    """Parse the response's Set-Cookie header into attributes by lower-case name, with the cookie under its own name."""
    attributes = {}
    for part in response.headers["set-cookie"].split(";"):
        name, _, value = part.strip().partition("=")
        attributes[name if name == COOKIE_NAME else name.lower()] = value
    return attributes


@pytest.mark.parametrize(
    ("path", "next_path"),
    [
        ("/ui", "/ui"),
        ("/ui/", "/ui/"),
        (FUNCTION_PAGE, FUNCTION_PAGE),
        ("/ui/login", "/ui"),
        ("/ui/login?next=/ui/functions/resize", "/ui/functions/resize"),
    ],
)
async def test_page_without_cookie_shows_sign_in(http: httpx.AsyncClient, path: str, next_path: str) -> None:
    response = await http.get(path, headers=BROWSER)

    assert response.status_code == 401
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "form-action 'self'" in response.headers["content-security-policy"]
    page = response.text
    assert '<form method="post" action="/ui/login">' in page
    assert f'name="next" value="{next_path}"' in page
    assert "<code>token</code> file" in page
    assert "data folder" in page
    # No dashboard data leaks onto the sign-in page.
    assert "resize" not in page.replace(next_path, "")


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/ui", "application/json"),
        ("/ui", "*/*"),
        ("/ui/data/overview", BROWSER["Accept"]),
        ("/ui/data/functions/resize", "application/json"),
        ("/ui/static/dashboard.js", BROWSER["Accept"]),
    ],
)
async def test_script_without_credentials_gets_json(http: httpx.AsyncClient, path: str, accept: str) -> None:
    response = await http.get(path, headers={"Accept": accept})

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "Unauthorized"
    assert "/ui/login" in error["message"]
    assert "Authorization: Bearer" in error["message"]


async def test_stylesheet_needs_no_cookie(http: httpx.AsyncClient) -> None:
    response = await http.get("/ui/static/dashboard.css")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("wrong", "That token is not valid"),
        (TOKEN + "x", "That token is not valid"),
        ("", "No token entered"),
        ("   ", "No token entered"),
    ],
)
async def test_wrong_token_shows_message(http: httpx.AsyncClient, token: str, message: str) -> None:
    response = await sign_in(http, token, FUNCTION_PAGE)

    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert message in response.text
    assert 'role="alert"' in response.text
    assert f'name="next" value="{FUNCTION_PAGE}"' in response.text
    assert (await http.get("/ui", headers=BROWSER)).status_code == 401


@pytest.mark.parametrize(("scheme", "secure"), [("http", False), ("https", True)])
async def test_right_token_sets_cookie_and_redirects(store: SqliteStore, scheme: str, secure: bool) -> None:
    async with client_for(store, TOKEN, scheme) as client:
        response = await sign_in(client, f"  {TOKEN}\n", FUNCTION_PAGE)

    assert response.status_code == 303
    assert response.headers["location"] == FUNCTION_PAGE
    attributes = cookie_attributes(response)
    assert attributes[COOKIE_NAME]
    assert TOKEN not in response.headers["set-cookie"]
    assert attributes["path"] == "/ui"
    assert attributes["samesite"] == "Strict"
    assert "httponly" in attributes
    assert int(attributes["max-age"]) == SESSION_MAX_AGE_S
    assert ("secure" in attributes) is secure


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/ui", "page"),
        ("/ui/", "page"),
        (FUNCTION_PAGE, "page"),
        ("/ui/data/overview", "data"),
        ("/ui/data/functions/resize", "data"),
        ("/ui/static/dashboard.js", "file"),
    ],
)
async def test_cookie_opens_pages_and_data(
    http: httpx.AsyncClient, stored: dict[str, float], path: str, kind: str
) -> None:
    assert (await sign_in(http)).status_code == 303

    response = await http.get(path, headers=BROWSER)

    assert response.status_code == 200
    if kind == "page":
        assert "data-chart=" in response.text
        assert '<form class="sign-out" method="post" action="/ui/logout">' in response.text
    elif kind == "data":
        assert sum(response.json()["series"]["invocations"]) == 2
    else:
        assert response.text.startswith("//")


async def test_bearer_header_still_opens_pages(http: httpx.AsyncClient) -> None:
    response = await http.get("/ui", headers={**BROWSER, "Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert "data-chart=" in response.text
    # A browser that sends the header itself has no cookie to clear.
    assert 'action="/ui/logout"' not in response.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/_squall/api/health", 401),
        ("GET", "/_squall/api/functions", 401),
        ("POST", "/2015-03-31/functions/resize/invocations", 403),
    ],
)
async def test_cookie_does_not_open_apis(http: httpx.AsyncClient, method: str, path: str, status: int) -> None:
    cookie = session_cookie_value(TOKEN.encode(), int(time.time()))

    response = await http.request(method, path, headers={"Cookie": f"{COOKIE_NAME}={cookie}"}, content=b"{}")

    assert response.status_code == status


@pytest.mark.parametrize(
    "requested",
    [
        "https://elsewhere.example/ui",
        "//elsewhere.example/ui",
        "/\\elsewhere.example/ui",
        "/ui\\..\\_squall",
        "/ui/../_squall/api/health",
        "/ui/%2e%2e/_squall/api/health",
        "/ui/./functions",
        "/uikit",
        "/_squall/api/health",
        "javascript:alert(1)",
        "/ui/\r\nset-cookie: x=1",
        "/ui/login",
        "/ui/logout",
        "",
    ],
)
async def test_redirect_outside_ui_rejected(http: httpx.AsyncClient, requested: str) -> None:
    response = await sign_in(http, next_path=requested)

    assert response.status_code == 303
    assert response.headers["location"] == "/ui"


@pytest.mark.parametrize(
    "requested", ["/ui", "/ui/functions/resize", "/ui/functions/my%20function", "/ui/data/overview?window=15m"]
)
async def test_redirect_inside_ui_kept(http: httpx.AsyncClient, requested: str) -> None:
    response = await sign_in(http, next_path=requested)

    assert response.headers["location"] == requested


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(session_cookie_value(TOKEN.encode(), int(time.time()) - SESSION_MAX_AGE_S - 60), id="expired"),
        pytest.param(session_cookie_value(TOKEN.encode(), int(time.time()) + 3600), id="issued-in-future"),
        pytest.param(session_cookie_value(b"another-token", int(time.time())), id="other-token"),
        pytest.param(f"{int(time.time())}.{'0' * 64}", id="forged"),
        pytest.param(TOKEN, id="token-itself"),
        pytest.param("", id="empty"),
    ],
)
async def test_invalid_cookie_shows_sign_in(http: httpx.AsyncClient, cookie: str) -> None:
    response = await http.get("/ui", headers={**BROWSER, "Cookie": f"{COOKIE_NAME}={cookie}"})

    assert response.status_code == 401
    assert '<form method="post" action="/ui/login">' in response.text


async def test_cookie_found_among_others(http: httpx.AsyncClient) -> None:
    cookie = session_cookie_value(TOKEN.encode(), int(time.time()))

    response = await http.get("/ui/data/overview", headers={"Cookie": f"theme=dark; {COOKIE_NAME}={cookie}; lang=en"})

    assert response.status_code == 200


async def test_signed_in_login_page_redirects(http: httpx.AsyncClient) -> None:
    assert (await sign_in(http)).status_code == 303

    response = await http.get("/ui/login", params={"next": FUNCTION_PAGE}, headers=BROWSER)

    assert response.status_code == 303
    assert response.headers["location"] == FUNCTION_PAGE


async def test_sign_out_clears_cookie(http: httpx.AsyncClient) -> None:
    assert (await sign_in(http)).status_code == 303
    assert (await http.get("/ui", headers=BROWSER)).status_code == 200

    response = await http.post("/ui/logout", headers=BROWSER)

    assert response.status_code == 303
    assert response.headers["location"] == "/ui"
    attributes = cookie_attributes(response)
    assert attributes[COOKIE_NAME] == ""
    assert attributes["max-age"] == "0"
    assert attributes["path"] == "/ui"
    after = await http.get("/ui", headers=BROWSER)
    assert after.status_code == 401
    assert '<form method="post" action="/ui/login">' in after.text


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("PUT", "/ui/login", "GET, HEAD, POST"), ("GET", "/ui/logout", "POST"), ("DELETE", "/ui/logout", "POST")],
)
async def test_sign_in_wrong_method_rejected(http: httpx.AsyncClient, method: str, path: str, allow: str) -> None:
    response = await http.request(method, path)

    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert path in response.json()["error"]["message"]


async def test_oversized_sign_in_form_rejected(http: httpx.AsyncClient) -> None:
    response = await sign_in(http, token="x" * 10_000)

    assert response.status_code == 413
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/ui", 200), ("GET", "/ui/login", 404), ("POST", "/ui/login", 405), ("POST", "/ui/logout", 405)],
)
async def test_server_without_token_unchanged(store: SqliteStore, method: str, path: str, status: int) -> None:
    async with client_for(store, None) as client:
        response = await client.request(method, path, headers=BROWSER, data={"token": TOKEN} if method == "POST" else None)

    assert response.status_code == status
    assert "set-cookie" not in response.headers
    assert 'action="/ui/logout"' not in response.text
