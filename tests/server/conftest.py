"""Fixtures of the server integration tests: real `squall up` processes shared per test module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from live_server import copy_app, start_server


@pytest.fixture(scope="module")
def serve_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Any]]:
    """Start servers on copies of app folders; they stop when the test module ends."""
    servers: list[Any] = []

    def _serve(app: str | Path, *extra: str, env: dict[str, str] | None = None) -> Any:
        base = tmp_path_factory.mktemp("server")
        server = start_server(copy_app(app, base), base / "data", *extra, env=env)
        servers.append(server)
        return server

    yield _serve
    for server in servers:
        server.stop()
