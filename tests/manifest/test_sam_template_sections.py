"""Template sections CloudFormation does not define, and SAM types without the SAM transform, are rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.manifest import load_service
from tests.manifest.conftest import WriteService
from tests.manifest.test_sam_functions import BASE, load_error, template


@pytest.mark.parametrize(
    ("section", "key", "meant"),
    [
        ("Output:\n  Url: {Value: x}\n", "Output", "Outputs"),
        ("Global:\n  Function: {Runtime: python3.12}\n", "Global", "Globals"),
        ("Parameter:\n  Stage: {Type: String}\n", "Parameter", "Parameters"),
    ],
)
def test_misspelt_section_rejected(write_service: WriteService, section: str, key: str, meant: str) -> None:
    error = load_error(write_service, template(BASE) + section)

    assert error.key == key
    assert f'unknown template section (did you mean "{meant}"?)' in error.detail


def test_global_typo_named_before_runtime(write_service: WriteService) -> None:
    # With Globals misspelt, the function lacks its Runtime; the section is the mistake to name.
    text = template("Handler: app.greet\n") + "Global:\n  Function: {Runtime: python3.12}\n"

    error = load_error(write_service, text)

    assert error.key == "Global"
    assert "Runtime" not in str(error)


@pytest.mark.parametrize(("transform", "got"), [("", "missing"), ("Transform: AWS::Include\n", 'got "AWS::Include"')])
def test_serverless_types_need_transform(write_service: WriteService, transform: str, got: str) -> None:
    text = template(BASE).replace("Transform: AWS::Serverless-2016-10-31\n", transform, 1)

    error = load_error(write_service, text)

    assert error.key == "Transform"
    assert error.detail.startswith(f"{got}, expected AWS::Serverless-2016-10-31")
    assert "AWS::Serverless::Function" in error.detail


def test_transform_list_with_sam_accepted(write_service: WriteService) -> None:
    text = template(BASE).replace(
        "Transform: AWS::Serverless-2016-10-31\n", "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\n"
    )
    write_service(text, name="template.yaml")

    spec = load_service(Path("."))

    assert set(spec.functions) == {"Fn"}
    assert 'Transform: the transform "AWS::LanguageExtensions" is not run by Squall, ignored' in spec.warnings


def test_rules_section_warns(write_service: WriteService) -> None:
    write_service(template(BASE) + "Rules:\n  Check: {Assertions: []}\n", name="template.yaml")

    warnings = load_service(Path(".")).warnings

    assert "Rules: parameter rules are not checked by Squall, ignored" in warnings
