"""The deploying shell's stage and ${env:} values: what the CLI sends, what a code copy keeps, what a restart reads."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from squall.deploy.snapshot import code_digest, snapshot
from squall.deploy.variables import (
    VARIABLES_FILE,
    DeployVariables,
    InvalidVariables,
    deploying_shell_variables,
    parse_parameter_overrides,
    referenced_environment,
)
from squall.manifest import load_manifest_file

SERVERLESS = """\
service: greeter
provider:
  name: aws
  runtime: python3.12
  stage: ${opt:stage, 'dev'}
  environment:
    GREETING: ${env:GREETING, 'hello from the default'}
    STAGE: ${sls:stage}
functions:
  greet:
    handler: handler.greet
    events:
      - httpApi: GET /greet
      - http: {path: rest/greet, method: get}
"""

HANDLER = """\
import os

def greet(event, context):
    return {"statusCode": 200, "body": os.environ["GREETING"] + " / " + os.environ["STAGE"]
            + " / " + str((event.get("requestContext") or {}).get("stage"))}
"""


def write_app(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "serverless.yml").write_text(SERVERLESS)
    (folder / "handler.py").write_text(HANDLER)
    return folder


def test_referenced_names_found_in_text() -> None:
    text = "a: ${env:ONE}\nb: ${env: TWO, 'x'}\nc: ${self:custom.ONE}\nd: ${env:ONE}"

    assert referenced_environment(text) == ["ONE", "TWO"]


def test_shell_sends_only_referenced_names(tmp_path: Path) -> None:
    manifest = write_app(tmp_path / "app") / "serverless.yml"

    variables = deploying_shell_variables(manifest, "prod", {"GREETING": "hi", "HOME": "/root"})
    unset = deploying_shell_variables(manifest, None, {})

    assert variables.to_json() == {"stage": "prod", "environment": {"GREETING": "hi"}}
    assert unset.to_json() == {"environment": {}}


def test_sam_template_sends_config_env(tmp_path: Path) -> None:
    manifest = tmp_path / "template.yaml"
    manifest.write_text("Resources: {}\n")

    variables = deploying_shell_variables(manifest, None, {}, config_env="prod")

    assert variables.to_json() == {"config_env": "prod"}
    assert DeployVariables.from_json(variables.to_json()) == variables


def test_options_of_another_format_are_rejected(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources: {}\n")
    squall_yml = tmp_path / "squall.yml"
    squall_yml.write_text("service: s\n")

    with pytest.raises(InvalidVariables, match="a SAM template has none; choose a samconfig environment"):
        deploying_shell_variables(template, "prod", {})
    with pytest.raises(InvalidVariables, match="squall.yml has none; leave --stage out"):
        deploying_shell_variables(squall_yml, "prod", {})
    with pytest.raises(InvalidVariables, match="the manifest is squall.yml; leave --config-env out"):
        deploying_shell_variables(squall_yml, None, {}, config_env="prod")
    with pytest.raises(InvalidVariables, match=r"overrides \(Stage\) .* the manifest is squall.yml"):
        deploying_shell_variables(squall_yml, None, {}, parameter_overrides={"Stage": "prod"})


@pytest.mark.parametrize(
    ("given", "parsed"),
    [
        ("Stage=prod", {"Stage": "prod"}),
        ("Stage=prod Greeting='good day' Empty=", {"Stage": "prod", "Greeting": "good day", "Empty": ""}),
        ("ParameterKey=Stage,ParameterValue=prod", {"Stage": "prod"}),
        ("List=a,b,c Url=https://x.example/?q=1", {"List": "a,b,c", "Url": "https://x.example/?q=1"}),
        (["Stage=dev", "Stage=prod"], {"Stage": "prod"}),
    ],
)
def test_parameter_overrides_parsed(given: Any, parsed: dict[str, str]) -> None:
    assert parse_parameter_overrides(given) == parsed


@pytest.mark.parametrize(
    ("given", "named"),
    [("Stage", "'Stage' is not a parameter value"), ("=prod", "'=prod' is not"), ("Sta-ge=x", "'Sta-ge' is not a parameter name"),
     ("Stage='open", "cannot be split")],
)
def test_bad_parameter_overrides_named(given: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_parameter_overrides(given)


TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    AllowedValues: [dev, prod]
  Greeting:
    Type: String
    Default: hello
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables: {STAGE: !Ref Stage, GREETING: !Ref Greeting}
      Events:
        Api:
          Type: HttpApi
          Properties: {Path: /hi, Method: GET}
"""


