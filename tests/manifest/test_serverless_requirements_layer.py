"""serverless.yml: the layer serverless-python-requirements makes with `custom.pythonRequirements.layer`."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service

MANIFEST = """\
service: shop
provider:
  name: aws
  runtime: python3.12
{provider_layers}plugins: [serverless-python-requirements]
{custom}layers:
  common: {{path: layers/common}}
functions:
  api:
    handler: app.greet
    layers:
      - {{Ref: PythonRequirementsLambdaLayer}}
      - {{Ref: CommonLambdaLayer}}
"""


def write(tmp_path: Path, custom: str, provider_layers: str = "") -> Path:
    folder = tmp_path / "shop"
    (folder / "layers" / "common" / "python").mkdir(parents=True)
    (folder / "app.py").write_text("def greet(event, context):\n    return 'hi'\n")
    (folder / "requirements.txt").write_text("requests\n")
    (folder / "serverless.yml").write_text(MANIFEST.format(custom=custom, provider_layers=provider_layers))
    return folder


@pytest.mark.parametrize("setting", ["true", "{name: shop-deps}"])
def test_requirements_layer_accepted(tmp_path: Path, setting: str) -> None:
    folder = write(tmp_path, f"custom:\n  pythonRequirements:\n    layer: {setting}\n")

    service = load_service(folder)

    # Squall installs requirements.txt for the function, which is what the plugin's layer would hold.
    assert [version.split("@")[0] for version in service.functions["api"].layers] == ["common"]
    assert not any("PythonRequirementsLambdaLayer" in warning for warning in service.warnings)


def test_requirements_layer_needs_setting(tmp_path: Path) -> None:
    folder = write(tmp_path, "")

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    assert raised.value.key == "functions.api.layers[0]"
    assert "unknown layer \"PythonRequirementsLambdaLayer\"" in raised.value.detail
    assert "custom.pythonRequirements.layer" in raised.value.detail
