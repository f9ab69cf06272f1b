"""A handler module that a layer or requirements.txt provides, as Lambda imports it from either."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from tests.manifest.conftest import WriteService

SQUALL_YML_WITH_LAYER = """
service: layered
layers:
  shared: {path: shared}
functions:
  fromlayer:
    handler: layer_mod.handler
    layers: [shared]
"""

SERVERLESS_WITH_PROVIDER_LAYER = """
service: layered
provider:
  name: aws
  runtime: python3.12
  layers:
    - arn:aws:lambda:us-east-1:123456789012:layer:shared:3
functions:
  fromlayer:
    handler: layer_mod.handler
"""

SAM_WITH_LAYER = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: shared}
  FromLayer:
    Type: AWS::Serverless::Function
    Properties:
      Handler: layer_mod.handler
      Runtime: python3.12
      Layers: [!Ref Shared]
"""


def test_squall_yml_handler_from_layer(write_service: WriteService) -> None:
    folder = write_service(SQUALL_YML_WITH_LAYER, modules=("shared/python/layer_mod.py",))

    assert load_service(folder).functions["fromlayer"].handler == "layer_mod.handler"


@pytest.mark.parametrize(("name", "manifest"), [("serverless.yml", SERVERLESS_WITH_PROVIDER_LAYER),
                                                ("template.yaml", SAM_WITH_LAYER)])
def test_other_formats_handler_from_layer(write_service: WriteService, name: str, manifest: str) -> None:
    folder = write_service(manifest, name=name, modules=("shared/python/layer_mod.py",))

    (function,) = load_service(folder).functions.values()
    assert function.handler == "layer_mod.handler"


def test_handler_from_requirements(write_service: WriteService) -> None:
    folder = write_service("service: pkg\nfunctions:\n  fmt: {handler: humanize.number.intcomma}\n", modules=())
    (folder / "requirements.txt").write_text("humanize\n")

    assert load_service(folder).functions["fmt"].handler == "humanize.number.intcomma"


def test_missing_handler_module_rejected(write_service: WriteService) -> None:
    folder = write_service("service: plain\nfunctions:\n  fmt: {handler: humanize.number.intcomma}\n", modules=())

    with pytest.raises(ManifestError) as caught:
        load_service(folder)

    message = str(caught.value)
    assert "humanize/number.py" in message
    assert "no layer or requirements.txt" in message


def test_empty_layers_override_provider(write_service: WriteService) -> None:
    manifest = SERVERLESS_WITH_PROVIDER_LAYER + "    layers: []\n"
    folder = write_service(manifest, name="serverless.yml", modules=())

    with pytest.raises(ManifestError, match="no layer or requirements.txt"):
        load_service(folder)


def test_non_ascii_module_accepted(write_service: WriteService) -> None:
    folder = write_service("service: fr\nfunctions:\n  f: {handler: données/app.greet}\n", modules=("données/app.py",))

    assert load_service(folder).functions["f"].handler == "données/app.greet"


def test_long_handler_rejected(write_service: WriteService) -> None:
    module = "/".join(f"d{depth}" for depth in range(40)) + "/app"
    folder = write_service(f"service: deep\nfunctions:\n  f: {{handler: {module}.greet}}\n", modules=(f"{module}.py",))

    with pytest.raises(ManifestError, match="at most 128 characters"):
        load_service(folder)
