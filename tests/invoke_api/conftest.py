"""Fixtures of the Invoke API tests: a real server per module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lambda_apps import APPS, LiveApp, lambda_client, live_server


@pytest.fixture(scope="module")
def serve_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Any]]:
    """Start servers on copies of the app folders under apps/; they stop when the test module ends."""
    servers: list[Any] = []

    def _serve(app: str, *extra: str, env: dict[str, str] | None = None) -> LiveApp:
        base = tmp_path_factory.mktemp("server")
        folder = live_server.copy_app(APPS / app, base)
        server = live_server.start_server(folder, base / "data", *extra, env=env)
        servers.append(server)
        return LiveApp(server, folder)

    yield _serve
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def app(serve_module: Callable[..., Any]) -> LiveApp:
    """A server on apps/lambda, for the module; a module that needs other settings defines its own."""
    return serve_module("lambda")


@pytest.fixture(scope="module")
def client(app: LiveApp) -> Any:
    """A boto3 Lambda client of the module's server."""
    return lambda_client(app.endpoint)
