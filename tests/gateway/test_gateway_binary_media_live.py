"""A PNG image returned through REST routes on a running server, binary or base64 by the API's binaryMediaTypes.

apps/binary_media is a serverless.yml whose REST API lists image/png, and
apps/binary_media_sam a SAM template with two REST APIs. As API Gateway
does, a REST route sends the image as binary only when the request's first
Accept media type matches, and the base64 text otherwise. An HTTP API route
always sends it as binary.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from live_gateway import LiveGateway, StartGateway

APPS = Path(__file__).resolve().parent / "apps"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def gateway(start_gateway: StartGateway) -> LiveGateway:
    return await start_gateway("binary_media")


@pytest.mark.parametrize(
    ("path", "accept", "binary"),
    [
        ("/image", "image/png", True),
        ("/dev/image", "image/png;q=0.9, */*;q=0.1", True),
        # A browser's <img> request: image/webp comes first and is not listed.
        ("/image", "image/webp,image/png,image/*,*/*;q=0.8", False),
        ("/image", "*/*", False),
        ("/image", "text/html", False),
        # An HTTP API has no binary media types and decodes whatever the client accepts.
        ("/http-api/image", "text/html", True),
    ],
    ids=["accept-png", "accept-png-with-q", "browser-accept", "accept-any", "accept-html", "http-api"],
)
async def test_png_response_by_accept(gateway: LiveGateway, path: str, accept: str, binary: bool) -> None:
    response = await gateway.client.get(path, headers={"Accept": accept})

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    if binary:
        assert response.content == PNG
        assert response.content.startswith(PNG_SIGNATURE)
    else:
        assert response.content == base64.b64encode(PNG)


@pytest.mark.parametrize(
    ("content_type", "is_base64"),
    [("image/png", True), ("text/plain", False), ("application/json", False)],
)
async def test_request_body_base64_by_content_type(gateway: LiveGateway, content_type: str, is_base64: bool) -> None:
    # The body is valid UTF-8, so only the binary media types make it base64.
    response = await gateway.client.post("/echo", content=b"plain text", headers={"Content-Type": content_type})
    event = response.json()

    assert response.status_code == 200
    assert event["isBase64Encoded"] is is_base64
    assert event["body"] == ("cGxhaW4gdGV4dA==" if is_base64 else "plain text")


@pytest.mark.parametrize(
    ("path", "accept", "binary"),
    [
        # SAM's own API: Globals.Api lists image/png.
        ("/Prod/image", "image/png", True),
        ("/Prod/image", "*/*", False),
        # PhotosApi adds "*/*", so any first Accept value gets binary.
        ("/v1/photo", "text/html,application/xhtml+xml,*/*;q=0.8", True),
        ("/v1/photo", "*/*", True),
    ],
)
def test_sam_template_png_response(serve: Any, tmp_path: Path, path: str, accept: str, binary: bool) -> None:
    folder = shutil.copytree(APPS / "binary_media_sam", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    server = serve(folder, "--no-watch")

    with httpx.Client(base_url=server.endpoint, timeout=20) as client:
        response = client.get(path, headers={"Accept": accept})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content == (PNG if binary else base64.b64encode(PNG))
