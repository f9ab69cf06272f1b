"""How `squall ls` describes a function's routes."""

from __future__ import annotations

import pytest

from squall.gateway.management import describe_route
from squall.manifest.spec import ApiType, HttpEvent


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (HttpEvent("GET", "/hello/{name}"), "GET /hello/{name}"),
        (HttpEvent("ANY", "/v1/{proxy+}", "1.0"), "ANY /v1/{proxy+} (REST 1.0)"),
        (HttpEvent("GET", "/old", "1.0", api=ApiType.HTTP), "GET /old (HTTP 1.0)"),
        (HttpEvent("ANY", "$default", "2.0"), "$default"),
        (HttpEvent("POST", "/items", "1.0", "Prod", qualifier="live"), "POST /items (REST 1.0) -> live"),
        # An HTTP API with a named stage serves its routes only under the stage.
        (HttpEvent("GET", "/hello/{name}", stage="dev"), "GET /dev/hello/{name}"),
        (HttpEvent("GET", "/", stage="dev"), "GET /dev"),
        (HttpEvent("ANY", "$default", stage="dev"), "$default under /dev"),
    ],
)
def test_route_description(event: HttpEvent, text: str) -> None:
    assert describe_route(event) == text
