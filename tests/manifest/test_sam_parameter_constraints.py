"""Template Parameters: the properties CloudFormation defines, and the constraints it checks on each value."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from tests.manifest.conftest import WriteService

FUNCTION = """\
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.greet
      Runtime: python3.12
      Environment: {Variables: {VALUE: !Join [",", [!Join [",", !Ref Listed], !Ref Single]]}}
"""


def with_parameters(listed: str, single: str) -> str:
    """Build a template whose parameters are Listed (a list type) and Single, each given by its flow mapping."""
    return (
        "Transform: AWS::Serverless-2016-10-31\n"
        f"Parameters:\n  Listed: {listed}\n  Single: {single}\n" + FUNCTION
    )


def load_value(write_service: WriteService, text: str, parameters: dict[str, str] | None = None) -> str:
    write_service(text, name="template.yaml")
    return load_service(Path("."), parameters).functions["Fn"].environment["VALUE"]


def load_error(
    write_service: WriteService, text: str, parameters: dict[str, str] | None = None, config: str = ""
) -> ManifestError:
    folder = write_service(text, name="template.yaml")
    if config:
        (folder / "samconfig.toml").write_text(config)
    with pytest.raises(ManifestError) as raised:
        load_service(Path("."), parameters)
    return raised.value


LISTED = "{Type: CommaDelimitedList, Default: 'a,b'}"


# Unknown properties ----------------------------------------------------------------


def test_misspelt_property_rejected(write_service: WriteService) -> None:
    error = load_error(write_service, with_parameters(LISTED, "{Type: String, Default: dev, AllowedValue: [dev, prod]}"))

    assert error.key == "Parameters.Single.AllowedValue"
    assert error.detail.startswith('unknown property "AllowedValue" of a parameter (did you mean "AllowedValues"?)')
    assert error.detail.endswith(
        "expected one of: AllowedPattern, AllowedValues, ConstraintDescription, Default, Description, MaxLength, "
        "MaxValue, MinLength, MinValue, NoEcho, Type"
    )


def test_every_defined_property_accepted(write_service: WriteService) -> None:
    single = (
        "{Type: String, Default: dev, AllowedValues: [dev, prod], AllowedPattern: '[a-z]+', "
        "ConstraintDescription: lowercase, Description: The stage, MinLength: 1, MaxLength: 8, NoEcho: false}"
    )
    number = "{Type: Number, Default: 5, MinValue: 1, MaxValue: 10}"

    assert load_value(write_service, with_parameters(LISTED, single)) == "a,b,dev"
    assert load_value(write_service, with_parameters(LISTED, number)) == "a,b,5"


# Number and String bounds ----------------------------------------------------------


@pytest.mark.parametrize(
    ("single", "message"),
    [
        ("{Type: Number, Default: 500, MaxValue: 100}", 'expected a number of at most 100 (MaxValue), got "500"'),
        ("{Type: Number, Default: -1, MinValue: 0}", 'expected a number of at least 0 (MinValue), got "-1"'),
        ("{Type: Number, Default: 0.5, MinValue: '0.75'}", 'expected a number of at least 0.75 (MinValue), got "0.5"'),
        ("{Type: String, Default: abcdefghijk, MaxLength: 5}",
         'expected at most 5 characters (MaxLength), got "abcdefghijk" of 11 characters'),
        ("{Type: String, Default: ab, MinLength: 3}",
         'expected at least 3 characters (MinLength), got "ab" of 2 characters'),
        ("{Type: String, Default: '', MinLength: 1}",
         'expected at least 1 character (MinLength), got "" of 0 characters'),
    ],
)
def test_default_outside_bound_rejected(write_service: WriteService, single: str, message: str) -> None:
    error = load_error(write_service, with_parameters(LISTED, single))

    assert error.key == "Parameters.Single"
    assert error.detail == message


@pytest.mark.parametrize(
    ("single", "value"),
    [
        ("{Type: Number, Default: 100, MinValue: 100, MaxValue: 100}", "100"),
        # PyYAML reads 1.5e1 as a string, which CloudFormation takes as the number 15.
        ("{Type: Number, Default: 1.5e1, MinValue: 15, MaxValue: '15.0'}", "1.5e1"),
        ("{Type: String, Default: abcde, MinLength: 5, MaxLength: 5}", "abcde"),
        # The bounds of the other type do not apply.
        ("{Type: String, Default: abc, MinValue: 10}", "abc"),
        ("{Type: Number, Default: 12345, MaxLength: 2}", "12345"),
    ],
)
def test_value_within_bound_accepted(write_service: WriteService, single: str, value: str) -> None:
    assert load_value(write_service, with_parameters(LISTED, single)) == f"a,b,{value}"


def test_override_outside_bound_rejected(write_service: WriteService) -> None:
    text = with_parameters(LISTED, "{Type: Number, Default: 50, MaxValue: 100}")

    error = load_error(write_service, text, {"Single": "150"})

    assert error.key == "Parameters.Single"
    assert error.detail == (
        'expected a number of at most 100 (MaxValue), got "150"; the value was given with --parameter-overrides'
    )


def test_samconfig_value_outside_bound_rejected(write_service: WriteService) -> None:
    text = with_parameters(LISTED, "{Type: String, Default: ok, MaxLength: 3}")
    config = '[default.deploy.parameters]\nparameter_overrides = "Single=toolong"\n'

    error = load_error(write_service, text, config=config)

    assert error.path == "samconfig.toml"
    assert error.key == "default.deploy.parameters.parameter_overrides"
    assert error.detail == (
        'Single: expected at most 3 characters (MaxLength), got "toolong" of 7 characters '
        "(see Parameters.Single in template.yaml)"
    )


@pytest.mark.parametrize(
    ("single", "key", "message"),
    [
        ("{Type: Number, Default: 5, MinValue: ten}", "Parameters.Single.MinValue", 'expected a number, got "ten"'),
        ("{Type: Number, Default: 5, MaxValue: true}", "Parameters.Single.MaxValue", "expected a number, got true"),
        ("{Type: String, Default: a, MinLength: -1}", "Parameters.Single.MinLength",
         "expected a whole number of characters, 0 or more, got -1"),
        ("{Type: String, Default: a, MaxLength: 2.5}", "Parameters.Single.MaxLength",
         "expected a whole number of characters, 0 or more, got 2.5"),
    ],
)
def test_invalid_bound_rejected(write_service: WriteService, single: str, key: str, message: str) -> None:
    # A bound is the template's mistake, so the error names it even when the value comes from an override.
    error = load_error(write_service, with_parameters(LISTED, single), {"Single": "7"})

    assert error.key == key
    assert error.detail == message


# Types -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "inf", "nan", "1_000", " 5", "5 ", "", "1.2.3"])
def test_invalid_number_rejected(write_service: WriteService, value: str) -> None:
    error = load_error(write_service, with_parameters(LISTED, "{Type: Number, Default: 1}"), {"Single": value})

    assert error.key == "Parameters.Single"
    assert error.detail.startswith("expected a number, got ")


@pytest.mark.parametrize("value", ["0", "-3", "+2", "1.5", ".5", "5.", "1e3", "2E-2"])
def test_number_forms_accepted(write_service: WriteService, value: str) -> None:
    text = with_parameters(LISTED, "{Type: Number, Default: 1}")

    assert load_value(write_service, text, {"Single": value}) == f"a,b,{value}"


def test_number_list_invalid_item_rejected(write_service: WriteService) -> None:
    text = with_parameters("{Type: List<Number>, Default: '1,2,x'}", "{Type: String, Default: s}")

    error = load_error(write_service, text)

    assert error.key == "Parameters.Listed"
    assert error.detail == 'expected a comma-separated list of numbers, got "1,2,x"'


def test_number_list_accepted(write_service: WriteService) -> None:
    text = with_parameters("{Type: List<Number>, Default: '1, 2.5,-3'}", "{Type: String, Default: s}")

    assert load_value(write_service, text) == "1,2.5,-3,s"


def test_list_pattern_matches_each_item(write_service: WriteService) -> None:
    listed = "{Type: CommaDelimitedList, Default: 'ab,cd', AllowedPattern: '[a-z]+'}"
    text = with_parameters(listed, "{Type: String, Default: s}")

    assert load_value(write_service, text) == "ab,cd,s"
    error = load_error(write_service, text, {"Listed": "ab,c d"})
    assert error.key == "Parameters.Listed"
    assert error.detail == (
        'expected items matching the AllowedPattern [a-z]+, got "c d"; the value was given with --parameter-overrides'
    )


# ConstraintDescription and NoEcho ------------------------------------------------------


@pytest.mark.parametrize(
    ("single", "message"),
    [
        ("{Type: String, Default: staging, AllowedValues: [dev, prod], ConstraintDescription: must be dev or prod}",
         'expected one of the AllowedValues: dev, prod, got "staging" (ConstraintDescription: must be dev or prod)'),
        ("{Type: String, Default: A1, AllowedPattern: '[a-z]+', ConstraintDescription: lowercase letters only}",
         'expected a value matching the AllowedPattern [a-z]+, got "A1" (ConstraintDescription: lowercase letters '
         "only)"),
        ("{Type: Number, Default: 5, MinValue: 10, ConstraintDescription: at least ten}",
         'expected a number of at least 10 (MinValue), got "5" (ConstraintDescription: at least ten)'),
        ("{Type: String, Default: abc, MaxLength: 2, ConstraintDescription: two letters}",
         'expected at most 2 characters (MaxLength), got "abc" of 3 characters (ConstraintDescription: two letters)'),
    ],
)
def test_constraint_description_in_message(write_service: WriteService, single: str, message: str) -> None:
    error = load_error(write_service, with_parameters(LISTED, single))

    assert error.detail == message


@pytest.mark.parametrize(
    ("single", "value", "message"),
    [
        ("{Type: String, Default: longenough, MinLength: 8, NoEcho: true}", "hunter2",
         "expected at least 8 characters (MinLength), got a value hidden by NoEcho"),
        ("{Type: String, Default: a, AllowedPattern: '[a-z]+', NoEcho: 'true'}", "Hunter2",
         "expected a value matching the AllowedPattern [a-z]+, got a value hidden by NoEcho"),
        ("{Type: Number, Default: 1, NoEcho: true}", "hunter2", "expected a number, got a value hidden by NoEcho"),
    ],
)
def test_no_echo_value_hidden(write_service: WriteService, single: str, value: str, message: str) -> None:
    error = load_error(write_service, with_parameters(LISTED, single), {"Single": value})

    assert error.detail == f"{message}; the value was given with --parameter-overrides"
    assert value not in str(error)
