"""Intrinsic functions, conditions, parameters and references in SAM templates, short and long forms."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from tests.manifest.conftest import WriteService

# One function whose VALUE variable is the expression under test; the stack
# is named "demo" in samconfig.toml so that derived names are predictable.
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Env: {{Type: String, Default: dev, AllowedValues: [dev, prod]}}
  Size: {{Type: Number, Default: 256}}
  Names: {{Type: CommaDelimitedList, Default: "a,b,c"}}
Mappings:
  Regions:
    us-east-1: {{Bucket: east-bucket}}
Conditions:
  IsDev: !Equals [!Ref Env, dev]
  IsProd: !Not [!Condition IsDev]
  DevOrBig: !Or [!Condition IsDev, !Equals [!Ref Size, 1024]]
  DevAndSmall: {{"Fn::And": [{{Condition: IsDev}}, {{"Fn::Equals": [{{Ref: Size}}, 256]}}]}}
Resources:
  Jobs: {{Type: AWS::SQS::Queue}}
  Fifo: {{Type: AWS::SQS::Queue, Properties: {{FifoQueue: true}}}}
  Files: {{Type: AWS::S3::Bucket}}
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
      KeySchema: [{{AttributeName: id, KeyType: HASH}}]
      StreamSpecification: {{StreamViewType: NEW_AND_OLD_IMAGES}}
  Clicks: {{Type: AWS::Kinesis::Stream, Properties: {{ShardCount: 1}}}}
  Alerts: {{Type: AWS::SNS::Topic}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.greet
      Runtime: python3.12
      Environment:
        Variables:
          VALUE: {value}
"""

SAMCONFIG = 'version = 0.1\n[default.deploy.parameters]\nstack_name = "demo"\n'


def write_template(write_service: WriteService, value: str, samconfig: str = SAMCONFIG) -> Path:
    folder = write_service(TEMPLATE.format(value=value), name="template.yaml")
    (folder / "samconfig.toml").write_text(samconfig)
    return folder


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("!Ref Env", "dev"),
        ("{Ref: Env}", "dev"),
        ("!Ref Size", "256"),
        ("!Ref AWS::Region", "us-east-1"),
        ("!Ref AWS::AccountId", "000000000000"),
        ("!Ref AWS::StackName", "demo"),
        ("!Ref AWS::Partition", "aws"),
        ('!Sub "${Env}-${AWS::Region}"', "dev-us-east-1"),
        ('!Sub ["${Greeting}, ${Env}", {Greeting: hi}]', "hi, dev"),
        ('!Sub "${!Literal} stays"', "${Literal} stays"),
        ('!Sub "${Jobs.Arn}"', "arn:aws:sqs:us-east-1:000000000000:demo-Jobs"),
        ('{"Fn::Sub": "${AWS::StackName}-x"}', "demo-x"),
        ("!Join [-, [a, !Ref Env]]", "a-dev"),
        ('{"Fn::Join": ["", [a, {"Fn::Sub": "${Env}"}]]}', "adev"),
        ('!Join [",", !Ref Names]', "a,b,c"),
        ("!Select [1, !Ref Names]", "b"),
        ('!Select ["2", !Split [",", "x,y,z"]]', "z"),
        ("!If [IsDev, yes-dev, no-dev]", "yes-dev"),
        ("!If [IsProd, yes-prod, no-prod]", "no-prod"),
        ("!If [DevOrBig, either, neither]", "either"),
        ('{"Fn::If": [DevAndSmall, both, "not both"]}', "both"),
        ("!FindInMap [Regions, !Ref AWS::Region, Bucket]", "east-bucket"),
        ("!Base64 hi", "aGk="),
        ("!Ref Jobs", "demo-Jobs"),
        ("!GetAtt Jobs.Arn", "arn:aws:sqs:us-east-1:000000000000:demo-Jobs"),
        ("!GetAtt [Jobs, QueueName]", "demo-Jobs"),
        ('{"Fn::GetAtt": [Jobs, Arn]}', "arn:aws:sqs:us-east-1:000000000000:demo-Jobs"),
        ("!Ref Fifo", "demo-Fifo.fifo"),
        ("!Ref Files", "demo-files"),
        ("!GetAtt Files.Arn", "arn:aws:s3:::demo-files"),
        ("!Ref Orders", "demo-Orders"),
        ("!GetAtt Orders.Arn", "arn:aws:dynamodb:us-east-1:000000000000:table/demo-Orders"),
        ("!GetAtt Orders.StreamArn", "arn:aws:dynamodb:us-east-1:000000000000:table/demo-Orders/stream/latest"),
        ("!GetAtt Clicks.Arn", "arn:aws:kinesis:us-east-1:000000000000:stream/demo-Clicks"),
        ("!GetAtt Fn.Arn", "arn:aws:lambda:us-east-1:000000000000:function:Fn"),
        ("42", "42"),
        ("true", "true"),
    ],
)
def test_expression_value(write_service: WriteService, expression: str, value: str) -> None:
    spec = load_service(write_template(write_service, expression))

    assert spec.functions["Fn"].environment == {"VALUE": value}


def test_no_value_removes_variable(write_service: WriteService) -> None:
    spec = load_service(write_template(write_service, "!If [IsProd, x, !Ref AWS::NoValue]"))

    assert spec.functions["Fn"].environment == {}


