"""The HTTP gateway of a running server: events in, responses out, API Gateway's own errors.

Routes under /rest are REST API (payload 1.0) routes; the others are HTTP API
(payload 2.0) routes. The last test checks that the server outlived every
failure the earlier tests caused, so it relies on pytest's file order.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from live_server import HEALTH_PATH, instance_counts, wait_for

V2 = ""
V1 = "/rest"
# API Gateway's limit on a request body is Lambda's synchronous payload limit of 6 MB.
MAX_BODY_BYTES = 6 * 1024 * 1024
BINARY = bytes([0, 1, 2, 0x80, 0xFE, 0xFF])


@pytest.fixture(scope="module")
def server(serve_module: Any) -> Any:
    return serve_module("gateway")


@pytest.fixture(scope="module")
def client(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.endpoint, timeout=20) as http:
        yield http


def event_of(response: httpx.Response) -> dict[str, Any]:
    """Return the event the `echo` function received, after checking that the call succeeded."""
    assert response.status_code == 200, response.text
    return response.json()


# Requests into the function


@pytest.mark.parametrize(
    ("prefix", "order_id"), [(V2, "a b"), (V1, "a%20b")], ids=["payload2", "payload1"]
)
def test_path_parameters_reach_handler(client: httpx.Client, prefix: str, order_id: str) -> None:
    event = event_of(client.get(f"{prefix}/users/42/orders/a%20b"))

    # An HTTP API decodes path parameters; a REST API passes them as the client encoded them.
    assert event["pathParameters"] == {"user_id": "42", "order_id": order_id}


def test_route_key_payload2(client: httpx.Client) -> None:
    event = event_of(client.get("/users/1/orders/2"))

    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /users/{user_id}/orders/{order_id}"
    assert event["rawPath"] == "/users/1/orders/2"


def test_resource_payload1(client: httpx.Client) -> None:
    event = event_of(client.get("/rest/users/1/orders/2"))

    assert event["version"] == "1.0"
    assert event["resource"] == "/rest/users/{user_id}/orders/{order_id}"
    assert event["httpMethod"] == "GET"
    assert event["path"] == "/rest/users/1/orders/2"


@pytest.mark.parametrize("prefix", [V2, V1], ids=["payload2", "payload1"])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_greedy_proxy_path(client: httpx.Client, prefix: str, method: str) -> None:
    event = event_of(client.request(method, f"{prefix}/files/reports/2024/summary.txt"))

    assert event["pathParameters"] == {"proxy": "reports/2024/summary.txt"}


def test_repeated_query_payload2(client: httpx.Client) -> None:
    event = event_of(client.get("/users/1/orders/2?tag=a&tag=b&q=x+y"))

    assert event["rawQueryString"] == "tag=a&tag=b&q=x+y"
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "x y"}


def test_repeated_query_payload1(client: httpx.Client) -> None:
    event = event_of(client.get("/rest/users/1/orders/2?tag=a&tag=b&q=x+y"))

    assert event["queryStringParameters"] == {"tag": "b", "q": "x y"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "q": ["x y"]}


def test_repeated_headers_payload2(client: httpx.Client) -> None:
    headers = [("X-Trace", "one"), ("X-Trace", "two"), ("X-Single", "only")]
    event = event_of(client.get("/users/1/orders/2", headers=headers))

    assert event["headers"]["x-trace"] == "one,two"
    assert event["headers"]["x-single"] == "only"


def test_repeated_headers_payload1(client: httpx.Client) -> None:
    headers = [("X-Trace", "one"), ("X-Trace", "two"), ("X-Single", "only")]
    event = event_of(client.get("/rest/users/1/orders/2", headers=headers))

    assert event["multiValueHeaders"]["x-trace"] == ["one", "two"]
    assert event["headers"]["x-trace"] == "two"
    assert event["headers"]["x-single"] == "only"


def test_cookies_payload2(client: httpx.Client) -> None:
    event = event_of(client.get("/users/1/orders/2", headers={"Cookie": "session=abc; theme=dark"}))

    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]


def test_cookies_payload1(client: httpx.Client) -> None:
    event = event_of(client.get("/rest/users/1/orders/2", headers={"Cookie": "session=abc; theme=dark"}))

    assert event["headers"]["cookie"] == "session=abc; theme=dark"


@pytest.mark.parametrize("prefix", [V2, V1], ids=["payload2", "payload1"])
def test_json_body_arrives_as_text(client: httpx.Client, prefix: str) -> None:
    document = {"name": "Ada", "tags": ["x", "y"], "size": 3}
    event = event_of(client.post(f"{prefix}/echo", json=document))

    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == document


@pytest.mark.parametrize("prefix", [V2, V1], ids=["payload2", "payload1"])
def test_binary_body_arrives_base64(client: httpx.Client, prefix: str) -> None:
    event = event_of(
        client.post(f"{prefix}/echo", content=BINARY, headers={"Content-Type": "application/octet-stream"})
    )

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == BINARY


# Responses out of the function


@dataclass(frozen=True)
class ResponseCase:
    """A handler result and the HTTP response a client should receive for it."""

    prefix: str
    result: Any
    status: int
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes | None = None  # the exact body, when the case fixes it
    body_contains: str | None = None


RESPONSE_CASES = {
    "proxy-payload2": ResponseCase(
        V2,
        {"statusCode": 201, "headers": {"content-type": "text/plain", "x-custom": "yes"}, "body": "created"},
        201,
        {"content-type": ["text/plain"], "x-custom": ["yes"]},
        b"created",
    ),
    "proxy-payload1": ResponseCase(
        V1,
        {"statusCode": 201, "headers": {"content-type": "text/plain", "x-custom": "yes"}, "body": "created"},
        201,
        {"content-type": ["text/plain"], "x-custom": ["yes"]},
        b"created",
    ),
    "binary-payload2": ResponseCase(
        V2,
        {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": base64.b64encode(BINARY).decode(),
            "isBase64Encoded": True,
        },
        200,
        {"content-type": ["application/octet-stream"]},
        BINARY,
    ),
    # A REST API without binaryMediaTypes sends the base64 text as it is.
    "binary-payload1": ResponseCase(
        V1,
        {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": base64.b64encode(BINARY).decode(),
            "isBase64Encoded": True,
        },
        200,
        {"content-type": ["application/octet-stream"]},
        base64.b64encode(BINARY),
    ),
    "cookies-payload2": ResponseCase(
        V2,
        {"statusCode": 200, "cookies": ["session=abc; Path=/; HttpOnly", "theme=dark"], "body": "ok"},
        200,
        {"set-cookie": ["session=abc; Path=/; HttpOnly", "theme=dark"]},
        b"ok",
    ),
    "multi-value-headers-payload1": ResponseCase(
        V1,
        {
            "statusCode": 200,
            "headers": {"x-single": "one"},
            "multiValueHeaders": {"x-many": ["a", "b"], "set-cookie": ["a=1", "b=2"]},
            "body": "ok",
        },
        200,
        {"x-single": ["one"], "x-many": ["a", "b"], "set-cookie": ["a=1", "b=2"]},
        b"ok",
    ),
    "status-only-payload1": ResponseCase(V1, {"statusCode": 204}, 204, body=b""),
    "bare-dict-payload2": ResponseCase(
        V2, {"hello": "world", "n": 1}, 200, {"content-type": ["application/json"]}, b'{"hello": "world", "n": 1}'
    ),
    # NOTE: whether API Gateway keeps the JSON quotes around a bare string is
    # not settled by its documentation, so only the text itself is checked.
    "bare-string-payload2": ResponseCase(V2, "plain words", 200, {"content-type": ["application/json"]}, None, "plain words"),
}


@pytest.mark.parametrize("case", RESPONSE_CASES.values(), ids=RESPONSE_CASES.keys())
def test_handler_result_mapped_to_response(client: httpx.Client, case: ResponseCase) -> None:
    response = client.post(f"{case.prefix}/respond", json={"result": case.result})

    assert response.status_code == case.status, response.text
    for name, values in case.headers.items():
        assert response.headers.get_list(name) == values, name
    if case.body is not None:
        assert response.content == case.body
    if case.body_contains is not None:
        assert case.body_contains in response.text


def test_dict_without_status_is_error_payload1(client: httpx.Client) -> None:
    response = client.post("/rest/respond", json={"result": {"hello": "world"}})

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


# API Gateway's own error responses


def test_unknown_route_payload2_app(client: httpx.Client) -> None:
    response = client.get("/no/such/route")

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_method_not_routed(client: httpx.Client) -> None:
    response = client.delete("/echo")

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/fail", 500, {"message": "Internal Server Error"}),
        ("/rest/fail", 502, {"message": "Internal server error"}),
    ],
    ids=["payload2", "payload1"],
)
def test_handler_exception_status(client: httpx.Client, path: str, status: int, body: dict[str, str]) -> None:
    response = client.get(path)

    assert response.status_code == status
    assert response.json() == body


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/slow", 500, {"message": "Internal Server Error"}),
        ("/rest/slow", 502, {"message": "Internal server error"}),
    ],
    ids=["payload2", "payload1"],
)
def test_function_timeout_is_function_error(
    client: httpx.Client, path: str, status: int, body: dict[str, str]
) -> None:
    # Lambda reports its own timeout as a function error, and API Gateway
    # responds to it as to any other. 504 and 503 are for its integration timeout.
    response = client.get(path)

    assert response.status_code == status
    assert response.json() == body


@pytest.mark.parametrize("path", ["/closed", "/rest/closed"], ids=["payload2", "payload1"])
def test_zero_reserved_concurrency_throttles(client: httpx.Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 429
    assert response.json() == {"message": "Too Many Requests"}


def test_busy_single_instance_throttles(server: Any, client: httpx.Client) -> None:
    first_call: dict[str, httpx.Response] = {}

    def hold_instance() -> None:
        with httpx.Client(base_url=server.endpoint, timeout=20) as other:
            first_call["response"] = other.get("/single", params={"seconds": "2"})

    holder = threading.Thread(target=hold_instance)
    holder.start()
    try:
        busy = wait_for(lambda: instance_counts(server.endpoint, "single")["busy"] == 1, timeout_s=10)
        assert busy, "the first call never occupied the only instance"

        second = client.get("/single")
        second_rest = client.get("/rest/single")
    finally:
        holder.join(timeout=20)

    assert second.status_code == 429
    assert second_rest.status_code == 429
    assert first_call["response"].status_code == 200
    assert first_call["response"].text == "released"


@pytest.mark.parametrize(
    ("path", "message"),
    [("/echo", "Request Entity Too Large"), ("/rest/echo", "Request Too Long")],
    ids=["payload2", "payload1"],
)
def test_body_over_6mb_rejected(client: httpx.Client, path: str, message: str) -> None:
    response = client.post(path, content=b"x" * (MAX_BODY_BYTES + 1), headers={"Content-Type": "text/plain"})

    assert response.status_code == 413
    assert response.json() == {"message": message}


def test_server_survives_failures(server: Any, client: httpx.Client) -> None:
    response = client.get(HEALTH_PATH)

    assert server.process.poll() is None
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert event_of(client.get("/users/1/orders/2"))["pathParameters"] == {"user_id": "1", "order_id": "2"}
