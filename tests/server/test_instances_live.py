"""Instances of a running server: warm reuse, provisioned instances, replacement after a crash."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from live_server import HEALTH_PATH, instance_counts


@pytest.fixture(scope="module")
def server(serve_module: Any) -> Any:
    return serve_module("instances")


@pytest.fixture(scope="module")
def client(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.endpoint, timeout=20) as http:
        yield http


def counted(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def test_provisioned_instance_idle_before_call(server: Any, client: httpx.Client) -> None:
    assert instance_counts(server.endpoint, "standby") == {"idle": 1, "busy": 0, "waiting": 0, "provisioned_ready": 1}
    assert instance_counts(server.endpoint, "counter") == {"idle": 0, "busy": 0, "waiting": 0, "provisioned_ready": 0}

    served = counted(client.get("/standby"))

    assert served["initialization"] == "provisioned-concurrency"
    assert served["calls"] == 1


def test_warm_instance_reused(client: httpx.Client) -> None:
    first = counted(client.get("/counter"))
    second = counted(client.get("/counter"))

    assert second["pid"] == first["pid"]
    assert second["calls"] == first["calls"] + 1


def test_crash_replaces_instance(server: Any, client: httpx.Client) -> None:
    before = counted(client.get("/counter"))

    crashed = client.get("/counter", params={"crash": "1"})
    after = counted(client.get("/counter"))

    assert crashed.status_code == 500
    assert crashed.json() == {"message": "Internal Server Error"}
    assert after["pid"] != before["pid"]
    assert after["calls"] == 1
    assert server.process.poll() is None


def test_server_healthy_after_crash(client: httpx.Client) -> None:
    response = client.get(HEALTH_PATH)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
