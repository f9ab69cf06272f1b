"""The region in samconfig, which `sam deploy` deploys to and Squall reports when the server runs as another region."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from tests.manifest.conftest import WriteService
from tests.manifest.test_sam_functions import BASE, template

IGNORED = (
    'Squall ignores the region "eu-west-1", because functions run in the server\'s region us-east-1 '
    "(AWS_REGION and the events' awsRegion) and AWS::Region resolves to us-east-1. "
    "To run them in eu-west-1, start the server with `squall up --region eu-west-1`"
)


def load_with_config(write_service: WriteService, config: str) -> tuple[str, ...]:
    """Load a template with samconfig.toml `config` beside it and return the warnings."""
    text = template(BASE + "Environment: {Variables: {REGION: !Ref AWS::Region}}\n")
    folder = write_service(text, name="template.yaml")
    (folder / "samconfig.toml").write_text(config)
    spec = load_service(Path("."))
    assert spec.functions["Fn"].environment["REGION"] == "us-east-1"
    return spec.warnings


@pytest.mark.parametrize(
    ("config", "summary"),
    [
        ('[default.deploy.parameters]\nregion = "eu-west-1"\n', "read region from default.deploy.parameters"),
        (
            '[default.global.parameters]\nregion = "eu-west-1"\n[default.deploy.parameters]\nstack_name = "demo"\n',
            "read region from default.global.parameters and stack_name from default.deploy.parameters",
        ),
    ],
)
def test_other_region_reported(write_service: WriteService, config: str, summary: str) -> None:
    warnings = load_with_config(write_service, config)

    assert f"samconfig.toml: {summary}. {IGNORED}" in warnings


def test_squall_region_listed_only(write_service: WriteService) -> None:
    warnings = load_with_config(write_service, '[default.deploy.parameters]\nregion = "us-east-1"\n')

    assert "samconfig.toml: read region from default.deploy.parameters" in warnings


def test_region_not_string_rejected(write_service: WriteService) -> None:
    folder = write_service(template(BASE), name="template.yaml")
    (folder / "samconfig.toml").write_text("[default.deploy.parameters]\nregion = 5\n")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.path == "samconfig.toml"
    assert raised.value.key == "default.deploy.parameters.region"
    assert raised.value.detail == "expected a region name such as us-east-1, got 5"
