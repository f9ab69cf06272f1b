"""Messages about SAM templates: the file and key path they name, and the fix they give."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from squall.deploy.syntax import runtime_warnings
from squall.errors import DeployError, ManifestError
from squall.events.resources import check_declared_queues
from squall.manifest import load_service
from squall.manifest.sam import SamLoader, parse_sam_template
from squall.manifest.validate import ManifestSource
from tests.manifest.conftest import WriteService
from tests.manifest.test_sam_functions import BASE, load, load_error, template

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.greet, Runtime: python3.12, Environment: {Variables: {STAGE: !Ref Stage}}}
"""


def test_sqs_ref_queue_rejected(write_service: WriteService) -> None:
    error = load_error(write_service, template(BASE + "Events:\n  Q: {Type: SQS, Properties: {Queue: !Ref Jobs}}\n"))

    assert error.key == "Resources.Fn.Properties.Events.Q.Properties.Queue"
    assert "!Ref Jobs gives the queue's URL on AWS" in error.detail
    assert error.detail.endswith("expected !GetAtt Jobs.Arn")


def test_sqs_queue_name_rejected(write_service: WriteService) -> None:
    error = load_error(write_service, template(BASE + "Events:\n  Q: {Type: SQS, Properties: {Queue: jobs}}\n"))

    assert error.key == "Resources.Fn.Properties.Events.Q.Properties.Queue"
    assert 'expected the ARN of a queue, such as !GetAtt MyQueue.Arn, got "jobs"' in error.detail


def test_sqs_queue_arn_parameter_accepted(write_service: WriteService) -> None:
    text = template(BASE + "Events:\n  Q: {Type: SQS, Properties: {Queue: !Ref QueueArn}}\n").replace(
        "Resources:\n", "Parameters:\n  QueueArn: {Type: String, Default: 'arn:aws:sqs:us-east-1:1:jobs'}\nResources:\n", 1
    )

    function = load(write_service, text)

    assert function.triggers[0].queue == "jobs"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ("Stage=staging", 'Stage: expected one of the AllowedValues: dev, prod, got "staging" '
                          "(see Parameters.Stage in template.yaml)"),
        ("Stag=prod", 'no parameter named "Stag" (did you mean "Stage"?), expected one of: Stage '
         '(the Parameters of template.yaml)'),
    ],
)
def test_samconfig_override_error_names_samconfig(write_service: WriteService, overrides: str, message: str) -> None:
    folder = write_service(TEMPLATE, name="template.yaml")
    (folder / "samconfig.toml").write_text(f'[default.deploy.parameters]\nparameter_overrides = "{overrides}"\n')

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.path == "samconfig.toml"
    assert raised.value.key == "default.deploy.parameters.parameter_overrides"
    assert raised.value.detail == message


def test_given_override_error_names_template(write_service: WriteService) -> None:
    folder = write_service(TEMPLATE, name="template.yaml")
    (folder / "samconfig.toml").write_text('[default.deploy.parameters]\nparameter_overrides = "Stage=prod"\n')

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."), parameters={"Stage": "staging"})

    assert raised.value.path == "template.yaml"
    assert raised.value.key == "Parameters.Stage"


def test_visibility_error_uses_template_keys(write_service: WriteService) -> None:
    resources = "  Jobs: {Type: AWS::SQS::Queue, Properties: {QueueName: jobs, VisibilityTimeout: 5}}\n"
    events = "Timeout: 30\nEvents:\n  Q: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn}}\n"
    write_service(template(BASE + events, resources=resources), name="template.yaml")

    with pytest.raises(DeployError) as raised:
        check_declared_queues(load_service(Path(".")))

    assert str(raised.value).startswith("template.yaml: Resources.Fn.Properties.Events: the event of queue 'jobs'")


def test_runtime_warning_uses_template_keys(write_service: WriteService) -> None:
    other = "python3.9" if sys.version_info[:2] != (3, 9) else "python3.10"
    write_service(template(f"Handler: app.greet\nRuntime: {other}\n"), name="template.yaml")

    warnings = runtime_warnings(load_service(Path(".")))

    assert warnings == [
        f"Resources.Fn.Properties.Runtime: {other} is declared, but Squall runs every function on the server's Python "
        f"(python{sys.version_info.major}.{sys.version_info.minor})"
    ]


CONFIG = """\
version = 0.1
[default.deploy.parameters]
stack_name = "shop-dev"
[prod.deploy.parameters]
stack_name = "shop-prod"
parameter_overrides = "Stage=prod"
"""


def test_config_env_chooses_samconfig_table(write_service: WriteService) -> None:
    folder = write_service(TEMPLATE, name="template.yaml")
    (folder / "samconfig.toml").write_text(CONFIG)
    document = yaml.load(TEMPLATE, Loader=SamLoader)
    source = ManifestSource(display="template.yaml", path=folder / "template.yaml", root=folder)

    spec = parse_sam_template(document, source, config_env="prod")

    assert spec.service == "shop-prod"
    assert spec.functions["Fn"].environment == {"STAGE": "prod"}
    assert (
        "samconfig.toml: read stack_name from prod.deploy.parameters and parameter_overrides (Stage) from "
        "prod.deploy.parameters"
    ) in spec.warnings


def test_missing_config_env_rejected(write_service: WriteService) -> None:
    folder = write_service(TEMPLATE, name="template.yaml")
    (folder / "samconfig.toml").write_text(CONFIG)
    document = yaml.load(TEMPLATE, Loader=SamLoader)
    source = ManifestSource(display="template.yaml", path=folder / "template.yaml", root=folder)

    with pytest.raises(ManifestError) as raised:
        parse_sam_template(document, source, config_env="staging")

    assert str(raised.value) == 'samconfig.toml: no config environment "staging", expected one of: default, prod'
