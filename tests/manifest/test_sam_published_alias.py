"""References to the alias and version SAM generates for a function with AutoPublishAlias."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.manifest import load_service
from tests.manifest.conftest import WriteService
from tests.manifest.test_sam_functions import BASE, load_error, template

ALIAS_ARN = "arn:aws:lambda:us-east-1:000000000000:function:Fn:live"


@pytest.mark.parametrize("reference", ["!Ref Fn.Alias", "!Ref FnAliaslive", "!GetAtt FnAliaslive.AliasArn",
                                       "!Sub '${Fn.Alias}'"])
def test_alias_reference_gives_alias_arn(write_service: WriteService, reference: str) -> None:
    properties = BASE + "AutoPublishAlias: live\nEnvironment: {Variables: {SELF: " + reference + "}}\n"
    write_service(template(properties), name="template.yaml")

    function = load_service(Path(".")).functions["Fn"]

    assert function.environment["SELF"] == ALIAS_ARN


def test_alias_from_globals_resolves(write_service: WriteService) -> None:
    text = template(BASE + "Environment: {Variables: {SELF: !Ref Fn.Alias}}\n", "AutoPublishAlias: live\n")
    write_service(text, name="template.yaml")

    function = load_service(Path(".")).functions["Fn"]

    assert function.environment["SELF"] == ALIAS_ARN


@pytest.mark.parametrize("reference", ["!Ref Fn.Version", "!Ref FnVersion640128b35d"])
def test_version_reference_left_unset(write_service: WriteService, reference: str) -> None:
    properties = BASE + "AutoPublishAlias: live\nEnvironment: {Variables: {VERSION: " + reference + "}}\n"
    write_service(template(properties), name="template.yaml")

    spec = load_service(Path("."))

    # The version number is assigned at deploy, so the variable is left out with a warning.
    assert "VERSION" not in spec.functions["Fn"].environment
    assert any("version number is assigned when Squall publishes" in warning for warning in spec.warnings)


def test_version_reference_in_outputs_accepted(write_service: WriteService) -> None:
    outputs = "Outputs:\n  Version: {Value: !Ref Fn.Version}\n  Alias: {Value: !Ref FnAliaslive}\n"
    write_service(template(BASE + "AutoPublishAlias: live\n") + outputs, name="template.yaml")

    assert set(load_service(Path(".")).functions) == {"Fn"}


def test_alias_reference_needs_auto_publish(write_service: WriteService) -> None:
    error = load_error(write_service, template(BASE) + "Outputs:\n  Alias: {Value: !Ref Fn.Alias}\n")

    assert error.key == "Outputs.Alias.Value.Ref"
    assert '"Fn.Alias" is not a parameter, resource or pseudo parameter' in error.detail


def test_wrong_alias_name_rejected(write_service: WriteService) -> None:
    text = template(BASE + "AutoPublishAlias: live\n") + "Outputs:\n  Alias: {Value: !Ref FnAliasprod}\n"

    error = load_error(write_service, text)

    assert error.key == "Outputs.Alias.Value.Ref"
    assert '"FnAliasprod" is not a parameter' in error.detail