def write_template(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "template.yaml").write_text(TEMPLATE)
    (folder / "samconfig.toml").write_text(
        'version = 0.1\n[default.deploy.parameters]\nparameter_overrides = "Stage=dev Greeting=samconfig"\n'
    )
    (folder / "app.py").write_text(
        "import os\n\ndef handler(event, context):\n    return os.environ['STAGE'] + ' / ' + os.environ['GREETING']\n"
    )
    return folder


def test_overrides_beat_samconfig_and_restart(serve: Any, tmp_path: Path) -> None:
    app = write_template(tmp_path / "app")
    data = tmp_path / "data"
    server = serve(app, "--no-watch", "--parameter-overrides", "Stage=prod", data=data)
    first = httpx.get(server.endpoint + "/hi", timeout=20).json()

    deployed = deploy(app, server.endpoint, "--parameter-overrides", "Greeting='good day'", env={})
    second = httpx.get(server.endpoint + "/hi", timeout=20).json()
    server.stop()
    restarted = serve(app, "--no-deploy", data=data)
    after_restart = httpx.get(restarted.endpoint + "/hi", timeout=20).json()

    assert first == "prod / samconfig"
    assert deployed.returncode == 0, deployed.stderr
    assert second == "dev / good day"
    assert after_restart == "dev / good day"


def test_bad_override_keeps_old_deploy(serve: Any, tmp_path: Path) -> None:
    app = write_template(tmp_path / "app")
    server = serve(app, "--no-watch")

    unknown = deploy(app, server.endpoint, "--parameter-overrides", "Stgae=prod", env={})
    not_allowed = deploy(app, server.endpoint, "--parameter-overrides", "Stage=qa", env={})
    still = httpx.get(server.endpoint + "/hi", timeout=20).json()

    assert unknown.returncode != 0
    assert '"Stgae" (did you mean "Stage"?)' in unknown.stderr
    assert "--parameter-overrides" in unknown.stderr
    assert not_allowed.returncode != 0
    assert 'AllowedValues: dev, prod, got "qa"' in not_allowed.stderr
    assert still == "dev / samconfig"


@pytest.mark.parametrize(
    "sent",
    [{"stage": "prod/eu"}, {"stage": 3}, {"environment": {"A": 1}}, {"region": "x"}, [], {"config_env": "a b"},
     {"config_env": 1}, {"parameter_overrides": "Stage=prod"}, {"parameter_overrides": {"Sta-ge": "x"}},
     {"parameter_overrides": {"Stage": 1}}],
)
def test_invalid_variables_named(sent: Any) -> None:
    with pytest.raises(InvalidVariables):
        DeployVariables.from_json(sent)


def test_copy_keeps_variables_in_digest(tmp_path: Path) -> None:
    folder = write_app(tmp_path / "app")
    prod = DeployVariables("prod", {"GREETING": "hi"})

    copy = snapshot(folder, tmp_path / "code", variables=prod)
    plain = snapshot(folder, tmp_path / "code")
    loaded = load_manifest_file(copy / "serverless.yml")

    assert copy.name == code_digest(folder, prod)[0]
    assert plain.name == code_digest(folder)[0]
    assert copy.name != plain.name
    assert stat.S_IMODE((copy / VARIABLES_FILE).stat().st_mode) == 0o600
    assert loaded.functions["greet"].environment == {"GREETING": "hi", "STAGE": "prod"}
    assert loaded.functions["greet"].http[1].stage == "prod"


def deploy(folder: Path, endpoint: str, *extra: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(folder), "--endpoint", endpoint, *extra],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )


