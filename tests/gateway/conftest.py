"""A gateway served by uvicorn on 127.0.0.1, port 0, in the test's own process.

The server runs the real GatewayApp, router and dispatcher over an app folder
under apps/, so that a test can shorten module constants with monkeypatch and
read the invocation records and logs the dispatcher produces.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import uvicorn
from live_gateway import LiveGateway, StartGateway

from squall.dispatcher.dispatcher import Dispatcher, NodeSettings
from squall.gateway.app import GatewayApp
from squall.gateway.router import Router
from squall.manifest import load_service

APPS = Path(__file__).resolve().parent / "apps"
CLIENT_TIMEOUT_S = 20.0
SHUTDOWN_TIMEOUT_S = 10.0


@pytest.fixture
async def start_gateway(tmp_path: Path) -> AsyncIterator[StartGateway]:
    """Start gateways on copies of app folders. Each stops, with its dispatcher, when the test ends."""
    stops: list[Callable[[], Awaitable[None]]] = []

    async def start(app: str, payload: str | None = None, token: str | None = None) -> LiveGateway:
        """Serve the app folder `app`, routing only the routes of version `payload` when one is given.

        With `token`, the gateway requires it, and instances get it with the gateway's endpoint, as a
        server bound beyond loopback does.
        """
        folder = shutil.copytree(APPS / app, tmp_path / f"{app}{len(stops)}", ignore=shutil.ignore_patterns("__pycache__"))
        service = load_service(folder)
        gateway = LiveGateway(httpx.AsyncClient(timeout=CLIENT_TIMEOUT_S))

        # The socket listens before uvicorn starts, so the first request
        # waits in the backlog instead of failing.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = NodeSettings(data_dir=tmp_path / f"data{len(stops)}")
        if token is not None:
            settings = NodeSettings(data_dir=settings.data_dir, endpoint=endpoint, token=token)
        dispatcher = Dispatcher(settings, gateway.records.append, gateway.logs.append)
        dispatcher.start()
        await dispatcher.deploy(service)
        routes = [
            (spec.name, event)
            for spec in service.functions.values()
            for event in spec.http
            if payload is None or event.payload == payload
        ]
        platform = SimpleNamespace(router=Router(routes), dispatcher=dispatcher, async_invoker=None, hub=None)

        config = uvicorn.Config(
            GatewayApp(platform, token),  # type: ignore[arg-type]
            lifespan="off",
            access_log=False,
            log_level="warning",
            server_header=False,
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        gateway.client.base_url = httpx.URL(endpoint)

        async def stop() -> None:
            await gateway.client.aclose()
            server.should_exit = True
            await asyncio.wait_for(serving, SHUTDOWN_TIMEOUT_S)
            sock.close()
            await dispatcher.close()

        stops.append(stop)
        return gateway

    yield start
    for stop in reversed(stops):
        await stop()
