"""The recursive loop setting: squall.yml `recursive_loop` and SAM's `RecursiveLoop`."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from squall.manifest.spec import RecursiveLoop
from tests.manifest.conftest import WriteService

SQUALL_YML = """\
    service: loops
    functions:
      greet:
        handler: app.greet
{setting}"""

SAM_TEMPLATE = """\
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function:
        Runtime: python3.12
{globals}
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.greet
{setting}"""


def squall_setting(write_service: WriteService, setting: str) -> RecursiveLoop:
    write_service(SQUALL_YML.format(setting=setting))
    return load_service(Path(".")).functions["greet"].recursive_loop


def sam_setting(write_service: WriteService, setting: str = "", globals_text: str = "") -> RecursiveLoop:
    write_service(SAM_TEMPLATE.format(setting=setting, globals=globals_text), name="template.yaml")
    return load_service(Path(".")).functions["Fn"].recursive_loop


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("", RecursiveLoop.TERMINATE),
        ("        recursive_loop: terminate\n", RecursiveLoop.TERMINATE),
        ("        recursive_loop: allow\n", RecursiveLoop.ALLOW),
    ],
)
def test_squall_yml_setting(write_service: WriteService, setting: str, expected: RecursiveLoop) -> None:
    assert squall_setting(write_service, setting) is expected


def test_squall_yml_invalid_value(write_service: WriteService) -> None:
    with pytest.raises(ManifestError) as raised:
        squall_setting(write_service, "        recursive_loop: Allow\n")

    assert str(raised.value) == 'squall.yml: functions.greet.recursive_loop: expected terminate or allow, got "Allow"'


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("", RecursiveLoop.TERMINATE),
        ("          RecursiveLoop: Terminate\n", RecursiveLoop.TERMINATE),
        ("          RecursiveLoop: Allow\n", RecursiveLoop.ALLOW),
    ],
)
def test_sam_setting(write_service: WriteService, setting: str, expected: RecursiveLoop) -> None:
    assert sam_setting(write_service, setting) is expected


def test_sam_setting_from_globals(write_service: WriteService) -> None:
    assert sam_setting(write_service, globals_text="        RecursiveLoop: Allow\n") is RecursiveLoop.ALLOW


def test_sam_setting_translated_without_warning(write_service: WriteService) -> None:
    write_service(SAM_TEMPLATE.format(setting="          RecursiveLoop: Allow\n", globals=""), name="template.yaml")

    warnings = load_service(Path(".")).warnings

    assert not [warning for warning in warnings if "RecursiveLoop" in warning]


def test_sam_invalid_value(write_service: WriteService) -> None:
    with pytest.raises(ManifestError) as raised:
        sam_setting(write_service, "          RecursiveLoop: allow\n")

    assert str(raised.value) == (
        'template.yaml: Resources.Fn.Properties.RecursiveLoop: expected Terminate or Allow, got "allow"'
        ' (did you mean "Allow"?)'
    )
