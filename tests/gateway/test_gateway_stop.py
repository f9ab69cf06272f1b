"""A route call that its request stops waiting for: kept running after a client leaves, cut when the server stops."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from squall.dispatcher.dispatcher import Invocation
from squall.gateway.app import GatewayApp
from squall.gateway.router import Router
from squall.manifest.spec import HttpEvent


class EndlessDispatcher:
    """A dispatcher whose one function runs until it is cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = False
        self.settings = SimpleNamespace(init_timeout_s=10)

    def pool(self, function: str) -> Any:
        return SimpleNamespace(spec=SimpleNamespace(timeout_s=60))

    def function_name(self, function: str) -> str:
        return function

    async def invoke(self, invocation: Invocation) -> Any:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


@pytest.mark.parametrize(("stopping", "cut"), [(True, True), (False, False)], ids=["server stops", "client leaves"])
async def test_waiting_request_cancelled(stopping: bool, cut: bool) -> None:
    dispatcher = EndlessDispatcher()
    platform = SimpleNamespace(router=Router([("slow", HttpEvent("GET", "/slow"))]), dispatcher=dispatcher,
                               async_invoker=None, hub=None, stopping=stopping)
    app = GatewayApp(platform, None)  # type: ignore[arg-type]
    scope = {
        "type": "http", "method": "GET", "path": "/slow", "raw_path": b"/slow", "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")], "http_version": "1.1", "scheme": "http",
        "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 50000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    request = asyncio.create_task(app(scope, receive, send))
    await asyncio.wait_for(dispatcher.started.wait(), 5)
    request.cancel()
    await asyncio.gather(request, return_exceptions=True)
    await asyncio.sleep(0)  # lets a cancelled invocation task run its handler

    assert dispatcher.cancelled is cut
    for abandoned in list(app._abandoned):
        abandoned.cancel()  # the call a client left goes on, so the test ends it
