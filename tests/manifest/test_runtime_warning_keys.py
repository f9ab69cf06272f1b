"""The deploy's runtime warning names the key that sets the runtime: a function's own, or the provider's or Globals' default."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from squall.deploy.syntax import runtime_warnings
from squall.manifest import load_service
from tests.manifest.conftest import WriteService

RUNNING = f"python{sys.version_info.major}.{sys.version_info.minor}"
OTHER = "python3.9" if sys.version_info[:2] != (3, 9) else "python3.10"
SUFFIX = f": {OTHER} is declared, but Squall runs every function on the server's Python ({RUNNING})"


@pytest.mark.parametrize(
    ("functions", "keys"),
    [
        pytest.param(
            "thumbnail: {handler: app.greet}\nresize: {handler: app.greet}\n",
            "provider.runtime",
            id="provider only",
        ),
        pytest.param(
            f"thumbnail: {{handler: app.greet}}\nresize: {{handler: app.greet, runtime: {OTHER}}}\n",
            "provider.runtime, functions.resize.runtime",
            id="provider and function",
        ),
        pytest.param(
            f"thumbnail: {{handler: app.greet, runtime: {RUNNING}}}\nresize: {{handler: app.greet}}\n",
            "provider.runtime",
            id="one function overrides",
        ),
    ],
)
def test_serverless_runtime_warning_keys(write_service: WriteService, functions: str, keys: str) -> None:
    indented = "".join(f"  {line}\n" for line in functions.splitlines())
    write_service(
        f"service: shop\nprovider:\n  name: aws\n  runtime: {OTHER}\nfunctions:\n{indented}", name="serverless.yml"
    )

    warnings = runtime_warnings(load_service(Path(".")))

    assert warnings == [keys + SUFFIX]


def test_serverless_runtime_from_variable(write_service: WriteService) -> None:
    write_service(
        "service: shop\ncustom: {runtime: " + OTHER + "}\nprovider:\n  name: aws\n  runtime: ${self:custom.runtime}\n"
        "functions:\n  thumbnail: {handler: app.greet}\n",
        name="serverless.yml",
    )

    warnings = runtime_warnings(load_service(Path(".")))

    assert warnings == ["provider.runtime" + SUFFIX]


def test_sam_globals_runtime_warning_key(write_service: WriteService) -> None:
    write_service(
        "Transform: AWS::Serverless-2016-10-31\n"
        f"Globals:\n  Function:\n    Runtime: {OTHER}\n"
        "Resources:\n"
        "  Thumbnail:\n    Type: AWS::Serverless::Function\n    Properties: {Handler: app.greet}\n"
        f"  Resize:\n    Type: AWS::Serverless::Function\n    Properties: {{Handler: app.greet, Runtime: {OTHER}}}\n",
        name="template.yaml",
    )

    warnings = runtime_warnings(load_service(Path(".")))

    assert warnings == ["Globals.Function.Runtime, Resources.Resize.Properties.Runtime" + SUFFIX]
