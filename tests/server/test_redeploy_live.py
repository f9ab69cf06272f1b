"""Redeploys of a running server when its folder changes: new code, requests in flight, broken manifests."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from live_server import HEALTH_PATH, copy_app, instance_counts, wait_for

REDEPLOY_TIMEOUT_S = 20.0


@pytest.fixture
def app_folder(tmp_path: Path) -> Path:
    return copy_app("redeploy", tmp_path)


def answer_of(endpoint: str, path: str = "/answer") -> str | None:
    response = httpx.get(endpoint + path, timeout=20)
    return response.json().get("answer") if response.status_code == 200 else None


def change_answer(folder: Path, answer: str) -> None:
    handlers = folder / "handlers.py"
    handlers.write_text(handlers.read_text().replace('ANSWER = "first"', f'ANSWER = "{answer}"'))


def test_edited_handler_served(serve: Any, app_folder: Path) -> None:
    server = serve(app_folder)
    assert answer_of(server.endpoint) == "first"

    change_answer(app_folder, "second")

    redeployed = wait_for(lambda: answer_of(server.endpoint) == "second", REDEPLOY_TIMEOUT_S)
    assert redeployed, "the edited handler was not served within 20 s"


def test_request_in_flight_completes(serve: Any, app_folder: Path) -> None:
    server = serve(app_folder)
    slow_call: dict[str, httpx.Response] = {}

    def call_slow() -> None:
        slow_call["response"] = httpx.get(server.endpoint + "/slow", timeout=20)

    caller = threading.Thread(target=call_slow)
    caller.start()
    try:
        busy = wait_for(lambda: instance_counts(server.endpoint, "slow")["busy"] == 1, timeout_s=10)
        assert busy, "the slow call never started"
        change_answer(app_folder, "second")
        redeployed = wait_for(lambda: answer_of(server.endpoint) == "second", REDEPLOY_TIMEOUT_S)
    finally:
        caller.join(timeout=20)

    assert redeployed, "the edited handler was not served within 20 s"
    assert slow_call["response"].status_code == 200
    assert slow_call["response"].json() == {"answer": "first"}
    assert answer_of(server.endpoint, "/slow") == "second"


def test_broken_manifest_keeps_old_version(serve: Any, app_folder: Path) -> None:
    server = serve(app_folder)
    assert answer_of(server.endpoint) == "first"

    (app_folder / "squall.yml").write_text("service: redeploy-checks\nfunctions: [unclosed\n")
    failed = wait_for(lambda: any("redeploy failed" in line for line in server.output), REDEPLOY_TIMEOUT_S)

    assert failed, "the server never reported the broken manifest"
    assert answer_of(server.endpoint) == "first"
    assert httpx.get(server.endpoint + HEALTH_PATH, timeout=10).status_code == 200


def test_manifest_warnings_not_repeated_on_redeploy(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "serverless.yml").write_text(
        "service: warned\nprovider: {name: aws, runtime: python3.12}\nplugins: [serverless-offline]\n"
        "functions:\n  answer:\n    handler: handlers.answer\n    events:\n      - httpApi: {method: GET, path: /answer}\n"
    )
    (folder / "handlers.py").write_text('ANSWER = "first"\n\ndef answer(event, context):\n    return {"answer": ANSWER}\n')
    server = serve(folder)
    assert answer_of(server.endpoint) == "first"

    change_answer(folder, "second")
    redeployed = wait_for(lambda: answer_of(server.endpoint) == "second", REDEPLOY_TIMEOUT_S)

    assert redeployed, "the edited handler was not served within 20 s"
    warnings = [line for line in server.output if "plugins" in line and "WARNING" in line]
    assert len(warnings) == 1, warnings


def test_removed_service_not_redeployed_on_change(serve: Any, app_folder: Path) -> None:
    server = serve(app_folder)
    listing = httpx.get(server.endpoint + "/_squall/api/functions", timeout=20).json()["functions"]
    service = listing[0]["service"]
    removed = subprocess.run(
        [sys.executable, "-m", "squall", "remove", service, "--endpoint", server.endpoint],
        capture_output=True, text=True, timeout=60,
    )
    assert removed.returncode == 0, removed.stderr

    change_answer(app_folder, "second")

    ignored = wait_for(lambda: any("not redeployed, because its service was removed" in line for line in server.output),
                       REDEPLOY_TIMEOUT_S)
    assert ignored, "the server did not report the ignored change"
    assert httpx.get(server.endpoint + "/_squall/api/functions", timeout=20).json()["functions"] == []
    # An explicit deploy serves the folder again.
    deployed = subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(app_folder), "--endpoint", server.endpoint],
        capture_output=True, text=True, timeout=120,
    )
    assert deployed.returncode == 0, deployed.stderr
    assert answer_of(server.endpoint) == "second"


def test_editor_files_not_deployed(serve: Any, app_folder: Path, tmp_path: Path) -> None:
    data = tmp_path / "editor-data"
    server = serve(app_folder, data=data)
    assert answer_of(server.endpoint) == "first"
    # Another server's data folder inside the service folder, which that server writes to all the time.
    editor_files = [".handlers.py.swp", "#handlers.py#", ".idea/workspace.xml", ".vscode/settings.json", "4913",
                    "inner/data/server.lock", "inner/data/squall.db-wal"]
    for name in editor_files:
        (app_folder / name).parent.mkdir(parents=True, exist_ok=True)
        (app_folder / name).write_bytes(b"\x00editor state")

    change_answer(app_folder, "second")

    redeployed = wait_for(lambda: answer_of(server.endpoint) == "second", REDEPLOY_TIMEOUT_S)
    assert redeployed, "the edited handler was not served within 20 s"
    changes = [line for line in server.output if "; redeploying" in line]
    assert changes
    for line in changes:
        assert "swp" not in line
        assert "workspace.xml" not in line
        assert "#handlers.py#" not in line
        assert "squall.db-wal" not in line
        assert "server.lock" not in line
    copied = {path.name for path in (data / "code").rglob("*") if path.is_file()}
    assert "handlers.py" in copied
    assert not copied & {".handlers.py.swp", "#handlers.py#", "workspace.xml", "settings.json", "4913", "server.lock",
                         "squall.db-wal"}


def test_removed_function_and_routes_logged(serve: Any, app_folder: Path) -> None:
    server = serve(app_folder)
    manifest = app_folder / "squall.yml"
    text = manifest.read_text()
    trimmed = text[: text.index("  slow:")].replace('path: "/answer"', 'path: "/answer2"')
    manifest.write_text(trimmed)

    moved = wait_for(lambda: answer_of(server.endpoint, "/answer2") == "first", REDEPLOY_TIMEOUT_S)
    assert moved, "the moved route was not served within 20 s"
    logged = wait_for(lambda: [line for line in server.output if "removed routes" in line], 5.0)
    assert logged
    assert "GET /answer -> answer" in logged[0]
    assert "GET /slow -> slow" in logged[0]
    assert any("new routes GET /answer2 -> answer" in line for line in server.output)
    assert any("no longer has slow" in line for line in server.output)


def test_dotenv_and_new_env_names_read_on_redeploy(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "dotenv"
    folder.mkdir()
    manifest = folder / "serverless.yml"
    manifest.write_text(
        "service: dotenv-redeploy\nuseDotenv: true\nprovider: {name: aws, runtime: python3.12}\n"
        "functions:\n  answer:\n    handler: handlers.answer\n"
        "    environment: {GREETING: '${env:GREETING}'}\n"
        "    events:\n      - httpApi: {method: GET, path: /answer}\n"
    )
    (folder / ".env").write_text("GREETING=hello\n")
    (folder / "handlers.py").write_text(
        "import os\n\ndef answer(event, context):\n"
        "    return {'answer': os.environ.get('GREETING', '') + os.environ.get('NAME', '')}\n"
    )
    server = serve(folder, env={"NAME": " ada"})
    assert answer_of(server.endpoint) == "hello"

    (folder / ".env").write_text("GREETING=hi\n")
    redeployed = wait_for(lambda: answer_of(server.endpoint) == "hi", REDEPLOY_TIMEOUT_S)
    assert redeployed, "the edited .env value was not served within 20 s"

    # A name the manifest starts to use once the server runs comes from the server's shell.
    manifest.write_text(manifest.read_text().replace("'${env:GREETING}'}", "'${env:GREETING}', NAME: '${env:NAME}'}"))
    redeployed = wait_for(lambda: answer_of(server.endpoint) == "hi ada", REDEPLOY_TIMEOUT_S)
    assert redeployed, "the newly used ${env:NAME} was not resolved within 20 s"