@pytest.mark.parametrize(
    ("expression", "warning"),
    [
        (
            "!Ref Alerts",
            "not set: Ref of Alerts (AWS::SNS::Topic) is not supported: Squall does not create AWS::SNS::Topic resources",
        ),
        ("!ImportValue shared-table", "not set: Fn::ImportValue is not supported: values exported by other stacks do not exist in Squall"),
        (
            "!GetAtt Files.DomainName",
            'not set: attribute "DomainName" of Files (AWS::S3::Bucket) is not supported by Squall, expected one of: Arn',
        ),
    ],
)
def test_unresolvable_variable_warns(write_service: WriteService, expression: str, warning: str) -> None:
    spec = load_service(write_template(write_service, expression))

    assert spec.functions["Fn"].environment == {}
    assert f"Resources.Fn.Properties.Environment.Variables.VALUE: {warning}" in spec.warnings


@pytest.mark.parametrize(
    ("expression", "key", "message"),
    [
        (
            "!Ref Missing",
            "Resources.Fn.Properties.Environment.Variables.VALUE.Ref",
            '"Missing" is not a parameter, resource or pseudo parameter of this template, expected a name declared '
            "under Parameters or Resources, or one such as AWS::Region",
        ),
        (
            "!Select [5, [a]]",
            "Resources.Fn.Properties.Environment.Variables.VALUE.Fn::Select[0]",
            "expected an index from 0 to 0, got 5",
        ),
        (
            "!If [Unknown, a, b]",
            "Resources.Fn.Properties.Environment.Variables.VALUE.Fn::If[0]",
            'expected a condition name from Conditions (IsDev, IsProd, DevOrBig, DevAndSmall), got "Unknown"',
        ),
        (
            "!Equals [a, b]",
            "Resources.Fn.Properties.Environment.Variables.VALUE.Fn::Equals",
            "Fn::Equals is a condition function, expected it inside Conditions or as the first item of Fn::If",
        ),
        (
            "!Join [-, a]",
            "Resources.Fn.Properties.Environment.Variables.VALUE.Fn::Join[1]",
            'expected a list of values to join, got "a"',
        ),
        (
            "!FindInMap [Regions, eu-west-1, Bucket]",
            "Resources.Fn.Properties.Environment.Variables.VALUE.Fn::FindInMap",
            'Mappings.Regions has no key "eu-west-1"',
        ),
        (
            "!Ref Names",
            "Resources.Fn.Properties.Environment.Variables.VALUE",
            "expected a string, number or boolean, got a list",
        ),
        (
            '{"Fn::Nope": x}',
            "Resources.Fn.Properties.Environment.Variables.VALUE.Fn::Nope",
            'unknown intrinsic function "Fn::Nope"',
        ),
    ],
)
def test_malformed_expression_is_error(write_service: WriteService, expression: str, key: str, message: str) -> None:
    write_template(write_service, expression)

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.path == "template.yaml"
    assert raised.value.key == key
    assert raised.value.detail.startswith(message)


def test_unknown_short_tag_is_error(write_service: WriteService) -> None:
    folder = write_template(write_service, "!Foo bar")

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    assert "unknown tag !Foo, expected one of !Ref, !Condition, !GetAtt" in raised.value.detail
    assert raised.value.detail.startswith("invalid YAML at line")


@pytest.mark.parametrize(
    ("parameters", "samconfig", "value"),
    [
        (None, SAMCONFIG, "dev"),
        (None, SAMCONFIG + 'parameter_overrides = "Env=prod Size=512"\n', "prod"),
        (None, SAMCONFIG + 'parameter_overrides = ["ParameterKey=Env,ParameterValue=prod"]\n', "prod"),
        ({"Env": "prod"}, SAMCONFIG, "prod"),
        # The argument wins over samconfig.toml, as --parameter-overrides does.
        ({"Env": "dev"}, SAMCONFIG + 'parameter_overrides = "Env=prod"\n', "dev"),
    ],
)
def test_parameter_overrides(
    write_service: WriteService, parameters: dict[str, str] | None, samconfig: str, value: str
) -> None:
    folder = write_template(write_service, "!Ref Env", samconfig)

    spec = load_service(folder, parameters)

    assert spec.functions["Fn"].environment == {"VALUE": value}


def test_stack_name_defaults_to_folder(write_service: WriteService) -> None:
    folder = write_template(write_service, "!Ref AWS::StackName", samconfig="version = 0.1\n")

    spec = load_service(folder)

    assert spec.service == folder.name
    assert spec.functions["Fn"].environment == {"VALUE": folder.name}


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"Env": "staging"},
         'expected one of the AllowedValues: dev, prod, got "staging"; the value was given with --parameter-overrides'),
        ({"Size": "big"}, 'expected a number, got "big"; the value was given with --parameter-overrides'),
        ({"Colour": "red"}, 'no parameter named "Colour", expected one of: Env, Size, Names; '
         'the name was given with --parameter-overrides'),
    ],
)
def test_invalid_parameter_value(write_service: WriteService, parameters: dict[str, str], message: str) -> None:
    folder = write_template(write_service, "!Ref Env")

    with pytest.raises(ManifestError) as raised:
        load_service(folder, parameters)

    assert raised.value.detail == message


def test_condition_cycle_is_error(write_service: WriteService) -> None:
    text = textwrap.dedent(
        """\
        Transform: AWS::Serverless-2016-10-31
        Conditions:
          A: !Not [!Condition B]
          B: !Not [!Condition A]
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.greet
              Runtime: python3.12
              Environment: {Variables: {VALUE: !If [A, x, y]}}
        """
    )
    folder = write_service(text, name="template.yaml")

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    assert raised.value.detail == "conditions refer to each other in a cycle: A -> B -> A"
