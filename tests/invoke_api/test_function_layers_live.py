"""The Layers of GetFunction, GetFunctionConfiguration and ListFunctions on a running server (apps/layers)."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_apps import APPS, LiveApp, lambda_client, live_server

# Squall names a layer version by the 20 hexadecimal digits of its content's digest.
LAYER_ARN = re.compile(r"arn:aws:lambda:us-east-1:000000000000:layer:(?P<name>[a-z]+):(?P<digest>[0-9a-f]{20})")
TOOLS_MODULE = '"""A module of the .zip layer "tools"."""\n\nNAME = "tools"\n'


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """A server on a copy of apps/layers, with its .zip layer written first."""
    base = tmp_path_factory.mktemp("server")
    folder = live_server.copy_app(APPS / "layers", base)
    with zipfile.ZipFile(folder / "layers" / "tools.zip", "w") as archive:
        archive.writestr("python/tools_util.py", TOOLS_MODULE)
    server = live_server.start_server(folder, base / "data")
    yield LiveApp(server, folder)
    server.stop()


@pytest.fixture(scope="module")
def client(app: LiveApp) -> Any:
    return lambda_client(app.endpoint)


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def test_get_function_lists_layers_in_order(app: LiveApp, client: Any) -> None:
    layers = client.get_function(FunctionName="layered")["Configuration"]["Layers"]

    matches = [LAYER_ARN.fullmatch(layer["Arn"]) for layer in layers]
    assert all(matches), [layer["Arn"] for layer in layers]
    assert [match["name"] for match in matches if match] == ["tools", "common"]
    assert layers[0]["CodeSize"] == (app.folder / "layers" / "tools.zip").stat().st_size
    assert layers[1]["CodeSize"] == folder_bytes(app.folder / "layers" / "common")


def test_layer_arn_names_stored_version(app: LiveApp, client: Any) -> None:
    layers = client.get_function(FunctionName="layered")["Configuration"]["Layers"]

    for layer in layers:
        match = LAYER_ARN.fullmatch(layer["Arn"])
        assert match is not None
        assert (app.server.data / "layers" / match["name"] / match["digest"]).is_dir()


def test_configuration_and_list_show_same_layers(client: Any) -> None:
    expected = client.get_function(FunctionName="layered")["Configuration"]["Layers"]

    configuration = client.get_function_configuration(FunctionName="layered")
    listed = {function["FunctionName"]: function for function in client.list_functions()["Functions"]}

    assert configuration["Layers"] == expected
    assert listed["layered"]["Layers"] == expected


def test_function_without_layers_has_no_key(client: Any) -> None:
    configuration = client.get_function_configuration(FunctionName="plain")
    listed = {function["FunctionName"]: function for function in client.list_functions()["Functions"]}

    assert "Layers" not in configuration
    assert "Layers" not in listed["plain"]


def test_layered_function_imports_both_layers(client: Any) -> None:
    response = client.invoke(FunctionName="layered", Payload=b"{}")

    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == ["common", "tools"]
