"""The SDK names its endpoint when no server listens there."""

from __future__ import annotations

import socket

import pytest

from squall.sdk.client import Client


def test_no_server_names_the_endpoint() -> None:
    # A port that was free a moment ago: nothing listens on it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Client(f"http://127.0.0.1:{port}")

    with pytest.raises(ConnectionRefusedError, match=f"no Squall server is listening at http://127.0.0.1:{port}"):
        client.request("GET", "/_squall/api/health")
