"""The `squall` command line against a running server, run as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from live_server import copy_app, wait_for

INVOCATIONS = 3


@pytest.fixture(scope="module")
def server(serve_module: Any) -> Any:
    return serve_module("cli")


@pytest.fixture
def squall(server: Any, tmp_path: Path) -> Any:
    """Run `python -m squall ARGS --endpoint URL` in an empty folder and return the completed process."""

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "squall", *arguments, "--endpoint", server.endpoint],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def test_ls_lists_function(squall: Any) -> None:
    result = squall("ls")

    assert result.returncode == 0, result.stderr
    assert "greet" in result.stdout
    assert "GET /greet/{name}" in result.stdout
    assert "256 MB" in result.stdout


def test_invoke_prints_result_and_tail(squall: Any) -> None:
    result = squall("invoke", "greet", "--payload", '{"name": "Ada"}', "--log-tail")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"greeting": "hello Ada"}
    assert re.search(r"^START RequestId: \S+ Version: \$LATEST$", result.stderr, re.MULTILINE)
    assert "greeting Ada" in result.stderr
    assert re.search(r"^REPORT RequestId: \S+\tDuration: ", result.stderr, re.MULTILINE)


def test_logs_show_invocations(squall: Any) -> None:
    squall("invoke", "greet", "--payload", '{"name": "Grace"}')

    result = squall("logs", "greet")

    assert result.returncode == 0, result.stderr
    assert "greeting Grace" in result.stdout
    assert "START RequestId:" in result.stdout
    assert "REPORT RequestId:" in result.stdout


def test_stats_count_invocations(server: Any, squall: Any) -> None:
    before = _invocations(server.endpoint)
    for index in range(INVOCATIONS):
        assert squall("invoke", "greet", "--payload", json.dumps({"name": f"n{index}"})).returncode == 0
    # Records reach the store through a background writer, so wait for them.
    counted = wait_for(lambda: _invocations(server.endpoint) >= before + INVOCATIONS, timeout_s=10)
    assert counted, "the invocations never showed in the statistics"

    result = squall("stats")

    assert result.returncode == 0, result.stderr
    row = next(line.split() for line in result.stdout.splitlines() if line.startswith("greet"))
    assert row[1] == str(_invocations(server.endpoint))
    assert row[2] == "0"  # errors


def test_invoke_unknown_function_fails(squall: Any) -> None:
    result = squall("invoke", "nobody")

    assert result.returncode == 1
    assert "ResourceNotFoundException" in result.stderr


def _invocations(endpoint: str) -> int:
    rows = httpx.get(endpoint + "/_squall/api/stats", timeout=10).json()["functions"]
    return next((row["invocations"] for row in rows if row["name"] == "greet"), 0)


def test_stats_at_custom_price(server: Any, squall: Any) -> None:
    assert squall("invoke", "greet", "--payload", '{"name": "Lin"}').returncode == 0
    assert wait_for(lambda: _invocations(server.endpoint) >= 1, timeout_s=10)
    invocations = _invocations(server.endpoint)

    # One dollar a request and nothing for duration: the cost is the request count.
    result = squall("stats", "--price-request", "1", "--price-gb-second", "0")

    assert result.returncode == 0, result.stderr
    row = next(line.split() for line in result.stdout.splitlines() if line.startswith("greet"))
    assert row[-2] == f"${invocations:,.2f}"  # the last column is the hour's sparkline
    assert "'custom'" in result.stdout


def test_stats_rejects_negative_price(squall: Any) -> None:
    result = squall("stats", "--price-request", "-1")

    assert result.returncode == 2
    assert "-1" in result.stderr


def test_deploy_says_when_unchanged(serve: Any, tmp_path: Path) -> None:
    folder = copy_app("cli", tmp_path / "app")
    server = serve(folder, "--no-watch")

    def deploy() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "squall", "deploy", str(folder), "--endpoint", server.endpoint],
            capture_output=True, text=True, timeout=120,
        )

    again = deploy()
    (folder / "extra.py").write_text("VALUE = 1\n")
    changed = deploy()

    # The server deployed the folder at start, so the same files again change nothing.
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("service ")
    assert "is unchanged: the server kept its running version" in again.stdout
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.startswith("deployed service ")


def test_concurrent_deploys_keep_routes(serve: Any, tmp_path: Path) -> None:
    server = serve(copy_app("cli", tmp_path / "app"), "--no-watch")
    folders = []
    for name in ("first", "second", "third"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "squall.yml").write_text(
            f"service: {name}\nfunctions:\n  {name}fn:\n    handler: app.main\n    events:\n"
            f"      - http: {{method: GET, path: /{name}/hi}}\n"
        )
        (folder / "app.py").write_text(f"def main(event, context):\n    return {{'service': '{name}'}}\n")
        folders.append(folder)

    deploys = [
        subprocess.Popen(
            [sys.executable, "-m", "squall", "deploy", str(folder), "--endpoint", server.endpoint],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for folder in folders
    ]
    outputs = [deploy.communicate(timeout=120) for deploy in deploys]

    # Each deploy switches the routes in turn, so none drops another's.
    assert [deploy.returncode for deploy in deploys] == [0, 0, 0], outputs
    for folder in folders:
        answer = httpx.get(f"{server.endpoint}/{folder.name}/hi", timeout=30)
        assert answer.status_code == 200, (folder.name, answer.text)
        assert answer.json() == {"service": folder.name}


def test_remove_warns_about_destinations(serve: Any, tmp_path: Path) -> None:
    audit = tmp_path / "audit"
    audit.mkdir()
    (audit / "squall.yml").write_text("service: audit\nfunctions:\n  auditfn: {handler: app.main}\n")
    (audit / "app.py").write_text("def main(event, context):\n    return 'noted'\n")
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "squall.yml").write_text(
        "service: shop\nfunctions:\n  worker: {handler: app.main, on_failure: {function: auditfn}}\n"
    )
    (shop / "app.py").write_text("def main(event, context):\n    raise ValueError('no')\n")
    server = serve(audit, "--no-watch")

    def squall(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "squall", *arguments, "--endpoint", server.endpoint],
            capture_output=True, text=True, timeout=120,
        )

    deployed = squall("deploy", str(shop))
    removed = squall("remove", "audit")

    assert deployed.returncode == 0, deployed.stderr
    assert removed.returncode == 0, removed.stderr
    # The removal goes ahead, as on Lambda, but warns whose records now have nowhere to go.
    assert (
        "warning: function worker of service shop sends its on_failure records to auditfn, which is gone"
        in removed.stderr
    )