def test_shell_variables_survive_restart(serve: Any, tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "squall.yml").write_text("service: base\nfunctions:\n  ping:\n    handler: app.ping\n")
    (base / "app.py").write_text("def ping(event, context):\n    return 'pong'\n")
    data = tmp_path / "data"
    server = serve(base, "--no-watch", data=data, env={"GREETING": "from the server"})
    app = write_app(tmp_path / "app")

    deployed = deploy(app, server.endpoint, "--stage", "prod", env={"GREETING": "from the shell"})
    http_api = httpx.get(server.endpoint + "/greet", timeout=20).text
    rest = httpx.get(server.endpoint + "/rest/greet", timeout=20).text
    staged = httpx.get(server.endpoint + "/prod/rest/greet", timeout=20).text
    other_stage = httpx.get(server.endpoint + "/dev/rest/greet", timeout=20).status_code
    server.stop()
    restarted = serve(base, "--no-watch", data=data, env={"GREETING": "from the server"})
    after_restart = httpx.get(restarted.endpoint + "/rest/greet", timeout=20).text

    assert deployed.returncode == 0, deployed.stderr
    assert http_api == "from the shell / prod / $default"
    assert rest == "from the shell / prod / prod"
    assert staged == "from the shell / prod / prod"
    assert after_restart == "from the shell / prod / prod"
    # The HTTP API's "Not Found", because the stage in the path must be the route's own.
    assert other_stage == 404


def test_bad_stage_rejected_before_deploy(serve: Any, tmp_path: Path) -> None:
    app = write_app(tmp_path / "app")
    server = serve(app, "--no-watch")

    result = deploy(app, server.endpoint, "--stage", "prod/eu", env={})

    assert result.returncode == 2
    assert "'prod/eu'" in result.stderr
    assert "letters, digits or hyphens" in result.stderr


def write_dotenv_app(folder: Path) -> Path:
    write_app(folder)
    manifest = folder / "serverless.yml"
    manifest.write_text("useDotenv: true\n" + manifest.read_text())
    return folder


def test_dotenv_fills_names_the_shell_lacks(tmp_path: Path) -> None:
    app = write_dotenv_app(tmp_path / "app")
    (app / ".env").write_text("BASE=hello\nGREETING=${BASE} from the file\n")
    manifest = app / "serverless.yml"

    from_file = deploying_shell_variables(manifest, None, {})
    from_shell = deploying_shell_variables(manifest, None, {"GREETING": "hi from the shell"})

    assert from_file.to_json()["environment"] == {"GREETING": "hello from the file"}
    assert from_shell.to_json()["environment"] == {"GREETING": "hi from the shell"}


def test_stage_dotenv_file_preferred(tmp_path: Path) -> None:
    app = write_dotenv_app(tmp_path / "app")
    (app / ".env").write_text("GREETING=default file\n")
    (app / ".env.prod").write_text("GREETING=prod file\n")
    manifest = app / "serverless.yml"

    assert deploying_shell_variables(manifest, "prod", {}).to_json()["environment"] == {"GREETING": "prod file"}
    assert deploying_shell_variables(manifest, "qa", {}).to_json()["environment"] == {"GREETING": "default file"}


def test_dotenv_ignored_without_use_dotenv(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app")
    (app / ".env").write_text("GREETING=from the file\n")

    assert deploying_shell_variables(app / "serverless.yml", None, {}).to_json() == {"environment": {}}


def test_dotenv_value_served_and_file_not_copied(serve: Any, tmp_path: Path) -> None:
    app = write_dotenv_app(tmp_path / "app")
    (app / ".env").write_text("GREETING=hello from .env\n")
    data = tmp_path / "data"

    server = serve(app, "--no-watch", data=data, env={})
    answer = httpx.get(server.endpoint + "/greet", timeout=20)

    assert answer.status_code == 200
    assert answer.text.startswith("hello from .env / dev")
    assert not any(path.name == ".env" for path in (data / "code").rglob("*"))
    assert not any("useDotenv" in line for line in server.output)


def test_names_in_loaded_files_sent(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app")
    manifest = app / "serverless.yml"
    manifest.write_text(manifest.read_text() + "custom:\n  settings: ${file(./config.yml)}\n")
    (app / "config.yml").write_text("from_file: ${env:FILE_VAR}\nnested: ${file(./more.yml):value}\n")
    (app / "more.yml").write_text("value: ${env:NESTED_VAR, 'x'}\n")

    variables = deploying_shell_variables(manifest, None, {"FILE_VAR": "a", "NESTED_VAR": "b", "OTHER": "c"})

    assert variables.to_json()["environment"] == {"FILE_VAR": "a", "NESTED_VAR": "b"}
