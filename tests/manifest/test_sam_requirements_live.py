"""A real `squall up` of a SAM template: each function imports the packages of the requirements.txt
that `sam build` would install for it, and no other."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import httpx

from tests.deploy.test_dependencies import GOOD_REQUIREMENTS, GREETING, build_wheel

REQUEST_TIMEOUT_S = 30
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
Resources:
  # No CodeUri: the code folder is the template's, so is its requirements.txt.
  TopFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: probe.handler
      Events:
        Get: {Type: HttpApi, Properties: {Path: /top, Method: GET}}
  # A CodeUri folder without a requirements.txt: no packages at all.
  OwnFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: own/
      Handler: probe.handler
      Events:
        Get: {Type: HttpApi, Properties: {Path: /own, Method: GET}}
  # A CodeUri folder with its own requirements.txt.
  PinnedFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: pinned/
      Handler: probe.handler
      Events:
        Get: {Type: HttpApi, Properties: {Path: /pinned, Method: GET}}
"""
# Reports whether the fixture package imports, and from where.
PROBE = textwrap.dedent(
    """\
    import json


    def handler(event, context):
        try:
            import squall_fixture_greeting
        except ImportError as error:
            return {"statusCode": 200, "body": json.dumps({"missing": str(error)})}
        return {
            "statusCode": 200,
            "body": json.dumps({
                "greeting": squall_fixture_greeting.GREETING,
                "module_file": squall_fixture_greeting.__file__,
            }),
        }
    """
)


def write_template_folder(folder: Path) -> Path:
    """Write the template, a probe handler in each code folder, and requirements in two of them."""
    folder.mkdir(parents=True)
    (folder / "template.yaml").write_text(TEMPLATE)
    for code_dir in (folder, folder / "own", folder / "pinned"):
        code_dir.mkdir(exist_ok=True)
        (code_dir / "probe.py").write_text(PROBE)
    for code_dir in (folder, folder / "pinned"):
        (code_dir / "requirements.txt").write_text(GOOD_REQUIREMENTS)
        build_wheel(code_dir / "wheels")
    return folder


def test_code_uri_functions_use_own_requirements(serve: Any, tmp_path: Path) -> None:
    server = serve(write_template_folder(tmp_path / "requirements-stack"), "--no-watch")

    top = httpx.get(server.endpoint + "/top", timeout=REQUEST_TIMEOUT_S)
    own = httpx.get(server.endpoint + "/own", timeout=REQUEST_TIMEOUT_S)
    pinned = httpx.get(server.endpoint + "/pinned", timeout=REQUEST_TIMEOUT_S)

    assert top.status_code == 200, top.text
    assert top.json()["greeting"] == GREETING
    assert top.json()["module_file"].startswith(str(server.data / "envs"))
    # The template folder's requirements.txt does not reach a function with its own CodeUri folder.
    assert own.status_code == 200, own.text
    assert own.json() == {"missing": "No module named 'squall_fixture_greeting'"}
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["greeting"] == GREETING
    assert pinned.json()["module_file"].startswith(str(server.data / "envs"))
