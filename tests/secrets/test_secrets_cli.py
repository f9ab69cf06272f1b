"""The `squall secret` commands against a fake server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from squall.cli_client import CliContext
from squall.cli_secrets import group

ENDPOINT = "http://127.0.0.1:9"


class FakeServer:
    """A stand-in server that replies to the secrets routes as Squall does and records each request body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.answer: tuple[int, dict[str, Any]] | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        self.bodies.append(body)
        if self.answer is not None:
            return httpx.Response(self.answer[0], json=self.answer[1])
        if request.url.path.endswith("/set"):
            return httpx.Response(200, json={"name": body["name"], "created": True, "updated_at": 1.0,
                                             "redeployed": ["shop"], "redeploy_errors": {}})
        if request.url.path.endswith("/delete"):
            return httpx.Response(200, json={"name": body["name"]})
        return httpx.Response(200, json={"secrets": [{"name": "DB_PASSWORD", "updated_at": 1_700_000_000.0}]})


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def run(server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    for name in ("SQUALL_ENDPOINT", "SQUALL_TOKEN", "SQUALL_DATA"):
        monkeypatch.delenv(name, raising=False)

    def _run(*args: str, stdin: bytes | None = None) -> Result:
        settings = CliContext(transport=httpx.MockTransport(server.handle))
        return CliRunner().invoke(
            group, [*args, "--endpoint", ENDPOINT, "--data", str(tmp_path)], input=stdin, obj=settings
        )

    return _run


@pytest.mark.parametrize(
    ("stdin", "value"),
    [
        (b"hunter2\n", "hunter2"),
        (b"hunter2\r\n", "hunter2"),
        (b"hunter2", "hunter2"),
        (b"line one\nline two\n", "line one\nline two"),
        ("pässwörd\n".encode(), "pässwörd"),
    ],
)
def test_set_reads_stdin(run: Callable[..., Result], server: FakeServer, stdin: bytes, value: str) -> None:
    result = run("set", "DB_PASSWORD", stdin=stdin)

    assert result.exit_code == 0, result.output
    assert server.bodies == [{"name": "DB_PASSWORD", "value": value}]
    assert "created secret DB_PASSWORD" in result.output
    assert "shop" in result.output
    assert value not in result.output


def test_set_keep_newline(run: Callable[..., Result], server: FakeServer) -> None:
    result = run("set", "PEM", "--keep-newline", stdin=b"-----END-----\n")

    assert result.exit_code == 0, result.output
    assert server.bodies[0]["value"] == "-----END-----\n"


def test_set_from_file(run: Callable[..., Result], server: FakeServer, tmp_path: Path) -> None:
    source = tmp_path / "password.txt"
    source.write_text("from-a-file\n")

    result = run("set", "prod/db", "--from-file", str(source))

    assert result.exit_code == 0, result.output
    assert server.bodies == [{"name": "prod/db", "value": "from-a-file"}]


def test_set_missing_file(run: Callable[..., Result], server: FakeServer, tmp_path: Path) -> None:
    result = run("set", "DB", "--from-file", str(tmp_path / "absent.txt"))

    assert result.exit_code == 1
    assert "absent.txt" in result.output
    assert server.bodies == []


def test_set_rejects_value_as_argument(run: Callable[..., Result], server: FakeServer) -> None:
    result = run("set", "DB_PASSWORD", "hunter2")

    assert result.exit_code == 2
    assert server.bodies == []


@pytest.mark.parametrize(
    ("stdin", "message"),
    [(b"", "is empty"), (b"\n", "expected at least one character"), (b"\xff\xfe", "not UTF-8")],
)
def test_set_rejects_bad_input(run: Callable[..., Result], server: FakeServer, stdin: bytes, message: str) -> None:
    result = run("set", "DB_PASSWORD", stdin=stdin)

    assert result.exit_code == 1
    assert message in result.output
    assert server.bodies == []


@pytest.mark.parametrize("command", ["set", "rm"])
def test_invalid_name_is_rejected_before_sending(run: Callable[..., Result], server: FakeServer, command: str) -> None:
    result = run(command, "bad name", stdin=b"value")

    assert result.exit_code == 2
    assert "1 to 128 letters" in result.output
    assert server.bodies == []


def test_set_reports_failed_redeploy(run: Callable[..., Result], server: FakeServer) -> None:
    server.answer = (200, {"name": "DB", "created": False, "updated_at": 1.0, "redeployed": [],
                           "redeploy_errors": {"shop": "zygote did not start"}})

    result = run("set", "DB", stdin=b"value")

    assert result.exit_code == 0
    assert "updated secret DB" in result.output
    assert "shop still runs with the previous value: zygote did not start" in result.output


def test_list_shows_names(run: Callable[..., Result]) -> None:
    result = run("ls")

    assert result.exit_code == 0, result.output
    assert "DB_PASSWORD" in result.output
    assert "2023-11-14" in result.output


def test_list_as_json(run: Callable[..., Result]) -> None:
    result = run("ls", "--output", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"name": "DB_PASSWORD", "updated_at": 1_700_000_000.0}]


def test_remove(run: Callable[..., Result], server: FakeServer) -> None:
    result = run("rm", "DB_PASSWORD")

    assert result.exit_code == 0, result.output
    assert server.bodies == [{"name": "DB_PASSWORD"}]
    assert "deleted secret DB_PASSWORD" in result.output


def test_remove_in_use_shows_server_error(run: Callable[..., Result], server: FakeServer) -> None:
    server.answer = (409, {"error": {"type": "SecretInUse", "message": "secret 'DB' is referenced by shop-fn"}})

    result = run("rm", "DB")

    assert result.exit_code == 1
    assert "SecretInUse: secret 'DB' is referenced by shop-fn" in result.output


def test_set_local_before_first_start(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from squall.cli import cli
    from squall.secrets.store import open_secret_store

    data = tmp_path / "data"
    result = CliRunner().invoke(cli, ["secret", "set", "DB", "--local", "--data", str(data)], input="s3cret\n")

    assert result.exit_code == 0, result.output
    assert "created secret DB" in result.output
    store = open_secret_store(data)
    assert store.get("DB") == "s3cret"
    store.close()
