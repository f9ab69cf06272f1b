"""References to the resources SAM generates: a function's role, the implicit REST and HTTP APIs, their stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.gateway.apigw_common import API_ID
from squall.manifest import load_service
from tests.manifest.conftest import WriteService

SAMCONFIG = 'version = 0.1\n[default.deploy.parameters]\nstack_name = "demo"\n'
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
{globals}Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.greet
{properties}      Events:
{events}      Environment:
        Variables:
          VALUE: {value}
"""
API_EVENT = "        Rest: {Type: Api, Properties: {Path: /hello, Method: GET}}\n"
HTTP_EVENT = "        Http: {Type: HttpApi, Properties: {Path: /hi, Method: GET}}\n"
NOT_FOUND = "is not a parameter, resource or pseudo parameter of this template"


def write_template(
    write_service: WriteService, value: str, events: str = API_EVENT + HTTP_EVENT, properties: str = "",
    globals_: str = "",
) -> Path:
    text = TEMPLATE.format(value=value, events=events, properties=properties, globals=globals_)
    folder = write_service(text, name="template.yaml")
    (folder / "samconfig.toml").write_text(SAMCONFIG)
    return folder


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("!GetAtt HelloFunctionRole.Arn", "arn:aws:iam::000000000000:role/demo-HelloFunctionRole"),
        ("!Ref HelloFunctionRole", "demo-HelloFunctionRole"),
        ("!Ref ServerlessRestApi", API_ID),
        ("!GetAtt ServerlessRestApi.RestApiId", API_ID),
        (
            '!Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/"',
            f"https://{API_ID}.execute-api.us-east-1.amazonaws.com/Prod/",
        ),
        ("!Ref ServerlessRestApiProdStage", "Prod"),
        ("!Ref ServerlessHttpApi", API_ID),
        ("!GetAtt ServerlessHttpApi.ApiId", API_ID),
        ("!Ref ServerlessHttpApiApiGatewayDefaultStage", "$default"),
    ],
)
def test_generated_resource_resolves(write_service: WriteService, expression: str, value: str) -> None:
    spec = load_service(write_template(write_service, expression))

    assert spec.functions["HelloFunction"].environment == {"VALUE": value}


def test_http_api_without_path_is_implicit(write_service: WriteService) -> None:
    folder = write_template(write_service, "!Ref ServerlessHttpApi", events="        Any: {Type: HttpApi}\n")

    spec = load_service(folder)

    assert spec.functions["HelloFunction"].environment == {"VALUE": API_ID}


def test_declared_api_ref_resolves(write_service: WriteService) -> None:
    folder = write_template(write_service, "!Ref MyApi", events=API_EVENT)
    template = folder / "template.yaml"
    template.write_text(
        template.read_text().replace(
            "Resources:\n", "Resources:\n  MyApi:\n    Type: AWS::Serverless::Api\n    Properties: {StageName: dev}\n"
        )
    )

    spec = load_service(folder)

    assert spec.functions["HelloFunction"].environment == {"VALUE": API_ID}


@pytest.mark.parametrize(
    ("expression", "events", "properties", "globals_"),
    [
        # SAM creates ServerlessRestApi only for Api events that name no RestApiId.
        ("!Ref ServerlessRestApi", HTTP_EVENT, "", ""),
        ("!Ref ServerlessRestApiProdStage", HTTP_EVENT, "", ""),
        ("!Ref ServerlessRestApi", "        Rest: {Type: Api, Properties: {Path: /a, Method: GET, RestApiId: X}}\n", "", ""),
        ("!Ref ServerlessHttpApi", API_EVENT, "", ""),
        ("!Ref ServerlessHttpApiApiGatewayDefaultStage", API_EVENT, "", ""),
        # SAM creates a function's role only when neither the function nor Globals sets Role.
        ("!GetAtt HelloFunctionRole.Arn", API_EVENT, "      Role: arn:aws:iam::000000000000:role/mine\n", ""),
        ("!Ref HelloFunctionRole", API_EVENT, "", "    Role: arn:aws:iam::000000000000:role/mine\n"),
    ],
)
def test_absent_generated_resource_is_error(
    write_service: WriteService, expression: str, events: str, properties: str, globals_: str
) -> None:
    write_template(write_service, expression, events, properties, globals_)

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.path == "template.yaml"
    assert NOT_FOUND in raised.value.detail


def test_role_of_absent_function_is_error(write_service: WriteService) -> None:
    write_service(
        """\
        Transform: AWS::Serverless-2016-10-31
        Conditions:
          Never: !Equals [a, b]
        Resources:
          HelloFunction:
            Type: AWS::Serverless::Function
            Condition: Never
            Properties: {Handler: app.greet, Runtime: python3.12}
          Other:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.greet
              Runtime: python3.12
              Environment: {Variables: {VALUE: !Ref HelloFunctionRole}}
        """,
        name="template.yaml",
    )

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == "Resources.Other.Properties.Environment.Variables.VALUE.Ref"
    assert NOT_FOUND in raised.value.detail
