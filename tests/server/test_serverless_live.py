"""Serverless Framework services of tests/manifest/fixtures, deployed by `squall up` and called over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "manifest" / "fixtures"


@pytest.fixture(scope="module")
def http_api(serve_module: Any) -> Iterator[httpx.Client]:
    server = serve_module(FIXTURES / "python-http-api")
    with httpx.Client(base_url=server.endpoint, timeout=20) as http:
        yield http


@pytest.fixture(scope="module")
def rest_api(serve_module: Any) -> Iterator[httpx.Client]:
    server = serve_module(FIXTURES / "python-rest-api")
    with httpx.Client(base_url=server.endpoint, timeout=20) as http:
        yield http


def test_http_api_clock(http_api: httpx.Client) -> None:
    response = http_api.get("/")
    body = response.json()

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert re.fullmatch(r"Hello from Squall, the time is \d{2}:\d{2}:\d{2} UTC\.", body["message"])
    assert abs(datetime.fromisoformat(body["time"]) - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_http_api_other_route_not_found(http_api: httpx.Client) -> None:
    response = http_api.get("/elsewhere")

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_rest_api_create_item(rest_api: httpx.Client) -> None:
    response = rest_api.post("/items", json={"text": "buy milk"})
    item = response.json()

    assert response.status_code == 201
    assert item["text"] == "buy milk"
    assert re.fullmatch(r"[0-9a-f-]{36}", item["id"])


def test_rest_api_rejects_bad_body(rest_api: httpx.Client) -> None:
    response = rest_api.post("/items", json={"title": "no text"})

    assert response.status_code == 400
    assert response.json() == {"error": 'expected a JSON object with a string "text"'}


def test_rest_api_list_items(rest_api: httpx.Client) -> None:
    # Each function keeps items in its own process, so `list` cannot read what `create` stored.
    response = rest_api.get("/items")

    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(
    ("method", "body"), [("GET", None), ("PUT", {"text": "changed"}), ("DELETE", None)]
)
def test_rest_api_item_path_parameter(rest_api: httpx.Client, method: str, body: Any) -> None:
    response = rest_api.request(method, "/items/item-42", json=body)

    assert response.status_code == 404
    assert response.json() == {"error": "item not found: item-42"}


def test_rest_api_serves_under_its_stage(rest_api: httpx.Client) -> None:
    # API Gateway serves a REST API under its stage, as in https://ID.execute-api.REGION.amazonaws.com/dev/items.
    response = rest_api.get("/dev/items")

    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("path", ["/nothing-here", "/dev/nothing-here", "/prod/items"])
def test_rest_api_unknown_route(rest_api: httpx.Client, path: str) -> None:
    # A REST API returns 403 for an unrouted request. "/prod" is not this API's stage.
    response = rest_api.get(path)

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
