"""serverless.yml: provider.layers apply to every function that does not set its own layers."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from squall.errors import ManifestError
from squall.manifest import load_service

LAYERS = """
layers:
  common:
    path: layers/common
  extra:
    path: layers/extra
"""


def _service(tmp_path: Path, provider_layers: str, functions: str) -> Path:
    folder = tmp_path / "service"
    for layer in ("common", "extra"):
        (folder / "layers" / layer / "python").mkdir(parents=True)
        (folder / "layers" / layer / "python" / f"{layer}_util.py").write_text(f"NAME = {layer!r}\n")
    (folder / "app.py").write_text("def greet(event, context):\n    return 'hi'\n")
    (folder / "serverless.yml").write_text(
        "service: layered\n"
        "provider:\n  name: aws\n  runtime: python3.12\n" + textwrap.indent(textwrap.dedent(provider_layers), "  ")
        + LAYERS
        + "functions:\n" + textwrap.indent(textwrap.dedent(functions), "  ")
    )
    return folder


def test_provider_layers_reach_functions(tmp_path: Path) -> None:
    functions = """\
        plain: {handler: app.greet}
        own:
          handler: app.greet
          layers: [{Ref: ExtraLambdaLayer}]
        none:
          handler: app.greet
          layers: []
    """
    folder = _service(tmp_path, "layers:\n  - !Ref CommonLambdaLayer\n", functions)

    service = load_service(folder)

    versions = {layer.name: layer.version for layer in service.layers}
    assert service.functions["plain"].layers == (versions["common"],)
    assert service.functions["own"].layers == (versions["extra"],)
    assert service.functions["none"].layers == ()
    assert not any("provider.layers" in warning for warning in service.warnings)


def test_provider_layer_arn_of_declared_layer(tmp_path: Path) -> None:
    provider = "layers:\n  - arn:aws:lambda:us-east-1:000000000000:layer:common:3\n"
    folder = _service(tmp_path, provider, "plain: {handler: app.greet}\n")

    service = load_service(folder)

    versions = {layer.name: layer.version for layer in service.layers}
    assert service.functions["plain"].layers == (versions["common"],)


def test_provider_layer_from_aws_warned(tmp_path: Path) -> None:
    provider = "layers:\n  - arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:7\n"
    folder = _service(tmp_path, provider, "plain: {handler: app.greet}\n")

    service = load_service(folder)

    assert service.functions["plain"].layers == ()
    assert any(warning.startswith("provider.layers[0]: ") for warning in service.warnings)


@pytest.mark.parametrize(
    ("provider", "key", "fragment"),
    [
        ("layers:\n  - !Ref OtherLambdaLayer\n", "provider.layers[0]", '"OtherLambdaLayer"'),
        ("layers: common\n", "provider.layers", "expected a list of layers"),
    ],
)
def test_invalid_provider_layers_rejected(tmp_path: Path, provider: str, key: str, fragment: str) -> None:
    folder = _service(tmp_path, provider, "plain: {handler: app.greet}\nsecond: {handler: app.greet}\n")

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    assert raised.value.key == key
    assert fragment in raised.value.detail
    assert str(raised.value).count("provider.layers") == 1


def test_served_function_imports_provider_layer(serve: Any, tmp_path: Path) -> None:
    folder = _service(tmp_path, "layers:\n  - !Ref CommonLambdaLayer\n", "plain: {handler: app.greet}\n")
    (folder / "app.py").write_text("import common_util\n\n\ndef greet(event, context):\n    return common_util.NAME\n")
    server = serve(folder)
    lambda_client = boto3.client(
        "lambda", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 0}),
    )

    invoked = lambda_client.invoke(FunctionName="plain", Payload=b"{}")

    assert "FunctionError" not in invoked
    assert json.loads(invoked["Payload"].read()) == "common"
