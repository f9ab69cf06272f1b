"""The dashboard in a real headless Chromium, against a real `squall up` with real invocations.

Chromium comes from Debian's `chromium` package at /usr/bin/chromium and is
driven by Playwright; without either, these tests are skipped. Set
SQUALL_DASHBOARD_SCREENSHOT=PATH to also save a screenshot of the function page.

`squall up` requires a token only when it binds beyond loopback, and these
tests bind only to 127.0.0.1. So the sign-in test runs the gateway app with a
token in this process, behind uvicorn on 127.0.0.1, over stored invocations.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from squall.dashboard.signin import COOKIE_NAME
from squall.gateway.app import GatewayApp
from squall.metering.records import Outcome
from squall.store.sqlite import SqliteStore
from tests.dashboard.conftest import TOKEN, fake_platform, invocation

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package to run the browser tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

# Playwright's own browser builds cannot be downloaded here, so it drives Debian's Chromium with these flags.
# Without the background-networking flags Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUEST_TIMEOUT_S = 30.0
COMMIT_TIMEOUT_S = 15.0
SERVER_START_TIMEOUT_S = 15.0
# The page refreshes every 5 s; three refreshes are plenty.
REFRESH_TIMEOUT_MS = 15_000
HANDLER_OUTPUT = "thumbnail written for cat.png"

MANIFEST = """\
service: gallery
functions:
  thumbnail:
    handler: app.thumbnail
    events:
      - http: {method: GET, path: /thumbnail}
  broken:
    handler: app.broken
    events:
      - http: {method: GET, path: /broken}
resources:
  queues:
    uploads: {}
"""

HANDLERS = f"""\
def thumbnail(event, context):
    print({HANDLER_OUTPUT!r})
    return {{"statusCode": 200, "body": "ok"}}


def broken(event, context):
    raise RuntimeError("no image in the request")
