"""REST API routes requested under their stage, beside an HTTP API catch-all, on a running gateway.

apps/staged is a serverless.yml service with stage prod: REST routes
GET /short-rest/{id} and GET /items/{id}, an HTTP API route GET /prod/items/{id},
and an HTTP API catch-all (`httpApi: "*"`).
"""

from __future__ import annotations

import pytest

from live_gateway import StartGateway


@pytest.mark.parametrize(
    ("path", "function", "version", "event_path"),
    [
        ("/prod/short-rest/2", "short", "1.0", "/short-rest/2"),
        ("/short-rest/2", "short", "1.0", "/short-rest/2"),
        ("/prod/items/2", "literal", "2.0", "/prod/items/2"),
        ("/prod/elsewhere", "site", "2.0", "/prod/elsewhere"),
        ("/dev/short-rest/2", "site", "2.0", "/dev/short-rest/2"),
    ],
)
async def test_staged_path_routing(
    start_gateway: StartGateway, path: str, function: str, version: str, event_path: str
) -> None:
    gateway = await start_gateway("staged")

    response = await gateway.client.get(path)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["function"] == function
    assert body["version"] == version
    assert body["path"] == event_path


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("DELETE", "/a/b%20c")])
async def test_catch_all_is_the_default_route(start_gateway: StartGateway, method: str, path: str) -> None:
    # serverless.yml's `httpApi: "*"` is the HTTP API's $default route.
    gateway = await start_gateway("staged")

    response = await gateway.client.request(method, path)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["function"] == "site"
    assert body["routeKey"] == "$default"
    assert body["pathParameters"] is None
