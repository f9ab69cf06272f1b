"""The token that guards the management and Invoke APIs of a server bound beyond loopback."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from squall.gateway.app import GatewayApp
from squall.gateway.router import Router
from squall.server import TokenFileError, is_loopback, load_or_create_token

TOKEN = "s3cret-token"


def fake_platform() -> SimpleNamespace:
    dispatcher = SimpleNamespace(pools={}, services={}, arn=lambda name: f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
                                 settings=SimpleNamespace(region="us-east-1"))
    return SimpleNamespace(dispatcher=dispatcher, router=Router([]), async_invoker=None, hub=None)


def client(token: str | None) -> httpx.AsyncClient:
    app = GatewayApp(fake_platform(), token)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://squall.test")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
        ({"Authorization": f"Bearer {TOKEN}"}, 200),
        ({"Authorization": f"bearer {TOKEN}"}, 200),
    ],
)
async def test_management_api_needs_token(headers: dict[str, str], status: int) -> None:
    async with client(TOKEN) as http:
        answer = await http.get("/_squall/api/health", headers=headers)
    assert answer.status_code == status
    if status == 401:
        assert "token" in answer.json()["error"]["message"]


async def test_invoke_api_rejects_missing_token() -> None:
    async with client(TOKEN) as http:
        answer = await http.post("/2015-03-31/functions/greet/invocations", content=b"{}")
    assert answer.status_code == 403
    assert answer.headers["x-amzn-errortype"] == "UnrecognizedClientException"


async def test_wrong_token_named_as_wrong() -> None:
    wrong = {"Authorization": "Bearer wrong"}
    async with client(TOKEN) as http:
        management = await http.get("/_squall/api/health", headers=wrong)
        invoke = await http.post("/2015-03-31/functions/greet/invocations", content=b"{}", headers=wrong)
        missing = await http.get("/_squall/api/health")

    # A wrong token is not reported as a missing one.
    assert management.json()["error"]["message"].startswith("this server rejected the bearer token")
    assert invoke.status_code == 403
    assert invoke.json()["message"].startswith("this server rejected the bearer token")
    assert missing.json()["error"]["message"].startswith("this server requires a token")


async def test_no_token_needed_on_loopback() -> None:
    async with client(None) as http:
        answer = await http.get("/_squall/api/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


async def test_function_routes_need_no_token() -> None:
    async with client(TOKEN) as http:
        answer = await http.get("/anything")
    assert answer.status_code == 404
    assert answer.json() == {"message": "Not Found"}


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.0.0.9", True), ("0.0.0.0", False), ("192.0.2.1", False), ("::", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_token_file_is_owner_only_and_stable(tmp_path: Path) -> None:
    first = load_or_create_token(tmp_path)
    second = load_or_create_token(tmp_path)

    mode = stat.S_IMODE(os.stat(tmp_path / "token").st_mode)
    assert mode == 0o600
    assert first == second
    assert len(first) >= 32


def test_open_token_file_made_private(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "token"
    path.write_text("my-token\n")
    path.chmod(0o644)

    token = load_or_create_token(tmp_path)

    assert token == "my-token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "was readable by others (mode 644)" in caplog.text


def test_empty_token_file_is_refused(tmp_path: Path) -> None:
    # An empty token would leave the APIs open on a non-loopback address.
    (tmp_path / "token").write_text("\n")

    with pytest.raises(TokenFileError, match="is empty: delete it"):
        load_or_create_token(tmp_path)