"""


@pytest.fixture
def server(serve: Any, tmp_path: Path) -> Any:
    folder = tmp_path / "gallery"
    folder.mkdir()
    (folder / "squall.yml").write_text(MANIFEST)
    (folder / "app.py").write_text(HANDLERS)
    return serve(folder)


@pytest.fixture
def token_server(store: SqliteStore, stored: dict[str, float]) -> Iterator[str]:
    """Serve the gateway app with a token over the stand-in platform on 127.0.0.1, and yield its URL."""
    app = GatewayApp(fake_platform(store, None), TOKEN)  # type: ignore[arg-type]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", access_log=False, log_level="warning"))
    # uvicorn installs signal handlers only on the main thread, so a thread serves without them.
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError(f"uvicorn did not start serving on 127.0.0.1:{port} within {SERVER_START_TIMEOUT_S} s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=SERVER_START_TIMEOUT_S)
        sock.close()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """A Chromium page with a fresh profile; console errors and page errors are collected in `page.errors`."""
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        opened = context.new_page()
        errors: list[str] = []
        opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.errors = errors
        try:
            yield opened
        finally:
            context.close()


def invoke(endpoint: str, paths: list[str]) -> list[int]:
    with httpx.Client(base_url=endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        return [client.get(path).status_code for path in paths]


def wait_for_invocations(endpoint: str, expected: int) -> dict[str, Any]:
    """Poll the overview's data until the store has committed `expected` invocations."""
    deadline = time.monotonic() + COMMIT_TIMEOUT_S
    with httpx.Client(base_url=endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        while True:
            data = client.get("/ui/data/overview").json()
            if sum(data["series"]["invocations"]) >= expected:
                return data
            if time.monotonic() > deadline:
                raise AssertionError(f"the dashboard counted {sum(data['series']['invocations'])} invocations, expected {expected}")
            time.sleep(0.1)


def chart_sum(page: Any, chart: str, line: int) -> float:
    """Return the sum of one line of a chart's data in uPlot (line 1 is the first after the time axis)."""
    return page.evaluate(
        "([chart, line]) => window.squallCharts[chart].data[line].reduce((sum, value) => sum + (value || 0), 0)",
        [chart, line],
    )


def drawn_pixels(page: Any, chart: str, colour: tuple[int, int, int]) -> int:
    """Count the pixels of a chart's canvas that uPlot painted in `colour`."""
    return page.evaluate(
        """([chart, [red, green, blue]]) => {
            const canvas = document.querySelector(`figure[data-chart="${chart}"] canvas`);
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let count = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                const near = Math.abs(pixels[i] - red) < 40 && Math.abs(pixels[i + 1] - green) < 40 && Math.abs(pixels[i + 2] - blue) < 40;
                if (near && pixels[i + 3] > 200) count += 1;
            }
            return count;
        }""",
        [chart, list(colour)],
    )


def test_overview_charts_and_function_logs(server: Any, page: Any) -> None:
    endpoint = server.endpoint
    assert invoke(endpoint, ["/thumbnail", "/thumbnail", "/thumbnail", "/broken"]) == [200, 200, 200, 500]
    with httpx.Client(base_url=endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        sent = client.post("/_squall/api/services/queues/send", json={"queue": "uploads", "body": "cat.png"})
    assert sent.status_code == 200
    wait_for_invocations(endpoint, 4)

    # The overview: charts drawn from the data, every function with its status, the queue with its depth.
    page.goto(f"{endpoint}/ui")
    page.wait_for_function("() => window.squallCharts && window.squallCharts.activity")
    assert chart_sum(page, "activity", 1) == 4
    assert chart_sum(page, "activity", 2) == 1
    assert chart_sum(page, "cost", 1) > 0
    # The cost axis is as wide as its longest label, such as "$0.0000600", so no label is cut.
    axis_px, label_px = page.evaluate(
        """() => {
            const chart = window.squallCharts.cost;
            const labels = chart.axes[1]._values || [];
            const context = document.createElement("canvas").getContext("2d");
            context.font = chart.axes[1].font[0];
            return [chart.axes[1]._size, Math.max(0, ...labels.map((text) => context.measureText(String(text)).width))];
        }"""
    )
    assert axis_px > label_px
    assert drawn_pixels(page, "activity", (0x25, 0x63, 0xEB)) > 0
    assert drawn_pixels(page, "activity", (0xDC, 0x26, 0x26)) > 0
    functions = page.locator('[data-fragment="functions"] tbody tr')
    assert functions.count() == 2
    assert "GET /broken" in functions.nth(0).inner_text()
    queues = page.locator('[data-fragment="queues"] tbody tr')
    assert queues.nth(0).inner_text().split("\t")[:2] == ["uploads", "1"]

    # A function's page: its own charts, and its log behind a click.
    page.get_by_role("link", name="thumbnail").click()
    page.wait_for_url("**/ui/functions/thumbnail")
    page.wait_for_function("() => window.squallCharts && window.squallCharts.cold_starts")
    assert chart_sum(page, "activity", 1) == 3
    assert chart_sum(page, "cold_starts", 1) == 1
    assert chart_sum(page, "duration", 1) > 0
    assert drawn_pixels(page, "cold_starts", (0x08, 0x91, 0xB2)) > 0
    invocations = page.locator("details.invocation")
    assert invocations.count() == 3
    assert "cold start" in invocations.nth(2).inner_text()
    log = invocations.nth(0).locator("pre.log")
    assert not log.is_visible()
    invocations.nth(0).locator("summary").click()
    assert log.is_visible()
    assert HANDLER_OUTPUT in log.inner_text()

    # Without a reload, the page picks up a new invocation and keeps the open log open.
    assert invoke(endpoint, ["/thumbnail"]) == [200]
    page.wait_for_function("() => document.querySelectorAll('details.invocation').length === 4", timeout=REFRESH_TIMEOUT_MS)
    assert chart_sum(page, "activity", 1) == 4
    assert page.locator("details.invocation[open]").count() == 1
    assert "updated" in page.locator("#updated").inner_text()

    screenshot = os.environ.get("SQUALL_DASHBOARD_SCREENSHOT")
    if screenshot:
        page.screenshot(path=screenshot, full_page=True)
    assert page.errors == []


def session_cookies(page: Any) -> list[dict[str, Any]]:
    return [cookie for cookie in page.context.cookies() if cookie["name"] == COOKIE_NAME]


def test_sign_in_then_charts_render(token_server: str, store: SqliteStore, page: Any) -> None:
    function_page = f"{token_server}/ui/functions/resize?window=15m"

    # Without a cookie the browser gets the sign-in form, not the dashboard.
    response = page.goto(function_page)
    assert response.status == 401
    heading = page.get_by_role("heading", name="Sign in to the Squall dashboard")
    assert heading.is_visible()
    assert session_cookies(page) == []

    # A wrong token keeps the form and shows an error message.
    page.get_by_label("Token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "not valid" in alert.inner_text()
    assert session_cookies(page) == []

    # The right token leads back to the requested page, and its charts draw the stored invocations.
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(function_page)
    page.wait_for_function("() => window.squallCharts && window.squallCharts.cold_starts")
    assert chart_sum(page, "activity", 1) == 2
    assert chart_sum(page, "activity", 3) == 1
    assert chart_sum(page, "cold_starts", 1) == 1
    assert drawn_pixels(page, "activity", (0x25, 0x63, 0xEB)) > 0
    assert page.locator("details.invocation").count() == 3

    [session] = session_cookies(page)
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["path"] == "/ui"
    assert TOKEN not in session["value"]

    # The page's own refreshes carry the cookie: a new invocation appears without a reload.
    store.add_record(invocation("req-after-sign-in", time.time(), Outcome.SUCCESS))
    assert store.flush(30)
    page.wait_for_function("() => document.querySelectorAll('details.invocation').length === 4", timeout=REFRESH_TIMEOUT_MS)
    assert chart_sum(page, "activity", 1) == 3
    assert "failed" not in page.locator("#updated").inner_text()

    # When the session ends (here the test clears the cookie), the next refresh reloads the page into the form.
    # Signing in again returns to the same page.
    page.context.clear_cookies()
    heading.wait_for(timeout=REFRESH_TIMEOUT_MS)
    assert page.locator('input[name="next"]').input_value() == "/ui/functions/resize?window=15m"
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(function_page)
    page.wait_for_function("() => window.squallCharts && window.squallCharts.activity")

    # Signing out clears the cookie and shows the form again.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{token_server}/ui")
    heading.wait_for()
    assert session_cookies(page) == []

    # Chromium reports each 401 document as a failed resource load, so any other error is a fault of the page.
    unexpected = [error for error in page.errors if "status of 401" not in error]
    assert unexpected == []
