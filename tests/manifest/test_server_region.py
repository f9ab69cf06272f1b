"""The server's region in manifests: region names, `${aws:region}`, `AWS::Region`, ARNs and the other-region warning."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from squall.manifest import load_service
from squall.manifest.serverless_variables import (
    DEFAULT_REGION,
    check_region,
    server_region,
    set_server_region,
)
from tests.manifest.conftest import WriteService
from tests.manifest.test_sam_functions import BASE, template


@pytest.fixture
def eu_west_1() -> Iterator[str]:
    """Load manifests as a server running as eu-west-1 does, and go back to the default region afterwards."""
    set_server_region("eu-west-1")
    try:
        yield "eu-west-1"
    finally:
        set_server_region(DEFAULT_REGION)


@pytest.mark.parametrize(
    "region", ["us-east-1", "eu-west-1", "ap-southeast-3", "us-gov-west-1", "us-isob-east-1", "eusc-de-east-1"]
)
def test_region_name_accepted(region: str) -> None:
    assert check_region(region) == region


@pytest.mark.parametrize(
    "region", ["", "eu_west_1", "EU-WEST-1", "eu-west", "europe", "eu-west-1 ", "eu-west-12", "e-west-1", "us-east-1a"]
)
def test_invalid_region_rejected(region: str) -> None:
    with pytest.raises(ValueError) as raised:
        check_region(region)

    assert f"invalid region {region!r}" in str(raised.value)
    assert "such as eu-west-1" in str(raised.value)


def test_invalid_server_region_kept_out() -> None:
    with pytest.raises(ValueError):
        set_server_region("moon-1")

    assert server_region() == DEFAULT_REGION


SERVERLESS = """service: regional
provider:
  name: aws
  runtime: python3.12
{provider}
functions:
  hello:
    handler: handler.hello
    environment:
      REGION: ${{aws:region}}
      OPTION_REGION: ${{opt:region}}
      PROVIDER_REGION: ${{self:provider.region}}
      QUEUE_ARN: !GetAtt Jobs.Arn
resources:
  Resources:
    Jobs:
      Type: AWS::SQS::Queue
      Properties: {{QueueName: jobs}}
"""


def load_serverless(tmp_path: Path, provider: str = "") -> tuple[dict[str, str], tuple[str, ...]]:
    """Load a serverless.yml with `provider` lines added and return hello's environment and the warnings."""
    (tmp_path / "handler.py").write_text("def hello(event, context):\n    return 1\n")
    (tmp_path / "serverless.yml").write_text(SERVERLESS.format(provider=provider))
    spec = load_service(tmp_path)
    return dict(spec.functions["hello"].environment), spec.warnings


def test_serverless_resolves_server_region(tmp_path: Path, eu_west_1: str) -> None:
    environment, warnings = load_serverless(tmp_path)

    assert environment["REGION"] == "eu-west-1"
    assert environment["OPTION_REGION"] == "eu-west-1"
    assert environment["PROVIDER_REGION"] == "eu-west-1"
    assert environment["QUEUE_ARN"] == "arn:aws:sqs:eu-west-1:000000000000:jobs"
    assert warnings == ()


def test_serverless_same_region_not_warned(tmp_path: Path, eu_west_1: str) -> None:
    environment, warnings = load_serverless(tmp_path, "  region: eu-west-1")

    assert environment["REGION"] == "eu-west-1"
    assert warnings == ()


def test_serverless_other_region_warned_once(tmp_path: Path, eu_west_1: str) -> None:
    environment, warnings = load_serverless(tmp_path, "  region: us-east-1")

    region_warnings = [warning for warning in warnings if "region" in warning]
    assert region_warnings == [
        "provider.region: functions run in the server's region eu-west-1 (AWS_REGION and the events' awsRegion), "
        "not 'us-east-1', and ${aws:region} resolves to eu-west-1; ${self:provider.region} still resolves to "
        "'us-east-1'. To run them in us-east-1, start the server with `squall up --region us-east-1`"
    ]
    assert environment["REGION"] == "eu-west-1"
    assert environment["PROVIDER_REGION"] == "us-east-1"
    assert environment["QUEUE_ARN"] == "arn:aws:sqs:eu-west-1:000000000000:jobs"


def test_serverless_invalid_region_without_command(tmp_path: Path) -> None:
    _, warnings = load_serverless(tmp_path, "  region: Mars")

    region_warnings = [warning for warning in warnings if warning.startswith("provider.region:")]
    assert len(region_warnings) == 1
    assert "not 'Mars'" in region_warnings[0]
    assert "squall up --region" not in region_warnings[0]


def test_serverless_default_region_unchanged(tmp_path: Path) -> None:
    environment, warnings = load_serverless(tmp_path)

    assert environment["REGION"] == "us-east-1"
    assert environment["QUEUE_ARN"] == "arn:aws:sqs:us-east-1:000000000000:jobs"
    assert warnings == ()


SAM_ENVIRONMENT = (
    "Environment:\n"
    "  Variables:\n"
    "    REGION: !Ref AWS::Region\n"
    "    STACK: !Ref AWS::StackId\n"
    "    QUEUE_ARN: !GetAtt Jobs.Arn\n"
)
SAM_QUEUE = "  Jobs:\n    Type: AWS::SQS::Queue\n"


def load_sam(write_service: WriteService, config: str | None = None) -> tuple[dict[str, str], tuple[str, ...]]:
    """Load a SAM template, with samconfig.toml `config` beside it if given; return Fn's environment and the warnings."""
    folder = write_service(template(BASE + SAM_ENVIRONMENT, resources=SAM_QUEUE), name="template.yaml")
    if config is not None:
        (folder / "samconfig.toml").write_text(config)
    spec = load_service(Path("."))
    return dict(spec.functions["Fn"].environment), spec.warnings


def test_sam_resolves_server_region(write_service: WriteService, eu_west_1: str) -> None:
    environment, warnings = load_sam(write_service)

    assert environment["REGION"] == "eu-west-1"
    assert environment["STACK"].startswith("arn:aws:cloudformation:eu-west-1:000000000000:stack/")
    assert environment["QUEUE_ARN"].startswith("arn:aws:sqs:eu-west-1:000000000000:")
    assert warnings == ()


def test_sam_same_region_only_listed(write_service: WriteService, eu_west_1: str) -> None:
    _, warnings = load_sam(write_service, '[default.deploy.parameters]\nregion = "eu-west-1"\n')

    assert warnings == ("samconfig.toml: read region from default.deploy.parameters",)


def test_sam_other_region_warned_once(write_service: WriteService, eu_west_1: str) -> None:
    environment, warnings = load_sam(write_service, '[default.deploy.parameters]\nregion = "ap-southeast-3"\n')

    assert warnings == (
        "samconfig.toml: read region from default.deploy.parameters. Squall ignores the region "
        '"ap-southeast-3", because functions run in the server\'s region eu-west-1 '
        "(AWS_REGION and the events' awsRegion) and AWS::Region resolves to eu-west-1. "
        "To run them in ap-southeast-3, start the server with `squall up --region ap-southeast-3`",
    )
    assert environment["REGION"] == "eu-west-1"
