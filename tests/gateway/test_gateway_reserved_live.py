"""Deploys that route a function to a path Squall serves itself fail, through `squall deploy` and `squall up`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from squall.cli import cli

RESERVED_TEXT = "GET /metrics, and /ui, /_squall, /2015-03-31, /2024-08-31 and every path under them"
UP_TIMEOUT_S = 60.0
HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'from the function'}\n"


def write_app(folder: Path, function: str, method: str, path: str) -> Path:
    """Write a service named after its one function, whose route is METHOD PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(HANDLER)
    (folder / "squall.yml").write_text(
        f"service: {function}-service\nfunctions:\n  {function}:\n    handler: app.handler\n"
        f"    events:\n      - http: {{method: {method}, path: \"{path}\"}}\n"
    )
    return folder


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/metrics"),
        ("GET", "/ui"),
        ("ANY", "/ui/{proxy+}"),
        ("POST", "/_squall/api/services/{name}"),
        ("POST", "/2015-03-31/functions/{name}/invocations"),
    ],
)
def test_deploy_rejects_reserved_route(serve: Any, tmp_path: Path, method: str, path: str) -> None:
    server = serve(write_app(tmp_path / "first", "first", "GET", "/first"), "--no-watch")
    hidden = write_app(tmp_path / "second", "hidden", method, path)

    deploy = CliRunner().invoke(cli, ["deploy", str(hidden), "--endpoint", server.endpoint])
    health = httpx.get(server.endpoint + "/_squall/api/health", timeout=10)

    assert deploy.exit_code == 1
    assert f"function 'hidden': http route '{path}'" in deploy.output
    assert RESERVED_TEXT in deploy.output
    assert health.status_code == 200


def test_deploy_allows_catch_all(serve: Any, tmp_path: Path) -> None:
    server = serve(write_app(tmp_path / "first", "first", "GET", "/first"), "--no-watch")
    catch_all = write_app(tmp_path / "second", "site", "ANY", "/{proxy+}")

    deploy = CliRunner().invoke(cli, ["deploy", str(catch_all), "--endpoint", server.endpoint])
    routed = httpx.get(server.endpoint + "/anything/else", timeout=10)
    health = httpx.get(server.endpoint + "/_squall/api/health", timeout=10)

    assert deploy.exit_code == 0, deploy.output
    assert routed.text == "from the function"
    assert health.json()["status"] == "ok"


@pytest.mark.parametrize("path", ["/_squall", "/_squall/other", "/2015-03-31"])
def test_catch_all_skips_reserved_paths(serve: Any, tmp_path: Path, path: str) -> None:
    server = serve(write_app(tmp_path / "site", "site", "ANY", "/{proxy+}"), "--no-watch")

    response = httpx.get(server.endpoint + path, timeout=10)

    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"Squall serves nothing at {path}"


def test_catch_all_skips_lambda_api_paths(serve: Any, tmp_path: Path) -> None:
    server = serve(write_app(tmp_path / "site", "site", "ANY", "/{proxy+}"), "--no-watch")

    response = httpx.get(server.endpoint + "/2015-03-31/layers", timeout=10)

    # A Lambda API operation Squall does not serve gets an error in AWS's shape.
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "UnsupportedOperationException"
    assert "GET /2015-03-31/layers" in response.json()["message"]


def test_rejected_deploy_is_logged(serve: Any, tmp_path: Path) -> None:
    server = serve(write_app(tmp_path / "first", "first", "GET", "/first"), "--no-watch")
    hidden = write_app(tmp_path / "second", "hidden", "GET", "/metrics")

    CliRunner().invoke(cli, ["deploy", str(hidden), "--endpoint", server.endpoint])
    # A thread copies the server's output into server.output as it comes.
    deadline = time.monotonic() + UP_TIMEOUT_S
    while not any("deploy failed" in line for line in server.output) and time.monotonic() < deadline:
        time.sleep(0.05)

    failed = [line for line in server.output if "deploy failed" in line]
    assert failed
    assert "the running version keeps serving: " in failed[0]
    assert "function 'hidden': http route '/metrics'" in failed[0]


def test_up_rejects_reserved_route(tmp_path: Path) -> None:
    hidden = write_app(tmp_path / "app", "hidden", "GET", "/metrics")
    command = [sys.executable, "-m", "squall", "up", str(hidden), "--port", "0", "--data", str(tmp_path / "data")]

    finished = subprocess.run(command, capture_output=True, text=True, timeout=UP_TIMEOUT_S)

    assert finished.returncode == 2
    assert "function 'hidden': http route '/metrics'" in finished.stderr
    assert "Prometheus metrics endpoint" in finished.stderr
    assert RESERVED_TEXT in finished.stderr
