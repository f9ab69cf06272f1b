"""Published versions keep the layers and requirements they were deployed with, after $LATEST moves on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from squall import cli_versions
from test_dependencies import GREETING
from test_dependencies_live import copy_service
from test_layers import copy_app
from test_layers_live import FIRST_GREETING, get_json
from tests.versions.test_versions_live import deploy, lambda_client, run_cli


def invoke_version(endpoint: str, function: str, qualifier: str) -> dict[str, Any]:
    response = lambda_client(endpoint).invoke(FunctionName=function, Qualifier=qualifier, Payload=b"{}")
    assert "FunctionError" not in response, response["Payload"].read()
    return orjson.loads(response["Payload"].read())


def test_version_keeps_its_layer(serve: Any, tmp_path: Path) -> None:
    folder = copy_app(tmp_path)
    server = serve(folder, "--no-watch")
    run_cli(cli_versions.publish, "greet", "--endpoint", server.endpoint)

    (folder / "layers" / "common" / "python" / "common_util.py").write_text("GREETING = 'second version'\n")
    deploy(folder, server.endpoint)

    assert get_json(server.endpoint, "/greet")["greeting"] == "second version"
    assert invoke_version(server.endpoint, "greet", "1")["greeting"] == FIRST_GREETING


def test_version_keeps_its_requirements(serve: Any, tmp_path: Path) -> None:
    folder = copy_service(tmp_path)
    server = serve(folder, "--no-watch")
    run_cli(cli_versions.publish, "greet", "--endpoint", server.endpoint)

    (folder / "requirements.txt").unlink()
    (folder / "app.py").write_text("def greet(event, context):\n    return {'greeting': 'no packages'}\n")
    deploy(folder, server.endpoint)

    assert get_json(server.endpoint, "/greet") == {"greeting": "no packages"}
    first = invoke_version(server.endpoint, "greet", "1")
    assert first["greeting"] == GREETING
    assert first["module_file"].startswith(str(server.data / "envs"))
