"""CORS preflight and actual requests through a running gateway, for serverless.yml and squall.yml services.

An HTTP API responds to preflight requests itself and puts its configured
headers on the function's responses, in place of the function's own. A REST
path whose route sets cors gets an OPTIONS mock method that responds to every
OPTIONS request, while the function's responses keep the headers it sets.
"""

from __future__ import annotations

import httpx
import pytest

from live_gateway import LiveGateway, StartGateway

APP_ORIGIN = "https://app.example"
DEFAULT_HEADERS = "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,X-Amz-User-Agent,X-Amzn-Trace-Id"


def _cors_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.startswith("access-control-")}


@pytest.fixture
async def serverless(start_gateway: StartGateway) -> LiveGateway:
    return await start_gateway("cors_serverless")


@pytest.fixture
async def squall(start_gateway: StartGateway) -> LiveGateway:
    return await start_gateway("cors_squall")


async def test_http_api_preflight_answered_by_gateway(serverless: LiveGateway) -> None:
    response = await serverless.client.options(
        "/items", headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"}
    )

    assert response.status_code == 204
    assert response.content == b""
    assert _cors_headers(response) == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "OPTIONS,GET,POST",
        "access-control-allow-headers": "Content-Type,Authorization",
        "access-control-max-age": "600",
    }
    assert "apigw-requestid" in response.headers
    assert serverless.records == []


async def test_http_api_preflight_other_origin(serverless: LiveGateway) -> None:
    response = await serverless.client.options(
        "/items", headers={"Origin": "https://other.example", "Access-Control-Request-Method": "GET"}
    )

    assert response.status_code == 204
    assert _cors_headers(response) == {}
    assert serverless.records == []


async def test_http_api_preflight_unlisted_method_and_headers(serverless: LiveGateway) -> None:
    # The HTTP API developer guide does not say whether API Gateway compares
    # the requested method and headers with its lists. Squall sends the lists
    # as configured, and the browser rejects what they leave out.
    response = await serverless.client.options(
        "/items",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "x-other",
        },
    )

    assert response.status_code == 204
    assert _cors_headers(response) == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "OPTIONS,GET,POST",
        "access-control-allow-headers": "Content-Type,Authorization",
        "access-control-max-age": "600",
    }
    assert serverless.records == []


async def test_http_api_preflight_path_without_route(serverless: LiveGateway) -> None:
    response = await serverless.client.options(
        "/nothing/here", headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET"}
    )

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN


async def test_http_api_options_without_preflight_headers(serverless: LiveGateway) -> None:
    # Without Access-Control-Request-Method it is no preflight, and no route takes OPTIONS /items.
    response = await serverless.client.options("/items", headers={"Origin": APP_ORIGIN})

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


async def test_http_api_response_gets_configured_headers(serverless: LiveGateway) -> None:
    response = await serverless.client.get("/items", headers={"Origin": APP_ORIGIN})

    assert response.status_code == 200
    assert response.json() == {"calls": 1, "method": None}
    # The function's own Access-Control-Allow-Origin is replaced.
    assert _cors_headers(response) == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "X-Request-Id",
    }


async def test_http_api_response_other_origin(serverless: LiveGateway) -> None:
    response = await serverless.client.post("/items/7", headers={"Origin": "https://other.example"})

    assert response.status_code == 200
    assert _cors_headers(response) == {}


# The HTTP API developer guide documents the configured headers on the
# integration's responses only. Squall adds none to the gateway's own errors.
@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/nothing/here", 404, {"message": "Not Found"}),
        ("/fail", 500, {"message": "Internal Server Error"}),
    ],
    ids=["no-route", "function-error"],
)
async def test_http_api_gateway_error_without_cors(
    serverless: LiveGateway, path: str, status: int, body: dict[str, str]
) -> None:
    response = await serverless.client.get(path, headers={"Origin": APP_ORIGIN})

    assert response.status_code == status
    assert response.json() == body
    assert _cors_headers(response) == {}


async def test_http_api_malformed_response_gets_cors(serverless: LiveGateway) -> None:
    # NOTE: this 500 is also the gateway's own, but it is built where the
    # function's responses are, so it gets the configured headers, unlike the
    # 500 of a function error.
    response = await serverless.client.get("/malformed", headers={"Origin": APP_ORIGIN})

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN


