"""HEAD requests through function routes, on a running server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

MANIFEST = """\
service: heads
functions:
  page:
    handler: app.page
    events:
      - http: {method: ANY, path: /page}
      - http: {method: ANY, path: /rest/page, payload: "1.0"}
"""

HANDLER = """\
BODY = "<html>" + "x" * 379 + "</html>"

def page(event, context):
    method = event.get("httpMethod") or event["requestContext"]["http"]["method"]
    query = event.get("queryStringParameters") or {}
    # As WSGI adapters do for HEAD: the GET headers, with an empty body.
    body = "" if method == "HEAD" and "with_body" not in query else BODY
    headers = {"Content-Type": "text/html", "Content-Length": str(len(BODY))}
    return {"statusCode": 200, "headers": headers, "body": body}
"""


@pytest.fixture
def server(serve: Any, tmp_path: Path) -> Any:
    folder = tmp_path / "heads"
    folder.mkdir()
    (folder / "squall.yml").write_text(MANIFEST)
    (folder / "app.py").write_text(HANDLER)
    return serve(folder, "--no-watch")


@pytest.mark.parametrize("path", ["/page", "/rest/page"])
def test_head_without_body_no_zero_length(server: Any, path: str) -> None:
    get = httpx.get(server.endpoint + path, timeout=20)
    head = httpx.head(server.endpoint + path, timeout=20)

    assert get.headers["content-length"] == "392"
    assert head.status_code == 200
    assert head.headers.get("content-length") != "0"
    assert head.content == b""


def test_head_with_body_gives_length(server: Any) -> None:
    head = httpx.head(server.endpoint + "/page?with_body=1", timeout=20)

    assert head.headers["content-length"] == "392"
    assert head.content == b""
