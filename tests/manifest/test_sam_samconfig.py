"""The SAM CLI's configuration file beside a template: samconfig.toml or samconfig.yaml."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from tests.manifest.conftest import WriteService

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Env: {Type: String, Default: dev}
  Secret: {Type: String, Default: none}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.greet
      Runtime: python3.12
      Environment:
        Variables:
          ENV: !Ref Env
          STACK: !Ref AWS::StackName
"""
YAML_CONFIG = """\
version: 0.1
default:
  global:
    parameters:
      stack_name: from-global
  deploy:
    parameters:
      parameter_overrides: Env=prod Secret=hunter2
"""


def write_config(write_service: WriteService, name: str, text: str) -> Path:
    folder = write_service(TEMPLATE, name="template.yaml")
    (folder / name).write_text(text)
    return folder


def test_yaml_config_sets_parameters(write_service: WriteService) -> None:
    folder = write_config(write_service, "samconfig.yaml", YAML_CONFIG)

    spec = load_service(folder)

    assert spec.service == "from-global"
    assert spec.functions["Fn"].environment == {"ENV": "prod", "STACK": "from-global"}
    # The warning names what was read, without the values, which may be secrets.
    assert (
        "samconfig.yaml: read stack_name from default.global.parameters and "
        "parameter_overrides (Env, Secret) from default.deploy.parameters"
    ) in spec.warnings
    assert not any("hunter2" in warning for warning in spec.warnings)


@pytest.mark.parametrize(
    ("name", "text", "service", "env"),
    [
        ("samconfig.yml", "default:\n  deploy:\n    parameters:\n      parameter_overrides: [Env=prod]\n", None, "prod"),
        # The deploy command's table wins over the global one.
        (
            "samconfig.toml",
            '[default.global.parameters]\nstack_name = "one"\nparameter_overrides = "Env=global"\n'
            '[default.deploy.parameters]\nstack_name = "two"\nparameter_overrides = "Env=deploy"\n',
            "two",
            "deploy",
        ),
        # Other config environments need --config-env, which Squall does not take.
        ("samconfig.toml", '[prod.deploy.parameters]\nstack_name = "prod"\nparameter_overrides = "Env=prod"\n', None, "dev"),
    ],
)
def test_config_file_settings(
    write_service: WriteService, name: str, text: str, service: str | None, env: str
) -> None:
    folder = write_config(write_service, name, text)

    spec = load_service(folder)

    assert spec.service == (service or folder.name)
    assert spec.functions["Fn"].environment["ENV"] == env


def test_toml_wins_over_yaml(write_service: WriteService) -> None:
    folder = write_config(write_service, "samconfig.yaml", YAML_CONFIG)
    (folder / "samconfig.toml").write_text('[default.deploy.parameters]\nstack_name = "from-toml"\n')

    spec = load_service(folder)

    assert spec.service == "from-toml"
    assert spec.functions["Fn"].environment["ENV"] == "dev"
    assert "samconfig.toml: read stack_name from default.deploy.parameters" in spec.warnings


def test_no_config_no_warning(write_service: WriteService) -> None:
    spec = load_service(write_service(TEMPLATE, name="template.yaml"))

    assert not any("samconfig" in warning for warning in spec.warnings)


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("default: [unclosed\n", "", "cannot be read: while parsing"),
        ("default:\n  global:\n    parameters:\n      stack_name: 7\n", "default.global.parameters.stack_name",
         "expected a stack name, got 7"),
        ("default:\n  deploy:\n    parameters:\n      parameter_overrides: Env\n",
         "default.deploy.parameters.parameter_overrides", "'Env' is not a parameter value: expected \"Name=Value\" pairs"),
    ],
)
def test_invalid_yaml_config_is_error(write_service: WriteService, text: str, key: str, message: str) -> None:
    write_config(write_service, "samconfig.yaml", text)

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.path == "samconfig.yaml"
    assert raised.value.key == key
    assert raised.value.detail.startswith(message)


def test_plan_prints_what_was_read(write_service: WriteService) -> None:
    folder = write_config(write_service, "samconfig.yaml", YAML_CONFIG)
    # A loopback port nothing listens on, so the plan compares with no server.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"

    planned = subprocess.run(
        [sys.executable, "-m", "squall", "plan", str(folder), "--endpoint", endpoint],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert planned.returncode == 0, planned.stderr
    assert "parameter_overrides (Env, Secret) from default.deploy.parameters" in planned.stdout + planned.stderr