async def test_rest_gateway_error_without_cors(serverless: LiveGateway) -> None:
    # A REST API adds CORS headers to its gateway responses only when they are
    # configured (API Gateway's "gateway responses"), and Squall configures none.
    response = await serverless.client.delete("/prod/rest/items", headers={"Origin": APP_ORIGIN})

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert _cors_headers(response) == {}


async def test_rest_preflight_mock_method(serverless: LiveGateway) -> None:
    response = await serverless.client.options("/prod/rest/items", headers={"Origin": "https://shop.example.com"})

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"
    assert "x-amzn-requestid" in response.headers
    # The origin matches the wildcard entry, so it is sent back.
    assert _cors_headers(response) == {
        "access-control-allow-origin": "https://shop.example.com",
        "access-control-allow-headers": "X-Custom",
        "access-control-allow-methods": "OPTIONS,PUT",
        "access-control-allow-credentials": "true",
        "access-control-max-age": "300",
    }
    assert response.headers["cache-control"] == "max-age=300"
    assert serverless.records == []


async def test_rest_preflight_unmatched_origin(serverless: LiveGateway) -> None:
    response = await serverless.client.options("/rest/items", headers={"Origin": "https://other.example"})

    assert response.status_code == 200
    # The first listed origin, as the Framework's mock sends it.
    assert response.headers["access-control-allow-origin"] == "https://*.example.com"


async def test_rest_cors_true_defaults(serverless: LiveGateway) -> None:
    response = await serverless.client.options("/rest/public")

    assert response.status_code == 200
    assert _cors_headers(response) == {
        "access-control-allow-origin": "*",
        "access-control-allow-headers": DEFAULT_HEADERS,
        "access-control-allow-methods": "OPTIONS,GET",
    }


async def test_rest_response_keeps_function_headers(serverless: LiveGateway) -> None:
    response = await serverless.client.get("/rest/items", headers={"Origin": APP_ORIGIN})

    assert response.status_code == 200
    assert _cors_headers(response) == {"access-control-allow-origin": "https://function.example"}


async def test_squall_yml_http_api_preflight(squall: LiveGateway) -> None:
    response = await squall.client.options(
        "/things", headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET"}
    )

    assert response.status_code == 204
    assert _cors_headers(response) == {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "OPTIONS,GET",
        "access-control-allow-headers": "content-type",
        "access-control-max-age": "0",
    }
    assert squall.records == []


async def test_squall_yml_http_api_response(squall: LiveGateway) -> None:
    response = await squall.client.get("/things", headers={"Origin": APP_ORIGIN})

    assert response.status_code == 200
    assert _cors_headers(response) == {"access-control-allow-origin": "*"}


async def test_squall_yml_rest_any_route(squall: LiveGateway) -> None:
    preflight = await squall.client.options("/v1/orders/7", headers={"Origin": APP_ORIGIN})
    actual = await squall.client.get("/v1/orders/7", headers={"Origin": APP_ORIGIN})

    assert preflight.status_code == 200
    assert _cors_headers(preflight) == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-headers": DEFAULT_HEADERS,
        "access-control-allow-methods": "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT",
    }
    assert actual.status_code == 200
    assert actual.json() == {"calls": 1, "method": "GET"}
    assert _cors_headers(actual) == {"access-control-allow-origin": "https://function.example"}


@pytest.fixture
async def sam(start_gateway: StartGateway) -> LiveGateway:
    return await start_gateway("cors_sam")


async def test_sam_http_api_preflight(sam: LiveGateway) -> None:
    response = await sam.client.options(
        "/items", headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET"}
    )

    assert response.status_code == 204
    # SAM sends no AllowHeaders it was not given.
    assert _cors_headers(response) == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-methods": "GET,POST",
        "access-control-max-age": "60",
    }
    assert sam.records == []


async def test_sam_http_api_response(sam: LiveGateway) -> None:
    response = await sam.client.get("/items", headers={"Origin": APP_ORIGIN})

    assert response.status_code == 200
    assert _cors_headers(response) == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-expose-headers": "X-Total",
    }


async def test_sam_rest_api_mock_method(sam: LiveGateway) -> None:
    response = await sam.client.options("/v1/orders", headers={"Origin": APP_ORIGIN})

    assert response.status_code == 200
    # Without AllowMethods, SAM lists OPTIONS and the path's methods, sorted.
    assert _cors_headers(response) == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-headers": "Content-Type, X-Token",
        "access-control-allow-methods": "GET,OPTIONS,POST",
        "access-control-allow-credentials": "true",
        "access-control-max-age": "600",
    }
    assert sam.records == []
