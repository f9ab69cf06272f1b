"""Templates that SAM's transform or CloudFormation rejects: a missing AutoPublishAlias, Globals.Api, misspelt types."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.manifest import load_service
from tests.manifest.conftest import WriteService
from tests.manifest.test_sam_functions import BASE, RESOURCES, load, load_error, template

PROVISIONED = "ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 2}\n"
ALIAS_RULE = "expected an alias such as AutoPublishAlias: live"


def second_function(properties: str) -> str:
    """Build the resource entry of a function `Other`, whose Properties are the flow mapping `properties`."""
    return f"  Other:\n    Type: AWS::Serverless::Function\n    Properties: {properties}\n"


# ProvisionedConcurrencyConfig ------------------------------------------------------


def test_provisioned_without_alias_rejected(write_service: WriteService) -> None:
    error = load_error(write_service, template(BASE + PROVISIONED))

    assert error.key == "Resources.Fn.Properties.ProvisionedConcurrencyConfig"
    assert error.detail == (
        f"missing AutoPublishAlias on function Fn, {ALIAS_RULE}, because SAM provisions the instances for that "
        "alias and rejects ProvisionedConcurrencyConfig without one"
    )


def test_provisioned_in_globals_names_function(write_service: WriteService) -> None:
    # Globals are merged first, so Fn's own alias counts and only Other lacks one.
    resources = RESOURCES + second_function("{Handler: app.greet, Runtime: python3.12}")

    error = load_error(write_service, template(BASE + "AutoPublishAlias: live\n", PROVISIONED, resources))

    assert error.key == "Globals.Function.ProvisionedConcurrencyConfig"
    assert error.detail.startswith(f"missing AutoPublishAlias on function Other, {ALIAS_RULE}")
    assert "also" not in str(error)


@pytest.mark.parametrize(
    ("properties", "globals_text"),
    [
        (BASE + "AutoPublishAlias: live\n" + PROVISIONED, ""),
        (BASE + PROVISIONED, "AutoPublishAlias: live\n"),
        (BASE + "AutoPublishAlias: live\n", PROVISIONED),
    ],
)
def test_provisioned_with_alias_accepted(write_service: WriteService, properties: str, globals_text: str) -> None:
    function = load(write_service, template(properties, globals_text))

    assert function.provisioned == 2
    assert function.auto_publish_alias == "live"


def test_provisioned_empty_alias_rejected(write_service: WriteService) -> None:
    error = load_error(write_service, template(BASE + "AutoPublishAlias: ''\n" + PROVISIONED))

    # The empty alias is a mistake of its own, and SAM counts it as no alias.
    assert "Resources.Fn.Properties.AutoPublishAlias: expected an alias name" in str(error)
    assert f"ProvisionedConcurrencyConfig: missing AutoPublishAlias on function Fn, {ALIAS_RULE}" in str(error)


# DeploymentPreference ----------------------------------------------------------------


def test_deployment_preference_without_alias_rejected(write_service: WriteService) -> None:
    error = load_error(write_service, template(BASE + "DeploymentPreference: {Type: AllAtOnce}\n"))

    assert error.key == "Resources.Fn.Properties.DeploymentPreference"
    assert error.detail == (
        f"missing AutoPublishAlias on function Fn, {ALIAS_RULE}, because SAM shifts traffic to each new version "
        "through that alias and rejects an enabled DeploymentPreference without one"
    )


@pytest.mark.parametrize("enabled", ["true", "'True'"])
def test_enabled_preference_without_alias_rejected(write_service: WriteService, enabled: str) -> None:
    text = template(BASE + f"DeploymentPreference: {{Type: Linear10PercentEvery1Minute, Enabled: {enabled}}}\n")

    error = load_error(write_service, text)

    assert error.key == "Resources.Fn.Properties.DeploymentPreference"


@pytest.mark.parametrize("enabled", ["false", "'False'"])
def test_disabled_preference_accepted_silently(write_service: WriteService, enabled: str) -> None:
    # SAM creates nothing for a disabled preference, so it needs no alias.
    text = template(BASE + f"DeploymentPreference: {{Type: AllAtOnce, Enabled: {enabled}}}\n")
    write_service(text, name="template.yaml")

    spec = load_service(Path("."))

    assert spec.functions["Fn"].auto_publish_alias is None
    assert not any("DeploymentPreference" in warning for warning in spec.warnings)


def test_preference_with_alias_warns(write_service: WriteService) -> None:
    text = template(BASE + "AutoPublishAlias: live\n", "DeploymentPreference: {Type: Canary10Percent5Minutes}\n")
    write_service(text, name="template.yaml")

    spec = load_service(Path("."))

    assert spec.functions["Fn"].auto_publish_alias == "live"
    assert (
        "Globals.Function.DeploymentPreference: ignored, because Squall has no gradual deployments: the alias moves "
        "to the new version at once"
    ) in spec.warnings


@pytest.mark.parametrize(
    ("preference", "key", "message"),
    [
        ("DeploymentPreference: AllAtOnce\n", "Resources.Fn.Properties.DeploymentPreference",
         'expected a mapping with "Type", got "AllAtOnce"'),
        ("DeploymentPreference: {Type: AllAtOnce, Enabled: maybe}\n",
         "Resources.Fn.Properties.DeploymentPreference.Enabled", 'expected true or false, got "maybe"'),
    ],
)
def test_invalid_preference_rejected(write_service: WriteService, preference: str, key: str, message: str) -> None:
    error = load_error(write_service, template(BASE + "AutoPublishAlias: live\n" + preference))

    assert error.key == key
    assert error.detail == message


# Globals.Api -------------------------------------------------------------------------


def with_globals_api(api: str) -> str:
    return template(BASE).replace("Resources:\n", f"Globals:\n  Api:\n    {api}\nResources:\n", 1)


def test_globals_api_stage_name_rejected(write_service: WriteService) -> None:
    error = load_error(write_service, with_globals_api("StageName: v1"))

    assert error.key == "Globals.Api.StageName"
    assert error.detail == (
        "StageName cannot be set in Globals.Api, because SAM does not merge it into the APIs, expected it on each "
        "AWS::Serverless::Api. The API that SAM creates for Api events without a RestApiId always has the stage Prod"
    )


def test_globals_api_definition_body_rejected(write_service: WriteService) -> None:
    error = load_error(write_service, with_globals_api("DefinitionBody: {openapi: '3.0'}"))

    assert error.key == "Globals.Api.DefinitionBody"
    assert error.detail.startswith("DefinitionBody cannot be set in Globals.Api")


def test_globals_api_unknown_key_rejected(write_service: WriteService) -> None:
    error = load_error(write_service, with_globals_api("Corss: '*'"))

    assert error.key == "Globals.Api.Corss"
    assert error.detail.startswith('unknown property "Corss" of Globals.Api (did you mean "Cors"?), expected one of: ')
    assert "StageName" not in error.detail


@pytest.mark.parametrize("name", ["Auth: {}", "TracingEnabled: true", "AlwaysDeploy: true"])
def test_globals_api_accepted_key_warns(write_service: WriteService, name: str) -> None:
    write_service(with_globals_api(name), name="template.yaml")

    spec = load_service(Path("."))

    key = name.split(":")[0]
    assert f"Globals.Api.{key}: not supported by Squall yet, ignored" in spec.warnings


# Misspelt resource types ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "meant"),
    [
        ("AWS::SQS::Queu", "AWS::SQS::Queue"),
        ("AWS::S3::Buckett", "AWS::S3::Bucket"),
        ("AWS::SQS::Qeueu", "AWS::SQS::Queue"),
        ("AWS::sqs::queue", "AWS::SQS::Queue"),
        ("AWS::Serverless::HttpAPI", "AWS::Serverless::HttpApi"),
        ("AWS::Kinesis::Strem", "AWS::Kinesis::Stream"),
    ],
)
def test_misspelt_type_named(write_service: WriteService, kind: str, meant: str) -> None:
    write_service(template(BASE, resources=RESOURCES + f"  Extra: {{Type: {kind}}}\n"), name="template.yaml")

    spec = load_service(Path("."))

    assert (
        f"Resources.Extra: unknown resource type {kind}, did you mean {meant}? ignored (CloudFormation rejects a "
        "type it does not define)"
    ) in spec.warnings


@pytest.mark.parametrize(
    "kind", ["AWS::SNS::Topic", "AWS::DynamoDB::GlobalTable", "AWS::Kinesis::StreamConsumer", "AWS::Lambda::Function"]
)
def test_other_type_not_supported(write_service: WriteService, kind: str) -> None:
    write_service(template(BASE, resources=RESOURCES + f"  Extra: {{Type: {kind}}}\n"), name="template.yaml")

    spec = load_service(Path("."))

    assert f"Resources.Extra: resources of type {kind} are not supported by Squall yet, ignored" in spec.warnings
    assert not any("did you mean" in warning for warning in spec.warnings)


def test_reference_to_misspelt_type_named(write_service: WriteService) -> None:
    resources = RESOURCES + "  Extra: {Type: AWS::SQS::Queu}\n"

    text = template(BASE + "Events:\n  Q: {Type: SQS, Properties: {Queue: !GetAtt Extra.Arn}}\n", resources=resources)

    error = load_error(write_service, text)

    assert error.key == "Resources.Fn.Properties.Events.Q.Properties.Queue.Fn::GetAtt"
    assert error.detail == (
        "Fn::GetAtt of Extra (AWS::SQS::Queu) is not supported: Squall does not create AWS::SQS::Queu resources, "
        "did you mean AWS::SQS::Queue?"
    )
