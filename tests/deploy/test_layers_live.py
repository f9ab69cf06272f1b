"""A real `squall up` serving functions that import modules from a folder layer and a zip layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from test_layers import copy_app

REQUEST_TIMEOUT_S = 20
FIRST_GREETING = "hello from the common layer"


def get_json(endpoint: str, path: str) -> dict[str, Any]:
    answer = httpx.get(endpoint + path, timeout=REQUEST_TIMEOUT_S)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_functions_import_folder_and_zip_layers(serve: Any, tmp_path: Path) -> None:
    server = serve(copy_app(tmp_path), "--no-watch")

    greet = get_json(server.endpoint, "/greet")
    tool = get_json(server.endpoint, "/tool")

    assert greet["greeting"] == FIRST_GREETING
    assert greet["module_file"].startswith(str(server.data / "layers" / "common"))
    assert tool["tool"] == "tools from a zip layer"
    assert tool["module_file"].startswith(str(server.data / "layers" / "tools"))
    assert "site-packages" in tool["module_file"]


def test_changed_layer_deploys_new_version(serve: Any, tmp_path: Path) -> None:
    folder = copy_app(tmp_path)
    server = serve(folder, "--no-watch")
    first = get_json(server.endpoint, "/greet")

    (folder / "layers" / "common" / "python" / "common_util.py").write_text("GREETING = 'second version'\n")
    deployed = subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(folder), "--endpoint", server.endpoint],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert deployed.returncode == 0, deployed.stderr
    second = get_json(server.endpoint, "/greet")

    assert first["greeting"] == FIRST_GREETING
    assert second["greeting"] == "second version"
    assert Path(first["module_file"]).parent.parent != Path(second["module_file"]).parent.parent
    # The first version stays, for instances and zygotes of the previous deploy.
    assert Path(first["module_file"]).is_file()


@pytest.mark.parametrize("app", ["sam", "serverless"])
def test_other_manifests_use_layers(serve: Any, tmp_path: Path, app: str) -> None:
    server = serve(copy_app(tmp_path, app), "--no-watch")

    greet = get_json(server.endpoint, "/greet")

    assert greet["greeting"] == FIRST_GREETING
    assert greet["module_file"].startswith(str(server.data / "layers"))


def test_layer_excluded_by_patterns_deploys(serve: Any, tmp_path: Path) -> None:
    # The Framework packages a layer from its own path, so leaving it out of the functions' package is usual.
    folder = copy_app(tmp_path, "serverless")
    manifest = folder / "serverless.yml"
    manifest.write_text(manifest.read_text().replace("layers:\n  common:", "package:\n  patterns: ['!layers/**']\nlayers:\n  common:", 1))
    server = serve(folder, "--no-watch")

    greet = get_json(server.endpoint, "/greet")

    assert greet["greeting"] == FIRST_GREETING
    assert greet["module_file"].startswith(str(server.data / "layers"))


def test_handler_module_from_layer(serve: Any, tmp_path: Path) -> None:
    folder = copy_app(tmp_path)
    (folder / "layers" / "common" / "python" / "layer_handler.py").write_text(
        "def handle(event, context):\n    return {'statusCode': 200, 'body': 'answered by the layer'}\n"
    )
    manifest = folder / "squall.yml"
    manifest.write_text(
        manifest.read_text()
        + "  inlayer:\n    handler: layer_handler.handle\n    layers: [common]\n"
        + "    events:\n      - http: {method: GET, path: /inlayer}\n"
    )
    server = serve(folder, "--no-watch")

    answer = httpx.get(server.endpoint + "/inlayer", timeout=REQUEST_TIMEOUT_S)

    assert answer.status_code == 200
    assert answer.text == "answered by the layer"
